//! The integration tests of `serve`: one test binary (one link), a module per area.

mod bodies;
mod common;
mod compat;
mod limits;
mod real_model;
mod routes;
mod socket;
