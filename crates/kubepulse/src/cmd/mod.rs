//! One module per subcommand: its arguments (clap) and a `run` that calls into a library crate.

pub mod collect;
pub mod doctor;
pub mod eval;
pub mod gate;
pub mod serve;
pub mod simulate;
pub mod train;
pub mod watch;

/// `--missing-columns`: what becomes of a model metric the data lacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MissingArg {
    /// An error naming the missing columns.
    Error,
    /// Fed as missing values (NaN) throughout, with a warning: for a model trained with missing values.
    Nan,
}

impl From<MissingArg> for learn::columns::MissingColumns {
    fn from(m: MissingArg) -> Self {
        match m {
            MissingArg::Error => Self::Error,
            MissingArg::Nan => Self::Nan,
        }
    }
}

/// A warning a user must not miss (a model or figures not to trust as they are): on stderr, always,
/// as `WARNING: ...`, whatever the log level or format (the card and the report keep them too).
pub fn warn_loudly(message: &str) {
    eprintln!("WARNING: {message}");
}

/// The memory guard's limit (`learn::memory`): `--max-memory` when given, else the memory available on
/// this machine (`MemAvailable` of /proc/meminfo; no guard where that cannot be read).
pub fn memory_limit(flag: Option<u64>) -> Option<learn::memory::Limit> {
    if let Some(bytes) = flag {
        return Some(learn::memory::Limit {
            bytes,
            source: "--max-memory".into(),
        });
    }
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kb: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(learn::memory::Limit {
        bytes: kb * 1024,
        source: "memory available on this machine (set the limit with --max-memory)".into(),
    })
}

/// `--format` of the commands that write a dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum FormatArg {
    /// metrics.csv + events.csv.
    #[default]
    Csv,
    /// metrics.parquet + events.parquet (one row group per target, zstd): smaller, and read by
    /// pandas, polars, DuckDB.
    Parquet,
}

impl From<FormatArg> for learn::dataset::Format {
    fn from(f: FormatArg) -> Self {
        match f {
            FormatArg::Csv => learn::dataset::Format::Csv,
            FormatArg::Parquet => learn::dataset::Format::Parquet,
        }
    }
}

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

    /// Durations through each command that takes one, as a user types them.
    fn durations_of(text: &str) -> Vec<Result<i64, String>> {
        use crate::Command;
        let parse = |argv: &[&str], pick: fn(Command) -> Result<i64, String>| {
            crate::Cli::try_parse_from(argv)
                .map_err(|e| e.to_string())
                .and_then(|cli| pick(cli.command))
        };
        let p = "http://p";
        vec![
            parse(
                &[
                    "kubepulse",
                    "collect",
                    "--prometheus",
                    p,
                    "--start",
                    "0",
                    "--end",
                    "9",
                ]
                .into_iter()
                .chain(["--out", "d", "--step", text])
                .collect::<Vec<_>>(),
                |c| match c {
                    Command::Collect(a) => Ok(a.inner.step),
                    _ => unreachable!(),
                },
            ),
            parse(
                &["kubepulse", "watch", "--prometheus", p, "--cooldown", text],
                |c| match c {
                    Command::Watch(a) => Ok(a.inner.cooldown),
                    _ => unreachable!(),
                },
            ),
            parse(
                &[
                    "kubepulse",
                    "train",
                    "--data",
                    "d",
                    "--out",
                    "m",
                    "--horizon",
                    text,
                ],
                |c| match c {
                    Command::Train(a) => Ok(a.model.horizon),
                    _ => unreachable!(),
                },
            ),
            parse(
                &[
                    "kubepulse",
                    "eval",
                    "--data",
                    "d",
                    "--out",
                    "r",
                    "--window",
                    text,
                ],
                |c| match c {
                    Command::Eval(a) => Ok(a.train.window),
                    _ => unreachable!(),
                },
            ),
            parse(
                &["kubepulse", "serve", "--idle-timeout", text],
                |c| match c {
                    Command::Serve(a) => Ok(a.idle_timeout),
                    _ => unreachable!(),
                },
            ),
            parse(
                &["kubepulse", "simulate", "--out", "d", "--duration", text],
                |c| match c {
                    Command::Simulate(a) => super::simulate::config_from_args(&a.options)
                        .map_err(|e| e.to_string())?
                        .check()
                        .map(|valid| valid.duration_secs)
                        .map_err(|e| e.to_string()),
                    _ => unreachable!(),
                },
            ),
        ]
    }

    #[test]
    fn every_command_reads_the_same_durations() {
        for (text, secs) in [
            ("90", 90),
            ("15s", 15),
            ("5m", 300),
            ("1h30m", 5400),
            ("7d", 604_800),
            ("2w", 1_209_600),
        ] {
            for (i, got) in durations_of(text).into_iter().enumerate() {
                assert_eq!(got, Ok(secs), "command #{i} on {text:?}");
            }
        }
        for text in ["0s", "-5m", "5x", "m", "1h30", "", "1.5h"] {
            for (i, got) in durations_of(text).into_iter().enumerate() {
                assert!(got.is_err(), "command #{i} accepted {text:?}: {got:?}");
            }
        }
    }

    #[test]
    fn the_dataset_format_is_a_flag_of_the_writers_and_detected_by_the_readers() {
        let e = error_of(&[
            "kubepulse",
            "simulate",
            "--format",
            "parquet",
            "--duration",
            "1h",
        ]);
        assert!(e.contains("--format applies to the dataset"), "{e}");
        let e = error_of(&["kubepulse", "simulate", "--format", "orc", "--out", "x"]);
        assert!(
            e.contains("invalid value 'orc'") && e.contains("parquet"),
            "{e}"
        );
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().to_str().unwrap();
        std::fs::write(
            dir.path().join("metrics.csv"),
            "timestamp,target,x\n0,a,1\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("metrics.parquet"), "not parquet").unwrap();
        let out = dir.path().join("m.kpm");
        let e = error_of(&[
            "kubepulse",
            "train",
            "--data",
            data,
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(
            e.contains("both metrics.csv and metrics.parquet are here: keep one"),
            "{e}"
        );
    }
}
