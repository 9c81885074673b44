//! Sharded training from the command line: `train --shard i/n --sample-out DIR` in 4 separate
//! processes, then `train --from-shards` with the directories in another order, writes the bundle
//! `train --data` writes, byte for byte (`--train-until end-2h`: the same split in every process).

use std::process::{Command, Output};

fn kubepulse(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kubepulse"))
        .args(args)
        // The bundle records when it was trained: the same instant for both.
        .env("SOURCE_DATE_EPOCH", "1767225600")
        .output()
        .expect("run kubepulse")
}

fn text(o: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn four_shard_processes_merged_in_another_order_write_the_single_process_bundle() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let data = p("data");
    let o = kubepulse(&[
        "simulate",
        "-q",
        "--duration",
        "8h",
        "--seed",
        "4343",
        "--format",
        "parquet",
        "--out",
        &data,
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let small = [
        "--trees",
        "10",
        "--type-trees",
        "5",
        "--eta-trees",
        "5",
        "--max-depth",
        "6",
        "--train-until",
        "2026-01-05T06:00:00Z",
    ];
    let single = p("single.kpm");
    let mut args = vec!["train", "--data", &data, "--out", &single];
    args.extend(small);
    let o = kubepulse(&args);
    assert!(o.status.success(), "{}", text(&o));

    let shard_dirs: Vec<String> = (0..4).map(|i| p(&format!("sample-{i}"))).collect();
    let children: Vec<_> = (0..4)
        .map(|i| {
            let shard = format!("{i}/4");
            let mut args = vec![
                "train".to_string(),
                "--data".into(),
                data.clone(),
                "--shard".into(),
                shard,
                "--sample-out".into(),
                shard_dirs[i].clone(),
            ];
            args.extend(small.iter().map(|s| s.to_string()));
            Command::new(env!("CARGO_BIN_EXE_kubepulse"))
                .args(&args)
                .output()
                .expect("run kubepulse")
        })
        .collect();
    for (i, o) in children.iter().enumerate() {
        assert!(o.status.success(), "shard {i}: {}", text(o));
        assert!(
            text(o).contains(&format!("wrote shard {i}/4")),
            "{}",
            text(o)
        );
    }
    let merged = p("merged.kpm");
    // --wait: the shards are there and fresh, so it does not wait.
    let mut args = vec!["train", "--out", &merged, "--wait", "30s", "--from-shards"];
    for i in [2, 0, 3, 1] {
        args.push(&shard_dirs[i]);
    }
    let o = kubepulse(&args);
    assert!(o.status.success(), "{}", text(&o));
    let (a, b) = (
        std::fs::read(&single).unwrap(),
        std::fs::read(&merged).unwrap(),
    );
    assert!(
        a == b,
        "the merged bundle differs from the single-process one"
    );

    // Three of four shards: an error naming the missing one.
    let o = kubepulse(&[
        "train",
        "--out",
        &p("x.kpm"),
        "--from-shards",
        &shard_dirs[0],
        &shard_dirs[1],
        &shard_dirs[3],
    ]);
    assert!(!o.status.success());
    assert!(text(&o).contains("2/4"), "{}", text(&o));
}
