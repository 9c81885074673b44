//! The built binary on bad input: exit code 1 and one `error:` line naming the problem — never a
//! panic (exit 101), never a report over the wrong columns.

use std::path::{Path, PathBuf};
use std::process::Command;

use learn::bundle::ModelBundle;

const BIN: &str = env!("CARGO_BIN_EXE_kubepulse");

fn default_model() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/default.kpm")
}

/// Runs the binary; returns (exit code, stderr).
fn run(args: &[&str]) -> (i32, String) {
    let out = Command::new(BIN)
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run the kubepulse binary");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The one `error:` line of a failed run (asserting exit 1, no panic, exactly one error line).
fn error_line(args: &[&str]) -> String {
    let (code, stderr) = run(args);
    assert!(!stderr.contains("panicked"), "{args:?} panicked: {stderr}");
    assert_eq!(code, 1, "{args:?} exit code {code}: {stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{args:?}: {stderr}");
    errors[0].to_string()
}

fn dataset(dir: &Path, header: &[&str], rows: usize) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let mut text = format!("timestamp,target,{}\n", header.join(","));
    for i in 0..rows {
        text.push_str(&format!("{},ns/a", 1_700_000_000 + 15 * i));
        for k in 0..header.len() {
            text.push_str(&format!(",{}", (i + k) % 10));
        }
        text.push('\n');
    }
    std::fs::write(dir.join("metrics.csv"), text).unwrap();
    std::fs::write(dir.join("events.csv"), "target,start,end,issue_type\n").unwrap();
    dir.to_path_buf()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn eval_of_a_model_on_data_without_one_of_its_columns_names_it_and_exits_1() {
    let model = ModelBundle::embedded().unwrap();
    let metrics = &model.window_model().meta.features.metrics;
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("report");
    for dropped in [0, metrics.len() - 1] {
        let kept: Vec<&str> = metrics
            .iter()
            .enumerate()
            .filter(|&(i, _)| i != dropped)
            .map(|(_, m)| m.as_str())
            .collect();
        let data = dataset(&tmp.path().join(format!("d{dropped}")), &kept, 40);
        let e = error_line(&[
            "eval",
            "--model",
            s(&default_model()),
            "--data",
            s(&data),
            "--out",
            s(&out),
        ]);
        assert!(
            e.contains(&format!(
                "lacks 1 of the model's {} columns: `{}`",
                metrics.len(),
                metrics[dropped]
            )) && e.contains("--columns"),
            "{e}"
        );
    }
    assert!(
        !out.join("report.json").exists(),
        "no report over missing columns"
    );
}

#[test]
fn a_model_on_data_of_the_other_level_is_an_error() {
    let model = ModelBundle::embedded().unwrap();
    let metrics = window_metrics(&model);
    let tmp = tempfile::tempdir().unwrap();
    let deployments = dataset(&tmp.path().join("deployments"), &metrics, 40);
    let clusters = dataset(&tmp.path().join("clusters"), &learn::snapshot::FIELDS, 40);
    let out = tmp.path().join("report");
    let e = error_line(&[
        "eval",
        "--model",
        s(&default_model()),
        "--snapshot",
        "--data",
        s(&deployments),
        "--out",
        s(&out),
    ]);
    assert!(
        e.contains("level mismatch") && e.contains("cluster snapshot model"),
        "{e}"
    );
    let e = error_line(&[
        "eval",
        "--model",
        s(&default_model()),
        "--data",
        s(&clusters),
        "--out",
        s(&out),
    ]);
    assert!(e.contains("level mismatch"), "{e}");
    let e = error_line(&[
        "train",
        "--data",
        s(&deployments),
        "--snapshot-data",
        s(&deployments),
        "--out",
        s(&tmp.path().join("m.kpm")),
    ]);
    assert!(e.contains("cluster-level dataset"), "{e}");
}

// ---- Malformed datasets × every command that reads a dataset -------------------------------------

/// What every command must do with one dataset.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// Legitimately valid input: exit 0.
    Valid,
    /// Exit 1 with one `error:` line that names `file` (at `line` when given) and contains `needle`.
    Error {
        file: &'static str,
        line: Option<u64>,
        needle: &'static str,
    },
}

fn err(file: &'static str, line: Option<u64>, needle: &'static str) -> Expect {
    Expect::Error { file, line, needle }
}

/// One dataset directory's files (`None`: the file is absent).
struct Case {
    name: &'static str,
    metrics: Option<Vec<u8>>,
    events: Option<Vec<u8>>,
    expect: Expect,
}

/// A valid dataset as rows of text, mutated by each case. Rows are target-major; data row `r` is line
/// `r + 2` of `metrics.csv`.
#[derive(Clone)]
struct Base {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
    events: Vec<Vec<String>>,
}

/// Rows per target: 2 h at 15 s, enough to train on either half (4 x (window + horizon) = 32 min).
const ROWS: usize = 480;
const T0: i64 = 1_700_000_000;

impl Base {
    /// Two targets with the given metric columns and four incidents each (both issue types), so a
    /// model trains on any half of it.
    fn new(metrics: &[&str], targets: [&str; 2]) -> Self {
        let mut header = vec!["timestamp".to_owned(), "target".to_owned()];
        header.extend(metrics.iter().map(|m| m.to_string()));
        let mut rows = Vec::new();
        for (t, target) in targets.iter().enumerate() {
            for i in 0..ROWS {
                let mut row = vec![(T0 + 15 * i as i64).to_string(), target.to_string()];
                for (k, m) in metrics.iter().enumerate() {
                    let v = if m.ends_with("_total") {
                        (i / 40) as f64
                    } else {
                        ((i * 31 + k * 17 + t * 7) % 97) as f64 / 10.0
                    };
                    row.push(v.to_string());
                }
                rows.push(row);
            }
        }
        let mut events = Vec::new();
        for target in targets {
            for (n, minute) in [25i64, 55, 85, 110].into_iter().enumerate() {
                let start = T0 + minute * 60;
                let kind = ["pod_failure", "resource_exhaustion"][n % 2];
                events.push(vec![
                    target.to_owned(),
                    start.to_string(),
                    (start + 300).to_string(),
                    kind.to_owned(),
                ]);
            }
        }
        Base {
            header,
            rows,
            events,
        }
    }

    fn metrics_csv(&self) -> String {
        csv_text(&self.header, &self.rows)
    }

    fn events_csv(&self) -> String {
        let header: Vec<String> = ["target", "start", "end", "issue_type"]
            .map(String::from)
            .to_vec();
        csv_text(&header, &self.events)
    }

    /// The metrics with data row `row`, column `col` replaced.
    fn cell(&self, row: usize, col: usize, value: &str) -> Vec<u8> {
        let mut b = self.clone();
        b.rows[row][col] = value.to_owned();
        b.metrics_csv().into_bytes()
    }

    /// The metrics with data row `row`, column `col` replaced by raw bytes.
    fn raw_cell(&self, row: usize, col: usize, value: &[u8]) -> Vec<u8> {
        let marker = "\u{1}MARK\u{1}";
        let text = self.cell(row, col, marker);
        let at = find(&text, marker.as_bytes()).expect("marker");
        [&text[..at], value, &text[at + marker.len()..]].concat()
    }

    /// The events with event `n`, column `col` replaced.
    fn event(&self, n: usize, col: usize, value: &str) -> Vec<u8> {
        let mut b = self.clone();
        b.events[n][col] = value.to_owned();
        b.events_csv().into_bytes()
    }

    fn with_header(&self, header: &[&str]) -> Vec<u8> {
        let mut b = self.clone();
        b.header = header.iter().map(|h| h.to_string()).collect();
        b.metrics_csv().into_bytes()
    }
}

fn csv_text(header: &[String], rows: &[Vec<String>]) -> String {
    let mut text = header.join(",");
    text.push('\n');
    for row in rows {
        text.push_str(&row.join(","));
        text.push('\n');
    }
    text
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// At least 46 distinct malformed (or oddly formed but valid) datasets, from a valid `base`.
fn cases(base: &Base) -> Vec<Case> {
    let m = || Some(base.metrics_csv().into_bytes());
    let e = || Some(base.events_csv().into_bytes());
    let metrics = |bytes: Vec<u8>| Some(bytes);
    let header = &base.header;
    let h: Vec<&str> = header.iter().map(String::as_str).collect();
    let last = h.len() - 1;
    // Data row 4 is line 6; its first metric column is column 2.
    let (row, line) = (4, Some(6));
    let mc = "metrics.csv";
    let ec = "events.csv";
    let mut out = vec![
        Case {
            name: "no files",
            metrics: None,
            events: None,
            expect: err(mc, None, ""),
        },
        Case {
            name: "no events file",
            metrics: m(),
            events: None,
            expect: err(ec, None, ""),
        },
        Case {
            name: "empty metrics",
            metrics: metrics(vec![]),
            events: e(),
            expect: err(mc, None, "empty"),
        },
        Case {
            name: "empty events",
            metrics: m(),
            events: Some(vec![]),
            expect: err(ec, None, "empty"),
        },
        Case {
            name: "header only",
            metrics: metrics(format!("{}\n", h.join(",")).into_bytes()),
            events: e(),
            expect: err(mc, None, "no data rows"),
        },
        Case {
            name: "blank lines only",
            metrics: metrics(b"\n\n\n".to_vec()),
            events: e(),
            expect: err(mc, None, ""),
        },
        Case {
            name: "whitespace header",
            metrics: metrics(b"   \n1,2,3\n".to_vec()),
            events: e(),
            expect: err(mc, None, ""),
        },
        Case {
            name: "no timestamp column",
            metrics: metrics(base.with_header(&[&["time"][..], &h[1..]].concat())),
            events: e(),
            expect: err(mc, None, "timestamp"),
        },
        Case {
            name: "no target column",
            metrics: metrics(base.with_header(&[&h[..1], &["pod"][..], &h[2..]].concat())),
            events: e(),
            expect: err(mc, None, "target"),
        },
        Case {
            name: "no metric column",
            metrics: metrics(format!("timestamp,target\n{T0},{}\n", base.rows[0][1]).into_bytes()),
            events: e(),
            expect: err(mc, None, "metric"),
        },
        Case {
            name: "duplicate header",
            metrics: metrics(base.with_header(&[&h[..last], &[h[2]][..]].concat())),
            events: e(),
            expect: err(mc, Some(1), "twice"),
        },
        Case {
            name: "empty column name",
            metrics: metrics(base.with_header(&[&h[..last], &[""][..]].concat())),
            events: e(),
            expect: err(mc, Some(1), "has no name"),
        },
        Case {
            name: "trailing comma on every line",
            metrics: metrics(base.metrics_csv().replace('\n', ",\n").into_bytes()),
            events: e(),
            expect: err(mc, Some(1), "has no name"),
        },
        Case {
            name: "extra field",
            metrics: metrics(base.cell(row, last, &format!("{},1", base.rows[row][last]))),
            events: e(),
            expect: err(mc, line, ""),
        },
        Case {
            name: "missing field",
            metrics: metrics({
                let mut b = base.clone();
                b.rows[row].pop();
                b.metrics_csv().into_bytes()
            }),
            events: e(),
            expect: err(mc, line, ""),
        },
    ];
    for (name, value) in [
        ("not a number", "abc"),
        ("overflowing number", "1e400"),
        ("inf", "inf"),
        ("negative inf", "-inf"),
        ("Infinity", "Infinity"),
        ("hex number", "0x1A"),
        ("decimal comma", "\"1,5\""),
        ("quoted newline in a number", "\"1\n2\""),
        ("unterminated quote", "\"12"),
    ] {
        out.push(Case {
            name,
            metrics: metrics(base.cell(row, 2, value)),
            events: e(),
            expect: err(mc, line, ""),
        });
    }
    out.push(Case {
        name: "non-UTF-8 number",
        metrics: metrics(base.raw_cell(row, 2, b"1\xff")),
        events: e(),
        expect: err(mc, line, "UTF-8"),
    });
    out.push(Case {
        name: "NUL in a number",
        metrics: metrics(base.raw_cell(row, 2, b"1\0")),
        events: e(),
        expect: err(mc, line, "not a number"),
    });
    out.push(Case {
        name: "huge cell",
        metrics: metrics(base.cell(row, 2, &"9x".repeat(1 << 20))),
        events: e(),
        expect: err(mc, line, "not a number"),
    });
    for (name, value, needle) in [
        ("negative timestamp", "-15", "before 1970"),
        ("overflowing timestamp", "99999999999999999999", "timestamp"),
        (
            "timestamp past the year 9999",
            "9223372036854775807",
            "timestamp",
        ),
        ("float timestamp beyond 2^53", "1e300", "timestamp"),
        ("garbage timestamp", "yesterday", "timestamp"),
        ("empty timestamp", "", "timestamp"),
        ("empty target", "", "target"),
    ] {
        let col = if name == "empty target" { 1 } else { 0 };
        out.push(Case {
            name,
            metrics: metrics(base.cell(row, col, value)),
            events: e(),
            expect: err(mc, line, needle),
        });
    }
    out.push(Case {
        name: "non-UTF-8 timestamp",
        metrics: metrics(base.raw_cell(row, 0, b"17\xff")),
        events: e(),
        expect: err(mc, line, "timestamp"),
    });
    out.push(Case {
        name: "non-UTF-8 target",
        metrics: metrics(base.raw_cell(row, 1, b"shop/\xff")),
        events: e(),
        expect: err(mc, line, "UTF-8"),
    });
    out.push(Case {
        name: "duplicate timestamp",
        metrics: metrics(base.cell(row, 0, &base.rows[row - 1][0])),
        events: e(),
        expect: err(mc, line, "two rows"),
    });
    out.push(Case {
        name: "tab-separated",
        metrics: metrics(base.metrics_csv().replace(',', "\t").into_bytes()),
        events: e(),
        expect: err(mc, None, "timestamp"),
    });
    out.push(Case {
        name: "semicolon-separated",
        metrics: metrics(base.metrics_csv().replace(',', ";").into_bytes()),
        events: e(),
        expect: err(mc, None, "timestamp"),
    });
    out.push(Case {
        name: "binary garbage",
        metrics: metrics(b"\0\x01\xff\n,,,\n".to_vec()),
        events: Some(b"\x7f".to_vec()),
        expect: err(mc, None, ""),
    });
    // events.csv
    let (ev_line, eline) = (2, Some(4));
    out.push(Case {
        name: "events without an end column",
        metrics: m(),
        events: Some(b"target,start,issue_type\n".to_vec()),
        expect: err(ec, None, "end"),
    });
    for (name, col, value, needle) in [
        ("events: unknown target", 0, "shop/nowhere", "no rows"),
        ("events: empty target", 0, "", "target"),
        ("events: end before start", 2, "1700000000", "before start"),
        ("events: bad issue type", 3, "Pod Failure", "issue_type"),
        ("events: issue type normal", 3, "normal", "issue_type"),
        ("events: empty issue type", 3, "", "issue_type"),
        ("events: negative start", 1, "-5", "before 1970"),
        (
            "events: overflowing end",
            2,
            "99999999999999999999999",
            "end",
        ),
        (
            "events: end past the year 9999",
            2,
            "9223372036854775807",
            "end",
        ),
        ("events: garbage start", 1, "soon", "start"),
    ] {
        out.push(Case {
            name,
            metrics: m(),
            events: Some(base.event(ev_line, col, value)),
            expect: err(ec, eline, needle),
        });
    }
    out.push(Case {
        name: "events: huge issue type",
        metrics: m(),
        events: Some(base.event(ev_line, 3, &"x".repeat(1 << 20))),
        expect: err(ec, eline, "issue_type"),
    });
    out.push(Case {
        name: "events: ragged row",
        metrics: m(),
        events: Some(base.event(ev_line, 3, "pod_failure,extra")),
        expect: err(ec, eline, ""),
    });
    out.push(Case {
        name: "events: non-UTF-8 target",
        metrics: m(),
        events: Some({
            let text = base.event(ev_line, 0, "\u{1}MARK");
            let at = find(&text, b"\x01MARK").expect("marker");
            [&text[..at], b"shop/\xff".as_slice(), &text[at + 5..]].concat()
        }),
        expect: err(ec, eline, "UTF-8"),
    });
    out.push(Case {
        name: "events: duplicate header",
        metrics: m(),
        events: Some(b"target,start,end,issue_type,start\n".to_vec()),
        expect: err(ec, Some(1), "twice"),
    });
    out.push(Case {
        name: "events: binary",
        metrics: m(),
        events: Some(b"\0\xff\xfe,\n\x01".to_vec()),
        expect: err(ec, None, ""),
    });
    // Oddly formed but valid: each must be read as the data it is.
    let valid = |name, metrics: Vec<u8>, events: Vec<u8>| Case {
        name,
        metrics: Some(metrics),
        events: Some(events),
        expect: Expect::Valid,
    };
    let ev = base.events_csv().into_bytes();
    out.push(valid("nan text", base.cell(row, 2, "NaN"), ev.clone()));
    out.push(valid("empty cell", base.cell(row, 3, ""), ev.clone()));
    out.push(valid(
        "a column entirely empty",
        {
            let mut b = base.clone();
            for r in &mut b.rows {
                r[3] = String::new();
            }
            b.metrics_csv().into_bytes()
        },
        ev.clone(),
    ));
    out.push(valid(
        "rows in reverse order",
        {
            let mut b = base.clone();
            b.rows.reverse();
            b.metrics_csv().into_bytes()
        },
        ev.clone(),
    ));
    out.push(valid(
        "byte-order marks",
        [b"\xef\xbb\xbf".as_slice(), base.metrics_csv().as_bytes()].concat(),
        [b"\xef\xbb\xbf".as_slice(), &ev].concat(),
    ));
    out.push(valid(
        "CRLF line ends",
        base.metrics_csv().replace('\n', "\r\n").into_bytes(),
        base.events_csv().replace('\n', "\r\n").into_bytes(),
    ));
    out.push(valid(
        "RFC 3339 timestamps",
        {
            let mut b = base.clone();
            for r in &mut b.rows {
                let t: i64 = r[0].parse().expect("seconds");
                r[0] = learn::timestamp::format_rfc3339(t);
            }
            b.metrics_csv().into_bytes()
        },
        ev.clone(),
    ));
    out.push(valid(
        "fractional timestamps",
        {
            let mut b = base.clone();
            for r in &mut b.rows {
                r[0].push_str(".0");
            }
            b.metrics_csv().into_bytes()
        },
        ev.clone(),
    ));
    out.push(valid(
        "columns permuted",
        {
            let mut b = base.clone();
            let perm: Vec<usize> = (0..b.header.len()).rev().collect();
            b.header = perm.iter().map(|&i| base.header[i].clone()).collect();
            for (r, orig) in b.rows.iter_mut().zip(&base.rows) {
                *r = perm.iter().map(|&i| orig[i].clone()).collect();
            }
            b.metrics_csv().into_bytes()
        },
        ev.clone(),
    ));
    out.push(valid(
        "an extra column",
        {
            let mut b = base.clone();
            b.header.push("unrelated_gauge".into());
            for r in &mut b.rows {
                r.push("1".into());
            }
            b.metrics_csv().into_bytes()
        },
        ev.clone(),
    ));
    out.push(valid(
        "every field quoted, spaces around values",
        {
            let mut text = String::new();
            for line in base.metrics_csv().lines() {
                let fields: Vec<String> = line.split(',').map(|f| format!("\" {f} \"")).collect();
                text.push_str(&fields.join(","));
                text.push('\n');
            }
            text.into_bytes()
        },
        ev.clone(),
    ));
    out.push(valid(
        "events with detail and extra columns",
        base.metrics_csv().into_bytes(),
        {
            let mut text = String::from("target,start,end,issue_type,detail,note\n");
            for e in &base.events {
                text.push_str(&format!("{},oom_kill,\"a, b\"\n", e.join(",")));
            }
            text.into_bytes()
        },
    ));
    out
}

/// Small forests: these runs check input handling, not model quality.
const FAST: [&str; 6] = ["--trees", "4", "--type-trees", "2", "--eta-trees", "2"];

/// Checks one run against its case; `None` when it did what it must.
fn check_run(case: &Case, command: &str, code: i32, stderr: &str) -> Option<String> {
    let fail = |why: String| Some(format!("[{}] {command}: {why}", case.name));
    if code == 101 || stderr.contains("panicked") {
        return fail(format!("panicked: {}", quote(stderr)));
    }
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    match case.expect {
        Expect::Valid if code != 0 => {
            fail(format!("exit {code} on valid input: {}", quote(stderr)))
        }
        Expect::Valid => None,
        Expect::Error { file, line, needle } => {
            if code != 1 || errors.len() != 1 {
                return fail(format!(
                    "exit {code}, {} error lines: {}",
                    errors.len(),
                    quote(stderr)
                ));
            }
            let e = errors[0];
            let at = line.map_or(file.to_owned(), |l| format!("{file}:{l}:"));
            if e.len() > 1000 || !e.contains(&at) || !e.contains(needle) {
                return fail(format!(
                    "want `{at}` and `{needle}` in a short line: {}",
                    quote(e)
                ));
            }
            None
        }
    }
}

#[test]
fn a_bad_remediation_policy_names_its_line_and_field_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        "min_probability = 0.6\n\n[namespaces.shop]\nrollback = \"always\"\n",
    )
    .unwrap();
    let line = error_line(&["simulate", "--duration", "1h", "--remediate", s(&policy)]);
    assert!(
        line.contains("line 4")
            && line.contains("namespaces.shop.rollback")
            && line.contains("\"always\""),
        "{line}"
    );
    let line = error_line(&["simulate", "--remediate", "/nonexistent/policy.toml"]);
    assert!(line.contains("/nonexistent/policy.toml"), "{line}");
}

fn quote(text: &str) -> String {
    text.chars().take(600).collect()
}

/// Every malformed (or oddly formed but valid) dataset through every command that reads a dataset:
/// `train` (its data, its `--holdout-data`, its `--snapshot-data`), `eval` (trained on a split,
/// `--model`, `--model --snapshot`, `--holdout-targets`). None may panic; errors are one line naming
/// the file, line and field; valid input succeeds.
#[test]
fn malformed_datasets_on_every_dataset_command() {
    let model = ModelBundle::embedded().unwrap();
    let window_metrics = window_metrics(&model);
    let tmp = tempfile::tempdir().unwrap();
    let targets = Base::new(&window_metrics, ["shop/cart", "shop/frontend"]);
    let clusters = Base::new(&learn::snapshot::FIELDS, ["cluster-1", "cluster-2"]);
    let good = tmp.path().join("good");
    std::fs::create_dir_all(&good).unwrap();
    std::fs::write(good.join("metrics.csv"), targets.metrics_csv()).unwrap();
    std::fs::write(good.join("events.csv"), targets.events_csv()).unwrap();
    let model_path = default_model();
    let model = s(&model_path);
    let good = s(&good).to_owned();

    // (case, command name, arguments)
    let mut runs: Vec<(usize, &str, Vec<String>)> = Vec::new();
    let mut all_cases: Vec<Case> = Vec::new();
    for (level, base) in [("target", &targets), ("cluster", &clusters)] {
        for case in cases(base) {
            let n = all_cases.len();
            let dir = tmp.path().join(format!("case{n}"));
            std::fs::create_dir_all(&dir).unwrap();
            if let Some(bytes) = &case.metrics {
                std::fs::write(dir.join("metrics.csv"), bytes).unwrap();
            }
            if let Some(bytes) = &case.events {
                std::fs::write(dir.join("events.csv"), bytes).unwrap();
            }
            let d = s(&dir).to_owned();
            let out = |k: &str| s(&tmp.path().join(format!("out{n}-{k}"))).to_owned();
            let with =
                |args: &[&str]| -> Vec<String> { args.iter().map(|a| a.to_string()).collect() };
            let commands: Vec<(&str, Vec<String>)> = if level == "target" {
                vec![
                    (
                        "train",
                        with(&["train", "--data", &d, "--out", &out("m.kpm")]),
                    ),
                    (
                        "train --holdout-data",
                        with(&[
                            "train",
                            "--data",
                            &good,
                            "--holdout-data",
                            &d,
                            "--out",
                            &out("h.kpm"),
                        ]),
                    ),
                    (
                        "eval --split",
                        with(&["eval", "--data", &d, "--split", "0.5", "--out", &out("e")]),
                    ),
                    (
                        "eval --model",
                        with(&["eval", "--model", model, "--data", &d, "--out", &out("m")]),
                    ),
                    (
                        "eval --holdout-targets",
                        with(&[
                            "eval",
                            "--data",
                            &d,
                            "--split",
                            "0.5",
                            "--holdout-targets",
                            "--out",
                            &out("l"),
                        ]),
                    ),
                ]
            } else {
                vec![
                    (
                        "eval --model --snapshot",
                        with(&[
                            "eval",
                            "--model",
                            model,
                            "--snapshot",
                            "--data",
                            &d,
                            "--out",
                            &out("s"),
                        ]),
                    ),
                    (
                        "train --snapshot-data",
                        with(&[
                            "train",
                            "--data",
                            &good,
                            "--snapshot-data",
                            &d,
                            "--out",
                            &out("s.kpm"),
                        ]),
                    ),
                ]
            };
            for (name, mut args) in commands {
                if args[0] == "train" || !args.iter().any(|a| a == "--model") {
                    args.extend(FAST.iter().map(|a| a.to_string()));
                }
                runs.push((n, name, args));
            }
            all_cases.push(case);
        }
    }
    let distinct = all_cases.len() / 2;
    assert!(distinct >= 46, "only {distinct} malformed datasets");

    let next = std::sync::atomic::AtomicUsize::new(0);
    let failures = std::sync::Mutex::new(Vec::new());
    let started = std::time::Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some((n, name, args)) = runs.get(i) else {
                        break;
                    };
                    let args: Vec<&str> = args.iter().map(String::as_str).collect();
                    let (code, stderr) = run(&args);
                    if let Some(f) = check_run(&all_cases[*n], name, code, &stderr) {
                        failures.lock().unwrap().push(f);
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    eprintln!(
        "{distinct} datasets x 2 levels, {} runs of 7 commands in {:.1} s, {} failures",
        runs.len(),
        started.elapsed().as_secs_f64(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The embedded window model's metric names.
fn window_metrics(model: &ModelBundle) -> Vec<&str> {
    model
        .window_model()
        .meta
        .features
        .metrics
        .iter()
        .map(String::as_str)
        .collect()
}

/// `train --false-alarms FILE`: a missing or malformed feedback file is an error naming it (and its
/// line), before any training.
#[test]
fn a_bad_false_alarms_file_names_itself_and_exits_1() {
    let tmp = tempfile::tempdir().unwrap();
    let data = dataset(&tmp.path().join("data"), &["cpu_utilization"], 40);
    let out = tmp.path().join("m.kpm");
    let missing = tmp.path().join("feedback/false_alarms.csv");
    let e = error_line(&[
        "train",
        "--data",
        s(&data),
        "--false-alarms",
        s(&missing),
        "--out",
        s(&out),
    ]);
    assert!(e.contains("false_alarms.csv"), "{e}");
    std::fs::create_dir_all(missing.parent().unwrap()).unwrap();
    std::fs::write(
        &missing,
        "target,start,end,issue_type\nns/a,2000,1000,pod_failure\n",
    )
    .unwrap();
    let e = error_line(&[
        "train",
        "--data",
        s(&data),
        "--false-alarms",
        s(&missing),
        "--out",
        s(&out),
    ]);
    assert!(
        e.contains("false_alarms.csv:2") && e.contains("before start"),
        "{e}"
    );
    assert!(!out.exists(), "no model is written");
}

/// `train --mitigated FILE`: a missing or malformed mitigated-periods file is an error naming it (and
/// its line), before any training.
#[test]
fn a_bad_mitigated_file_names_itself_and_exits_1() {
    let tmp = tempfile::tempdir().unwrap();
    let data = dataset(&tmp.path().join("data"), &["cpu_utilization"], 40);
    let out = tmp.path().join("m.kpm");
    let file = tmp.path().join("remediation/mitigated.csv");
    let args = [
        "train",
        "--data",
        s(&data),
        "--mitigated",
        s(&file),
        "--out",
        s(&out),
    ];
    let e = error_line(&args);
    assert!(e.contains("mitigated.csv"), "{e}");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, "target,start,end\nns/a,1000,2000\n").unwrap();
    let e = error_line(&args);
    assert!(
        e.contains("mitigated.csv") && e.contains("issue_type"),
        "{e}"
    );
    std::fs::write(
        &file,
        "target,start,end,issue_type\nns/a,2000,1000,raise_memory\n",
    )
    .unwrap();
    let e = error_line(&args);
    assert!(
        e.contains("mitigated.csv:2") && e.contains("before start"),
        "{e}"
    );
    assert!(!out.exists(), "no model is written");
}

// ---- `collect --events` and `simulate --config/--demand` files -----------------------------------

/// A Prometheus that answers every query with no series, on a thread (one connection per request).
fn empty_prometheus() -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            // The request: headers, then Content-Length bytes of body.
            while let Ok(n) = stream.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf).to_ascii_lowercase();
                if let Some(h) = text.find("\r\n\r\n") {
                    let len = text[..h]
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    if buf.len() >= h + 4 + len {
                        break;
                    }
                }
            }
            let body = r#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#;
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    url
}

/// `kubepulse collect --events FILE` with every events file of the matrix (and a missing one): the
/// user's labels are checked as a dataset's `events.csv` is, before any query — errors are one line
/// naming the file and line; a valid file (any target: collect has no metrics file to check it
/// against) gives a dataset.
#[test]
fn malformed_events_files_for_collect() {
    let model = ModelBundle::embedded().unwrap();
    let base = Base::new(&window_metrics(&model), ["shop/cart", "shop/frontend"]);
    let good_metrics = base.metrics_csv().into_bytes();
    let prometheus = empty_prometheus();
    let tmp = tempfile::tempdir().unwrap();
    let mut checked = 0;
    let mut failures = Vec::new();
    for (n, case) in cases(&base).into_iter().enumerate() {
        // Only the cases about the events file (the metrics are the valid ones).
        if case.metrics.as_deref() != Some(&good_metrics[..]) {
            continue;
        }
        let dir = tmp.path().join(format!("events{n}"));
        std::fs::create_dir_all(&dir).unwrap();
        let events = dir.join("events.csv");
        if let Some(bytes) = &case.events {
            std::fs::write(&events, bytes).unwrap();
        }
        let case = match case.expect {
            // No metrics file to check the targets against.
            Expect::Error {
                needle: "no rows", ..
            } => Case {
                expect: Expect::Valid,
                ..case
            },
            _ => case,
        };
        let out = dir.join("out");
        let args = [
            "collect",
            "--prometheus",
            &prometheus,
            "--retries",
            "0",
            "--start",
            "1700000000",
            "--end",
            "1700000600",
            "--step",
            "15s",
            "--no-progress",
            "--out",
            s(&out),
            "--events",
            s(&events),
        ];
        let (code, stderr) = run(&args);
        if let Some(f) = check_run(&case, "collect --events", code, &stderr) {
            failures.push(f);
        }
        if matches!(case.expect, Expect::Valid) && code == 0 {
            let written = std::fs::read_to_string(out.join("events.csv")).unwrap_or_default();
            if written.lines().count() < 2 {
                failures.push(format!(
                    "[{}] collect --events: the user's labels are not in the dataset: {written:?}",
                    case.name
                ));
            }
        }
        checked += 1;
    }
    assert!(checked >= 19, "only {checked} events files");
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// What one `simulate` input must give: exit 0, or exit 1 with one short `error:` line containing
/// every needle.
fn check_simulate(name: &str, args: &[&str], needles: &[&str]) -> Option<String> {
    let (code, stderr) = run(args);
    let fail = |why: String| Some(format!("[{name}] {why}"));
    if code == 101 || stderr.contains("panicked") {
        return fail(format!("panicked: {}", quote(&stderr)));
    }
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    if needles.is_empty() {
        return (code != 0)
            .then(|| format!("[{name}] exit {code} on valid input: {}", quote(&stderr)));
    }
    if code != 1 || errors.len() != 1 {
        return fail(format!(
            "exit {code}, {} error lines: {}",
            errors.len(),
            quote(&stderr)
        ));
    }
    let e = errors[0];
    if e.len() > 1000 || needles.iter().any(|n| !e.contains(n)) {
        return fail(format!("want {needles:?} in a short line: {}", quote(e)));
    }
    // The reason once, not repeated by an error chain.
    let reason = e.rsplit(": ").next().unwrap_or(e);
    if reason.len() > 8 && e.matches(reason).count() > 1 {
        return fail(format!("the reason is repeated: {}", quote(e)));
    }
    None
}

/// `kubepulse simulate --config FILE` and `--demand azure-v2:FILE` with malformed files: no panic, one
/// short error line naming the file (and the line or field where there is one); valid files simulate.
#[test]
fn malformed_simulate_config_and_demand_files() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let out = s(&out).to_owned();
    let file = |name: &str, bytes: &[u8]| -> String {
        let p = tmp.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        s(&p).to_owned()
    };
    let huge = "x".repeat(1 << 20);
    let mut failures = Vec::new();
    let short = ["--duration", "10m", "--quiet", "--out", &out];

    // --config
    let configs: Vec<(&str, Vec<u8>, Vec<&str>)> = vec![
        ("config: empty (all defaults)", vec![], vec![]),
        (
            "config: valid",
            b"seed = 7\nstep = \"30s\"\n".to_vec(),
            vec![],
        ),
        ("config: syntax", b"seed = \n".to_vec(), vec!["line 1"]),
        (
            "config: unknown key",
            b"seed = 1\ndurattion = \"1h\"\n".to_vec(),
            vec!["line 2", "durattion"],
        ),
        (
            "config: wrong type",
            b"seed = \"x\"\n".to_vec(),
            vec!["line 1, column 8"],
        ),
        (
            "config: negative count",
            b"clusters = -1\n".to_vec(),
            vec!["line 1"],
        ),
        (
            "config: bad step",
            b"step = \"0s\"\n".to_vec(),
            vec!["step"],
        ),
        (
            "config: bad duration",
            b"duration = \"soon\"\n".to_vec(),
            vec!["duration"],
        ),
        (
            "config: unknown preset",
            b"preset = \"huge\"\n".to_vec(),
            vec!["huge"],
        ),
        (
            "config: huge value",
            format!("preset = \"{huge}\"\n").into_bytes(),
            vec!["preset"],
        ),
        (
            "config: non-UTF-8",
            b"seed = 1\n\xff\xfe\n".to_vec(),
            vec![],
        ),
        ("config: binary", b"\0\x01\x02\xff".to_vec(), vec![]),
        (
            "config: bad demand",
            b"demand = \"ftp://x\"\n".to_vec(),
            vec!["demand"],
        ),
    ];
    for (name, bytes, needles) in configs {
        let path = file("sim.toml", &bytes);
        let mut args = vec!["simulate", "--config", &path];
        args.extend_from_slice(&short);
        let mut want = needles.clone();
        // Every error names the file; a parse error also where in it.
        let valid = name.contains("empty") || name.contains("valid");
        if !valid {
            want.push("sim.toml");
            if want.len() == 1 {
                want.push("config");
            }
        }
        let want = if valid { vec![] } else { want };
        failures.extend(check_simulate(name, &args, &want));
    }
    failures.extend(check_simulate(
        "config: no such file",
        &[
            "simulate",
            "--config",
            "/nonexistent/sim.toml",
            "--quiet",
            "--out",
            &out,
        ],
        &["/nonexistent/sim.toml"],
    ));
    failures.extend(check_simulate(
        "config: a directory",
        &[
            "simulate",
            "--config",
            s(tmp.path()),
            "--quiet",
            "--out",
            &out,
        ],
        &[s(tmp.path())],
    ));

    // --demand azure-v2:FILE (lines: timestamp,vm_id,min_cpu,max_cpu,avg_cpu)
    let good = "0,vm-a,10,50,30\n300,vm-a,12,55,31\n0,vm-b,1,9,4\n300,vm-b,2,8,5\n";
    let demands: Vec<(&str, String, Vec<&str>)> = vec![
        ("demand: valid", good.to_string(), vec![]),
        ("demand: empty", String::new(), vec!["no readings"]),
        ("demand: blank lines", "\n\n".into(), vec!["no readings"]),
        (
            "demand: four fields",
            "0,vm-a,10,50\n".into(),
            vec!["line 1", "5 fields"],
        ),
        (
            "demand: six fields",
            format!("{good}0,vm-a,1,2,3,4\n"),
            vec!["line 5"],
        ),
        (
            "demand: cpu not a number",
            format!("{good}600,vm-a,1,2,abc\n"),
            vec!["line 5", "avg_cpu"],
        ),
        (
            "demand: cpu over 100",
            format!("{good}600,vm-a,1,2,300\n"),
            vec!["line 5", "avg_cpu"],
        ),
        (
            "demand: cpu NaN",
            format!("{good}600,vm-a,1,2,NaN\n"),
            vec!["line 5", "avg_cpu"],
        ),
        (
            "demand: cpu inf",
            format!("{good}600,vm-a,1,2,inf\n"),
            vec!["line 5", "avg_cpu"],
        ),
        (
            "demand: negative timestamp",
            format!("{good}-600,vm-a,1,2,3\n"),
            vec!["line 5", "timestamp"],
        ),
        (
            "demand: timestamp 1e300",
            format!("{good}1e300,vm-a,1,2,3\n"),
            vec!["line 5", "timestamp"],
        ),
        (
            "demand: timestamp i64 max",
            format!("{good}9223372036854775807,vm-a,1,2,3\n"),
            vec!["line 5", "timestamp"],
        ),
        (
            "demand: huge cell",
            format!("{good}{huge},vm-a,1,2,3\n"),
            vec!["line 5", "timestamp"],
        ),
        (
            "demand: huge vm id",
            format!("{good}600,{huge},1,2,3\n"),
            vec![],
        ),
        (
            "demand: header line",
            format!("timestamp,vm_id,min_cpu,max_cpu,avg_cpu\n{good}"),
            vec!["line 1", "timestamp"],
        ),
        (
            "demand: tab-separated",
            good.replace(',', "\t"),
            vec!["line 1", "5 fields"],
        ),
    ];
    for (name, text, needles) in demands {
        let path = file("trace.csv", text.as_bytes());
        let demand = format!("azure-v2:{path}");
        let mut args = vec!["simulate", "--demand", &demand];
        args.extend_from_slice(&short);
        let mut want = needles.clone();
        if !want.is_empty() {
            want.push("trace.csv");
        }
        failures.extend(check_simulate(name, &args, &want));
    }
    for (name, bytes) in [
        (
            "demand: non-UTF-8",
            b"0,vm-a,1,2,3\n0,vm-\xff,1,2,3\n".to_vec(),
        ),
        ("demand: binary", b"\0\x01\xff\xfe\n".to_vec()),
    ] {
        let path = file("trace.csv", &bytes);
        let demand = format!("azure-v2:{path}");
        let mut args = vec!["simulate", "--demand", &demand];
        args.extend_from_slice(&short);
        failures.extend(check_simulate(name, &args, &["trace.csv"]));
    }
    for (name, demand, needles) in [
        (
            "demand: no such file",
            "azure-v2:/nonexistent/trace.csv",
            vec!["/nonexistent/trace.csv"],
        ),
        ("demand: no path", "azure-v2:", vec!["demand"]),
        ("demand: unknown source", "gcp:trace.csv", vec!["demand"]),
    ] {
        let mut args = vec!["simulate", "--demand", demand];
        args.extend_from_slice(&short);
        failures.extend(check_simulate(name, &args, &needles));
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
