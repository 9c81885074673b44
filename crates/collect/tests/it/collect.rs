//! `collect` against a real Prometheus backfilled with cAdvisor / kube-state-metrics shaped series.

use crate::common;

use std::collections::BTreeMap;

use collect::prom::{PromClient, PromConfig};
use collect::queries::QuerySet;
use collect::{CollectOptions, collect};

const T0: i64 = 1_700_000_000;
const STEPS: i64 = 240; // one hour at 15 s
const OOM_STEP: i64 = 120;

/// A series' labels and its value at step i.
type SeriesFn = (String, Box<dyn Fn(i64) -> f64>);

/// shop/cart has two pods (one OOM-killed half-way), shop/web one.
fn openmetrics() -> String {
    let pods = [
        ("cart", "cart-5d8f7c9b4-abcde"),
        ("cart", "cart-5d8f7c9b4-fghij"),
        ("web", "web-6b7c8d9f5-klmno"),
    ];
    let mut out = String::new();
    let mut gauge = |name: &str, series: Vec<SeriesFn>| {
        out.push_str(&format!("# TYPE {name} gauge\n"));
        for (labels, f) in series {
            for i in 0..STEPS {
                out.push_str(&format!("{name}{{{labels}}} {} {}\n", f(i), T0 + i * 15));
            }
        }
    };
    gauge(
        "kube_deployment_spec_replicas",
        vec![
            (
                "namespace=\"shop\",deployment=\"cart\"".into(),
                Box::new(|_| 2.0),
            ),
            (
                "namespace=\"shop\",deployment=\"web\"".into(),
                Box::new(|_| 1.0),
            ),
        ],
    );
    gauge(
        "container_memory_working_set_bytes",
        pods.iter()
            .enumerate()
            .map(|(k, (_, pod))| {
                let labels = format!("namespace=\"shop\",pod=\"{pod}\",container=\"app\"");
                let f: Box<dyn Fn(i64) -> f64> =
                    Box::new(move |i| 1.0e8 * (k as f64 + 1.0) + i as f64 * 1000.0);
                (labels, f)
            })
            .collect(),
    );
    gauge(
        "container_cpu_usage_seconds_total",
        pods.iter()
            .map(|(_, pod)| {
                let labels = format!("namespace=\"shop\",pod=\"{pod}\",container=\"app\"");
                let f: Box<dyn Fn(i64) -> f64> = Box::new(|i| i as f64 * 7.5); // 0.5 cores
                (labels, f)
            })
            .collect(),
    );
    gauge(
        "kube_pod_container_status_restarts_total",
        pods.iter()
            .enumerate()
            .map(|(k, (_, pod))| {
                let labels = format!("namespace=\"shop\",pod=\"{pod}\",container=\"app\"");
                let f: Box<dyn Fn(i64) -> f64> =
                    Box::new(move |i| if k == 0 && i >= OOM_STEP { 1.0 } else { 0.0 });
                (labels, f)
            })
            .collect(),
    );
    out.push_str("# TYPE kube_pod_container_status_last_terminated_reason gauge\n");
    for i in OOM_STEP..STEPS {
        out.push_str(&format!(
            "kube_pod_container_status_last_terminated_reason{{namespace=\"shop\",pod=\"{}\",container=\"app\",reason=\"OOMKilled\"}} 1 {}\n",
            pods[0].1,
            T0 + i * 15
        ));
    }
    out.push_str("# EOF\n");
    out
}

type Rows = BTreeMap<(i64, String), Vec<String>>;

fn read_dataset(dir: &std::path::Path) -> (Vec<String>, Rows) {
    let text = std::fs::read_to_string(dir.join("metrics.csv")).expect("metrics.csv written");
    let mut lines = text.lines();
    let header: Vec<String> = lines.next().unwrap().split(',').map(String::from).collect();
    let mut rows = Rows::new();
    for line in lines {
        let cells: Vec<String> = line.split(',').map(String::from).collect();
        let key = (cells[0].parse().unwrap(), cells[1].clone());
        assert!(
            rows.insert(key, cells[2..].to_vec()).is_none(),
            "duplicate row {line}"
        );
    }
    (header, rows)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collect_writes_the_dataset_labels_oom_kills_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let tsdb = dir.path().join("tsdb");
    common::backfill(&openmetrics(), dir.path(), &tsdb);
    let prom = common::Prometheus::start(dir.path(), &tsdb, &[]).await;
    let client = PromClient::new(PromConfig::new(&prom.url)).unwrap();
    let queries = QuerySet::builtin().unwrap();
    let end = T0 + (STEPS - 1) * 15;

    let user_events = dir.path().join("mine.csv");
    std::fs::write(
        &user_events,
        "target,start,end,issue_type\nshop/web,1700000300,1700000400,network_issue\n",
    )
    .unwrap();

    // Uninterrupted run.
    let whole = dir.path().join("whole");
    let mut opts = CollectOptions::new(T0, end, 15, &whole, queries.clone());
    opts.chunk_points = 50;
    opts.progress = false;
    opts.events_csv = Some(user_events.clone());
    let summary = collect(&client, &opts)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", prom.proc.stderr_tail()));
    assert!(summary.complete);
    assert_eq!(summary.chunks_total, 5);
    assert_eq!(summary.targets, 2);
    assert_eq!(
        summary.queries,
        5 * (queries.columns.len() + queries.labels.len()) as u64,
        "one query per column per chunk"
    );

    let (header, rows) = read_dataset(&whole);
    assert_eq!(&header[..2], ["timestamp", "target"]);
    let col = |name: &str| header.iter().position(|h| h == name).unwrap() - 2;
    assert_eq!(
        rows.len(),
        2 * STEPS as usize,
        "one row per target per step"
    );
    let at = |i: i64, target: &str| &rows[&(T0 + i * 15, target.to_string())];
    assert_eq!(at(10, "shop/cart")[col("replicas_desired")], "2");
    assert_eq!(at(10, "shop/web")[col("replicas_desired")], "1");
    let mem: f64 = at(10, "shop/cart")[col("memory_working_set_bytes_max")]
        .parse()
        .unwrap();
    assert_eq!(mem, 2.0e8 + 10_000.0, "max over the deployment's pods");
    let cpu: f64 = at(50, "shop/cart")[col("cpu_usage_cores")].parse().unwrap();
    assert!((cpu - 1.0).abs() < 1e-9, "two pods at 0.5 cores, got {cpu}");
    assert_eq!(
        at(0, "shop/cart")[col("cpu_usage_cores")],
        "",
        "no rate before two samples: missing, not 0"
    );

    let events = std::fs::read_to_string(whole.join("events.csv")).unwrap();
    let oom: Vec<&str> = events.lines().filter(|l| l.contains("oom_kill")).collect();
    assert_eq!(oom.len(), 1, "{events}");
    let fields: Vec<&str> = oom[0].split(',').collect();
    assert_eq!(fields[0], "shop/cart");
    let start: i64 = fields[1].parse().unwrap();
    let oom_time = T0 + OOM_STEP * 15;
    assert!(
        (oom_time - 15..=oom_time).contains(&start),
        "OOM at {oom_time}, event starts {start}"
    );
    assert!(
        !events.contains("restart"),
        "the OOM rule wins over the plain restart rule: {events}"
    );
    assert!(
        events.contains("shop/web,1700000300,1700000400,network_issue"),
        "{events}"
    );

    // Interrupted after two chunks, then resumed: the same bytes.
    let resumed = dir.path().join("resumed");
    let mut first = opts.clone();
    first.out_dir = resumed.clone();
    first.max_chunks = Some(2);
    let s1 = collect(&client, &first).await.unwrap();
    assert!(!s1.complete);
    assert!(
        !resumed.join("metrics.csv").exists(),
        "an incomplete dataset must not look complete"
    );
    let mut second = opts.clone();
    second.out_dir = resumed.clone();
    let s2 = collect(&client, &second).await.unwrap();
    assert!(s2.complete);
    assert_eq!(s2.chunks_resumed, 2);
    assert_eq!(
        std::fs::read(whole.join("metrics.csv")).unwrap(),
        std::fs::read(resumed.join("metrics.csv")).unwrap()
    );
    assert_eq!(
        std::fs::read(whole.join("events.csv")).unwrap(),
        std::fs::read(resumed.join("events.csv")).unwrap()
    );

    // The same collection as Parquet, interrupted and resumed: the same dataset, one row group per
    // target, and a stale CSV dataset in the directory replaced.
    let parquet = dir.path().join("parquet");
    std::fs::create_dir_all(&parquet).unwrap();
    std::fs::copy(whole.join("metrics.csv"), parquet.join("metrics.csv")).unwrap();
    let mut first = opts.clone();
    first.out_dir = parquet.clone();
    first.format = learn::dataset::Format::Parquet;
    first.max_chunks = Some(2);
    assert!(!collect(&client, &first).await.unwrap().complete);
    assert!(!parquet.join("metrics.parquet").exists());
    first.max_chunks = None;
    assert!(collect(&client, &first).await.unwrap().complete);
    assert!(!parquet.join("metrics.csv").exists() && !parquet.join("metrics.csv.partial").exists());
    let (from_csv, from_parquet) = (
        learn::dataset::Dataset::read(&whole).unwrap(),
        learn::dataset::Dataset::read(&parquet).unwrap(),
    );
    assert_eq!(from_parquet.fingerprint(), from_csv.fingerprint());
    assert_eq!(from_parquet.events, from_csv.events);
    let reader = columnar::MetricsReader::open(&parquet.join("metrics.parquet")).unwrap();
    assert_eq!(reader.num_row_groups(), 2, "one row group per target");

    // Sharded by the stable target hash (shop/cart is in shard 0 of 8, shop/web in shard 4): each shard
    // holds its own targets' rows and incidents only, and together they are the whole collection.
    let mut union = Rows::new();
    for (index, target) in [(0, "shop/cart"), (4, "shop/web")] {
        let out = dir.path().join(format!("shard-{index}"));
        let mut sharded = opts.clone();
        sharded.out_dir = out.clone();
        sharded.shard = collect::queries::Shard { index, count: 8 };
        let summary = collect(&client, &sharded).await.unwrap();
        assert!(summary.complete && summary.targets == 1, "{summary:?}");
        let (h, shard_rows) = read_dataset(&out);
        assert_eq!(h, header);
        assert!(shard_rows.keys().all(|(_, t)| t == target), "shard {index}");
        union.extend(shard_rows);
        let shard_events = std::fs::read_to_string(out.join("events.csv")).unwrap();
        let mut lines = shard_events.lines().skip(1).peekable();
        assert!(lines.peek().is_some(), "shard {index} lost its incidents");
        assert!(lines.all(|l| l.starts_with(target)), "{shard_events}");
    }
    assert_eq!(union, rows, "the shards' union is the whole collection");

    // Bad PromQL in a user query set: the error names the query.
    let bad = QuerySet::parse(
        "[target]\nlabels=['namespace','deployment']\n[[column]]\nname='x'\nkind='gauge'\nquery='sum(rate(foo[$RANGE]'\n",
        "bad.toml",
    )
    .unwrap();
    let mut bad_opts = CollectOptions::new(T0, end, 15, dir.path().join("bad"), bad);
    bad_opts.progress = false;
    let err = collect(&client, &bad_opts).await.unwrap_err().to_string();
    assert!(
        err.contains("bad_data") && err.contains("sum(rate(foo[60s]"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collect_merges_kubernetes_labels_with_precedence() {
    use learn::{Incident, IncidentSource};

    let dir = tempfile::tempdir().unwrap();
    let tsdb = dir.path().join("tsdb");
    common::backfill(&openmetrics(), dir.path(), &tsdb);
    let prom = common::Prometheus::start(dir.path(), &tsdb, &[]).await;
    let client = PromClient::new(PromConfig::new(&prom.url)).unwrap();
    let end = T0 + (STEPS - 1) * 15;
    let oom_time = T0 + OOM_STEP * 15;
    let ev = |source, start: i64, end: i64, issue_type: &str, detail: &str| {
        Incident::new("shop/cart", start, end, issue_type, detail, source)
    };
    let mut opts = CollectOptions::new(
        T0,
        end,
        15,
        dir.path().join("out"),
        QuerySet::builtin().unwrap(),
    );
    opts.progress = false;
    let (chaos, kube) = (IncidentSource::ChaosMesh, IncidentSource::KubeEvents);
    opts.extra_labels = vec![
        // A Chaos Mesh injection covering the OOM the kube-state-metrics rule sees: it wins.
        ev(
            chaos,
            oom_time - 60,
            oom_time + 60,
            "pod_failure",
            "pod_kill",
        ),
        // Kubernetes events: two overlapping crash-loop reports are one incident; a later one stays.
        ev(kube, oom_time, oom_time + 90, "pod_failure", "crash_loop"),
        ev(kube, T0 + 300, T0 + 400, "pod_failure", "crash_loop"),
        ev(kube, T0 + 390, T0 + 500, "pod_failure", "probe_failed"),
    ];
    let summary = collect(&client, &opts)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", prom.proc.stderr_tail()));
    let events = std::fs::read_to_string(dir.path().join("out/events.csv")).unwrap();
    let rows: Vec<&str> = events.lines().skip(1).collect();
    assert_eq!(
        rows,
        vec![
            format!("shop/cart,{},{},pod_failure,crash_loop", T0 + 300, T0 + 500),
            format!(
                "shop/cart,{},{},pod_failure,pod_kill",
                oom_time - 60,
                oom_time + 60
            ),
        ],
        "{events}"
    );
    assert_eq!(summary.events, 2);
}
