//! `kubepulse serve`.

/// Arguments of `kubepulse serve`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `kubepulse serve`.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!(
        "`kubepulse serve` is not built yet: see the open issues (run `kubepulse --help` for what exists)"
    )
}
