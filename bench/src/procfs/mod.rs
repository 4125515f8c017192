//! Reading CPU time and memory of processes from `/proc`.

pub mod memory;
pub mod process_table;
pub mod services;

pub use memory::PeakRssSampler;
pub use process_table::ProcessTable;

/// Clock ticks per second used by `/proc/PID/stat`, from `getconf CLK_TCK`.
/// Falls back to 100, the value on every mainstream Linux build.
pub fn clock_ticks_per_second() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .filter(|ticks| *ticks > 0)
        .unwrap_or(100)
}
