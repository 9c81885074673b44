//! The integration tests of `ui`: one test binary (one link), a module per area.

mod routes;
