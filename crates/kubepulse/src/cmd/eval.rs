//! `kubepulse eval`.

/// Arguments of `kubepulse eval`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `kubepulse eval`.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!(
        "`kubepulse eval` is not built yet: see the open issues (run `kubepulse --help` for what exists)"
    )
}
