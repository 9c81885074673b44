//! `kubepulse` — predicts Kubernetes failures before they happen.
//!
//! Thin entry point: parse arguments, set up logging, run, map the result to an exit code.

use std::process::ExitCode;

use clap::Parser;

/// jemalloc, with a background thread that returns freed memory to the OS (configured in
/// `.cargo/config.toml`): glibc's malloc kept what a flood of connections had used (serve: 18 → 39 MiB
/// RSS with 2,000 idle connections, still 39 MiB after they closed; with jemalloc 19 → 25 → 20 MiB,
/// `bench/http/flood.sh`). Set here, in the binary only: libraries never choose an allocator.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

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
