//! One module per subcommand: its arguments (clap) and a `run` that calls into a library crate.

pub mod collect;
pub mod eval;
pub mod serve;
pub mod simulate;
pub mod train;
pub mod watch;

#[cfg(test)]
pub(crate) mod tests {
    use clap::Parser;

    /// Runs the CLI on `argv` and returns the error it ends with: clap's message for a bad flag, else
    /// the whole error chain of `run` (the one line a user sees).
    pub(crate) fn error_of(argv: &[&str]) -> String {
        let cli = match crate::Cli::try_parse_from(argv) {
            Ok(cli) => cli,
            Err(e) => return e.to_string(),
        };
        format!("{:#}", crate::run(cli).unwrap_err())
    }
}
