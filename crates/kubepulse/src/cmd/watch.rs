//! `kubepulse watch`.

/// Arguments of `kubepulse watch`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `kubepulse watch`.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!(
        "`kubepulse watch` is not built yet: see the open issues (run `kubepulse --help` for what exists)"
    )
}
