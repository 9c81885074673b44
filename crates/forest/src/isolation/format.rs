//! The Isolation Forest's binary model file: versioned, checksummed, validated on read.
//!
//! Layout (little-endian): magic `KPISOFOR` (not the random forest's `KPFOREST`, so neither reads the other),
//! format version `u32`, `n_features u32`, subsample size `ψ u32`, depth limit `u32`, `n_trees u32`, then
//! per tree the random forest format's tree encoding with one output per leaf: `n_nodes u32`,
//! `n_leaves u32`, nodes (`threshold f32`, `feature u32`, `child u32`), covers (training rows) `f32 x
//! n_nodes`, leaf path lengths `f32 x n_leaves`; last, the CRC-32 of everything before it.

use super::score::tree_depth;
use super::{IsolationForest, MAX_ISOLATION_DEPTH};
use crate::ForestError;
use crate::format::{checked_body, err, put_tree, put_u32, read_tree, seal};

const MAGIC: &[u8; 8] = b"KPISOFOR";
/// The Isolation Forest format version this build writes and reads.
pub const ISOLATION_FORMAT_VERSION: u32 = 1;

impl IsolationForest {
    /// The versioned, checksummed binary model format.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&ISOLATION_FORMAT_VERSION.to_le_bytes());
        put_u32(&mut out, self.n_features);
        put_u32(&mut out, self.sample_size);
        put_u32(&mut out, self.max_depth);
        put_u32(&mut out, self.trees.len());
        for t in &self.trees {
            put_tree(&mut out, t, 1);
        }
        seal(out)
    }

    /// Reads [`IsolationForest::to_bytes`] output; truncated, corrupted or wrong-version input (a random
    /// forest's file included) is an error, never a panic.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ForestError> {
        let (mut r, _) = checked_body(
            bytes,
            MAGIC,
            "isolation forest",
            ISOLATION_FORMAT_VERSION..=ISOLATION_FORMAT_VERSION,
        )?;
        let n_features = r.u32()? as usize;
        let sample_size = r.u32()? as usize;
        let max_depth = r.u32()? as usize;
        let n_trees = r.u32()? as usize;
        if n_features == 0 || n_features >= (1 << 31) {
            return Err(err(format!("invalid header: {n_features} features")));
        }
        if sample_size < 2 {
            return Err(err(format!("invalid header: subsample size {sample_size}")));
        }
        if !(1..=MAX_ISOLATION_DEPTH).contains(&max_depth) {
            return Err(err(format!("invalid header: depth limit {max_depth}")));
        }
        if n_trees == 0 {
            return Err(err("the model has no trees".into()));
        }
        let mut trees = Vec::with_capacity(n_trees.min(r.buf.len() / 8));
        for t in 0..n_trees {
            let tree =
                read_tree(&mut r, n_features, 1).map_err(|e| err(format!("tree {t}: {e}")))?;
            let depth = tree_depth(&tree);
            if depth > max_depth {
                return Err(err(format!(
                    "tree {t}: depth {depth} exceeds the depth limit {max_depth}"
                )));
            }
            if tree
                .nodes
                .iter()
                .any(|n| !n.is_leaf() && n.threshold.is_nan())
            {
                return Err(err(format!("tree {t}: a split threshold is NaN")));
            }
            if let Some(v) = tree
                .leaf_values
                .iter()
                .find(|v| !(v.is_finite() && **v >= 0.0))
            {
                return Err(err(format!(
                    "tree {t}: path length {v} is not finite and >= 0"
                )));
            }
            if let Some(c) = tree.cover.iter().find(|c| !(c.is_finite() && **c >= 0.0)) {
                return Err(err(format!("tree {t}: cover {c} is not finite and >= 0")));
            }
            trees.push(tree);
        }
        if !r.buf.is_empty() {
            return Err(err(format!(
                "{} unexpected bytes after the last tree",
                r.buf.len()
            )));
        }
        Ok(IsolationForest::assemble(
            n_features,
            sample_size,
            max_depth,
            trees,
        ))
    }
}
