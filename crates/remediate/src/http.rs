//! The simulator's live exporter as the live loop's cluster (`kubepulse simulate --serve`): its state
//! from `GET /api/v1/state`, actions posted to `POST /api/v1/interventions` as named interventions
//! (`sim::engine::NamedIntervention`'s JSON form). Lets `kubepulse watch --remediate` act on a
//! simulation through the same Prometheus path it watches.

use std::time::Duration;

use serde_json::json;

use crate::action::Action;
use crate::error::RemediateError;
use crate::executor::{BoxFuture, Effect, LiveExecutor};
use crate::state::ClusterState;

const NAME: &str = "simulator";

/// Talks to a simulator's live exporter at a base URL (e.g. `http://127.0.0.1:9101`).
#[derive(Debug, Clone)]
pub struct HttpExecutor {
    client: reqwest::Client,
    base: String,
}

fn failed(reason: String) -> RemediateError {
    RemediateError::Executor {
        executor: NAME,
        reason,
    }
}

impl HttpExecutor {
    /// A client for the exporter at `base` (`http://` or `https://`), each request bounded by `timeout`.
    pub fn new(base: &str, timeout: Duration) -> Result<Self, RemediateError> {
        let base = base.trim_end_matches('/').to_string();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(failed(format!(
                "{base:?} is not a URL like http://127.0.0.1:9101"
            )));
        }
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| failed(format!("cannot build an HTTP client: {e}")))?;
        Ok(HttpExecutor { client, base })
    }

    /// The named intervention an action is, as JSON (`None`: a recommendation, nothing to post).
    pub fn intervention(action: &Action) -> Option<serde_json::Value> {
        Some(match action {
            Action::RaiseHpaMinReplicas { target, to, .. }
            | Action::RestoreHpaMinReplicas { target, to } => {
                json!({"kind": "set_hpa_min_replicas", "target": target, "min_replicas": to})
            }
            Action::ScaleReplicas { target, to, .. } | Action::RestoreReplicas { target, to } => {
                json!({"kind": "scale_replicas", "target": target, "replicas": to})
            }
            Action::RaiseMemoryLimit {
                target, to_bytes, ..
            }
            | Action::RestoreMemoryLimit {
                target, to_bytes, ..
            } => {
                json!({"kind": "resize_memory_limit", "target": target, "limit_bytes": to_bytes})
            }
            Action::Rollback { target } => json!({"kind": "rollback", "target": target}),
            Action::CordonDrain { node } => json!({"kind": "cordon", "node": node, "drain": true}),
            Action::Uncordon { node } => json!({"kind": "uncordon", "node": node}),
            Action::Recommend { .. } => return None,
        })
    }
}

impl LiveExecutor for HttpExecutor {
    fn name(&self) -> &'static str {
        NAME
    }

    fn state(&self) -> BoxFuture<'_, Result<ClusterState, RemediateError>> {
        Box::pin(async move {
            let url = format!("{}/api/v1/state", self.base);
            let answer = self
                .client
                .get(&url)
                .send()
                .await
                .map_err(|e| failed(format!("GET {url}: {e}")))?;
            let status = answer.status();
            let body = answer
                .bytes()
                .await
                .map_err(|e| failed(format!("GET {url}: {e}")))?;
            if !status.is_success() {
                return Err(failed(format!(
                    "GET {url}: {status}: {}",
                    String::from_utf8_lossy(&body[..body.len().min(300)])
                )));
            }
            serde_json::from_slice(&body)
                .map_err(|e| failed(format!("GET {url}: not a cluster state: {e}")))
        })
    }

    fn apply<'a>(&'a self, action: &'a Action) -> BoxFuture<'a, Result<Effect, RemediateError>> {
        Box::pin(async move {
            let Some(body) = Self::intervention(action) else {
                return Ok(Effect::Done(None));
            };
            let url = format!("{}/api/v1/interventions", self.base);
            let answer = self
                .client
                .post(&url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.to_string())
                .send()
                .await
                .map_err(|e| failed(format!("POST {url}: {e}")))?;
            let status = answer.status();
            if status.is_success() {
                return Ok(Effect::Done(None));
            }
            let text = answer.text().await.unwrap_or_default();
            Err(failed(format!(
                "POST {url} {body}: {status}: {}",
                &text[..text.len().min(300)]
            )))
        })
    }
}

#[cfg(all(test, feature = "sim"))]
mod tests {
    use super::*;

    /// The wire format is the simulator's: every action's JSON is a `NamedIntervention`, and the
    /// exporter's state reads as a `ClusterState`.
    #[test]
    fn the_wire_format_is_the_simulators() {
        let actions = [
            Action::RaiseHpaMinReplicas {
                target: "ns/a".into(),
                from: 1,
                to: 3,
            },
            Action::ScaleReplicas {
                target: "ns/a".into(),
                from: 1,
                to: 2,
            },
            Action::RaiseMemoryLimit {
                target: "ns/a".into(),
                container: "a".into(),
                from_bytes: 1e8,
                to_bytes: 1.5e8,
                request_to_bytes: None,
            },
            Action::Rollback {
                target: "ns/a".into(),
            },
            Action::CordonDrain { node: "n1".into() },
            Action::Uncordon { node: "n1".into() },
        ];
        for a in &actions {
            let v = HttpExecutor::intervention(a).expect("a change");
            let named: sim::engine::NamedIntervention =
                serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("{v}: {e}"));
            assert_eq!(serde_json::to_value(&named).unwrap(), v);
        }
        assert!(
            HttpExecutor::intervention(&Action::Recommend {
                target: "ns/a".into(),
                text: "x".into()
            })
            .is_none()
        );
        let mut cfg = sim::SimConfig::default();
        cfg.calm();
        let mut sim = sim::Simulation::new(&cfg.check().unwrap()).unwrap();
        for _ in 0..4 {
            sim.advance();
        }
        let json = sim::exporter::state_json(&sim.clusters[0]).to_string();
        let state: ClusterState = serde_json::from_str(&json).expect(&json);
        assert_eq!(state.workloads.len(), sim.clusters[0].deps.len());
        assert_eq!(state.nodes.len(), sim.clusters[0].nodes.len());
        let w = &state.workloads[0];
        assert_eq!(w.target, sim.clusters[0].target(0));
        assert!(w.memory_limit_bytes > 0.0 && w.replicas > 0);
        assert!(!w.signals.complete && w.signals.memory_limit_utilization.is_nan());
        assert!(state.nodes[0].memory_available_trend_per_min.is_nan());
        assert!(state.supports_resize);
    }
}
