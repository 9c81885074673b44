//! Property tests of the decision core's safety rules: for any stream of predictions (flapping, stale,
//! partial, low-confidence, for any target), applied through a toy cluster that takes the actions, caps,
//! rate limits and cooldowns are never exceeded, nothing is applied in observe mode, outside opted-in
//! namespaces or under the kill switch, and every decision is audited.

use std::collections::BTreeMap;

use learn::prediction::Prediction;
use proptest::prelude::*;
use remediate::action::{Action, Decision, Outcome, Trigger};
use remediate::policy::{ActionKind, Limits, Mode, Modes, Policy};
use remediate::state::{ClusterState, HpaState, Node, Signals, Workload};
use remediate::{Audit, History, decide};

const MIB: f64 = 1024.0 * 1024.0;
const TARGETS: [&str; 5] = ["shop/web", "shop/cache", "shop/api", "blog/site", "other/x"];
const ISSUES: [&str; 4] = [
    "resource_exhaustion",
    "pod_failure",
    "network_issue",
    "normal",
];

/// One prediction in the stream: target index, issue type index, probability, alarmed.
type Pred = (usize, usize, f64, bool);

/// One step: seconds since the previous one, predictions, signals (cpu, memory use of the limit),
/// complete, data age (s), node memory available of node 0.
#[derive(Debug, Clone)]
struct Step {
    dt: i64,
    predictions: Vec<Pred>,
    cpu: f64,
    memory: f64,
    complete: bool,
    age: i64,
    node_memory: f64,
    trend: f64,
}

fn step() -> impl Strategy<Value = Step> {
    (
        prop_oneof![Just(15i64), 15i64..600, 600i64..4000],
        prop::collection::vec(
            (0usize..5, 0usize..4, 0.0f64..1.0, prop::bool::weighted(0.7)),
            0..6,
        ),
        0.0f64..1.2,
        0.0f64..1.0,
        prop::bool::weighted(0.9),
        prop_oneof![Just(0i64), 0i64..400],
        0.0f64..0.5,
        -0.02f64..0.05,
    )
        .prop_map(
            |(dt, predictions, cpu, memory, complete, age, node_memory, trend)| Step {
                dt,
                predictions,
                cpu,
                memory,
                complete,
                age,
                node_memory,
                trend,
            },
        )
}

fn prediction(issue: &str, p: f64, alarmed: bool) -> Prediction {
    Prediction {
        will_have_issue: alarmed,
        issue_probability: p,
        issue_type: issue.to_string(),
        probabilities: BTreeMap::new(),
        time_to_issue_seconds: None,
        horizon_seconds: 300.0,
        explanation: None,
        recommendation: None,
        baseline_seconds: None,
    }
}

/// A toy cluster the actions change.
struct Toy {
    state: ClusterState,
}

fn workload(target: &str, replicas: u32, hpa: Option<(u32, u32)>, nodes: &[&str]) -> Workload {
    let (ns, name) = target.split_once('/').unwrap_or(("default", target));
    Workload {
        target: target.to_string(),
        namespace: ns.to_string(),
        name: name.to_string(),
        container: name.to_string(),
        replicas,
        hpa: hpa.map(|(min_replicas, max_replicas)| HpaState {
            min_replicas,
            max_replicas,
        }),
        memory_limit_bytes: 128.0 * MIB,
        memory_request_bytes: 64.0 * MIB,
        revision_age_secs: Some(60),
        has_previous_revision: true,
        nodes: nodes.iter().map(|n| n.to_string()).collect(),
        signals: Signals {
            sampled_at: 0,
            complete: true,
            cpu_limit_utilization: 0.5,
            memory_limit_utilization: 0.5,
            memory_trend_per_min: 0.0,
            memory_sustained_trend_per_min: 0.0,
            error_ratio: 0.01,
        },
    }
}

impl Toy {
    fn new() -> Toy {
        let node = |name: &str| Node {
            name: name.to_string(),
            ready: true,
            cordoned: false,
            memory_available_ratio: 0.5,
            memory_available_trend_per_min: 0.0,
            pods_added: 0,
            filesystem_available_ratio: 0.5,
            pods: 3,
        };
        Toy {
            state: ClusterState {
                observed_at: 0,
                workloads: vec![
                    workload("shop/web", 2, Some((2, 4)), &["n0", "n1"]),
                    workload("shop/cache", 1, None, &["n1"]),
                    workload("shop/api", 2, None, &["n0", "n2"]),
                    workload("blog/site", 1, Some((1, 3)), &["n2"]),
                    workload("other/x", 1, None, &["n0"]),
                ],
                nodes: vec![node("n0"), node("n1"), node("n2")],
                labelled_namespaces: vec!["blog".to_string()],
                kill_switch: false,
                supports_resize: true,
            },
        }
    }

    fn observe(&mut self, s: &Step, now: i64) {
        self.state.observed_at = now;
        for w in &mut self.state.workloads {
            w.signals.sampled_at = now - s.age;
            w.signals.complete = s.complete;
            w.signals.cpu_limit_utilization = s.cpu;
            w.signals.memory_limit_utilization = s.memory;
            w.signals.memory_trend_per_min = s.trend;
            w.signals.memory_sustained_trend_per_min = s.trend;
        }
        self.state.nodes[0].memory_available_ratio = s.node_memory;
        self.state.nodes[0].memory_available_trend_per_min = -s.trend;
        for n in &mut self.state.nodes {
            if n.cordoned {
                // A drain empties a cordoned node within a step.
                n.pods = 0;
            }
        }
    }

    fn apply(&mut self, a: &Action) {
        let w = |s: &mut ClusterState, t: &str| -> usize {
            s.workloads.iter().position(|w| w.target == t).unwrap_or(0)
        };
        match a {
            Action::RaiseHpaMinReplicas { target, to, .. }
            | Action::RestoreHpaMinReplicas { target, to } => {
                let i = w(&mut self.state, target);
                let wl = &mut self.state.workloads[i];
                if let Some(h) = wl.hpa.as_mut() {
                    h.min_replicas = *to;
                }
                // The HPA follows its minimum both ways here (no load of its own in the toy).
                wl.replicas = *to;
            }
            Action::ScaleReplicas { target, to, .. } | Action::RestoreReplicas { target, to } => {
                let i = w(&mut self.state, target);
                self.state.workloads[i].replicas = *to;
            }
            Action::RaiseMemoryLimit {
                target, to_bytes, ..
            }
            | Action::RestoreMemoryLimit {
                target, to_bytes, ..
            } => {
                let i = w(&mut self.state, target);
                self.state.workloads[i].memory_limit_bytes = *to_bytes;
            }
            Action::Rollback { target } => {
                let i = w(&mut self.state, target);
                self.state.workloads[i].revision_age_secs = Some(0);
                self.state.workloads[i].has_previous_revision = true;
            }
            Action::CordonDrain { node } => {
                if let Some(n) = self.state.nodes.iter_mut().find(|n| &n.name == node) {
                    n.cordoned = true;
                }
            }
            Action::Uncordon { node } => {
                if let Some(n) = self.state.nodes.iter_mut().find(|n| &n.name == node) {
                    n.cordoned = false;
                    n.pods = 3;
                }
            }
            Action::Recommend { .. } => {}
        }
    }
}

fn policy(mode: Mode) -> Policy {
    let modes = Modes {
        scale_out: mode,
        raise_memory: mode,
        rollback: mode,
        network: mode.min(Mode::Recommend),
        disk: mode.min(Mode::Recommend),
    };
    let mut p = Policy {
        min_probability: 0.5,
        min_probability_by_action: [(ActionKind::Rollback, 0.3), (ActionKind::RaiseMemory, 0.7)]
            .into_iter()
            .collect(),
        cooldown_secs: 900,
        limits: Limits {
            actions_per_namespace_per_hour: 2,
            actions_per_cluster_per_hour: 3,
            max_replicas_added: 3,
            memory_step: 1.5,
            max_memory_factor: 2.0,
            max_cordoned_nodes: 1,
        },
        defaults: modes,
        nodes: mode,
        ..Policy::default()
    };
    p.namespaces.insert("shop".to_string(), modes);
    p
}

/// Runs a stream; returns every decision with the state it was decided on, and the audit.
fn run(steps: &[Step], policy: &Policy) -> (Vec<(Decision, ClusterState)>, Audit, usize) {
    let mut toy = Toy::new();
    let mut history = History::default();
    let mut audit = Audit::default();
    let mut now = 1_000_000;
    let mut all = Vec::new();
    let mut alarmed_total = 0;
    for s in steps {
        now += s.dt;
        toy.observe(s, now);
        let mut predictions: Vec<(String, Prediction)> = Vec::new();
        for &(t, issue, p, alarmed) in &s.predictions {
            if predictions.iter().any(|(x, _)| x == TARGETS[t]) {
                continue;
            }
            predictions.push((
                TARGETS[t].to_string(),
                prediction(ISSUES[issue], p, alarmed),
            ));
        }
        alarmed_total += predictions
            .iter()
            .filter(|(_, p)| p.will_have_issue)
            .count();
        let decisions = decide(&predictions, &toy.state, policy, now, &history);
        let prediction_decisions = decisions
            .iter()
            .filter(|d| d.trigger == Trigger::Prediction)
            .count();
        assert_eq!(
            prediction_decisions,
            predictions
                .iter()
                .filter(|(_, p)| p.will_have_issue)
                .count(),
            "one decision per alarmed prediction"
        );
        let before = toy.state.clone();
        for d in &decisions {
            if d.applies() {
                if let Some(a) = &d.action {
                    toy.apply(a);
                }
            }
            history.record(d, policy);
            let line = audit.record(d, None);
            assert!(
                line.starts_with('{') && line.contains("\"outcome\""),
                "{line}"
            );
            all.push((d.clone(), before.clone()));
        }
    }
    (all, audit, alarmed_total)
}

fn new_actions(all: &[(Decision, ClusterState)]) -> Vec<&(Decision, ClusterState)> {
    all.iter()
        .filter(|(d, _)| d.applies() && d.action.as_ref().is_some_and(|a| !a.is_undo()))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn auto_mode_never_exceeds_caps_budgets_or_cooldowns(steps in prop::collection::vec(step(), 1..120)) {
        let p = policy(Mode::Auto);
        let (all, audit, alarmed) = run(&steps, &p);
        prop_assert_eq!(audit.total as usize, all.len(), "every decision audited");
        prop_assert!(all.len() >= alarmed);
        let applied = new_actions(&all);
        for (i, (d, state)) in applied.iter().enumerate() {
            prop_assert!(d.namespace == "shop" || d.namespace == "blog", "not opted in: {:?}", d);
            let w = state.workload(&d.target);
            prop_assert!(w.is_some_and(|w| w.signals.complete && d.at - w.signals.sampled_at <= p.max_data_age_secs), "stale or partial: {:?}", d);
            let bar = d.kind.map_or(1.0, |k| p.bar(k));
            prop_assert!(d.probability.is_some_and(|x| x >= bar), "below the bar: {:?}", d);
            let window = applied.iter().filter(|(e, _)| e.at > d.at - 3600 && e.at <= d.at);
            prop_assert!(window.clone().count() <= p.limits.actions_per_cluster_per_hour as usize);
            prop_assert!(window.filter(|(e, _)| e.namespace == d.namespace).count() <= p.limits.actions_per_namespace_per_hour as usize);
            let object = d.action.as_ref().map(Action::object);
            if let Some((prev, _)) = applied[..i].iter().rev().find(|(e, _)| e.action.as_ref().map(Action::object) == object) {
                prop_assert!(d.at - prev.at >= p.cooldown_secs, "cooldown: {:?} then {:?}", prev, d);
            }
            let initial = Toy::new().state;
            match d.action.as_ref() {
                Some(Action::RaiseHpaMinReplicas { target, from, to }) => {
                    let w0 = initial.workload(target);
                    let h = w.and_then(|w| w.hpa);
                    prop_assert!(h.is_some_and(|h| *to <= h.max_replicas && *from == h.min_replicas));
                    prop_assert!(w.is_some_and(|w| *to > w.replicas), "never below current");
                    prop_assert!(w0.is_some_and(|w0| *to <= w0.replicas + p.limits.max_replicas_added));
                }
                Some(Action::ScaleReplicas { target, from, to }) => {
                    let w0 = initial.workload(target);
                    prop_assert!(to > from, "never scales down");
                    prop_assert!(w0.is_some_and(|w0| *to <= w0.replicas + p.limits.max_replicas_added));
                }
                Some(Action::RaiseMemoryLimit { target, from_bytes, to_bytes, .. }) => {
                    let w0 = initial.workload(target);
                    prop_assert!(to_bytes > from_bytes);
                    prop_assert!(w0.is_some_and(|w0| *to_bytes <= w0.memory_limit_bytes * p.limits.max_memory_factor + 1.0));
                }
                Some(Action::CordonDrain { .. }) => {
                    let cordoned = state.nodes.iter().filter(|n| n.cordoned).count();
                    prop_assert!(cordoned < p.limits.max_cordoned_nodes as usize, "cordon cap");
                }
                _ => {}
            }
        }
    }

    #[test]
    fn observe_mode_and_the_kill_switch_apply_nothing(steps in prop::collection::vec(step(), 1..80)) {
        for p in [policy(Mode::Observe), Policy { kill_switch: true, ..policy(Mode::Auto) }, Policy { namespaces: Default::default(), ..policy(Mode::Auto) }] {
            let (all, audit, _) = run(&steps, &p);
            prop_assert_eq!(audit.total as usize, all.len());
            let applied: Vec<_> = all.iter().filter(|(d, _)| d.applies()).collect();
            // Without the file's namespace, only the labelled one ("blog") may act.
            let allowed = !p.kill_switch && p.defaults.scale_out == Mode::Auto && p.namespaces.is_empty();
            for (d, _) in &applied {
                prop_assert!(allowed && d.namespace == "blog", "applied: {:?}", d);
            }
            prop_assert!(all.iter().all(|(d, _)| d.outcome != Outcome::Apply || allowed));
        }
    }
}

#[test]
fn a_flapping_prediction_acts_once_per_cooldown_and_restores_on_expiry() {
    let p = Policy {
        scale_hold_secs: 1800,
        verify_after_secs: 7200,
        cooldown_secs: 3600,
        ..policy(Mode::Auto)
    };
    let mut steps = Vec::new();
    for i in 0..40 {
        steps.push(Step {
            dt: 60,
            // Flaps on and off every other minute, then stops.
            predictions: if i % 2 == 0 && i < 20 {
                vec![(1, 0, 0.9, true)]
            } else {
                vec![]
            },
            cpu: 0.8,
            memory: 0.4,
            complete: true,
            age: 0,
            node_memory: 0.5,
            trend: 0.0,
        });
    }
    let (all, _, _) = run(&steps, &p);
    let applied = new_actions(&all);
    assert_eq!(applied.len(), 1, "{applied:#?}");
    assert!(matches!(
        applied[0].0.action,
        Some(Action::ScaleReplicas { from: 1, to: 2, .. })
    ));
    let restores: Vec<_> = all
        .iter()
        .filter(|(d, _)| {
            d.applies() && matches!(d.action, Some(Action::RestoreReplicas { to: 1, .. }))
        })
        .collect();
    assert_eq!(restores.len(), 1, "restored once, to the recorded value");
}

fn decide_once(toy: &Toy, p: &Policy, target: &str, issue: &str, prob: f64) -> Decision {
    let predictions = vec![(target.to_string(), prediction(issue, prob, true))];
    let mut d = decide(&predictions, &toy.state, p, 1_000_000, &History::default());
    assert_eq!(d.len(), 1, "{d:#?}");
    d.remove(0)
}

fn toy_at(cpu: f64, memory: f64, trend: f64) -> Toy {
    let mut toy = Toy::new();
    toy.observe(
        &Step {
            dt: 0,
            predictions: vec![],
            cpu,
            memory,
            complete: true,
            age: 0,
            node_memory: 0.5,
            trend,
        },
        1_000_000,
    );
    toy
}

#[test]
fn a_scale_out_stops_at_the_hpa_max_and_never_lowers_replicas() {
    let p = policy(Mode::Auto);
    let mut toy = toy_at(0.9, 0.3, 0.0);
    toy.state.workloads[0].replicas = 3;
    let d = decide_once(&toy, &p, "shop/web", "resource_exhaustion", 0.9);
    assert_eq!(
        d.action,
        Some(Action::RaiseHpaMinReplicas {
            target: "shop/web".into(),
            from: 2,
            to: 4
        }),
        "{d:?}"
    );
    assert_eq!(d.outcome, Outcome::Apply);
    toy.state.workloads[0].replicas = 4;
    let d = decide_once(&toy, &p, "shop/web", "resource_exhaustion", 0.9);
    assert_eq!(
        d.outcome,
        Outcome::Skipped(remediate::SkipReason::ReplicaCap { max_replicas: 4 })
    );
}

#[test]
fn a_memory_raise_keeps_guaranteed_qos_and_without_resize_is_a_recommended_patch() {
    let p = policy(Mode::Auto);
    let mut toy = toy_at(0.3, 0.965, 0.03);
    toy.state.workloads[1].memory_request_bytes = 128.0 * MIB;
    let d = decide_once(&toy, &p, "shop/cache", "pod_failure", 0.9);
    assert_eq!(
        d.action,
        Some(Action::RaiseMemoryLimit {
            target: "shop/cache".into(),
            container: "cache".into(),
            from_bytes: 128.0 * MIB,
            to_bytes: 192.0 * MIB,
            request_to_bytes: Some(192.0 * MIB),
        })
    );
    // A plateau (not rising) is not a leak: no memory action.
    let flat = toy_at(0.3, 0.9, 0.0);
    let d = decide_once(&flat, &p, "shop/cache", "pod_failure", 0.9);
    assert_ne!(d.cause, remediate::Cause::MemoryGrowth, "{d:?}");
    // Rising over the window, but no longer in its second half (it levelled off): no memory action.
    let mut levelled = toy_at(0.3, 0.965, 0.03);
    for w in &mut levelled.state.workloads {
        w.signals.memory_sustained_trend_per_min = 0.0;
    }
    let d = decide_once(&levelled, &p, "shop/cache", "pod_failure", 0.9);
    assert_ne!(d.cause, remediate::Cause::MemoryGrowth, "{d:?}");
    // Rising steadily, but far from the limit at that pace (not within a minute): not yet.
    let early = toy_at(0.3, 0.8, 0.03);
    let d = decide_once(&early, &p, "shop/cache", "pod_failure", 0.9);
    assert_ne!(d.cause, remediate::Cause::MemoryGrowth, "{d:?}");
    toy.state.supports_resize = false;
    let d = decide_once(&toy, &p, "shop/cache", "pod_failure", 0.9);
    assert_eq!(d.outcome, Outcome::Recommended);
    let Some(Action::Recommend { text, .. }) = &d.action else {
        panic!("{d:?}")
    };
    assert!(
        text.contains(r#"kubectl -n shop patch deployment cache --type=strategic -p '{"spec":{"template":{"spec":{"containers":[{"name":"cache","resources":{"limits":{"memory":"192Mi"},"requests":{"memory":"192Mi"}}}]}}}}'"#),
        "{text}"
    );
}

#[test]
fn skips_say_why() {
    let p = policy(Mode::Auto);
    let toy = toy_at(0.9, 0.3, 0.0);
    let reason = |d: Decision| match d.outcome {
        Outcome::Skipped(r) => remediate::audit::reason_name(&r),
        o => panic!("{o:?}"),
    };
    assert_eq!(
        reason(decide_once(&toy, &p, "other/x", "resource_exhaustion", 0.9)),
        "not_opted_in"
    );
    assert_eq!(
        reason(decide_once(
            &toy,
            &p,
            "shop/web",
            "resource_exhaustion",
            0.4
        )),
        "below_confidence"
    );
    assert_eq!(
        reason(decide_once(
            &toy,
            &p,
            "nowhere/y",
            "resource_exhaustion",
            0.9
        )),
        "unknown_target"
    );
    let mut stale = toy_at(0.9, 0.3, 0.0);
    stale.state.workloads[0].signals.sampled_at -= 600;
    assert_eq!(
        reason(decide_once(
            &stale,
            &p,
            "shop/web",
            "resource_exhaustion",
            0.9
        )),
        "stale_data"
    );
    let mut partial = toy_at(0.9, 0.3, 0.0);
    partial.state.workloads[0].signals.complete = false;
    assert_eq!(
        reason(decide_once(
            &partial,
            &p,
            "shop/web",
            "resource_exhaustion",
            0.9
        )),
        "partial_data"
    );
    let killed = Policy {
        kill_switch: true,
        ..p.clone()
    };
    assert_eq!(
        reason(decide_once(
            &toy,
            &killed,
            "shop/web",
            "resource_exhaustion",
            0.9
        )),
        "kill_switch"
    );
}

#[test]
fn an_action_whose_signal_does_not_improve_is_reverted() {
    let p = policy(Mode::Auto);
    let toy = toy_at(0.7, 0.3, 0.0);
    let mut history = History::default();
    let predictions = vec![(
        "shop/cache".to_string(),
        prediction("resource_exhaustion", 0.9, true),
    )];
    let d = decide(&predictions, &toy.state, &p, 1_000_000, &history);
    assert!(matches!(
        d[0].action,
        Some(Action::ScaleReplicas { from: 1, to: 2, .. })
    ));
    history.record(&d[0], &p);
    let mut after = toy_at(0.95, 0.3, 0.0);
    after.state.workloads[1].replicas = 2;
    let later = 1_000_000 + p.verify_after_secs;
    let d = decide(&predictions, &after.state, &p, later, &history);
    let revert = d
        .iter()
        .find(|d| d.trigger == Trigger::Verify)
        .unwrap_or_else(|| panic!("{d:#?}"));
    assert_eq!(
        revert.action,
        Some(Action::RestoreReplicas {
            target: "shop/cache".into(),
            to: 1
        })
    );
    assert_eq!(revert.outcome, Outcome::Apply);
}

#[test]
fn a_new_rollout_is_rolled_back_only_while_it_fails_requests() {
    let p = policy(Mode::Auto);
    // A rollout 60 s old with a previous ReplicaSet, 1% of requests failing.
    let mut toy = toy_at(0.3, 0.3, 0.0);
    let d = decide_once(&toy, &p, "shop/api", "pod_failure", 0.9);
    assert_eq!(
        d.action,
        Some(Action::Rollback {
            target: "shop/api".into()
        }),
        "{d:?}"
    );
    // The same prediction on a rollout serving without errors (a healthy rolling update): no rollback.
    for w in &mut toy.state.workloads {
        w.signals.error_ratio = 0.0;
    }
    let d = decide_once(&toy, &p, "shop/api", "pod_failure", 0.9);
    assert_ne!(d.cause, remediate::Cause::BadRollout, "{d:?}");
    assert_ne!(d.outcome, Outcome::Apply, "{d:?}");
}
