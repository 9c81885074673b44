//! The closed loop end to end in the simulator: the embedded model and the agent in `auto` raise the
//! memory limit of a leaking service before its OOM kill, and the OOM does not happen; in `observe` mode
//! the same run changes nothing and the audit says what would have been done.

use learn::bundle::ModelBundle;
use remediate::closed_loop::{self, Strategy};
use remediate::policy::{Mode, Modes, Policy};
use sim::SimConfig;

const START: i64 = 1_767_571_200; // 2026-01-05T00:00:00Z
const OOM_AT: i64 = START + 80 * 60;

fn config() -> sim::ValidConfig {
    let mut cfg = SimConfig {
        preset: "online-boutique".into(),
        duration: "2h".into(),
        ..SimConfig::default()
    };
    cfg.calm();
    cfg.schedule = vec!["memory_leak:cartservice@+80m/20m".into()];
    cfg.check().expect("valid config")
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
        nodes: mode,
        ..Policy::default()
    };
    p.namespaces.insert("online-boutique".into(), modes);
    p
}

fn run(strategy: Strategy, policy: &Policy) -> (closed_loop::RunStats, Vec<serde_json::Value>) {
    let model = ModelBundle::embedded().expect("embedded model");
    let mut lines = Vec::new();
    let stats = closed_loop::run(
        &config(),
        strategy,
        policy,
        Some(&model),
        &mut |l| lines.push(serde_json::from_str(l).expect("audit lines are JSON")),
        &mut |_, _| {},
    )
    .expect("closed loop");
    (stats, lines)
}

fn ooms(stats: &closed_loop::RunStats) -> Vec<i64> {
    stats
        .labels
        .iter()
        .filter(|l| l.detail == "oom_kill" && l.target == "online-boutique/cartservice")
        .map(|l| l.start)
        .collect()
}

#[test]
fn auto_raises_the_limit_before_the_oom_and_observe_changes_nothing() {
    let (reference, _) = run(Strategy::NoAction, &policy(Mode::Auto));
    assert_eq!(ooms(&reference), [OOM_AT]);

    let (auto, audit) = run(Strategy::Agent, &policy(Mode::Auto));
    let raise = auto
        .applied
        .iter()
        .find(|a| {
            a.target == "online-boutique/cartservice"
                && matches!(a.action, remediate::Action::RaiseMemoryLimit { .. })
        })
        .unwrap_or_else(|| panic!("no memory raise: {:#?}", auto.applied));
    assert!(raise.at < OOM_AT, "raised at {} after the OOM", raise.at);
    assert!(
        ooms(&auto).is_empty(),
        "the OOM still happened: {:?}",
        auto.labels
    );
    assert_eq!(
        auto.audit.total as usize,
        audit.len(),
        "every decision audited"
    );
    assert!(audit.iter().any(|l| {
        l["outcome"] == "apply"
            && l["kind"] == "raise_memory"
            && l["command"]
                .as_str()
                .is_some_and(|c| c.contains("patch deployment cartservice"))
    }));
    let report = closed_loop::compare(&reference, &auto);
    assert_eq!(report.prevented.get("oom_kill"), Some(&1));

    let (observe, audit) = run(Strategy::Agent, &policy(Mode::Observe));
    assert!(observe.applied.is_empty(), "{:#?}", observe.applied);
    assert_eq!(
        observe.labels, reference.labels,
        "observe mode changed the run"
    );
    assert!(
        audit.iter().any(|l| l["outcome"] == "observed"
            && l["action"]["action"] == "raise_memory_limit"
            && l["target"] == "online-boutique/cartservice"),
        "the audit does not say what would have been done"
    );
}
