//! The integration tests of `learn`: one test binary (one link), a module per area.

mod columns;
mod common;
mod dataset_errors;
mod default_model;
mod eta;
mod eval_stream;
mod gate;
mod holdout;
mod order;
mod parquet;
mod pipeline;
mod pyarrow;
mod stream;
mod streamed;
mod warnings;
