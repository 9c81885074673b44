//! Report plots (SVG, rendered with `plotters`): PR curves per type with the baselines (PR-AUC in the
//! legend, each scorer's operating point at its alarm threshold marked, "no incidents of this type" on an
//! empty panel), the lead-time histogram with the horizon, the reliability diagram, feature
//! importances (largest first, in words: `prediction::human_feature`), and the probability over time
//! around each of the first test incidents (as the UI's target view draws it: the alarm threshold, the
//! incident shaded, the alarm that detected it marked).

use std::path::Path;

use plotters::prelude::*;

use crate::error::LearnError;
use crate::eval::Summary;
use crate::figures::Figures;

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

/// Writes `pr_curves.svg`, `lead_times.svg`, `reliability.svg`, `importances.svg` and
/// `incidents.svg` into `dir`. `threshold` is the model's alarm threshold (a probability, 0–1).
pub fn write_all(
    ev: &Summary,
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

const INCIDENT_SHADE: RGBColor = RGBColor(233, 221, 247);

fn incidents(ev: &Summary, threshold: f64, path: &Path) -> Result<(), LearnError> {
    let traces = &ev.incident_traces;
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

fn pr_curves(ev: &Summary, issue_types: &[String], path: &Path) -> Result<(), LearnError> {
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
        let mut series: Vec<(&str, &Figures)> = vec![("model", &ev.model)];
        for (b, f) in &ev.baselines {
            series.push((b.as_str(), f));
        }
        let any_incident = ev.model.per_type.get(name).is_some_and(|t| t.support > 0);
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
        for (i, (label, f)) in series.into_iter().enumerate() {
            let pr = f.pr_curves.get(k).cloned().unwrap_or_default();
            let (curve, operating) = (pr.curve, pr.operating);
            let ap = f.per_type.get(name).map_or(f64::NAN, |t| t.pr_auc);
            let color = COLORS[i % COLORS.len()];
            chart
                .draw_series(LineSeries::new(curve, color.stroke_width(2)))
                .map_err(|e| err(path, e))?
                .label(format!("{label} (PR-AUC {ap:.2})"))
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

fn lead_times(ev: &Summary, path: &Path) -> Result<(), LearnError> {
    let leads: Vec<f64> = ev
        .model
        .incidents
        .lead_times_seconds
        .iter()
        .map(|l| l / 60.0)
        .collect();
    let horizon_min = ev.horizon_secs as f64 / 60.0;
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

fn reliability(ev: &Summary, path: &Path) -> Result<(), LearnError> {
    let pts = ev.model.reliability.clone();
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

fn importances(ev: &Summary, path: &Path) -> Result<(), LearnError> {
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
