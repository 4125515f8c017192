//! Writes a harness section into `BENCHMARKS.md` without disturbing the
//! hand-written text around it.
//!
//! Each section sits between HTML comment markers carrying its id, so a
//! later run of the same subcommand replaces exactly its own section and
//! other subcommands' sections (and prose) stay as they are.

use anyhow::{Context, Result};
use std::path::Path;

fn begin_marker(id: &str) -> String {
    format!("<!-- longshore-bench:begin {id} -->")
}

fn end_marker(id: &str) -> String {
    format!("<!-- longshore-bench:end {id} -->")
}

/// Replaces section `id` of the file at `path` with `body`, appending it (or
/// creating the file) when the section does not exist yet.
pub fn refresh_section(path: &Path, id: &str, body: &str) -> Result<()> {
    let existing = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let updated = splice_section(&existing, id, body);
    std::fs::write(path, updated).with_context(|| format!("writing {}", path.display()))
}

/// The pure part of [`refresh_section`].
pub fn splice_section(existing: &str, id: &str, body: &str) -> String {
    let (begin, end) = (begin_marker(id), end_marker(id));
    let block = format!("{begin}\n{}\n{end}", body.trim_end());
    if let (Some(start), Some(stop)) = (existing.find(&begin), existing.find(&end))
        && start < stop
    {
        let after = stop + end.len();
        return format!("{}{block}{}", &existing[..start], &existing[after..]);
    }
    if existing.trim().is_empty() {
        return format!("# Benchmarks\n\n{block}\n");
    }
    format!("{}\n\n{block}\n", existing.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_a_document_when_empty() {
        let text = splice_section("", "raw", "body\n");
        assert_eq!(
            text,
            "# Benchmarks\n\n<!-- longshore-bench:begin raw -->\nbody\n<!-- longshore-bench:end raw -->\n"
        );
    }

    #[test]
    fn replaces_only_its_own_section() {
        let first = splice_section("# Benchmarks\n\nprose\n", "raw", "old raw");
        let second = splice_section(&first, "celery", "celery body");
        let third = splice_section(&second, "raw", "new raw");
        assert!(third.contains("prose"));
        assert!(third.contains("new raw"));
        assert!(!third.contains("old raw"));
        assert!(third.contains("celery body"));
        assert_eq!(third.matches("longshore-bench:begin raw").count(), 1);
    }
}
