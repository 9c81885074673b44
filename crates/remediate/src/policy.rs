//! The remediation policy: what the agent may do, where, and within which limits. Read from TOML and
//! checked at load: every error names the line and the field (see `docs/remediation.md`).
//!
//! ```toml
//! min_probability = 0.5
//! cooldown = "30m"
//! [limits]
//! actions_per_namespace_per_hour = 3
//! [namespaces.shop]          # listing a namespace opts it in
//! scale_out = "auto"
//! raise_memory = "approve"
//! [nodes]                    # cluster-scoped, a separate opt-in
//! cordon_drain = "recommend"
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::error::RemediateError;

/// How far the agent goes with one kind of action. Ordered: each mode does what the previous does, and more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Decide and log what would be done; change nothing (the default).
    #[default]
    Observe,
    /// Also attach the proposed action to the alert and the dashboard.
    Recommend,
    /// The action waits for an approval (with expiry) before it is applied.
    Approve,
    /// Apply the action.
    Auto,
}

impl Mode {
    /// Every mode, in order.
    pub const ALL: [Mode; 4] = [Mode::Observe, Mode::Recommend, Mode::Approve, Mode::Auto];

    /// Its name in the policy file.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Observe => "observe",
            Mode::Recommend => "recommend",
            Mode::Approve => "approve",
            Mode::Auto => "auto",
        }
    }

    fn parse(text: &str) -> Option<Mode> {
        Mode::ALL.into_iter().find(|m| m.name() == text)
    }
}

/// The kinds of action a policy sets a mode for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// Scale out ahead of CPU/traffic exhaustion (HPA `minReplicas` or `/scale`).
    ScaleOut,
    /// Raise a memory limit ahead of an OOM kill (`pods/resize`, or a recommended patch).
    RaiseMemory,
    /// Roll a crash-looping new rollout back to the previous ReplicaSet.
    Rollback,
    /// Cordon and drain a node ahead of pressure / NotReady (cluster-scoped).
    CordonDrain,
    /// Network issues: a recommendation with evidence, never an action.
    Network,
    /// Disk filling: a recommendation with evidence, never an action.
    Disk,
}

impl ActionKind {
    /// Its name in the policy file and the audit.
    pub fn name(self) -> &'static str {
        match self {
            ActionKind::ScaleOut => "scale_out",
            ActionKind::RaiseMemory => "raise_memory",
            ActionKind::Rollback => "rollback",
            ActionKind::CordonDrain => "cordon_drain",
            ActionKind::Network => "network",
            ActionKind::Disk => "disk",
        }
    }

    /// Whether the kind only ever recommends (its mode is at most `recommend`).
    pub fn recommend_only(self) -> bool {
        matches!(self, ActionKind::Network | ActionKind::Disk)
    }
}

/// The mode of each namespaced action kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Modes {
    /// [`ActionKind::ScaleOut`].
    pub scale_out: Mode,
    /// [`ActionKind::RaiseMemory`].
    pub raise_memory: Mode,
    /// [`ActionKind::Rollback`].
    pub rollback: Mode,
    /// [`ActionKind::Network`] (observe or recommend).
    pub network: Mode,
    /// [`ActionKind::Disk`] (observe or recommend).
    pub disk: Mode,
}

impl Modes {
    /// The mode of a kind ([`ActionKind::CordonDrain`] is not namespaced: see [`Policy::nodes`]).
    pub fn get(&self, kind: ActionKind) -> Mode {
        match kind {
            ActionKind::ScaleOut => self.scale_out,
            ActionKind::RaiseMemory => self.raise_memory,
            ActionKind::Rollback => self.rollback,
            ActionKind::Network => self.network,
            ActionKind::Disk => self.disk,
            ActionKind::CordonDrain => Mode::Observe,
        }
    }

    /// Every kind in `auto` (actions) or `recommend` (recommendation-only kinds).
    pub fn all_auto() -> Modes {
        Modes {
            scale_out: Mode::Auto,
            raise_memory: Mode::Auto,
            rollback: Mode::Auto,
            network: Mode::Recommend,
            disk: Mode::Recommend,
        }
    }
}

/// Rate limits and caps.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Limits {
    /// New actions applied per namespace in any hour.
    pub actions_per_namespace_per_hour: u32,
    /// New actions applied in the whole cluster in any hour.
    pub actions_per_cluster_per_hour: u32,
    /// Replicas the agent may add to one workload above what it had before the agent's first change.
    pub max_replicas_added: u32,
    /// Factor of one memory raise (new limit = limit × step), > 1.
    pub memory_step: f64,
    /// The memory limit never exceeds the workload's own limit (before the agent) × this factor.
    pub max_memory_factor: f64,
    /// Nodes cordoned by the agent at the same time (drained one at a time in any case).
    pub max_cordoned_nodes: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            actions_per_namespace_per_hour: 3,
            actions_per_cluster_per_hour: 10,
            max_replicas_added: 4,
            memory_step: 1.5,
            max_memory_factor: 2.0,
            max_cordoned_nodes: 1,
        }
    }
}

/// A checked policy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Policy {
    /// Global kill switch: nothing is applied, every decision is audited as skipped.
    pub kill_switch: bool,
    /// Confidence bar: predictions with a lower issue probability (0–1) are not acted on.
    pub min_probability: f64,
    /// A bar of its own for some action kinds (`[confidence]` table), 0–1.
    pub min_probability_by_action: BTreeMap<ActionKind, f64>,
    /// Data older than this (seconds) is stale: no action.
    pub max_data_age_secs: i64,
    /// After an action on an object, no new action on it for this long, seconds.
    pub cooldown_secs: i64,
    /// An action is verified this long after it was applied (reverted if the signal did not improve), seconds.
    pub verify_after_secs: i64,
    /// A scale-out is restored this long after it was applied unless the prediction still holds, seconds.
    pub scale_hold_secs: i64,
    /// A cordoned node is uncordoned this long after it was cordoned once it is healthy, seconds.
    pub cordon_hold_secs: i64,
    /// A raised memory limit is restored this long after the raise once the working set is back below
    /// 70% of the original limit and the prediction no longer holds, seconds.
    pub memory_hold_secs: i64,
    /// Rate limits and caps.
    pub limits: Limits,
    /// Modes of namespaces opted in by label/annotation (not listed in the file).
    pub defaults: Modes,
    /// Namespaces opted in by the file, with their modes.
    pub namespaces: BTreeMap<String, Modes>,
    /// Mode of [`ActionKind::CordonDrain`] (cluster-scoped opt-in).
    pub nodes: Mode,
}

impl Default for Policy {
    /// Observe everywhere, no namespace opted in.
    fn default() -> Self {
        Policy {
            kill_switch: false,
            min_probability: 0.5,
            min_probability_by_action: BTreeMap::new(),
            max_data_age_secs: 120,
            cooldown_secs: 1800,
            verify_after_secs: 600,
            scale_hold_secs: 1800,
            cordon_hold_secs: 3600,
            memory_hold_secs: 7200,
            limits: Limits::default(),
            defaults: Modes::default(),
            namespaces: BTreeMap::new(),
            nodes: Mode::Observe,
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    kill_switch: Option<Spanned<bool>>,
    min_probability: Option<Spanned<f64>>,
    max_data_age: Option<Spanned<String>>,
    cooldown: Option<Spanned<String>>,
    verify_after: Option<Spanned<String>>,
    scale_hold: Option<Spanned<String>>,
    cordon_hold: Option<Spanned<String>>,
    memory_hold: Option<Spanned<String>>,
    #[serde(default)]
    confidence: RawConfidence,
    #[serde(default)]
    limits: RawLimits,
    #[serde(default)]
    defaults: RawModes,
    #[serde(default)]
    namespaces: BTreeMap<String, RawModes>,
    #[serde(default)]
    nodes: RawNodes,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawConfidence {
    scale_out: Option<Spanned<f64>>,
    raise_memory: Option<Spanned<f64>>,
    rollback: Option<Spanned<f64>>,
    cordon_drain: Option<Spanned<f64>>,
    network: Option<Spanned<f64>>,
    disk: Option<Spanned<f64>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    actions_per_namespace_per_hour: Option<Spanned<i64>>,
    actions_per_cluster_per_hour: Option<Spanned<i64>>,
    max_replicas_added: Option<Spanned<i64>>,
    memory_step: Option<Spanned<f64>>,
    max_memory_factor: Option<Spanned<f64>>,
    max_cordoned_nodes: Option<Spanned<i64>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawModes {
    scale_out: Option<Spanned<String>>,
    raise_memory: Option<Spanned<String>>,
    rollback: Option<Spanned<String>>,
    network: Option<Spanned<String>>,
    disk: Option<Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawNodes {
    cordon_drain: Option<Spanned<String>>,
}

/// Reports errors with the line of a span in the text.
struct Checker<'a> {
    origin: &'a str,
    text: &'a str,
}

impl Checker<'_> {
    fn line_of(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }

    fn err(&self, offset: usize, field: &str, reason: String) -> RemediateError {
        RemediateError::Policy {
            origin: self.origin.to_string(),
            line: self.line_of(offset),
            field: field.to_string(),
            reason,
        }
    }

    fn duration(
        &self,
        v: &Option<Spanned<String>>,
        field: &str,
        default: i64,
    ) -> Result<i64, RemediateError> {
        let Some(v) = v else { return Ok(default) };
        let secs = timeline::time::parse_duration_secs(v.get_ref()).map_err(|e| {
            self.err(
                v.span().start,
                field,
                format!("{:?} is not a duration: {e}", v.get_ref()),
            )
        })?;
        if secs <= 0 {
            return Err(self.err(
                v.span().start,
                field,
                format!("{:?} must be longer than 0 s", v.get_ref()),
            ));
        }
        Ok(secs)
    }

    fn probability(
        &self,
        v: &Option<Spanned<f64>>,
        field: &str,
    ) -> Result<Option<f64>, RemediateError> {
        let Some(v) = v else { return Ok(None) };
        let x = *v.get_ref();
        if !(x > 0.0 && x <= 1.0) {
            return Err(self.err(
                v.span().start,
                field,
                format!("{x} must be a probability above 0 and at most 1"),
            ));
        }
        Ok(Some(x))
    }

    fn count(
        &self,
        v: &Option<Spanned<i64>>,
        field: &str,
        default: u32,
    ) -> Result<u32, RemediateError> {
        let Some(v) = v else { return Ok(default) };
        u32::try_from(*v.get_ref()).map_err(|_| {
            self.err(
                v.span().start,
                field,
                format!(
                    "{} must be a whole number from 0 to {}",
                    v.get_ref(),
                    u32::MAX
                ),
            )
        })
    }

    fn factor(
        &self,
        v: &Option<Spanned<f64>>,
        field: &str,
        default: f64,
    ) -> Result<f64, RemediateError> {
        let Some(v) = v else { return Ok(default) };
        let x = *v.get_ref();
        if !(x.is_finite() && x > 1.0 && x <= 16.0) {
            return Err(self.err(
                v.span().start,
                field,
                format!("{x} must be a factor above 1 and at most 16"),
            ));
        }
        Ok(x)
    }

    fn mode(
        &self,
        v: &Option<Spanned<String>>,
        field: &str,
        kind: ActionKind,
        default: Mode,
    ) -> Result<Mode, RemediateError> {
        let Some(v) = v else { return Ok(default) };
        let mode = Mode::parse(v.get_ref()).ok_or_else(|| {
            self.err(
                v.span().start,
                field,
                format!(
                    "{:?} is not a mode (observe, recommend, approve, auto)",
                    v.get_ref()
                ),
            )
        })?;
        if kind.recommend_only() && mode > Mode::Recommend {
            return Err(self.err(
                v.span().start,
                field,
                format!(
                    "{:?}: {} is recommendation only (observe or recommend)",
                    v.get_ref(),
                    kind.name()
                ),
            ));
        }
        Ok(mode)
    }

    fn modes(&self, raw: &RawModes, prefix: &str, base: Modes) -> Result<Modes, RemediateError> {
        let f = |k: ActionKind| format!("{prefix}.{}", k.name());
        Ok(Modes {
            scale_out: self.mode(
                &raw.scale_out,
                &f(ActionKind::ScaleOut),
                ActionKind::ScaleOut,
                base.scale_out,
            )?,
            raise_memory: self.mode(
                &raw.raise_memory,
                &f(ActionKind::RaiseMemory),
                ActionKind::RaiseMemory,
                base.raise_memory,
            )?,
            rollback: self.mode(
                &raw.rollback,
                &f(ActionKind::Rollback),
                ActionKind::Rollback,
                base.rollback,
            )?,
            network: self.mode(
                &raw.network,
                &f(ActionKind::Network),
                ActionKind::Network,
                base.network,
            )?,
            disk: self.mode(&raw.disk, &f(ActionKind::Disk), ActionKind::Disk, base.disk)?,
        })
    }
}

impl Policy {
    /// Parses and checks a policy; `origin` names the file in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<Policy, RemediateError> {
        let c = Checker { origin, text };
        let raw: RawPolicy = toml::from_str(text).map_err(|e| {
            let offset = e.span().map_or(0, |s| s.start);
            c.err(offset, "(syntax)", e.message().to_string())
        })?;
        let d = Policy::default();
        let min_probability = c
            .probability(&raw.min_probability, "min_probability")?
            .unwrap_or(d.min_probability);
        let mut min_probability_by_action = BTreeMap::new();
        let cf = &raw.confidence;
        for (kind, v) in [
            (ActionKind::ScaleOut, &cf.scale_out),
            (ActionKind::RaiseMemory, &cf.raise_memory),
            (ActionKind::Rollback, &cf.rollback),
            (ActionKind::CordonDrain, &cf.cordon_drain),
            (ActionKind::Network, &cf.network),
            (ActionKind::Disk, &cf.disk),
        ] {
            if let Some(x) = c.probability(v, &format!("confidence.{}", kind.name()))? {
                min_probability_by_action.insert(kind, x);
            }
        }
        let dl = Limits::default();
        let l = &raw.limits;
        let memory_step = c.factor(&l.memory_step, "limits.memory_step", dl.memory_step)?;
        let max_memory_factor = c.factor(
            &l.max_memory_factor,
            "limits.max_memory_factor",
            dl.max_memory_factor,
        )?;
        let limits = Limits {
            actions_per_namespace_per_hour: c.count(
                &l.actions_per_namespace_per_hour,
                "limits.actions_per_namespace_per_hour",
                dl.actions_per_namespace_per_hour,
            )?,
            actions_per_cluster_per_hour: c.count(
                &l.actions_per_cluster_per_hour,
                "limits.actions_per_cluster_per_hour",
                dl.actions_per_cluster_per_hour,
            )?,
            max_replicas_added: c.count(
                &l.max_replicas_added,
                "limits.max_replicas_added",
                dl.max_replicas_added,
            )?,
            memory_step,
            max_memory_factor,
            max_cordoned_nodes: c.count(
                &l.max_cordoned_nodes,
                "limits.max_cordoned_nodes",
                dl.max_cordoned_nodes,
            )?,
        };
        let defaults = c.modes(&raw.defaults, "defaults", Modes::default())?;
        let mut namespaces = BTreeMap::new();
        for (name, modes) in &raw.namespaces {
            namespaces.insert(
                name.clone(),
                c.modes(modes, &format!("namespaces.{name}"), defaults)?,
            );
        }
        Ok(Policy {
            kill_switch: raw.kill_switch.as_ref().is_some_and(|v| *v.get_ref()),
            min_probability,
            min_probability_by_action,
            max_data_age_secs: c.duration(
                &raw.max_data_age,
                "max_data_age",
                d.max_data_age_secs,
            )?,
            cooldown_secs: c.duration(&raw.cooldown, "cooldown", d.cooldown_secs)?,
            verify_after_secs: c.duration(
                &raw.verify_after,
                "verify_after",
                d.verify_after_secs,
            )?,
            scale_hold_secs: c.duration(&raw.scale_hold, "scale_hold", d.scale_hold_secs)?,
            cordon_hold_secs: c.duration(&raw.cordon_hold, "cordon_hold", d.cordon_hold_secs)?,
            memory_hold_secs: c.duration(&raw.memory_hold, "memory_hold", d.memory_hold_secs)?,
            limits,
            defaults,
            namespaces,
            nodes: c.mode(
                &raw.nodes.cordon_drain,
                "nodes.cordon_drain",
                ActionKind::CordonDrain,
                Mode::Observe,
            )?,
        })
    }

    /// The confidence bar of an action kind, 0–1.
    pub fn bar(&self, kind: ActionKind) -> f64 {
        self.min_probability_by_action
            .get(&kind)
            .copied()
            .unwrap_or(self.min_probability)
    }

    /// Reads and checks a policy file.
    pub fn load(path: &Path) -> Result<Policy, RemediateError> {
        let text = std::fs::read_to_string(path).map_err(|source| RemediateError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Policy::from_toml(&text, &path.display().to_string())
    }

    /// The modes of a namespace: its own when the file lists it, the defaults when it opted in by
    /// label/annotation (`labelled`), `None` when it is not opted in.
    pub fn modes_of(&self, namespace: &str, labelled: bool) -> Option<Modes> {
        match self.namespaces.get(namespace) {
            Some(m) => Some(*m),
            None if labelled => Some(self.defaults),
            None => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        match Policy::from_toml(text, "p.toml") {
            Ok(p) => panic!("accepted: {p:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn empty_policy_observes_everywhere_and_opts_in_nothing() {
        let p = Policy::from_toml("", "p.toml").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p, Policy::default());
        assert_eq!(p.modes_of("shop", false), None);
        assert_eq!(p.modes_of("shop", true), Some(Modes::default()));
    }

    #[test]
    fn namespaces_inherit_defaults_and_override_them() {
        let text = "min_probability = 0.6\ncooldown = \"10m\"\n[confidence]\nrollback = 0.3\n[defaults]\nscale_out = \"recommend\"\n\
                    [namespaces.shop]\nraise_memory = \"auto\"\n[nodes]\ncordon_drain = \"approve\"\n";
        let p = Policy::from_toml(text, "p.toml").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.cooldown_secs, 600);
        assert_eq!(
            (p.bar(ActionKind::Rollback), p.bar(ActionKind::ScaleOut)),
            (0.3, 0.6)
        );
        let shop = p.modes_of("shop", false).unwrap_or_default();
        assert_eq!(shop.scale_out, Mode::Recommend);
        assert_eq!(shop.raise_memory, Mode::Auto);
        assert_eq!(shop.rollback, Mode::Observe);
        assert_eq!(p.nodes, Mode::Approve);
    }

    #[test]
    fn the_shipped_example_policy_is_valid() {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/remediate-simulated.toml");
        let p = Policy::load(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.nodes, Mode::Auto);
        assert_eq!(p.bar(ActionKind::Rollback), 0.3);
        assert!(
            p.modes_of("online-boutique", false)
                .is_some_and(|m| m.raise_memory == Mode::Auto)
        );
    }

    #[test]
    fn errors_name_the_line_and_the_field() {
        let e = err("cooldown = \"5m\"\n\n[namespaces.shop]\nscale_out = \"yes\"\n");
        assert!(
            e.contains("line 4") && e.contains("namespaces.shop.scale_out"),
            "{e}"
        );
        assert!(e.contains("\"yes\""), "{e}");
        let e = err("[namespaces.shop]\nnetwork = \"auto\"\n");
        assert!(
            e.contains("line 2") && e.contains("recommendation only"),
            "{e}"
        );
        let e = err("min_probability = 1.5\n");
        assert!(e.contains("line 1") && e.contains("min_probability"), "{e}");
        let e = err("\n[limits]\nmax_replicas_added = -1\n");
        assert!(
            e.contains("line 3") && e.contains("limits.max_replicas_added"),
            "{e}"
        );
        let e = err("\n\nverify_after = \"soon\"\n");
        assert!(e.contains("line 3") && e.contains("verify_after"), "{e}");
        let e = err("[confidence]\nrollback = 0\n");
        assert!(
            e.contains("line 2") && e.contains("confidence.rollback"),
            "{e}"
        );
        let e = err("[limits]\nmemory_step = 1.0\n");
        assert!(e.contains("line 2") && e.contains("memory_step"), "{e}");
        let e = err("\n[limits]\ncaps = 3\n");
        assert!(e.contains("line 3") && e.contains("caps"), "{e}");
    }
}
