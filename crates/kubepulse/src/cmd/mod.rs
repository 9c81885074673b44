//! One module per subcommand: its arguments (clap) and a `run` that calls into a library crate.

pub mod collect;
pub mod eval;
pub mod serve;
pub mod simulate;
pub mod train;
pub mod watch;
