//! Sharded training from the command line: `train --shard i/n --sample-out DIR` in 4 separate
//! processes, then `train --from-shards` with the directories in another order, writes the bundle
//! `train --data` writes, byte for byte (`--train-until end-2h`: the same split in every process); so do
//! per-shard datasets (what `collect --shard i/n` writes) given as several `--data` directories, to
//! `train` and to each extraction shard.

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

    // The dataset split as `collect --shard i/4` splits it: each directory its targets' rows and
    // incidents.
    let whole = learn::dataset::Dataset::read(std::path::Path::new(&data)).unwrap();
    let collected: Vec<String> = (0..4)
        .map(|i| {
            let shard = learn::shard::Shard { index: i, count: 4 };
            let part = learn::dataset::Dataset {
                metrics: whole.metrics.clone(),
                series: whole
                    .series
                    .iter()
                    .filter(|s| shard.owns(&s.target))
                    .cloned()
                    .collect(),
                events: whole
                    .events
                    .iter()
                    .filter(|e| shard.owns(&e.target))
                    .cloned()
                    .collect(),
                mitigated: Vec::new(),
            };
            let out = p(&format!("collect-{i}"));
            learn::dataset::write_parquet(&part, std::path::Path::new(&out)).unwrap();
            out
        })
        .collect();
    let from_parts = p("from-parts.kpm");
    let mut args = vec!["train", "--out", &from_parts, "--data"];
    args.extend(collected.iter().map(String::as_str));
    args.extend(small);
    let o = kubepulse(&args);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        std::fs::read(&from_parts).unwrap() == a,
        "training on the per-shard datasets differs from training on their union"
    );
    let part_samples: Vec<String> = (0..4).map(|i| p(&format!("part-sample-{i}"))).collect();
    for (i, sample) in part_samples.iter().enumerate() {
        let shard = format!("{i}/4");
        let mut args = vec!["train", "--shard", &shard, "--sample-out", sample, "--data"];
        args.extend(collected.iter().map(String::as_str));
        args.extend(small);
        let o = kubepulse(&args);
        assert!(o.status.success(), "shard {i}: {}", text(&o));
    }
    let merged_parts = p("merged-parts.kpm");
    let mut args = vec!["train", "--out", &merged_parts, "--from-shards"];
    args.extend(part_samples.iter().map(String::as_str));
    let o = kubepulse(&args);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        std::fs::read(&merged_parts).unwrap() == a,
        "sharded extraction over the per-shard datasets differs from the single-process bundle"
    );

    // A dataset with other columns among them: refused, naming both directories.
    let other = p("other");
    let o = kubepulse(&[
        "simulate",
        "-q",
        "--duration",
        "1h",
        "--level",
        "cluster",
        "--format",
        "parquet",
        "--out",
        &other,
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let o = kubepulse(&[
        "train",
        "--out",
        &p("y.kpm"),
        "--data",
        &collected[0],
        &other,
    ]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("metric columns differ") && text(&o).contains("collect-0"),
        "{}",
        text(&o)
    );
}
