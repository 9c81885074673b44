//! `kubepulse` — predicts Kubernetes failures before they happen.
//!
//! Thin entry point: parse arguments, set up logging, run, map the result to an exit code.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = kubepulse::Cli::parse();
    kubepulse::init_tracing(&cli.global);
    match kubepulse::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
