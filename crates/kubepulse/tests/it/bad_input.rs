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
    let metrics: Vec<&str> = model
        .window_model()
        .meta
        .features
        .metrics
        .iter()
        .map(String::as_str)
        .collect();
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

#[test]
fn malformed_datasets_exit_1_with_one_line_on_every_dataset_command() {
    let tmp = tempfile::tempdir().unwrap();
    let good = "timestamp,target,cpu\n1700000000,ns/a,1\n1700000015,ns/a,2\n";
    let events = "target,start,end,issue_type\n";
    let cases: Vec<(&str, String, String)> = vec![
        ("no files", String::new(), String::new()),
        ("empty metrics", String::new(), events.into()),
        (
            "header only",
            "timestamp,target,cpu\n".into(),
            events.into(),
        ),
        (
            "no metric column",
            "timestamp,target\n1,ns/a\n".into(),
            events.into(),
        ),
        (
            "duplicate header",
            "timestamp,target,cpu,cpu\n1,ns/a,1,2\n".into(),
            events.into(),
        ),
        (
            "negative timestamp",
            "timestamp,target,cpu\n-1,ns/a,1\n".into(),
            events.into(),
        ),
        (
            "bad number",
            "timestamp,target,cpu\n1,ns/a,1e400\n".into(),
            events.into(),
        ),
        (
            "ragged row",
            "timestamp,target,cpu\n1,ns/a,1,2\n".into(),
            events.into(),
        ),
        (
            "huge cell",
            format!("timestamp,target,cpu\n1,ns/a,{}\n", "9x".repeat(1 << 20)),
            events.into(),
        ),
        (
            "bad issue type",
            good.into(),
            format!("{events}ns/a,1700000000,1700000015,Pod Failure\n"),
        ),
        (
            "unknown target",
            good.into(),
            format!("{events}ns/zz,1700000000,1700000015,pod_failure\n"),
        ),
        (
            "end before start",
            good.into(),
            format!("{events}ns/a,1700000015,1700000000,pod_failure\n"),
        ),
        ("binary", "\u{0}\u{1}\u{ff}\n,,,\n".into(), "\u{7f}".into()),
    ];
    for (name, metrics, ev) in &cases {
        let dir = tmp.path().join(name.replace(' ', "_"));
        std::fs::create_dir_all(&dir).unwrap();
        if *name != "no files" {
            std::fs::write(dir.join("metrics.csv"), metrics).unwrap();
            std::fs::write(dir.join("events.csv"), ev).unwrap();
        }
        let out = tmp.path().join("out");
        for args in [
            vec!["train", "--data", s(&dir), "--out", s(&out)],
            vec![
                "eval",
                "--data",
                s(&dir),
                "--split",
                "0.5",
                "--out",
                s(&out),
            ],
            vec![
                "eval",
                "--model",
                s(&default_model()),
                "--data",
                s(&dir),
                "--out",
                s(&out),
            ],
        ] {
            let e = error_line(&args);
            assert!(e.len() < 1000, "{name}: {} bytes: {}", e.len(), &e[..200]);
            assert!(
                e.contains(".csv") || e.contains("lacks"),
                "{name} {args:?}: {e}"
            );
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
