//! `kubepulse collect`.

/// Arguments of `kubepulse collect`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `kubepulse collect`.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!(
        "`kubepulse collect` is not built yet: see the open issues (run `kubepulse --help` for what exists)"
    )
}
