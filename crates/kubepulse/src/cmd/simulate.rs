//! `kubepulse simulate`.

/// Arguments of `kubepulse simulate`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `kubepulse simulate`.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!(
        "`kubepulse simulate` is not built yet: see the open issues (run `kubepulse --help` for what exists)"
    )
}
