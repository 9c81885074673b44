//! Bad input gives a clear error naming the problem, and nothing half-written looks complete.

use crate::common;

use std::path::PathBuf;

use sim::{Outputs, SimConfig, SimError};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

#[test]
fn invalid_config_file_names_the_file_and_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("sim.toml");
    std::fs::write(&path, "seed = 3\nduration = [1, 2\n").expect("write");
    let err = SimConfig::from_file(&path)
        .expect_err("syntax error")
        .to_string();
    assert!(err.contains("sim.toml") && err.contains("line 2"), "{err}");
    std::fs::write(&path, "seed = 3\nsteps = \"15s\"\n").expect("write");
    let err = SimConfig::from_file(&path)
        .expect_err("unknown key")
        .to_string();
    assert!(err.contains("steps"), "{err}");
    let err = SimConfig::from_file(&dir.path().join("missing.toml"))
        .expect_err("missing")
        .to_string();
    assert!(err.contains("missing.toml"), "{err}");
}

#[test]
fn unknown_preset_and_negative_durations_are_rejected() {
    let cfg = SimConfig {
        preset: "medium".into(),
        ..SimConfig::default()
    };
    assert!(matches!(cfg.check(), Err(SimError::UnknownPreset(p)) if p == "medium"));
    for (field, value) in [("duration", "-1d"), ("step", "-15s"), ("duration", "soon")] {
        let mut cfg = SimConfig::default();
        match field {
            "duration" => cfg.duration = value.into(),
            _ => cfg.step = value.into(),
        }
        let err = cfg.check().expect_err(value).to_string();
        assert!(err.contains(field) && err.contains(value), "{err}");
    }
}

#[test]
fn unreadable_or_malformed_traces_name_the_file_and_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = |demand: String| {
        let cfg = SimConfig {
            demand,
            duration: "1h".into(),
            ..SimConfig::default()
        };
        let valid = cfg.check().expect("valid config");
        sim::Simulation::new(&valid).err().map(|e| e.to_string())
    };
    let missing = dir.path().join("nope.csv");
    let err = run(format!("azure-v2:{}", missing.display())).expect("missing trace fails");
    assert!(err.contains("nope.csv"), "{err}");
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "0,vm1,1.0,2.0,1.5\n300,vm1,1.0,2.0\n").expect("write");
    let err = run(format!("azure-v2:{}", bad.display())).expect("malformed trace fails");
    assert!(
        err.contains("bad.csv line 2") && err.contains("expected 5 fields"),
        "{err}"
    );
    std::fs::write(&bad, "0,vm1,1.0,2.0,abc\n").expect("write");
    let err = run(format!("azure-v2:{}", bad.display())).expect("non-numeric cpu fails");
    assert!(err.contains("line 1") && err.contains("avg_cpu"), "{err}");
    std::fs::write(&bad, "0,vm1,1.0,2.0,150\n").expect("write");
    assert!(
        run(format!("azure-v2:{}", bad.display()))
            .expect("out of range")
            .contains("0–100")
    );
    assert!(
        run(format!(
            "azure-v2:{}",
            fixture("vm_cpu_readings-sample.csv").display()
        ))
        .is_none()
    );
}

#[test]
fn bad_fault_schedule_is_rejected_before_any_output() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = SimConfig {
        schedule: vec!["memory_leak:nosuchservice@+10m".into()],
        ..SimConfig::default()
    };
    let valid = cfg.check().expect("valid config");
    let err = sim::run(
        &valid,
        &Outputs {
            dataset: Some(dir.path().join("out")),
            openmetrics: None,
            ..Default::default()
        },
        &mut |_, _| {},
    )
    .expect_err("unknown deployment")
    .to_string();
    assert!(
        err.contains("nosuchservice") && err.contains("frontend"),
        "{err}"
    );
    assert!(!dir.path().join("out/metrics.csv").exists());
}

#[test]
fn failed_runs_leave_no_complete_looking_dataset() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("data");
    let cfg = SimConfig {
        duration: "1h".into(),
        ..SimConfig::default()
    };
    let valid = cfg.check().expect("valid");
    // the OpenMetrics file cannot be created: the run fails, the dataset is not left behind
    let err = sim::run(
        &valid,
        &Outputs {
            dataset: Some(out.clone()),
            openmetrics: Some(dir.path().join("no/such/dir/x.om")),
            ..Default::default()
        },
        &mut |_, _| {},
    )
    .expect_err("bad openmetrics path");
    assert!(err.to_string().contains("no/such/dir"), "{err}");
    let left: Vec<_> = std::fs::read_dir(&out)
        .expect("dir")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    // a previous complete dataset is replaced only by a new complete one
    common::run_dataset(&cfg, &out);
    assert!(out.join("metrics.csv").exists() && out.join("events.csv").exists());
    let names: Vec<String> = std::fs::read_dir(&out)
        .expect("dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.contains("partial")), "{names:?}");
}
