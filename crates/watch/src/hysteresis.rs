//! When a stream of issue probabilities becomes a firing alert, and when that alert is over.
//!
//! Per target: fire after `consecutive_on` consecutive observations at or above `on_threshold`; resolve
//! after `consecutive_off` consecutive observations below the lower `off_threshold`; after a resolve, do not
//! fire again for `cooldown_secs`. Stale or missing data never counts towards firing (it breaks the streak)
//! and never resolves an alert (the alert is held, not refreshed). Pure and deterministic: time is passed in.

use std::collections::HashMap;

/// Hysteresis settings (see the module docs). Turn into [`ValidHysteresis`] with [`Hysteresis::check`].
#[derive(Debug, Clone, PartialEq)]
pub struct Hysteresis {
    /// Probability (0–1) at or above which a step counts towards firing.
    pub on_threshold: f64,
    /// Probability (0–1) below which a step counts towards resolving; must be below `on_threshold`.
    pub off_threshold: f64,
    /// Consecutive steps at or above `on_threshold` needed to fire (k ≥ 1).
    pub consecutive_on: u32,
    /// Consecutive steps below `off_threshold` needed to resolve (≥ 1).
    pub consecutive_off: u32,
    /// Seconds after a resolve during which the same target cannot fire again.
    pub cooldown_secs: f64,
}

impl Default for Hysteresis {
    fn default() -> Self {
        Hysteresis {
            on_threshold: 0.7,
            off_threshold: 0.4,
            consecutive_on: 2,
            consecutive_off: 3,
            cooldown_secs: 300.0,
        }
    }
}

/// Settings that passed [`Hysteresis::check`].
#[derive(Debug, Clone, PartialEq)]
pub struct ValidHysteresis(Hysteresis);

/// Invalid hysteresis settings.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid alert hysteresis: {0}")]
pub struct HysteresisError(String);

impl Hysteresis {
    /// Validates: `0 ≤ off < on ≤ 1`, `k ≥ 1`, `consecutive_off ≥ 1`, `cooldown ≥ 0`.
    pub fn check(self) -> Result<ValidHysteresis, HysteresisError> {
        let in_unit = |x: f64| (0.0..=1.0).contains(&x);
        if !in_unit(self.on_threshold) || !in_unit(self.off_threshold) {
            return Err(HysteresisError(format!(
                "thresholds must be within 0..=1 (on {}, off {})",
                self.on_threshold, self.off_threshold
            )));
        }
        if self.off_threshold >= self.on_threshold {
            return Err(HysteresisError(format!(
                "the off threshold {} must be below the on threshold {}",
                self.off_threshold, self.on_threshold
            )));
        }
        if self.consecutive_on == 0 || self.consecutive_off == 0 {
            return Err(HysteresisError(
                "consecutive steps to fire and to resolve must be at least 1".into(),
            ));
        }
        if !(self.cooldown_secs >= 0.0 && self.cooldown_secs.is_finite()) {
            return Err(HysteresisError(format!(
                "cool-down must be a non-negative number of seconds, not {}",
                self.cooldown_secs
            )));
        }
        Ok(ValidHysteresis(self))
    }
}

impl ValidHysteresis {
    /// The validated settings.
    pub fn params(&self) -> &Hysteresis {
        &self.0
    }
}

/// One step's evidence for a target.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Observation {
    /// A prediction from fresh data: probability of an issue within the horizon (0–1).
    Fresh(f64),
    /// A prediction from fresh data that is usual for this target (the model's per-target condition
    /// did not pass): it resolves like [`Self::Fresh`] but never counts towards firing.
    Usual(f64),
    /// The target's data is stale or missing this step: no prediction can be trusted.
    Stale,
}

/// What a step did to a target's alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// Nothing firing, nothing changed.
    Quiet,
    /// The alert starts firing now.
    Fire,
    /// The alert keeps firing (fresh data still above the off threshold).
    StillFiring,
    /// The alert is firing but this step's data is stale: hold it, do not refresh it.
    Held,
    /// The alert is over now.
    Resolve,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    Inactive { streak_on: u32, cooldown_until: f64 },
    Firing { streak_off: u32 },
}

/// Per-target alert states under one [`ValidHysteresis`].
#[derive(Debug, Clone)]
pub struct AlertTracker {
    params: Hysteresis,
    states: HashMap<String, State>,
}

impl AlertTracker {
    /// An empty tracker.
    pub fn new(params: ValidHysteresis) -> Self {
        AlertTracker {
            params: params.0,
            states: HashMap::new(),
        }
    }

    /// The thresholds and counts in use.
    pub fn params(&self) -> &Hysteresis {
        &self.params
    }

    /// Applies new thresholds from the next observation on (a reloaded model's); every target's state
    /// (firing, counts, cooldown) is kept.
    pub fn set_params(&mut self, params: ValidHysteresis) {
        self.params = params.0;
    }

    /// Feeds one observation of `target` at time `now` (unix seconds) and returns the transition.
    pub fn observe(&mut self, target: &str, now: f64, observation: Observation) -> Transition {
        let p = &self.params;
        let may_fire = !matches!(observation, Observation::Usual(_));
        let state = self
            .states
            .entry(target.to_string())
            .or_insert(State::Inactive {
                streak_on: 0,
                cooldown_until: f64::NEG_INFINITY,
            });
        let (next, transition) = match (*state, observation) {
            (State::Inactive { cooldown_until, .. }, Observation::Stale) => (
                State::Inactive {
                    streak_on: 0,
                    cooldown_until,
                },
                Transition::Quiet,
            ),
            (
                State::Inactive {
                    streak_on,
                    cooldown_until,
                },
                Observation::Fresh(prob) | Observation::Usual(prob),
            ) => {
                if may_fire && prob >= p.on_threshold && now >= cooldown_until {
                    let streak_on = streak_on + 1;
                    if streak_on >= p.consecutive_on {
                        (State::Firing { streak_off: 0 }, Transition::Fire)
                    } else {
                        (
                            State::Inactive {
                                streak_on,
                                cooldown_until,
                            },
                            Transition::Quiet,
                        )
                    }
                } else {
                    (
                        State::Inactive {
                            streak_on: 0,
                            cooldown_until,
                        },
                        Transition::Quiet,
                    )
                }
            }
            // Resolving needs consecutive fresh low steps too: a gap restarts the count.
            (State::Firing { .. }, Observation::Stale) => {
                (State::Firing { streak_off: 0 }, Transition::Held)
            }
            (State::Firing { streak_off }, Observation::Fresh(prob) | Observation::Usual(prob)) => {
                if prob < p.off_threshold {
                    let streak_off = streak_off + 1;
                    if streak_off >= p.consecutive_off {
                        (
                            State::Inactive {
                                streak_on: 0,
                                cooldown_until: now + p.cooldown_secs,
                            },
                            Transition::Resolve,
                        )
                    } else {
                        (State::Firing { streak_off }, Transition::StillFiring)
                    }
                } else {
                    (State::Firing { streak_off: 0 }, Transition::StillFiring)
                }
            }
        };
        *state = next;
        transition
    }

    /// True when `target`'s alert is firing.
    pub fn is_firing(&self, target: &str) -> bool {
        matches!(self.states.get(target), Some(State::Firing { .. }))
    }

    /// Forgets targets not in `keep` that are not firing (targets that left this shard or the cluster).
    pub fn retain_targets(&mut self, keep: &dyn Fn(&str) -> bool) {
        self.states
            .retain(|target, state| keep(target) || matches!(state, State::Firing { .. }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn tracker(k: u32, cooldown: f64) -> AlertTracker {
        AlertTracker::new(
            Hysteresis {
                on_threshold: 0.7,
                off_threshold: 0.4,
                consecutive_on: k,
                consecutive_off: 1,
                cooldown_secs: cooldown,
            }
            .check()
            .unwrap(),
        )
    }

    #[test]
    fn fires_after_k_steps_and_resolves_below_off() {
        let mut t = tracker(3, 0.0);
        let seq = [0.8, 0.9, 0.75, 0.6, 0.5, 0.39];
        let got: Vec<_> = seq
            .iter()
            .enumerate()
            .map(|(i, p)| t.observe("a/b", i as f64 * 15.0, Observation::Fresh(*p)))
            .collect();
        use Transition::*;
        assert_eq!(got, [Quiet, Quiet, Fire, StillFiring, StillFiring, Resolve]);
    }

    #[test]
    fn stale_data_breaks_the_streak_and_holds_a_firing_alert() {
        let mut t = tracker(2, 0.0);
        assert_eq!(
            t.observe("x", 0.0, Observation::Fresh(0.9)),
            Transition::Quiet
        );
        assert_eq!(t.observe("x", 15.0, Observation::Stale), Transition::Quiet);
        assert_eq!(
            t.observe("x", 30.0, Observation::Fresh(0.9)),
            Transition::Quiet
        );
        assert_eq!(
            t.observe("x", 45.0, Observation::Fresh(0.9)),
            Transition::Fire
        );
        assert_eq!(t.observe("x", 60.0, Observation::Stale), Transition::Held);
        assert!(t.is_firing("x"));
    }

    #[test]
    fn cooldown_blocks_refiring() {
        let mut t = tracker(1, 100.0);
        assert_eq!(
            t.observe("x", 0.0, Observation::Fresh(0.9)),
            Transition::Fire
        );
        assert_eq!(
            t.observe("x", 10.0, Observation::Fresh(0.1)),
            Transition::Resolve
        );
        assert_eq!(
            t.observe("x", 20.0, Observation::Fresh(0.9)),
            Transition::Quiet
        );
        assert_eq!(
            t.observe("x", 109.0, Observation::Fresh(0.9)),
            Transition::Quiet
        );
        assert_eq!(
            t.observe("x", 110.0, Observation::Fresh(0.9)),
            Transition::Fire
        );
    }

    #[test]
    fn invalid_settings_are_refused() {
        let bad = Hysteresis {
            on_threshold: 0.5,
            off_threshold: 0.6,
            ..Hysteresis::default()
        };
        assert!(bad.check().unwrap_err().to_string().contains("below"));
        let bad = Hysteresis {
            consecutive_on: 0,
            ..Hysteresis::default()
        };
        assert!(bad.check().is_err());
        let bad = Hysteresis {
            on_threshold: 1.5,
            ..Hysteresis::default()
        };
        assert!(bad.check().is_err());
    }

    fn observation() -> impl Strategy<Value = Observation> {
        prop_oneof![
            9 => (0.0f64..=1.0).prop_map(Observation::Fresh),
            1 => Just(Observation::Stale),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, rng_seed: proptest::test_runner::RngSeed::Fixed(7), failure_persistence: None, ..ProptestConfig::default() })]

        /// Never flaps: every Fire is preceded by k fresh steps ≥ on (and is outside the cool-down), every
        /// Resolve by `consecutive_off` fresh steps < off; fire and resolve alternate; stale never fires.
        #[test]
        fn never_flaps(
            obs in proptest::collection::vec(observation(), 1..200),
            k in 1u32..5,
            off_steps in 1u32..4,
            cooldown_steps in 0u32..10,
        ) {
            let params = Hysteresis {
                on_threshold: 0.7,
                off_threshold: 0.4,
                consecutive_on: k,
                consecutive_off: off_steps,
                cooldown_secs: cooldown_steps as f64 * 15.0,
            };
            let mut t = AlertTracker::new(params.clone().check().unwrap());
            let mut firing = false;
            let mut last_resolve: Option<usize> = None;
            for (i, o) in obs.iter().enumerate() {
                let tr = t.observe("ns/app", i as f64 * 15.0, *o);
                match tr {
                    Transition::Fire => {
                        prop_assert!(!firing, "fired twice without a resolve at step {}", i);
                        prop_assert!(i + 1 >= k as usize);
                        for back in &obs[i + 1 - k as usize..=i] {
                            prop_assert!(matches!(back, Observation::Fresh(p) if *p >= 0.7), "fired at {} without {} fresh high steps", i, k);
                        }
                        if let Some(r) = last_resolve {
                            prop_assert!((i - r) as f64 * 15.0 >= params.cooldown_secs, "re-fired inside the cool-down");
                        }
                        firing = true;
                    }
                    Transition::Resolve => {
                        prop_assert!(firing, "resolved an alert that was not firing");
                        let n = off_steps as usize;
                        prop_assert!(i + 1 >= n);
                        for back in &obs[i + 1 - n..=i] {
                            prop_assert!(matches!(back, Observation::Fresh(p) if *p < 0.4), "resolved at {} without {} fresh low steps", i, n);
                        }
                        firing = false;
                        last_resolve = Some(i);
                    }
                    Transition::StillFiring | Transition::Held => prop_assert!(firing),
                    Transition::Quiet => prop_assert!(!firing),
                }
                prop_assert_eq!(t.is_firing("ns/app"), firing);
            }
        }

        /// Probabilities that wander between the thresholds change nothing, whatever the state.
        #[test]
        fn the_band_between_thresholds_is_inert(
            band in proptest::collection::vec(0.4f64..0.7, 1..100),
            start_firing in any::<bool>(),
        ) {
            let mut t = tracker(1, 0.0);
            if start_firing {
                prop_assert_eq!(t.observe("x", 0.0, Observation::Fresh(0.95)), Transition::Fire);
            }
            for (i, p) in band.iter().enumerate() {
                let tr = t.observe("x", (i + 1) as f64, Observation::Fresh(*p));
                let expected = if start_firing { Transition::StillFiring } else { Transition::Quiet };
                prop_assert_eq!(tr, expected);
            }
        }
    }

    #[test]
    fn a_usual_score_never_fires_but_resolves() {
        let mut t = tracker(1, 0.0);
        let steps = [
            (Observation::Usual(0.99), Transition::Quiet),
            (Observation::Fresh(0.99), Transition::Fire),
            (Observation::Usual(0.99), Transition::StillFiring),
            (Observation::Usual(0.01), Transition::Resolve),
        ];
        for (i, (observation, expected)) in steps.into_iter().enumerate() {
            assert_eq!(
                t.observe("x", i as f64 * 15.0, observation),
                expected,
                "step {i}"
            );
        }
    }
}
