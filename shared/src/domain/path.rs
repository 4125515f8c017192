//! `AbsolutePath`: a path on a node or in a container, for user-requested mounts. The
//! platform allows mounts only under whitelisted directories, and a prefix check is
//! only sound on a path that cannot climb out with `..`, so such paths are refused.

use serde::{Deserialize, Serialize};

use super::ParseError;
use super::newtype::string_newtype;

/// Linux's `PATH_MAX`.
pub const MAX_PATH_LEN: usize = 4096;

/// An absolute path without `.` or `..` segments, e.g. `/data/datasets`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AbsolutePath(String);

string_newtype!(AbsolutePath, {
    "type": "string",
    "minLength": 1,
    "maxLength": 4096,
    "pattern": "^/",
    "description": "An absolute path without `.` or `..` segments, e.g. `/data/datasets`."
});

impl AbsolutePath {
    pub fn parse(input: &str) -> Result<AbsolutePath, ParseError> {
        if !input.starts_with('/') {
            return Err(ParseError::new(format!(
                "`{input}` is not an absolute path"
            )));
        }
        if input.len() > MAX_PATH_LEN || input.contains('\0') {
            return Err(ParseError::new(format!(
                "must be at most {MAX_PATH_LEN} characters, without NUL"
            )));
        }
        if input.split('/').any(|part| part == ".." || part == ".") {
            return Err(ParseError::new(format!(
                "`{input}` must not contain `.` or `..` segments"
            )));
        }
        Ok(AbsolutePath(input.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this path is `dir` or lies under it: `/data/sets` is under `/data`,
    /// `/database` is not.
    pub fn is_within(&self, dir: &AbsolutePath) -> bool {
        let dir = dir.0.trim_end_matches('/');
        self.0 == dir || dir.is_empty() || self.0.starts_with(&format!("{dir}/"))
    }

    /// The path without trailing slashes, for comparing mount points.
    pub fn trimmed(&self) -> &str {
        match self.0.trim_end_matches('/') {
            "" => "/",
            trimmed => trimmed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(s: &str) -> AbsolutePath {
        AbsolutePath::parse(s).unwrap()
    }

    #[test]
    fn relative_and_climbing_paths_are_refused() {
        for bad in ["data", "", "/data/../etc", "/./x", "/a\0b"] {
            assert!(AbsolutePath::parse(bad).is_err(), "{bad:?}");
        }
        assert!(AbsolutePath::parse("/data/my..file").is_ok());
    }

    #[test]
    fn within_respects_segment_boundaries() {
        assert!(path("/data/sets").is_within(&path("/data")));
        assert!(path("/data").is_within(&path("/data/")));
        assert!(!path("/database").is_within(&path("/data")));
        assert!(path("/anything").is_within(&path("/")));
    }

    #[test]
    fn trailing_slashes_do_not_make_a_different_mount_point() {
        assert_eq!(path("/sets/").trimmed(), "/sets");
        assert_eq!(path("/").trimmed(), "/");
    }
}
