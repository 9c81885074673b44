//! The retraining gate's last verdict as Prometheus gauges (feature `metrics`): one module, registered
//! by `serve` and by `watch` in their own registries, read from the gate's report beside their `--model`
//! file ([`crate::gate::report_beside`]) at start, when that report changes, and on a forced reload.
//!
//! Exported: `kubepulse_gate_publish` (1 published, 0 refused; 0 without a report),
//! `kubepulse_gate_test_until_timestamp_seconds` (unix seconds), and per `model` ("candidate",
//! "current") `kubepulse_gate_alarmed_before_start_ratio`, `kubepulse_gate_detected_within_120s_ratio`
//! (ratios 0–1), `kubepulse_gate_false_alarms_per_target_day` and `kubepulse_gate_incidents`.

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;
use std::time::SystemTime;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::gate::{self, GateVerdict};

/// `model` of the gate's figures: "candidate" or "current".
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct GateLabels {
    model: &'static str,
}

/// What identifies a version of the report file: modification time and size (`None`: no file).
type Stamp = Option<(SystemTime, u64)>;

fn stamp(path: &Path) -> Stamp {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

/// The gate's gauges (see the module docs).
#[derive(Debug, Default)]
pub struct GateMetrics {
    publish: Gauge,
    test_until: Gauge,
    alarmed: Family<GateLabels, Gauge<f64, AtomicU64>>,
    detected_120s: Family<GateLabels, Gauge<f64, AtomicU64>>,
    false_alarms: Family<GateLabels, Gauge<f64, AtomicU64>>,
    incidents: Family<GateLabels, Gauge>,
    /// The report's version last read (`None`: never read).
    read: Mutex<Option<Stamp>>,
}

impl GateMetrics {
    /// The gauges, registered in `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let g = Self::default();
        registry.register(
            "kubepulse_gate_publish",
            "The retraining gate's last verdict (gate.json beside --model): 1 published, 0 refused",
            g.publish.clone(),
        );
        registry.register(
            "kubepulse_gate_test_until_timestamp_seconds",
            "End of the gate's last test period, unix seconds",
            g.test_until.clone(),
        );
        registry.register(
            "kubepulse_gate_alarmed_before_start_ratio",
            "Share of the gate's test incidents alarmed before their start, by model (candidate, current)",
            g.alarmed.clone(),
        );
        registry.register(
            "kubepulse_gate_detected_within_120s_ratio",
            "Share of the gate's test incidents alarmed within 120 s of their start, by model",
            g.detected_120s.clone(),
        );
        registry.register(
            "kubepulse_gate_false_alarms_per_target_day",
            "False alarm episodes per target-day on the gate's test period, by model",
            g.false_alarms.clone(),
        );
        registry.register(
            "kubepulse_gate_incidents",
            "Incidents in the gate's test period, by model",
            g.incidents.clone(),
        );
        g
    }

    /// Exports the gate's verdict and figures (`None`: no gate report; the gauges are cleared).
    pub fn set(&self, verdict: Option<&GateVerdict>) {
        for family in [&self.alarmed, &self.detected_120s, &self.false_alarms] {
            family.clear();
        }
        self.incidents.clear();
        let Some(v) = verdict else {
            self.publish.set(0);
            self.test_until.set(0);
            return;
        };
        self.publish.set(i64::from(v.publish));
        self.test_until.set(v.test_until);
        for (model, score) in [("candidate", &v.candidate), ("current", &v.current)] {
            let l = GateLabels { model };
            self.alarmed
                .get_or_create(&l)
                .set(score.alarmed_before_start_ratio);
            self.detected_120s
                .get_or_create(&l)
                .set(score.detected_within_120s_ratio);
            self.false_alarms
                .get_or_create(&l)
                .set(score.false_alarms_per_target_day);
            self.incidents.get_or_create(&l).set(score.incidents as i64);
        }
    }

    /// Reads the gate's report beside the model file `model` into the gauges (no report: cleared); a
    /// report that does not parse is logged and leaves the gauges as they were.
    pub fn refresh(&self, model: &Path) {
        let path = gate::report_beside(model);
        let now = stamp(&path);
        match gate::read_report(&path) {
            Ok(verdict) => self.set(verdict.as_ref()),
            Err(e) => tracing::warn!(path = %path.display(), error = %e, "gate report unreadable"),
        }
        if let Ok(mut read) = self.read.lock() {
            *read = Some(now);
        }
    }

    /// [`Self::refresh`] when the report beside `model` changed (modification time or size, appeared or
    /// went) since it was last read, or was never read; true when it read it.
    pub fn refresh_if_changed(&self, model: &Path) -> bool {
        let now = stamp(&gate::report_beside(model));
        let changed = self.read.lock().map_or(true, |read| *read != Some(now));
        if changed {
            self.refresh(model);
        }
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gate::{GateRule, GateScore};

    fn verdict(publish: bool, alarmed: f64) -> GateVerdict {
        let score = |incidents| GateScore {
            model: "m".into(),
            incidents,
            alarmed_before_start_ratio: alarmed,
            detected_within_120s_ratio: alarmed,
            false_alarms_per_target_day: 0.5,
        };
        let rule = GateRule {
            max_detection_drop: 0.01,
            max_false_alarm_rise: 0.1,
        };
        GateVerdict {
            test_from: 100,
            test_until: 200,
            data_fingerprint: String::new(),
            candidate: score(3),
            current: score(4),
            publish,
            reasons: Vec::new(),
            rule_text: rule.describe(),
            rule,
        }
    }

    fn text(registry: &Registry) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, registry).unwrap();
        out
    }

    #[test]
    fn the_report_beside_the_model_is_read_when_it_changes_and_cleared_when_it_goes() {
        let dir = tempfile::tempdir().unwrap();
        let model = dir.path().join("current.kpm");
        let mut registry = Registry::default();
        let g = GateMetrics::register(&mut registry);
        // No report yet: read once (publish 0, no per-model series), then unchanged.
        assert!(g.refresh_if_changed(&model));
        assert!(!g.refresh_if_changed(&model));
        let t = text(&registry);
        assert!(t.contains("kubepulse_gate_publish 0"), "{t}");
        assert!(!t.contains("model=\"candidate\""), "{t}");

        let path = gate::report_beside(&model);
        std::fs::write(&path, serde_json::to_string(&verdict(true, 0.75)).unwrap()).unwrap();
        assert!(g.refresh_if_changed(&model));
        assert!(!g.refresh_if_changed(&model));
        let t = text(&registry);
        assert!(t.contains("kubepulse_gate_publish 1"), "{t}");
        assert!(
            t.contains("kubepulse_gate_test_until_timestamp_seconds 200"),
            "{t}"
        );
        assert!(
            t.contains("kubepulse_gate_alarmed_before_start_ratio{model=\"candidate\"} 0.75"),
            "{t}"
        );
        assert!(
            t.contains("kubepulse_gate_incidents{model=\"current\"} 4"),
            "{t}"
        );

        // A report that does not parse leaves the figures as they were.
        std::fs::write(&path, "{ not json").unwrap();
        assert!(g.refresh_if_changed(&model));
        assert!(text(&registry).contains("kubepulse_gate_publish 1"));

        // The report goes: the gauges are cleared.
        std::fs::remove_file(&path).unwrap();
        assert!(g.refresh_if_changed(&model));
        let t = text(&registry);
        assert!(t.contains("kubepulse_gate_publish 0"), "{t}");
        assert!(!t.contains("model=\"candidate\""), "{t}");
    }
}
