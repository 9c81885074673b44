//! The integration tests of `watch`: one test binary (one link), a module per area.

mod alert_truth;
mod alertmanager;
mod approvals;
#[path = "../../../collect/tests/it/common/mod.rs"]
mod common;
mod e2e;
mod remediation;
mod ui_security;
mod watch_faults;
