//! The integration tests of `learn`: one test binary (one link), a module per area.

mod columns;
mod common;
mod data_dirs;
mod dataset_errors;
mod default_model;
mod detector;
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
