//! Fits a forest on a CSV and scores it on another, printing one JSON object of timings and metrics, so any
//! CSV can be compared with any other implementation (see `bench/sklearn_compare/`).
//!
//! `cargo run --release -p forest --example fit_csv -- TRAIN.csv TEST.csv [--trees N] [--seed S]
//! [--threads T] [--max-depth D] [--max-bins B] [--class-weight balanced|uniform] [--json-out PATH] [--shap-out PATH]
//! [--shap-rows N] [--save-model PATH] [--load-model PATH] [--regression]` (with `--load-model`, `fit_seconds`
//! is the load time)
//!
//! `--regression` fits a regression forest to the label column (every feature per split, as scikit-learn's
//! `RandomForestRegressor`) and reports R^2 and the mean absolute error instead of classification scores.
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
    regression: bool,
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
    let (mut regression, mut class_weight_given) = (false, false);
    while let Some(a) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--trees" => params.n_trees = num(&value()?)?,
            "--seed" => params.seed = num(&value()?)?,
            "--threads" => params.n_threads = Some(num(&value()?)?),
            "--max-depth" => params.max_depth = Some(num(&value()?)?),
            "--max-bins" => params.max_bins = num(&value()?)?,
            "--regression" => regression = true,
            "--class-weight" => {
                class_weight_given = true;
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
    if regression {
        if class_weight_given {
            return Err("--class-weight is for classifiers".into());
        }
        params.class_weight = ClassWeight::Uniform;
        params.max_features = forest::MaxFeatures::All;
    }
    Ok(Args {
        train,
        test,
        params,
        regression,
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
        None if args.regression => valid
            .fit_regressor(&xtr, &ytr, None)
            .map_err(|e| e.to_string())?,
        None => valid.fit(&xtr, &ytr, None).map_err(|e| e.to_string())?,
    };
    let fit_seconds = t.elapsed().as_secs_f64();
    let fit_cpu_seconds = cpu_seconds() - cpu;
    if let Some(path) = &args.save_model {
        std::fs::write(path, model.to_bytes()).map_err(|e| format!("{path}: {e}"))?;
    }
    drop(xtr);
    if model.task() == forest::Task::Regression {
        return report_regression(&args, &model, &xte, &yte, fit_seconds, fit_cpu_seconds);
    }

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

    let shap_us_per_row = write_exports(&args, &model, &xte)?;

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

/// Writes the JSON export and the TreeSHAP values of the first test rows, if asked; returns the SHAP time
/// per row in microseconds.
fn write_exports(
    args: &Args,
    model: &forest::RandomForest,
    xte: &Matrix,
) -> Result<Option<f64>, String> {
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

    Ok(shap_us_per_row)
}

/// Timings and R^2 / mean absolute error of a regression forest on the test set, as one JSON object.
fn report_regression(
    args: &Args,
    model: &forest::RandomForest,
    xte: &Matrix,
    yte: &[f64],
    fit_seconds: f64,
    fit_cpu_seconds: f64,
) -> Result<(), String> {
    let mut batch_times = Vec::new();
    let mut pred = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        pred = model.predict(xte).map_err(|e| e.to_string())?;
        batch_times.push(t.elapsed().as_secs_f64());
    }
    batch_times.sort_by(f64::total_cmp);
    let mut times: Vec<f64> = (0..1000.min(xte.n_rows()))
        .map(|i| {
            let t = Instant::now();
            let r = model.predict_row(xte.row(i));
            r.map(|_| t.elapsed().as_secs_f64() * 1e6)
        })
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    times.sort_by(f64::total_cmp);
    let n = yte.len() as f64;
    let mean = yte.iter().sum::<f64>() / n;
    let total: f64 = yte.iter().map(|y| (y - mean).powi(2)).sum();
    let residual: f64 = pred.iter().zip(yte).map(|(p, y)| (p - y).powi(2)).sum();
    let mae = pred
        .iter()
        .zip(yte)
        .map(|(p, y)| (p - y).abs())
        .sum::<f64>()
        / n;
    let shap_us_per_row = write_exports(args, model, xte)?;
    let report = serde_json::json!({
        "implementation": "kubepulse-forest-regressor",
        "n_trees": model.n_trees(),
        "n_nodes": model.n_nodes(),
        "fit_seconds": fit_seconds,
        "fit_cpu_seconds": fit_cpu_seconds,
        "predict_batch_seconds": batch_times[batch_times.len() / 2],
        "predict_one_us_median": times.get(times.len() / 2).copied().unwrap_or(f64::NAN),
        "r2": 1.0 - residual / total,
        "mean_absolute_error": mae,
        "model_bytes": model.to_bytes().len(),
        "shap_us_per_row": shap_us_per_row,
    });
    println!("{report}");
    Ok(())
}
