//! The integration tests of `kubepulse`: one test binary (one link), a module per area.

mod bad_input;
mod browser;
mod common;
mod doctor;
mod flood;
mod gate;
mod schemathesis;
mod shards;
mod signals;
