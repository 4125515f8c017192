//! The `BENCHMARKS.md` section for one harness invocation: where and how the
//! figures were taken, then the table.

use std::fmt::Write as _;

/// Everything around the table that a reader needs to trust or reproduce
/// the figures.
#[derive(Debug, Clone, Default)]
pub struct SectionContext {
    /// Subcommand that produced the section (`all`, `raw`, ...); also the
    /// id of the section in the file, so each subcommand refreshes its own.
    pub id: String,
    pub command: String,
    pub generated_at: String,
    pub machine: Vec<(String, String)>,
    pub versions: Vec<(String, String)>,
    pub method: Vec<String>,
}

pub fn render_section(ctx: &SectionContext, table: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "## Harness results: `{}`\n", ctx.id);
    let _ = writeln!(out, "Generated {} by:\n", ctx.generated_at);
    let _ = writeln!(out, "```sh\n{}\n```\n", ctx.command);
    out.push_str(&key_values("Machine", &ctx.machine));
    out.push_str(&key_values("Versions", &ctx.versions));
    if !ctx.method.is_empty() {
        out.push_str("Method:\n\n");
        for line in &ctx.method {
            let _ = writeln!(out, "- {line}");
        }
        out.push('\n');
    }
    out.push_str(table);
    out
}

fn key_values(title: &str, pairs: &[(String, String)]) -> String {
    if pairs.is_empty() {
        return String::new();
    }
    let items: Vec<String> = pairs.iter().map(|(k, v)| format!("{k} {v}")).collect();
    format!("{title}: {}.\n\n", items.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn section_lists_command_machine_versions_and_table() {
        let ctx = SectionContext {
            id: "raw".into(),
            command: "cargo run --release -p longshore-bench -- raw".into(),
            generated_at: "2026-01-01 00:00 UTC".into(),
            machine: vec![("CPU".into(), "Example".into())],
            versions: vec![("RabbitMQ".into(), "3.10.8".into())],
            method: vec!["median of 3 runs".into()],
        };
        let text = render_section(&ctx, "| table |\n");
        assert!(text.starts_with("## Harness results: `raw`\n"));
        assert!(text.contains("cargo run --release -p longshore-bench -- raw"));
        assert!(text.contains("Machine: CPU Example."));
        assert!(text.contains("Versions: RabbitMQ 3.10.8."));
        assert!(text.contains("- median of 3 runs"));
        assert!(text.ends_with("| table |\n"));
    }
}
