//! The integration tests of `sim`: one test binary (one link), a module per area.

mod bad_input;
mod cluster_level;
mod common;
mod counters;
mod demand;
mod determinism;
mod faults;
mod interventions;
mod prometheus;
