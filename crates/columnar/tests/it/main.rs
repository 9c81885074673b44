//! The integration tests of `columnar`: one test binary (one link), a module per area.

mod read;
