//! The integration tests of `collect`: one test binary (one link), a module per area.

mod collect;
mod common;
mod doctor;
mod prom_client;
mod sim_roundtrip;
