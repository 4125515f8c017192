//! `longshore`: one binary for every role (api, worker, scheduler, dev) and the client
//! commands people use to submit and follow jobs.

mod cli;

/// mimalloc instead of the system allocator: the hot paths allocate many small,
/// short-lived buffers across threads, where it spends markedly less CPU than glibc's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    cli::main()
}
