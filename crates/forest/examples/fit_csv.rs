//! Fits a forest on a CSV and scores it on another, printing one JSON object of timings and metrics, so any
//! CSV can be compared with any other implementation (see `bench/sklearn_compare/`).
//!
//! `cargo run --release -p forest --example fit_csv -- TRAIN.csv TEST.csv [--trees N] [--seed S]
//! [--threads T] [--max-depth D] [--class-weight balanced|uniform] [--json-out PATH] [--shap-out PATH]
//! [--shap-rows N] [--save-model PATH] [--load-model PATH]` (with `--load-model`, `fit_seconds` is the load time)
//!
//! CSV: a header, first column `label`, the rest numeric features; an empty cell is NaN. The defaults mirror
//! `RandomForestClassifier(n_estimators=100, max_features="sqrt", class_weight="balanced")`.

use forest::{ClassWeight, ForestParams, Matrix};
use std::time::Instant;

fn main() {
    if let Err(e) = run() {
        eprintln!("fit_csv: {e}");
        std::process::exit(1);
    }
}

struct Args {
    train: String,
    test: String,
    params: ForestParams,
    json_out: Option<String>,
    save_model: Option<String>,
    load_model: Option<String>,
    shap_out: Option<String>,
    shap_rows: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let mut positional = Vec::new();
    let mut params = ForestParams {
        class_weight: ClassWeight::Balanced,
        ..ForestParams::default()
    };
    let (mut json_out, mut shap_out, mut shap_rows) = (None, None, 100);
    let (mut save_model, mut load_model) = (None, None);
    while let Some(a) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--trees" => params.n_trees = num(&value()?)?,
            "--seed" => params.seed = num(&value()?)?,
            "--threads" => params.n_threads = Some(num(&value()?)?),
            "--max-depth" => params.max_depth = Some(num(&value()?)?),
            "--class-weight" => {
                params.class_weight = match value()?.as_str() {
                    "balanced" => ClassWeight::Balanced,
                    "uniform" => ClassWeight::Uniform,
                    other => return Err(format!("unknown class weight {other}")),
                }
            }
            "--json-out" => json_out = Some(value()?),
            "--save-model" => save_model = Some(value()?),
            "--load-model" => load_model = Some(value()?),
            "--shap-out" => shap_out = Some(value()?),
            "--shap-rows" => shap_rows = num(&value()?)?,
            _ if a.starts_with("--") => return Err(format!("unknown option {a}")),
            _ => positional.push(a),
        }
    }
    let [train, test] = <[String; 2]>::try_from(positional).map_err(|_| {
        "usage: fit_csv TRAIN.csv TEST.csv [--trees N --seed S --threads T]".to_string()
    })?;
    Ok(Args {
        train,
        test,
        params,
        json_out,
        save_model,
        load_model,
        shap_out,
        shap_rows,
    })
}

fn num<T: std::str::FromStr>(s: &str) -> Result<T, String> {
    s.parse().map_err(|_| format!("not a number: {s}"))
}

/// Reads a CSV with a header and the label first; returns (features, labels).
fn read_csv(path: &str) -> Result<(Matrix, Vec<f64>), String> {
    use std::io::BufRead;
    let file = std::fs::File::open(path).map_err(|e| format!("{path}: {e}"))?;
    let mut lines = std::io::BufReader::new(file).lines();
    let header = lines
        .next()
        .ok_or_else(|| format!("{path}: empty file"))?
        .map_err(|e| e.to_string())?;
    let nf = header.split(',').count() - 1;
    let (mut values, mut labels) = (Vec::new(), Vec::new());
    for (ln, line) in lines.enumerate() {
        let line = line.map_err(|e| format!("{path}: {e}"))?;
        if line.is_empty() {
            continue;
        }
        let mut cells = line.split(',');
        let label = cells.next().unwrap_or_default();
        labels.push(
            label
                .trim()
                .parse::<f64>()
                .map_err(|_| format!("{path}:{}: bad label {label}", ln + 2))?,
        );
        let before = values.len();
        for c in cells {
            let c = c.trim();
            values.push(if c.is_empty() {
                f32::NAN
            } else {
                c.parse::<f32>()
                    .map_err(|_| format!("{path}:{}: bad number {c}", ln + 2))?
            });
        }
        if values.len() - before != nf {
            return Err(format!("{path}:{}: expected {nf} features", ln + 2));
        }
    }
    let n = labels.len();
    Ok((
        Matrix::new(values, n, nf).map_err(|e| e.to_string())?,
        labels,
    ))
}

/// CPU time of the whole process (all threads), seconds, from /proc/self/stat (10 ms resolution).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after_name = stat.rsplit(')').next().unwrap_or_default();
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // Fields 14 and 15 of stat (utime, stime) are 12th and 13th after the command name.
    let ticks: f64 = fields
        .iter()
        .skip(11)
        .take(2)
        .filter_map(|f| f.parse::<f64>().ok())
        .sum();
    ticks / 100.0
}

fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn run() -> Result<(), String> {
    let args = parse_args()?;
    let (xtr, ytr) = read_csv(&args.train)?;
    let (xte, yte) = read_csv(&args.test)?;
    let valid = args.params.check().map_err(|e| e.to_string())?;

    let (t, cpu) = (Instant::now(), cpu_seconds());
    let model = match &args.load_model {
        Some(path) => {
            let bytes = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
            forest::RandomForest::from_bytes(&bytes).map_err(|e| format!("{path}: {e}"))?
        }
        None => valid.fit(&xtr, &ytr, None).map_err(|e| e.to_string())?,
    };
    let fit_seconds = t.elapsed().as_secs_f64();
    let fit_cpu_seconds = cpu_seconds() - cpu;
    if let Some(path) = &args.save_model {
        std::fs::write(path, model.to_bytes()).map_err(|e| format!("{path}: {e}"))?;
    }
    drop(xtr);

    // Median of 5 batch predictions (the machine is shared: one run is noisy).
    let mut batch_times = Vec::new();
    let mut proba = Vec::new();
    let cpu = cpu_seconds();
    for _ in 0..5 {
        let t = Instant::now();
        proba = model.predict_proba(&xte).map_err(|e| e.to_string())?;
        batch_times.push(t.elapsed().as_secs_f64());
    }
    let predict_batch_cpu_seconds = (cpu_seconds() - cpu) / 5.0;
    batch_times.sort_by(f64::total_cmp);
    let predict_batch_seconds = batch_times[batch_times.len() / 2];

    let k = model.classes().len();
    let mut out = vec![0.0; k];
    let mut times: Vec<f64> = (0..1000.min(xte.n_rows()))
        .map(|i| {
            let t = Instant::now();
            let r = model.predict_proba_row(xte.row(i), &mut out);
            let us = t.elapsed().as_secs_f64() * 1e6;
            r.map(|_| us)
        })
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    times.sort_by(f64::total_cmp);
    let predict_one_us_median = times.get(times.len() / 2).copied().unwrap_or(f64::NAN);

    let pred: Vec<f64> = proba
        .chunks(k)
        .map(|p| {
            let best = (0..k).fold(0, |b, c| if p[c] > p[b] { c } else { b });
            model.classes()[best]
        })
        .collect();
    let accuracy = pred.iter().zip(&yte).filter(|(p, y)| p == y).count() as f64 / yte.len() as f64;
    let mut recall = serde_json::Map::new();
    let mut f1_sum = 0.0;
    for &c in model.classes() {
        let tp = pred
            .iter()
            .zip(&yte)
            .filter(|(p, y)| **p == c && **y == c)
            .count() as f64;
        let actual = yte.iter().filter(|y| **y == c).count() as f64;
        let predicted = pred.iter().filter(|p| **p == c).count() as f64;
        let r = if actual > 0.0 { tp / actual } else { 0.0 };
        let p = if predicted > 0.0 { tp / predicted } else { 0.0 };
        f1_sum += if p + r > 0.0 {
            2.0 * p * r / (p + r)
        } else {
            0.0
        };
        recall.insert(format!("{c}"), serde_json::json!(r));
    }
    let bytes = model.to_bytes();

    if let Some(path) = &args.json_out {
        std::fs::write(path, model.to_json().to_string()).map_err(|e| format!("{path}: {e}"))?;
    }
    let mut shap_us_per_row = None;
    if let Some(path) = &args.shap_out {
        let t = Instant::now();
        let rows: Vec<serde_json::Value> = (0..args.shap_rows.min(xte.n_rows()))
            .map(|i| {
                model.shap_values(xte.row(i)).map(|s| {
                    serde_json::json!({"row": i, "expected_value": s.expected_value, "values": s.values})
                })
            })
            .collect::<Result<_, _>>()
            .map_err(|e| e.to_string())?;
        shap_us_per_row = Some(t.elapsed().as_secs_f64() * 1e6 / rows.len().max(1) as f64);
        std::fs::write(path, serde_json::Value::Array(rows).to_string())
            .map_err(|e| format!("{path}: {e}"))?;
    }

    let report = serde_json::json!({
        "implementation": "kubepulse-forest",
        "n_trees": model.n_trees(),
        "n_nodes": model.n_nodes(),
        "fit_seconds": fit_seconds,
        "predict_batch_seconds": predict_batch_seconds,
        "fit_cpu_seconds": fit_cpu_seconds,
        "predict_batch_cpu_seconds": predict_batch_cpu_seconds,
        "predict_one_us_median": predict_one_us_median,
        "accuracy": accuracy,
        "macro_f1": f1_sum / k as f64,
        "recall_per_class": recall,
        "model_bytes": bytes.len(),
        "peak_rss_bytes": peak_rss_bytes(),
        "shap_us_per_row": shap_us_per_row,
    });
    println!("{report}");
    Ok(())
}
