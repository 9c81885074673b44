//! Kubernetes API access (kube-rs, rustls): incident labels from Kubernetes events and Chaos Mesh
//! experiments for `kubepulse collect`, and the remediation agent's executor for `kubepulse watch
//! --remediate --remediate-kube`.
//!
//! - [`permissions`]: the one list of API access ([`KUBE_PERMISSIONS`]); the deployed ClusterRole must
//!   equal it (tested).
//! - [`connect`]: in-cluster service account or kubeconfig/context → `kube::Client`.
//! - [`list`]: the reads, a paginated `list` (or a `get`) of a listed permission's resource.
//! - [`write`]: the remediation agent's writes (server-side dry run, then server-side apply, create or
//!   eviction) of a listed permission's resource; with [`list`], the only code calling the API.
//! - [`remediation`]: the remediation agent's Kubernetes executor (`remediate::LiveExecutor`).
//! - [`events`]: Kubernetes events → incidents; [`chaos`]: Chaos Mesh experiments → incidents.
//!
//! Depends on `watch` for the incident type and the target-naming rule, never the other way round.

// Library code reports through `tracing` and its return values; only the binary prints.
#![warn(clippy::print_stdout, clippy::print_stderr)]

pub mod chaos;
pub mod connect;
pub mod error;
pub mod events;
pub mod list;
pub mod permissions;
pub mod remediation;
pub mod write;

pub use connect::Connection;
pub use error::ClusterError;
pub use permissions::{KUBE_PERMISSIONS, Permission};

use collect::queries::TargetMapper;
use k8s_openapi::api::core::v1::Event as KubeEvent;
use learn::Incident;

use crate::list::{Listed, list_all, list_each};

/// A Kubernetes label source (`--labels-from`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KubeSource {
    /// Core `Event`s (`kube-events`).
    Events,
    /// Chaos Mesh experiments (`chaos-mesh`).
    ChaosMesh,
}

impl KubeSource {
    /// The `--labels-from` value.
    pub fn name(self) -> &'static str {
        match self {
            KubeSource::Events => "kube-events",
            KubeSource::ChaosMesh => "chaos-mesh",
        }
    }
}

/// What to read and for which range.
#[derive(Debug, Clone)]
pub struct KubeLabelOptions {
    /// Sources to read (each at most once).
    pub sources: Vec<KubeSource>,
    /// Collection start, unix seconds: incidents ending before it are dropped.
    pub start: i64,
    /// Collection end, unix seconds: incidents starting after it are dropped.
    pub end: i64,
    /// Sample step, seconds: the length of an instantaneous incident.
    pub step_secs: i64,
    /// How pods and workloads name a target (the query set's rule).
    pub target: TargetMapper,
}

/// Incidents read from the cluster, per source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KubeLabels {
    /// From Kubernetes events (empty when not asked).
    pub events: Vec<Incident>,
    /// From Chaos Mesh experiments (empty when not asked or not installed).
    pub chaos: Vec<Incident>,
    /// What happened to the listed events.
    pub event_stats: events::EventStats,
    /// Chaos Mesh experiment kinds that are not installed (HTTP 404), e.g. `PodChaos`.
    pub chaos_missing: Vec<&'static str>,
    /// Experiments listed.
    pub experiments: usize,
    /// Experiments that could not be labelled, with the reason.
    pub skipped: Vec<String>,
}

/// Reads the asked sources. A denied permission is an error naming it; Chaos Mesh kinds that are not
/// installed are reported in [`KubeLabels::chaos_missing`] (with a warning) and yield no labels.
pub async fn kube_labels(
    client: &kube::Client,
    opts: &KubeLabelOptions,
) -> Result<KubeLabels, ClusterError> {
    if opts.step_secs <= 0 || opts.end < opts.start {
        return Err(ClusterError::Invalid(format!(
            "label range [{}, {}] with step {} s is invalid",
            opts.start, opts.end, opts.step_secs
        )));
    }
    let mut out = KubeLabels::default();
    if opts.sources.contains(&KubeSource::Events) {
        let source = KubeSource::Events.name();
        // Page by page, keeping only the events that match a rule: a big cluster lists 10^5 events.
        let mut parsed = Vec::new();
        let mut oldest: Option<i64> = None;
        let mut malformed = 0usize;
        let listed = list_each(client, &permissions::EVENTS, source, |o| {
            let event: Result<KubeEvent, _> =
                serde_json::to_value(&o).and_then(serde_json::from_value);
            let Ok(event) = event else {
                malformed += 1;
                return;
            };
            if let Some((first, _)) = events::occurrences(&event) {
                oldest = Some(oldest.map_or(first, |o| o.min(first)));
            }
            if events::rule_for(&event).is_some() {
                parsed.push(event);
            }
        })
        .await?
        .ok_or_else(|| ClusterError::Api {
            permission: permissions::EVENTS.describe("list"),
            reason: "HTTP 404: the server has no /api/v1/events".into(),
        })?;
        if malformed > 0 {
            tracing::warn!(malformed, "events that are not v1 Events were skipped");
        }
        let (incidents, mut stats) =
            events::incidents(&parsed, &opts.target, opts.start, opts.end, opts.step_secs);
        stats.listed = listed;
        stats.malformed = malformed;
        stats.oldest = oldest;
        if stats.oldest.is_some_and(|o| o > opts.start) {
            tracing::warn!(
                oldest = stats.oldest,
                start = opts.start,
                "Kubernetes keeps events only for the API server's --event-ttl (1 h by default): \
                 earlier incidents come only from the other label sources"
            );
        }
        out.events = incidents;
        out.event_stats = stats;
    }
    if opts.sources.contains(&KubeSource::ChaosMesh) {
        let source = KubeSource::ChaosMesh.name();
        for kind in permissions::CHAOS_KINDS {
            let objects = match list_all(client, &kind, source).await? {
                Listed::Items(items) => items,
                Listed::NotInstalled => {
                    out.chaos_missing.push(kind.kind);
                    continue;
                }
            };
            out.experiments += objects.len();
            for o in &objects {
                match chaos::incidents(&kind, o, &opts.target, opts.start, opts.end, opts.step_secs)
                {
                    chaos::Outcome::Incidents(v) => out.chaos.extend(v),
                    chaos::Outcome::Skipped(why) => {
                        tracing::warn!(experiment = %why, "Chaos Mesh experiment not labelled");
                        out.skipped.push(why);
                    }
                }
            }
        }
        if !out.chaos_missing.is_empty() {
            tracing::warn!(
                missing = ?out.chaos_missing,
                "Chaos Mesh CRDs not installed (HTTP 404): no chaos labels for these kinds"
            );
        }
        out.chaos.sort();
    }
    Ok(out)
}

/// Connects and runs [`kube_labels`]; API errors name the server.
pub async fn connect_and_read_labels(
    connection: &Connection,
    opts: &KubeLabelOptions,
) -> Result<KubeLabels, ClusterError> {
    let (client, server) = connection.client_and_server().await?;
    kube_labels(&client, opts).await.map_err(|e| match e {
        ClusterError::Api { permission, reason } => ClusterError::Api {
            permission,
            reason: format!("{reason} (API server {server})"),
        },
        other => other,
    })
}
