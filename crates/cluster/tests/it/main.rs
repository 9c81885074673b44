//! The integration tests of `cluster`: one test binary (one link), a module per area.

mod fake_apiserver;
mod rbac;
mod remediation;
