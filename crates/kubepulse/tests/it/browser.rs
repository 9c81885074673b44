//! The fleet UI in a real browser: Debian's `chromium` driven by `playwright-core`, with `axe-core`
//! (both pinned in `tests/browser/package.json`, installed into `tests/browser/node_modules` by
//! `scripts/install-test-deps`; nothing downloads a browser). It starts the built `kubepulse serve`
//! with its demo cluster 20x faster than real time and a memory leak scheduled on `cartservice`, under
//! a namespace that is a `<script>` tag, and runs `tests/browser/ui.mjs`:
//! the page loads with no console error; before the incident the leaking workload ranks first with a
//! rising probability above the threshold; the incident then shows as in progress; names render as
//! text; the target view draws its charts; axe-core finds no serious or critical violation; the
//! "confirmed" button writes a label. Screenshots go to `target/browser-test/`.

use crate::common::{self, Server};

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_kubepulse");
const TOKEN: &str = "browser-test-token";
const NAMESPACE: &str = "<script>window.__kubepulse_xss=1</script>";

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

/// node, chromium and the pinned node modules, or a loud failure naming what is missing.
fn tools() -> (PathBuf, PathBuf) {
    let node = PathBuf::from(std::env::var_os("KUBEPULSE_NODE").unwrap_or_else(|| "node".into()));
    match Command::new(&node).arg("--version").output() {
        Ok(out) if out.status.success() => {}
        other => panic!(
            "node is not installed ({:?}): run scripts/install-test-deps",
            other.map(|o| o.status)
        ),
    }
    let chromium = PathBuf::from(
        std::env::var_os("KUBEPULSE_CHROMIUM").unwrap_or_else(|| "/usr/bin/chromium".into()),
    );
    assert!(
        chromium.exists(),
        "chromium is not installed at {}: run scripts/install-test-deps",
        chromium.display()
    );
    for module in ["playwright-core", "axe-core"] {
        let dir = browser_dir().join("node_modules").join(module);
        assert!(
            dir.exists(),
            "{} is missing: run scripts/install-test-deps",
            dir.display()
        );
    }
    (node, chromium)
}

#[test]
fn the_ui_shows_a_leak_rising_before_its_incident_in_a_real_browser() {
    let (node, chromium) = tools();
    let work = tempfile::tempdir().expect("tempdir");
    let token_file = work.path().join("token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).expect("token file");
    let feedback = work.path().join("feedback");
    let mut server = Server(
        Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--seed", "3"])
            .args(["--speed", "20", "--warmup", "10m"])
            .args(["--fault", "memory_leak:cartservice@+14m/8m"])
            .args(["--demo-namespace", NAMESPACE])
            .arg("--ui-token-file")
            .arg(&token_file)
            .arg("--feedback-dir")
            .arg(&feedback)
            .env("RUST_LOG", "warn")
            .env_remove("KUBEPULSE_UI_TOKEN")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start kubepulse serve"),
    );
    let addr = common::served_address(&mut server.0);
    let artefacts = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/browser-test");
    let leak = format!("{NAMESPACE}/cartservice");
    let out = Command::new(node)
        .arg(browser_dir().join("ui.mjs"))
        .current_dir(browser_dir())
        .env("KUBEPULSE_URL", format!("http://{addr}"))
        .env("KUBEPULSE_TOKEN", TOKEN)
        .env("KUBEPULSE_LEAK_TARGET", &leak)
        .env("KUBEPULSE_ARTEFACTS", &artefacts)
        .env("KUBEPULSE_CHROMIUM", chromium)
        .stderr(Stdio::inherit())
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(out.status.success(), "the browser test failed: {stdout}");
    let result: serde_json::Value = serde_json::from_str(
        stdout
            .lines()
            .rev()
            .find(|l| l.starts_with('{'))
            .expect("a JSON result line"),
    )
    .expect("JSON result");
    assert_eq!(result["ok"], true);
    assert!(result["results"]["lead_seconds"].as_i64().expect("lead") > 0);
    for shot in ["fleet.png", "target.png"] {
        assert!(artefacts.join(shot).exists(), "no screenshot {shot}");
    }
    // The "confirmed" button wrote a label in the events format, and an audit line.
    let events = std::fs::read_to_string(feedback.join("events.csv")).expect("events.csv");
    let mut lines = events.lines();
    assert_eq!(lines.next(), Some("target,start,end,issue_type"));
    let row = lines.next().expect("a label row");
    assert!(row.starts_with(&format!("{leak},")), "{row}");
    let audit = std::fs::read_to_string(feedback.join("audit.jsonl")).expect("audit.jsonl");
    assert!(audit.contains("\"who\":\"bearer-token\""), "{audit}");
}
