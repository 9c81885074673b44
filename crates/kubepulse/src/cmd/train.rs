//! `kubepulse train`.

/// Arguments of `kubepulse train`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `kubepulse train`.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!(
        "`kubepulse train` is not built yet: see the open issues (run `kubepulse --help` for what exists)"
    )
}
