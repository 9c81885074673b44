//! The integration tests of `remediate`: one test binary (one link), a module per area.

mod closed_loop;
mod safety;
