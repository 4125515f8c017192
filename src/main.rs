//! `longshore`: one binary for every role (api, worker, scheduler, dev) and the client
//! commands people use to submit and follow jobs.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
