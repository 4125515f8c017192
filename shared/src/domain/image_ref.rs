//! `ImageRef`: a container image reference as `docker pull` reads it,
//! `[registry[:port]/]repository[:tag][@algorithm:digest]`, following the grammar of
//! the distribution project's reference package (IPv6 registries aside).

use serde::{Deserialize, Serialize};

use super::ParseError;
use super::newtype::string_newtype;

/// The distribution grammar's limit on the name (registry and repository).
pub const MAX_IMAGE_NAME_LEN: usize = 255;
const MAX_TAG_LEN: usize = 128;

/// A container image reference, e.g. `nginx:latest`,
/// `registry.example.com:5000/team/app:v1.2`, or `app@sha256:…`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ImageRef {
    text: String,
    registry: Option<String>,
    repository: String,
    tag: Option<String>,
    digest: Option<String>,
}

string_newtype!(ImageRef, {
    "type": "string",
    "minLength": 1,
    "maxLength": 512,
    "pattern": "^[^\\s]+$",
    "description": "A container image reference: `[registry[:port]/]repository[:tag][@sha256:digest]`, e.g. `registry.example.com/team/app:v1`."
});

impl ImageRef {
    pub fn parse(input: &str) -> Result<ImageRef, ParseError> {
        let refuse =
            |why: &str| ParseError::new(format!("`{input}` is not a valid image reference: {why}"));
        if input.is_empty() {
            return Err(ParseError::new("must not be empty"));
        }
        let (rest, digest) = match input.split_once('@') {
            Some((rest, digest)) => (rest, Some(digest)),
            None => (input, None),
        };
        if let Some(digest) = digest
            && !is_digest(digest)
        {
            return Err(refuse(
                "the digest must read `algorithm:hex`, e.g. `sha256:` and 64 hex digits",
            ));
        }
        // A `:` after the last `/` starts the tag; one before it is a registry port.
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].find(':') {
            Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
            None => (rest, None),
        };
        if let Some(tag) = tag
            && !is_tag(tag)
        {
            return Err(refuse(
                "the tag must be at most 128 letters, digits, `_`, `.` or `-`, not starting \
                 with `.` or `-`",
            ));
        }
        if name.len() > MAX_IMAGE_NAME_LEN {
            return Err(refuse("the name is longer than 255 characters"));
        }
        let (registry, repository) = match name.split_once('/') {
            Some((first, path)) if looks_like_registry(first) => (Some(first), path),
            _ => (None, name),
        };
        if let Some(registry) = registry
            && !is_registry(registry)
        {
            return Err(refuse(
                "the registry must be a host name with an optional port",
            ));
        }
        if repository.is_empty() || !repository.split('/').all(is_path_component) {
            return Err(refuse(
                "the repository must be lower-case letters and digits, separated by `/`, \
                 `.`, `_`, `__` or `-`",
            ));
        }
        Ok(ImageRef {
            text: input.to_owned(),
            registry: registry.map(str::to_owned),
            repository: repository.to_owned(),
            tag: tag.map(str::to_owned),
            digest: digest.map(str::to_owned),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The registry host (and port) when the reference names one, e.g.
    /// `registry.example.com:5000`; `None` means Docker Hub.
    pub fn registry(&self) -> Option<&str> {
        self.registry.as_deref()
    }

    /// The repository path without registry, tag or digest, e.g. `team/app`.
    pub fn repository(&self) -> &str {
        &self.repository
    }

    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The content digest, e.g. `sha256:…`.
    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }
}

/// Docker's rule: the first component is a registry when it has a `.` or a `:`, is
/// `localhost`, or has upper-case letters (which repositories may not).
fn looks_like_registry(first: &str) -> bool {
    first.contains(['.', ':'])
        || first == "localhost"
        || first.bytes().any(|b| b.is_ascii_uppercase())
}

fn is_registry(registry: &str) -> bool {
    let (host, port) = match registry.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (registry, None),
    };
    let host_ok = !host.is_empty()
        && host.split('.').all(|label| {
            let b = label.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
        });
    let port_ok =
        port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
    host_ok && port_ok
}

/// `[a-z0-9]+` runs joined by `.`, `_`, `__` or one or more `-`.
fn is_path_component(component: &str) -> bool {
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let bytes = component.as_bytes();
    if !bytes.first().is_some_and(|b| alnum(*b)) || !bytes.last().is_some_and(|b| alnum(*b)) {
        return false;
    }
    bytes
        .split(|b| alnum(*b))
        .filter(|separator| !separator.is_empty())
        .all(|separator| {
            matches!(separator, b"." | b"_" | b"__") || separator.iter().all(|b| *b == b'-')
        })
}

fn is_tag(tag: &str) -> bool {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let bytes = tag.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= MAX_TAG_LEN
        && word(bytes[0])
        && bytes.iter().all(|b| word(*b) || matches!(b, b'.' | b'-'))
}

fn is_digest(digest: &str) -> bool {
    let Some((algorithm, encoded)) = digest.split_once(':') else {
        return false;
    };
    let algorithm_ok = !algorithm.is_empty()
        && algorithm.split(['+', '.', '_', '-']).all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        });
    let encoded_ok = if algorithm == "sha256" {
        encoded.len() == 64
            && encoded
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    } else {
        encoded.len() >= 32
            && encoded
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'=' | b'_' | b'-'))
    };
    algorithm_ok && encoded_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn references_split_into_registry_repository_tag_and_digest() {
        let image = ImageRef::parse("registry.example.com:5000/team/app:v1.2").unwrap();
        assert_eq!(image.registry(), Some("registry.example.com:5000"));
        assert_eq!(image.repository(), "team/app");
        assert_eq!(image.tag(), Some("v1.2"));
        assert_eq!(image.digest(), None);

        let pinned = ImageRef::parse(&format!("nginx:1.27@{SHA}")).unwrap();
        assert_eq!(pinned.registry(), None);
        assert_eq!(pinned.repository(), "nginx");
        assert_eq!(pinned.tag(), Some("1.27"));
        assert_eq!(pinned.digest(), Some(SHA));
    }

    #[test]
    fn common_references_are_accepted() {
        for ok in [
            "nginx",
            "nginx:latest",
            "library/nginx",
            "localhost/app",
            "localhost:5000/app:dev",
            "ghcr.io/org/my_app__x/a-b--c:2024.01-rc_1",
            "docker.io/pytorch/pytorch:2.3.0-cuda12.1-cudnn8-runtime",
        ] {
            assert!(ImageRef::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn malformed_references_are_refused_with_the_reason() {
        let cases = [
            ("Nginx", "repository"),
            ("nginx:", "tag"),
            ("nginx:-x", "tag"),
            ("a//b", "repository"),
            ("team/app_", "repository"),
            ("reg.io:port/app", "registry"),
            ("app@sha256:abc", "digest"),
            ("app@md5", "digest"),
            ("nginx latest", "repository"),
        ];
        for (input, why) in cases {
            let err = ImageRef::parse(input).unwrap_err();
            assert!(err.message().contains(why), "{input}: {err}");
        }
    }
}
