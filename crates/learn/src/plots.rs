//! Report plots (SVG, rendered with `plotters`): PR curves per type with the baselines (PR-AUC in the
//! legend, each scorer's operating point at its alarm threshold marked, "no incidents of this type" on an
//! empty panel), the lead-time histogram with the horizon, the reliability diagram, feature
//! importances (largest first, in words: `prediction::human_feature`), and the probability over time
//! around each of the first test incidents (as the UI's target view draws it: the alarm threshold, the
//! incident shaded, the alarm that detected it marked).

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

/// Writes `pr_curves.svg`, `lead_times.svg`, `reliability.svg`, `importances.svg` and
/// `incidents.svg` into `dir`. `threshold` is the model's alarm threshold (a probability, 0–1).
pub fn write_all(
    ev: &Evaluation,
    issue_types: &[String],
    threshold: f64,
    dir: &Path,
) -> Result<(), LearnError> {
    pr_curves(ev, issue_types, &dir.join("pr_curves.svg"))?;
    lead_times(ev, &dir.join("lead_times.svg"))?;
    reliability(ev, &dir.join("reliability.svg"))?;
    importances(ev, &dir.join("importances.svg"))?;
    incidents(ev, threshold, &dir.join("incidents.svg"))
}

/// How many incidents `incidents.svg` shows (the first ones of the test period, by start).
pub const INCIDENT_PANELS: usize = 6;

/// One test incident as `incidents.svg` draws it.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentTrace {
    /// The target.
    pub target: String,
    /// The incident's type.
    pub issue_type: String,
    /// Start and end, unix seconds.
    pub start: i64,
    /// End, unix seconds.
    pub end: i64,
    /// `(seconds relative to the start, the model's probability)` of every scored window of the target
    /// from three horizons before the start to one horizon after the end (at least one after the start).
    pub points: Vec<(f64, f64)>,
    /// The onset of the alarm episode that detected it (figures' rule), seconds relative to the start,
    /// with its probability; `None` when it was missed.
    pub detection: Option<(f64, f64)>,
}

/// The first `n` test incidents (those starting inside the scored period, by start, then target) with
/// the model's probability around each: what `incidents.svg` draws.
pub fn incident_traces(ev: &Evaluation, n: usize) -> Vec<IncidentTrace> {
    let h = ev.grid.spec.horizon_secs;
    let step = ev.grid.spec.step_secs;
    let mut found: Vec<(i64, &str, usize, usize)> = Vec::new();
    for (s, points) in ev.grid.points.iter().enumerate() {
        let (Some(first), Some(last)) = (points.first(), points.last()) else {
            continue;
        };
        let target = ev.dataset.series[s].target.as_str();
        for (i, e) in ev.dataset.events_of(target).iter().enumerate() {
            if e.start > first.t && e.start <= last.t {
                found.push((e.start, target, s, i));
            }
        }
    }
    found.sort();
    found
        .into_iter()
        .take(n)
        .map(|(_, target, s, i)| {
            let e = &ev.dataset.events_of(target)[i];
            let points = &ev.grid.points[s];
            let scores = &ev.scores[s];
            let (from, until) = (e.start - 3 * h, e.end.max(e.start + h) + h);
            let trace = points
                .iter()
                .zip(scores)
                .filter(|(p, _)| p.t >= from && p.t <= until)
                .map(|(p, sc)| ((p.t - e.start) as f64, sc.p_issue))
                .collect();
            let alarms: Vec<bool> = scores.iter().map(|sc| sc.alarm).collect();
            let detection = crate::figures::episodes(points, &alarms, step)
                .into_iter()
                .map(|(a, _)| a)
                .find(|&k| crate::figures::credited(points[k].t, e.start, e.end, h))
                .map(|k| ((points[k].t - e.start) as f64, scores[k].p_issue));
            IncidentTrace {
                target: target.to_string(),
                issue_type: e.issue_type.clone(),
                start: e.start,
                end: e.end,
                points: trace,
                detection,
            }
        })
        .collect()
}

const INCIDENT_SHADE: RGBColor = RGBColor(233, 221, 247);

fn incidents(ev: &Evaluation, threshold: f64, path: &Path) -> Result<(), LearnError> {
    let traces = incident_traces(ev, INCIDENT_PANELS);
    let cols = 2usize;
    let rows = traces.len().div_ceil(cols).max(1);
    let root = SVGBackend::new(path, (1000, 40 + 260 * rows as u32)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(path, e))?;
    let (title, body) = root.split_vertically(40);
    title
        .draw(&Text::new(
            format!(
                "Probability around the first {} test incidents (shaded; dashed: alarm threshold {:.0}%; \
                 marker: the alarm that detected it)",
                traces.len(),
                100.0 * threshold
            ),
            (10, 12),
            ("sans-serif", 16),
        ))
        .map_err(|e| err(path, e))?;
    if traces.is_empty() {
        body.draw(&Text::new(
            "no incidents in the test period",
            (380, 100),
            ("sans-serif", 18),
        ))
        .map_err(|e| err(path, e))?;
        return root.present().map_err(|e| err(path, e));
    }
    let panels = body.split_evenly((rows, cols));
    for (trace, area) in traces.iter().zip(panels.iter()) {
        let minutes = |secs: f64| secs / 60.0;
        let x0 = trace
            .points
            .first()
            .map_or(-15.0, |p| minutes(p.0))
            .min(0.0);
        let x1 = trace
            .points
            .last()
            .map_or(5.0, |p| minutes(p.0))
            .max(minutes((trace.end - trace.start) as f64))
            .max(x0 + 1.0);
        let outcome = match trace.detection {
            Some((t, _)) if t < 0.0 => format!("alarm {:.1} min ahead", -minutes(t)),
            Some((t, _)) => format!("alarm {:.1} min after start", minutes(t)),
            None => "missed".to_string(),
        };
        let mut chart = ChartBuilder::on(area)
            .caption(
                format!("{} · {} · {outcome}", trace.target, trace.issue_type),
                ("sans-serif", 14),
            )
            .margin(8)
            .x_label_area_size(36)
            .y_label_area_size(40)
            .build_cartesian_2d(x0..x1, 0f64..1f64)
            .map_err(|e| err(path, e))?;
        chart
            .configure_mesh()
            .x_desc("minutes from the incident's start")
            .y_desc("probability")
            .y_labels(5)
            .draw()
            .map_err(|e| err(path, e))?;
        let span_end = minutes((trace.end - trace.start) as f64).clamp(x0, x1);
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(0.0f64.max(x0), 0.0), (span_end, 1.0)],
                INCIDENT_SHADE.filled(),
            )))
            .map_err(|e| err(path, e))?;
        chart
            .draw_series(DashedLineSeries::new(
                vec![(x0, threshold), (x1, threshold)],
                6,
                4,
                RED.stroke_width(1),
            ))
            .map_err(|e| err(path, e))?;
        chart
            .draw_series(LineSeries::new(
                trace.points.iter().map(|&(t, p)| (minutes(t), p)),
                COLORS[0].stroke_width(2),
            ))
            .map_err(|e| err(path, e))?;
        if let Some((t, p)) = trace.detection {
            let x = minutes(t);
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(x, 0.0), (x, 1.0)],
                    COLORS[1].stroke_width(1),
                )))
                .map_err(|e| err(path, e))?;
            chart
                .draw_series(std::iter::once(TriangleMarker::new(
                    (x, p),
                    7,
                    COLORS[1].filled(),
                )))
                .map_err(|e| err(path, e))?;
        }
    }
    root.present().map_err(|e| err(path, e))
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
