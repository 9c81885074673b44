//! Report plots (SVG, rendered with `plotters`): PR curves per type with the baselines (PR-AUC in the
//! legend, each scorer's operating point at its alarm threshold marked, "no incidents of this type" on an
//! empty panel), the lead-time histogram with the horizon, the reliability diagram, and feature
//! importances (largest first, in words: `prediction::human_feature`).

use std::path::Path;

use plotters::prelude::*;

use crate::error::LearnError;
use crate::eval::Evaluation;
use crate::figures::{average_precision, pr_curve};
use crate::labels::Label;
use crate::scoring::Score;

fn err(path: &Path, e: impl std::fmt::Display) -> LearnError {
    LearnError::Report {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

const COLORS: [RGBColor; 4] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(150, 150, 150),
];

/// Per-type score and truth vectors of a scorer over the scored (non-ongoing) windows, and its
/// operating point at its alarm threshold: (recall, precision) of "alarm naming type k", when it alarms.
fn type_vectors(
    ev: &Evaluation,
    scores: &[Vec<Score>],
    k: usize,
    type_name: &str,
) -> (Vec<f64>, Vec<bool>, Option<(f64, f64)>) {
    let (mut s_out, mut t_out) = (Vec::new(), Vec::new());
    let (mut tp, mut fp, mut positives) = (0usize, 0usize, 0usize);
    for (s, points) in ev.grid.points.iter().enumerate() {
        let events = ev.dataset.events_of(&ev.dataset.series[s].target);
        for (p, sc) in points.iter().zip(&scores[s]) {
            let truth = match p.label {
                Label::Normal => false,
                Label::Issue(e) => events[e].issue_type == type_name,
                Label::Ongoing(_) => continue,
            };
            let predicted = sc.alarm && sc.type_index == k;
            tp += usize::from(predicted && truth);
            fp += usize::from(predicted && !truth);
            positives += usize::from(truth);
            s_out.push(sc.type_score(k));
            t_out.push(truth);
        }
    }
    let operating = (positives > 0 && tp + fp > 0)
        .then(|| (tp as f64 / positives as f64, tp as f64 / (tp + fp) as f64));
    (s_out, t_out, operating)
}

/// Writes `pr_curves.svg`, `lead_times.svg`, `reliability.svg` and `importances.svg` into `dir`.
pub fn write_all(ev: &Evaluation, issue_types: &[String], dir: &Path) -> Result<(), LearnError> {
    pr_curves(ev, issue_types, &dir.join("pr_curves.svg"))?;
    lead_times(ev, &dir.join("lead_times.svg"))?;
    reliability(ev, &dir.join("reliability.svg"))?;
    importances(ev, &dir.join("importances.svg"))
}

fn pr_curves(ev: &Evaluation, issue_types: &[String], path: &Path) -> Result<(), LearnError> {
    let n = issue_types.len().max(1);
    let root = SVGBackend::new(path, (420 * n as u32, 400)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(path, e))?;
    let panels = root.split_evenly((1, n));
    for (k, (name, area)) in issue_types.iter().zip(panels.iter()).enumerate() {
        let mut chart = ChartBuilder::on(area)
            .caption(format!("PR: {name}"), ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(40)
            .build_cartesian_2d(0f64..1f64, 0f64..1.02f64)
            .map_err(|e| err(path, e))?;
        chart
            .configure_mesh()
            .x_desc("recall")
            .y_desc("precision")
            .draw()
            .map_err(|e| err(path, e))?;
        let mut series: Vec<(&str, &Vec<Vec<Score>>)> = vec![("model", &ev.scores)];
        for (b, sc) in &ev.baseline_scores {
            series.push((b.as_str(), sc));
        }
        let any_incident = type_vectors(ev, &ev.scores, k, name).1.contains(&true);
        if !any_incident {
            chart
                .draw_series(std::iter::once(Text::new(
                    "no incidents of this type",
                    (0.2, 0.5),
                    ("sans-serif", 16),
                )))
                .map_err(|e| err(path, e))?;
            continue;
        }
        for (i, (label, sc)) in series.into_iter().enumerate() {
            let (s, t, operating) = type_vectors(ev, sc, k, name);
            let full = pr_curve(&s, &t);
            // At most ~500 points per curve keeps the SVG small for millions of windows.
            let stride = (full.len() / 500).max(1);
            let mut curve: Vec<(f64, f64)> = full.iter().step_by(stride).copied().collect();
            curve.extend(full.last().copied());
            let color = COLORS[i % COLORS.len()];
            chart
                .draw_series(LineSeries::new(curve, color.stroke_width(2)))
                .map_err(|e| err(path, e))?
                .label(format!("{label} (PR-AUC {:.2})", average_precision(&s, &t)))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 15, y)], color));
            // The operating point at the scorer's alarm threshold.
            if let Some(point) = operating {
                chart
                    .draw_series(std::iter::once(Circle::new(
                        point,
                        5,
                        color.stroke_width(2),
                    )))
                    .map_err(|e| err(path, e))?;
            }
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerLeft)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(|e| err(path, e))?;
    }
    root.present().map_err(|e| err(path, e))
}

fn lead_times(ev: &Evaluation, path: &Path) -> Result<(), LearnError> {
    let leads: Vec<f64> = ev
        .model
        .incidents
        .lead_times_seconds
        .iter()
        .map(|l| l / 60.0)
        .collect();
    let horizon_min = ev.grid.spec.horizon_secs as f64 / 60.0;
    let lo = leads.iter().copied().fold(-5.0f64, f64::min).floor();
    let hi = leads
        .iter()
        .copied()
        .fold(10.0f64.max(horizon_min + 1.0), f64::max)
        .ceil();
    let bins = ((hi - lo) * 2.0).max(1.0) as usize;
    let mut counts = vec![0u32; bins];
    for l in &leads {
        let b = (((l - lo) * 2.0) as usize).min(bins - 1);
        counts[b] += 1;
    }
    let top = counts.iter().copied().max().unwrap_or(1).max(1);
    let root = SVGBackend::new(path, (640, 400)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(path, e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Lead time of detected incidents (minutes before start)",
            ("sans-serif", 18),
        )
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(40)
        .build_cartesian_2d(lo..hi, 0u32..top + 1)
        .map_err(|e| err(path, e))?;
    chart
        .configure_mesh()
        .x_desc("lead time, min (negative = after start)")
        .y_desc("incidents")
        .draw()
        .map_err(|e| err(path, e))?;
    chart
        .draw_series(counts.iter().enumerate().map(|(i, &c)| {
            let x0 = lo + i as f64 / 2.0;
            Rectangle::new([(x0, 0), (x0 + 0.5, c)], COLORS[0].filled())
        }))
        .map_err(|e| err(path, e))?;
    // The horizon: an alarm cannot count as earlier than this.
    chart
        .draw_series(LineSeries::new(
            vec![(horizon_min, 0), (horizon_min, top + 1)],
            RED.stroke_width(2),
        ))
        .map_err(|e| err(path, e))?
        .label(format!("horizon ({horizon_min:.0} min)"))
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 15, y)], RED));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| err(path, e))?;
    root.present().map_err(|e| err(path, e))
}

fn reliability(ev: &Evaluation, path: &Path) -> Result<(), LearnError> {
    let mut sum_p = [0.0f64; 10];
    let mut sum_y = [0.0f64; 10];
    let mut n = [0usize; 10];
    for (points, scores) in ev.grid.points.iter().zip(&ev.scores) {
        for (p, s) in points.iter().zip(scores) {
            let y = match p.label {
                Label::Normal => 0.0,
                Label::Issue(_) => 1.0,
                Label::Ongoing(_) => continue,
            };
            let b = ((s.p_issue * 10.0) as usize).min(9);
            sum_p[b] += s.p_issue;
            sum_y[b] += y;
            n[b] += 1;
        }
    }
    let pts: Vec<(f64, f64)> = (0..10)
        .filter(|&b| n[b] > 0)
        .map(|b| (sum_p[b] / n[b] as f64, sum_y[b] / n[b] as f64))
        .collect();
    let root = SVGBackend::new(path, (480, 480)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(path, e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption("Reliability of the issue probability", ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(40)
        .build_cartesian_2d(0f64..1f64, 0f64..1f64)
        .map_err(|e| err(path, e))?;
    chart
        .configure_mesh()
        .x_desc("predicted probability")
        .y_desc("observed frequency")
        .draw()
        .map_err(|e| err(path, e))?;
    chart
        .draw_series(LineSeries::new(vec![(0.0, 0.0), (1.0, 1.0)], COLORS[3]))
        .map_err(|e| err(path, e))?;
    chart
        .draw_series(LineSeries::new(pts.clone(), COLORS[0].stroke_width(2)))
        .map_err(|e| err(path, e))?;
    chart
        .draw_series(
            pts.into_iter()
                .map(|p| Circle::new(p, 4, COLORS[0].filled())),
        )
        .map_err(|e| err(path, e))?;
    root.present().map_err(|e| err(path, e))
}

fn importances(ev: &Evaluation, path: &Path) -> Result<(), LearnError> {
    let top: Vec<_> = ev.importances.iter().take(15).collect();
    let max = top.iter().map(|i| i.mdi).fold(1e-9f64, f64::max);
    let root = SVGBackend::new(path, (800, 480)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(path, e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Feature importance (MDI, binary forest)",
            ("sans-serif", 18),
        )
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(320)
        .build_cartesian_2d(0f64..max * 1.05, (0..top.len()).into_segmented())
        .map_err(|e| err(path, e))?;
    // Largest at the top: segment 0 is the bottom of the axis.
    let rows = top.len();
    let labels: Vec<String> = top
        .iter()
        .rev()
        .map(|i| crate::prediction::human_feature(&i.feature))
        .collect();
    chart
        .configure_mesh()
        .y_labels(top.len().max(1))
        .y_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) => labels.get(*i).cloned().unwrap_or_default(),
            _ => String::new(),
        })
        .x_desc("importance")
        .draw()
        .map_err(|e| err(path, e))?;
    chart
        .draw_series(top.iter().enumerate().map(|(rank, imp)| {
            let i = rows - 1 - rank;
            Rectangle::new(
                [
                    (0.0, SegmentValue::Exact(i)),
                    (imp.mdi, SegmentValue::Exact(i + 1)),
                ],
                COLORS[0].filled(),
            )
        }))
        .map_err(|e| err(path, e))?;
    root.present().map_err(|e| err(path, e))
}
