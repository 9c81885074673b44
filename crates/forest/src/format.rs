//! The binary model format: versioned, checksummed, validated on read.
//!
//! Layout of version 2 (little-endian): magic `KPFOREST`, format version `u32`, task `u8`
//! (0 classification, 1 regression), `n_features u32`; a classifier then has `n_classes u32` and its class
//! labels `f64 x n_classes` (a regressor has one output and nothing here); `n_trees u32`, MDI importances
//! `f64 x n_features`, OOB flag `u8` + OOB score `f64`, then per tree `n_nodes u32`, `n_leaves u32`, nodes
//! (`threshold f32`, `feature u32`, `child u32`), covers `f32 x n_nodes`, leaf values
//! `f32 x n_leaves x n_outputs`; last, the CRC-32 of everything before it. OOB outputs are not stored
//! (they are per training row).
//!
//! Version 1 (classifiers only) is version 2 without the task byte; this build still reads it.

use crate::tree::{LEAF, MISSING_LEFT, Node, Tree};
use crate::{ForestError, RandomForest, Task};

const MAGIC: &[u8; 8] = b"KPFOREST";
/// The format version this build writes (it reads this one and every earlier one).
pub const FORMAT_VERSION: u32 = 2;
/// The first version, before regressors: no task byte, every model a classifier.
const VERSION_CLASSIFIER_ONLY: u32 = 1;
/// Task byte of a classifier.
const TASK_CLASSIFICATION: u8 = 0;
/// Task byte of a regressor.
const TASK_REGRESSION: u8 = 1;

impl RandomForest {
    /// The versioned, checksummed binary model format.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.push(match self.task {
            Task::Classification => TASK_CLASSIFICATION,
            Task::Regression => TASK_REGRESSION,
        });
        put_u32(&mut out, self.n_features);
        if self.task == Task::Classification {
            put_u32(&mut out, self.classes.len());
            self.classes
                .iter()
                .for_each(|c| out.extend_from_slice(&c.to_le_bytes()));
        }
        put_u32(&mut out, self.trees.len());
        self.importances
            .iter()
            .for_each(|v| out.extend_from_slice(&v.to_le_bytes()));
        out.push(u8::from(self.oob_score.is_some()));
        out.extend_from_slice(&self.oob_score.unwrap_or(0.0).to_le_bytes());
        for t in &self.trees {
            put_tree(&mut out, t, self.n_outputs());
        }
        seal(out)
    }

    /// Reads [`RandomForest::to_bytes`] output of this build or an earlier one (a version 1 file is a
    /// classifier); truncated, corrupted or unknown-version input is an error.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ForestError> {
        let (mut r, version) = checked_body(
            bytes,
            MAGIC,
            "forest",
            VERSION_CLASSIFIER_ONLY..=FORMAT_VERSION,
        )?;
        let task = if version == VERSION_CLASSIFIER_ONLY {
            Task::Classification
        } else {
            match r.u8()? {
                TASK_CLASSIFICATION => Task::Classification,
                TASK_REGRESSION => Task::Regression,
                other => return Err(err(format!("unknown task {other}"))),
            }
        };
        let n_features = r.u32()? as usize;
        if n_features == 0 || n_features >= (1 << 31) {
            return Err(err(format!("invalid header: {n_features} features")));
        }
        let (classes, k) = match task {
            Task::Classification => {
                let k = r.u32()? as usize;
                if k < 2 {
                    return Err(err(format!("invalid header: {k} classes")));
                }
                let classes = r.f64s(k)?;
                if classes.iter().any(|c| !c.is_finite())
                    || classes.windows(2).any(|w| w[0] >= w[1])
                {
                    return Err(err(
                        "class labels are not finite and strictly increasing".into()
                    ));
                }
                (classes, k)
            }
            Task::Regression => (Vec::new(), 1),
        };
        let n_trees = r.u32()? as usize;
        if n_trees == 0 {
            return Err(err("the model has no trees".into()));
        }
        let importances = r.f64s(n_features)?;
        let has_oob = r.u8()?;
        let oob = r.f64()?;
        let oob_score = match has_oob {
            0 => None,
            1 => Some(oob),
            other => return Err(err(format!("invalid OOB flag {other}"))),
        };
        let mut trees = Vec::with_capacity(n_trees.min(r.buf.len() / 8));
        for t in 0..n_trees {
            trees
                .push(read_tree(&mut r, n_features, k).map_err(|e| err(format!("tree {t}: {e}")))?);
        }
        if !r.buf.is_empty() {
            return Err(err(format!(
                "{} unexpected bytes after the last tree",
                r.buf.len()
            )));
        }
        Ok(RandomForest::assemble(
            n_features,
            task,
            classes,
            trees,
            importances,
            oob_score,
            None,
        ))
    }
}

/// Appends one tree in the shared encoding [`read_tree`] reads: `n_nodes u32`, `n_leaves u32`, nodes
/// (`threshold f32`, `feature u32`, `child u32`), covers `f32 x n_nodes`, leaf values `f32 x n_leaves x k`.
pub(crate) fn put_tree(out: &mut Vec<u8>, t: &Tree, k: usize) {
    put_u32(out, t.nodes.len());
    put_u32(out, t.leaf_values.len() / k);
    for n in &t.nodes {
        out.extend_from_slice(&n.threshold.to_le_bytes());
        out.extend_from_slice(&n.feature.to_le_bytes());
        out.extend_from_slice(&n.child.to_le_bytes());
    }
    t.cover
        .iter()
        .for_each(|c| out.extend_from_slice(&c.to_le_bytes()));
    t.leaf_values
        .iter()
        .for_each(|v| out.extend_from_slice(&v.to_le_bytes()));
}

/// Appends the CRC-32 of everything before it: the end of every model file ([`checked_body`] checks it).
pub(crate) fn seal(mut out: Vec<u8>) -> Vec<u8> {
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// The body of a model file after its magic and version, once both match and its trailing CRC-32 is right:
/// the checks every model kind's `from_bytes` starts with (`what` names the kind in the errors). Returns the
/// reader and the file's version, one of `versions`.
pub(crate) fn checked_body<'a>(
    bytes: &'a [u8],
    magic: &[u8; 8],
    what: &str,
    versions: std::ops::RangeInclusive<u32>,
) -> Result<(Reader<'a>, u32), ForestError> {
    if bytes.len() < magic.len() + 4 {
        return Err(err(format!(
            "truncated: {} bytes is shorter than the header",
            bytes.len()
        )));
    }
    if &bytes[..magic.len()] != magic {
        return Err(err(format!(
            "not a KubePulse {what} model (bad magic bytes)"
        )));
    }
    let version = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
    if !versions.contains(&version) {
        let (first, last) = (versions.start(), versions.end());
        let reads = if first == last {
            format!("version {last}")
        } else {
            format!("versions {first} to {last}")
        };
        return Err(err(format!(
            "unsupported format version {version} (this build reads {reads}): written by a newer build?"
        )));
    }
    if bytes.len() < magic.len() + 8 {
        return Err(err("truncated: no checksum".into()));
    }
    let (body, tail) = bytes.split_at(bytes.len() - 4);
    let stored = u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]);
    let actual = crc32fast::hash(body);
    if stored != actual {
        return Err(err(format!(
            "checksum mismatch (stored {stored:08x}, computed {actual:08x}): the file is truncated or corrupted"
        )));
    }
    Ok((Reader { buf: &body[12..] }, version))
}

pub(crate) fn read_tree(r: &mut Reader<'_>, n_features: usize, k: usize) -> Result<Tree, String> {
    let n_nodes = r.u32().map_err(|e| e.to_string())? as usize;
    let n_leaves = r.u32().map_err(|e| e.to_string())? as usize;
    if n_nodes == 0 || n_leaves == 0 || n_leaves > n_nodes {
        return Err(format!("{n_nodes} nodes and {n_leaves} leaves"));
    }
    r.need(n_nodes.saturating_mul(16))
        .map_err(|e| e.to_string())?;
    let mut nodes = Vec::with_capacity(n_nodes);
    for i in 0..n_nodes {
        let threshold = f32::from_bits(r.u32().map_err(|e| e.to_string())?);
        let feature = r.u32().map_err(|e| e.to_string())?;
        let child = r.u32().map_err(|e| e.to_string())?;
        let node = Node {
            threshold,
            feature,
            child,
        };
        if node.is_leaf() {
            if child as usize >= n_leaves {
                return Err(format!("node {i}: leaf index {child} out of range"));
            }
        } else if (feature & !MISSING_LEFT) as usize >= n_features
            || (child as usize) <= i
            || child as usize + 1 >= n_nodes
        {
            return Err(format!(
                "node {i}: invalid feature {feature} or child {child}"
            ));
        }
        nodes.push(node);
    }
    // A tree: every node but the root is the child of exactly one node (children come after their
    // parent, so there is no cycle). Shared children would make a graph whose paths explode.
    let mut has_parent = vec![false; n_nodes];
    for (i, node) in nodes.iter().enumerate().filter(|(_, n)| !n.is_leaf()) {
        for c in [node.child as usize, node.child as usize + 1] {
            if std::mem::replace(&mut has_parent[c], true) {
                return Err(format!("node {i}: child {c} already has a parent"));
            }
        }
    }
    if let Some(orphan) = has_parent.iter().skip(1).position(|&p| !p) {
        return Err(format!("node {} has no parent", orphan + 1));
    }
    let cover = r.f32s(n_nodes).map_err(|e| e.to_string())?;
    let leaf_values = r
        .f32s(n_leaves.saturating_mul(k))
        .map_err(|e| e.to_string())?;
    debug_assert!(
        nodes
            .iter()
            .all(|n| n.feature != LEAF || n.child < n_leaves as u32)
    );
    Ok(Tree {
        nodes,
        cover,
        leaf_values,
    })
}

pub(crate) fn put_u32(out: &mut Vec<u8>, v: usize) {
    // Sizes are bounded by checks at fit time (features < 2^31, nodes per tree < rows * 2).
    out.extend_from_slice(&(v as u32).to_le_bytes());
}

pub(crate) fn err(msg: String) -> ForestError {
    ForestError::Format(msg)
}

/// A cursor that fails (never panics) when the input runs out.
pub(crate) struct Reader<'a> {
    pub buf: &'a [u8],
}

impl Reader<'_> {
    pub(crate) fn need(&self, n: usize) -> Result<(), ForestError> {
        if self.buf.len() < n {
            return Err(err(format!(
                "truncated: need {n} more bytes, {} left",
                self.buf.len()
            )));
        }
        Ok(())
    }
    pub(crate) fn take<const N: usize>(&mut self) -> Result<[u8; N], ForestError> {
        self.need(N)?;
        let (head, rest) = self.buf.split_at(N);
        self.buf = rest;
        let mut a = [0u8; N];
        a.copy_from_slice(head);
        Ok(a)
    }
    pub(crate) fn u8(&mut self) -> Result<u8, ForestError> {
        Ok(self.take::<1>()?[0])
    }
    pub(crate) fn u32(&mut self) -> Result<u32, ForestError> {
        Ok(u32::from_le_bytes(self.take()?))
    }
    pub(crate) fn f64(&mut self) -> Result<f64, ForestError> {
        Ok(f64::from_le_bytes(self.take()?))
    }
    pub(crate) fn f64s(&mut self, n: usize) -> Result<Vec<f64>, ForestError> {
        self.need(n.saturating_mul(8))?;
        (0..n).map(|_| self.f64()).collect()
    }
    pub(crate) fn f32s(&mut self, n: usize) -> Result<Vec<f32>, ForestError> {
        self.need(n.saturating_mul(4))?;
        (0..n)
            .map(|_| Ok(f32::from_le_bytes(self.take()?)))
            .collect()
    }
}
