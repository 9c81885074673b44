//! schemathesis against the built `kubepulse serve` (embedded model, loopback): every operation of
//! `/openapi.json`, every check (see `schemathesis/schemathesis.toml` for the one left out where), a
//! fixed seed, one worker: no 5xx, no answer outside the schema, no valid request refused, no invalid
//! one accepted. schemathesis is installed, pinned, by `scripts/install-test-deps`.

use crate::common::{self, Server};

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_kubepulse");
/// The version `schemathesis/requirements.txt` pins.
const VERSION: &str = "4.32.5";

fn schemathesis() -> PathBuf {
    let path = std::env::var_os("KUBEPULSE_SCHEMATHESIS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/schemathesis/bin/schemathesis")
        });
    let version = Command::new(&path).arg("--version").output();
    match version {
        Ok(out) if String::from_utf8_lossy(&out.stdout).contains(VERSION) => path,
        Ok(out) => panic!(
            "{} is not schemathesis {VERSION} ({}): run scripts/install-test-deps",
            path.display(),
            String::from_utf8_lossy(&out.stdout).trim()
        ),
        Err(e) => panic!(
            "schemathesis {VERSION} is not installed at {} ({e}): run scripts/install-test-deps",
            path.display()
        ),
    }
}

#[test]
fn schemathesis_finds_no_5xx_and_no_conformance_failure() {
    let schemathesis = schemathesis();
    let mut server = Server(
        Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--seed", "1"])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start kubepulse serve"),
    );
    let addr = common::served_address(&mut server.0);
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schemathesis/schemathesis.toml");
    let work = tempfile::tempdir().unwrap();
    let out = Command::new(&schemathesis)
        .arg("--config-file")
        .arg(&config)
        .args([
            "run",
            &format!("http://{addr}/openapi.json"),
            "--max-examples",
            "30",
            "--seed",
            "1",
            "--workers",
            "1",
            "--generation-database",
            "none",
            "--request-timeout",
            "30",
            // A loaded 2-core machine must not turn slow generation into a failure.
            "--suppress-health-check",
            "too_slow",
            "--no-color",
            "--output-truncate",
            "true",
        ])
        .current_dir(work.path())
        .output()
        .expect("run schemathesis");
    let text = String::from_utf8_lossy(&out.stdout);
    let tail: String = text
        .lines()
        .rev()
        .take(80)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(
        out.status.success(),
        "schemathesis failed:\n{tail}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // "1220 generated, 1220 passed": every generated case passed, and there were a few hundred.
    let counts = text
        .lines()
        .find_map(|l| {
            let (generated, rest) = l.trim().split_once(" generated, ")?;
            let passed = rest.strip_suffix(" passed")?;
            Some((generated.parse::<u64>().ok()?, passed.parse::<u64>().ok()?))
        })
        .unwrap_or_else(|| panic!("no case count in schemathesis' output:\n{tail}"));
    eprintln!(
        "schemathesis: {} cases generated, {} passed",
        counts.0, counts.1
    );
    assert!(
        counts.0 >= 300 && counts.0 == counts.1,
        "{counts:?}\n{tail}"
    );
    // The examples phase ran on the documented bodies of `POST /predict` and `/predict/batch` (a window
    // with the served model's metrics among them), where positive-data acceptance is checked.
    let examples_passed = text
        .lines()
        .skip_while(|l| !l.contains("Examples (in"))
        .skip(1)
        .find(|l| !l.trim().is_empty())
        .and_then(|l| {
            l.split_whitespace()
                .skip_while(|w| !w.ends_with('✅'))
                .nth(1)
        })
        .and_then(|n| n.parse::<u64>().ok());
    assert!(
        examples_passed.is_some_and(|n| n >= 2),
        "the examples phase did not pass on the two operations with examples:\n{tail}"
    );
}
