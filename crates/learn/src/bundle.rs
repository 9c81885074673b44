//! The model bundle: a window model pair, an optional cluster snapshot model pair, their metadata and
//! the model card, in one versioned, checksummed binary file (`.kpm`).
//!
//! Layout of version 4: magic `KPMODEL\0`, format version (u32 LE), header length (u64 LE), JSON header,
//! then for each of window binary, window types, snapshot binary, snapshot types, window ETA, snapshot
//! ETA, the window model's anomaly scorer (an Isolation Forest), and the window model's detector's
//! binary and type forests (`train --detector`; its settings are the header's `detector`): length (u64
//! LE, 0 = absent) and the forest's own bytes; finally an FNV-1a 64 checksum (u64 LE) of everything
//! before it.
//!
//! Version 3 is version 4 without the detector; version 2 is version 3 without the anomaly scorer;
//! version 1 is version 2 without the two ETA forests (its pairs predict the time to issue with the
//! heuristic). This build reads all four.

use std::collections::BTreeMap;
use std::path::Path;

use forest::{IsolationForest, RandomForest};

use crate::anomaly::Anomaly;
use crate::columns::ColumnMap;
use serde::{Deserialize, Serialize};

use crate::dataset::Fnv;
use crate::error::LearnError;
use crate::features::FeatureSpec;
use crate::model::{ModelPair, PairMeta};
use crate::prediction::{self, Contribution, Explanation, PredictOptions, Prediction};
use crate::snapshot::Snapshot;
use crate::window::Window;

const MAGIC: &[u8; 8] = b"KPMODEL\0";
/// The bundle format version this build writes (it reads this one and every earlier one).
pub const FORMAT_VERSION: u32 = 4;
/// The first version, before ETA forests: four forest sections.
const VERSION_WITHOUT_ETA: u32 = 1;
/// The last version before the anomaly scorer: six forest sections.
const VERSION_WITHOUT_ANOMALY: u32 = 2;
/// The last version before the detector: seven forest sections.
const VERSION_WITHOUT_DETECTOR: u32 = 3;

/// What a bundle is, for `/model`, logs and metrics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// Model name.
    pub name: String,
    /// Model version.
    pub version: String,
    /// When it was trained, RFC 3339.
    pub trained_at: String,
    /// Look-back window, seconds.
    pub window_secs: i64,
    /// Sample step, seconds.
    pub step_secs: i64,
    /// Prediction horizon, seconds.
    pub horizon_secs: i64,
    /// Metric columns a window must carry.
    pub metrics: Vec<String>,
    /// Issue types the model predicts.
    pub issue_types: Vec<String>,
    /// Alarm threshold on the issue probability.
    pub threshold: f64,
    /// Snapshot fields of the cluster snapshot model, if the bundle has one.
    pub snapshot_fields: Option<Vec<String>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Header {
    info: ModelInfo,
    window: PairMeta,
    snapshot: Option<PairMeta>,
    /// The window model's detector (`train --detector`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    detector: Option<PairMeta>,
    card_markdown: String,
    card: serde_json::Value,
}

/// A loaded model bundle: what `serve` and `watch` predict with.
#[derive(Debug, Clone)]
pub struct ModelBundle {
    info: ModelInfo,
    window: ModelPair,
    snapshot: Option<ModelPair>,
    card_markdown: String,
    card: serde_json::Value,
}

/// The default model, trained from the simulator by `scripts/train-default-model`.
static EMBEDDED: &[u8] = include_bytes!("../../../models/default.kpm");

/// One section: its length (u64 LE; 0 = absent) and its bytes.
fn put_section(out: &mut Vec<u8>, bytes: Option<Vec<u8>>) {
    let bytes = bytes.unwrap_or_default();
    out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
    out.extend_from_slice(&bytes);
}

fn put_forest(out: &mut Vec<u8>, forest: Option<&RandomForest>) {
    put_section(out, forest.map(RandomForest::to_bytes));
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], LearnError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or_else(|| {
                LearnError::Bundle(format!(
                    "truncated while reading {what} ({n} bytes at offset {})",
                    self.pos
                ))
            })?;
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u64(&mut self, what: &str) -> Result<u64, LearnError> {
        let b = self.take(8, what)?;
        Ok(u64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
    }
    fn section(&mut self, what: &str) -> Result<Option<&'a [u8]>, LearnError> {
        let len = self.u64(what)? as usize;
        if len == 0 {
            return Ok(None);
        }
        self.take(len, what).map(Some)
    }
    /// An optional section read by `parse` (a forest's own `from_bytes`).
    fn parsed<T>(
        &mut self,
        what: &str,
        parse: impl Fn(&[u8]) -> Result<T, forest::ForestError>,
    ) -> Result<Option<T>, LearnError> {
        self.section(what)?
            .map(parse)
            .transpose()
            .map_err(|e| LearnError::Bundle(format!("{what}: {e}")))
    }
    fn forest(&mut self, what: &str) -> Result<Option<RandomForest>, LearnError> {
        self.parsed(what, RandomForest::from_bytes)
    }
    fn isolation(&mut self, what: &str) -> Result<Option<IsolationForest>, LearnError> {
        self.parsed(what, IsolationForest::from_bytes)
    }
}

/// An optional forest and its description in the header come together or not at all.
fn sections_agree(what: &str, name: &str, forest: bool, header: bool) -> Result<(), LearnError> {
    match (forest, header) {
        (true, false) => Err(LearnError::Bundle(format!(
            "{what}: an {name} without its settings in the header"
        ))),
        (false, true) => Err(LearnError::Bundle(format!(
            "{what}: the header describes an {name} that is missing"
        ))),
        _ => Ok(()),
    }
}

fn check_pair(
    meta: PairMeta,
    binary: Option<RandomForest>,
    types: Option<RandomForest>,
    eta: Option<RandomForest>,
    anomaly: Option<IsolationForest>,
    what: &str,
) -> Result<ModelPair, LearnError> {
    let features = meta.features.clone().with_names();
    if features.names() != meta.feature_names.as_slice() {
        let first = features
            .names()
            .iter()
            .zip(&meta.feature_names)
            .position(|(a, b)| a != b)
            .unwrap_or(features.len().min(meta.feature_names.len()));
        return Err(LearnError::Bundle(format!(
            "{what}: the model's feature list ({} features) does not match this build's feature extractor \
             ({} features; first difference at position {first}: model `{}`, extractor `{}`)",
            meta.feature_names.len(),
            features.len(),
            meta.feature_names.get(first).map_or("-", String::as_str),
            features.names().get(first).map_or("-", String::as_str),
        )));
    }
    // Only an unsupervised pair (its anomaly scorer alone) has no binary forest.
    if binary.is_none() && meta.anomaly.is_none() {
        return Err(LearnError::Bundle(format!(
            "{what}: the binary forest is missing"
        )));
    }
    if let Some(binary) = binary.as_ref().filter(|b| b.n_features() != features.len()) {
        return Err(LearnError::Bundle(format!(
            "{what}: the forest has {} features, the feature list {}",
            binary.n_features(),
            features.len()
        )));
    }
    match (&eta, &meta.eta) {
        (Some(f), Some(_))
            if f.task() != forest::Task::Regression || f.n_features() != features.len() =>
        {
            return Err(LearnError::Bundle(format!(
                "{what}: the ETA forest is a {} of {} features; expected a regressor of {}",
                f.task(),
                f.n_features(),
                features.len()
            )));
        }
        (forest, header) => sections_agree(what, "ETA forest", forest.is_some(), header.is_some())?,
    }
    sections_agree(
        what,
        "anomaly scorer",
        anomaly.is_some(),
        meta.anomaly.is_some(),
    )?;
    let anomaly = match (&meta.anomaly, anomaly) {
        (Some(m), Some(f)) => Some(
            Anomaly::from_parts(m, f, &meta.feature_names)
                .map_err(|e| LearnError::Bundle(format!("{what}: {e}")))?,
        ),
        _ => None,
    };
    let mut meta = meta;
    meta.features = features;
    Ok(ModelPair {
        meta,
        binary,
        types,
        eta,
        anomaly,
        detector: None,
    })
}

impl ModelBundle {
    /// Assembles a bundle from trained pairs and the card.
    pub fn new(
        info: ModelInfo,
        window: ModelPair,
        snapshot: Option<ModelPair>,
        card_markdown: String,
        card: serde_json::Value,
    ) -> Self {
        Self {
            info,
            window,
            snapshot,
            card_markdown,
            card,
        }
    }

    /// Serialises the bundle.
    pub fn to_bytes(&self) -> Vec<u8> {
        let header = Header {
            info: self.info.clone(),
            window: self.window.meta.clone(),
            snapshot: self.snapshot.as_ref().map(|p| p.meta.clone()),
            detector: self.window.detector.as_ref().map(|d| d.meta.clone()),
            card_markdown: self.card_markdown.clone(),
            card: self.card.clone(),
        };
        let json = serde_json::to_vec(&header).unwrap_or_default();
        let mut out = Vec::new();
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(&(json.len() as u64).to_le_bytes());
        out.extend_from_slice(&json);
        put_forest(&mut out, self.window.binary.as_ref());
        put_forest(&mut out, self.window.types.as_ref());
        put_forest(
            &mut out,
            self.snapshot.as_ref().and_then(|p| p.binary.as_ref()),
        );
        put_forest(
            &mut out,
            self.snapshot.as_ref().and_then(|p| p.types.as_ref()),
        );
        put_forest(&mut out, self.window.eta.as_ref());
        put_forest(
            &mut out,
            self.snapshot.as_ref().and_then(|p| p.eta.as_ref()),
        );
        put_section(
            &mut out,
            self.window.anomaly.as_ref().map(|a| a.forest.to_bytes()),
        );
        let detector = self.window.detector.as_deref();
        put_forest(&mut out, detector.and_then(|d| d.binary.as_ref()));
        put_forest(&mut out, detector.and_then(|d| d.types.as_ref()));
        let mut h = Fnv::new();
        h.write(&out);
        out.extend_from_slice(&h.0.to_le_bytes());
        out
    }

    /// Reads a bundle of this build's format or an earlier one (a version 1 bundle has no ETA forests and
    /// no anomaly scorer);
    /// a truncated, corrupted, newer-version or feature-mismatched bundle is an error.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, LearnError> {
        if bytes.len() < MAGIC.len() + 4 + 8 + 8 || &bytes[..8] != MAGIC {
            return Err(LearnError::Bundle(
                "not a KubePulse model bundle (bad magic or too short)".into(),
            ));
        }
        let (body, sum) = bytes.split_at(bytes.len() - 8);
        let mut h = Fnv::new();
        h.write(body);
        if h.0.to_le_bytes() != sum {
            return Err(LearnError::Bundle(
                "checksum mismatch: the file is corrupted or truncated".into(),
            ));
        }
        let version = u32::from_le_bytes(body[8..12].try_into().unwrap_or([0; 4]));
        if !(VERSION_WITHOUT_ETA..=FORMAT_VERSION).contains(&version) {
            return Err(LearnError::Bundle(format!(
                "format version {version}, this build reads versions {VERSION_WITHOUT_ETA} to {FORMAT_VERSION}: \
                 written by a newer build? Use that build, or retrain the model with this one"
            )));
        }
        let mut r = Reader {
            bytes: body,
            pos: 12,
        };
        let len = r.u64("header length")? as usize;
        let header: Header = serde_json::from_slice(r.take(len, "header")?)
            .map_err(|e| LearnError::Bundle(format!("header: {e}")))?;
        let wb = r.forest("window binary forest")?;
        let wt = r.forest("window type forest")?;
        let sb = r.forest("snapshot binary forest")?;
        let st = r.forest("snapshot type forest")?;
        let (we, se) = if version == VERSION_WITHOUT_ETA {
            (None, None)
        } else {
            (
                r.forest("window ETA forest")?,
                r.forest("snapshot ETA forest")?,
            )
        };
        let wa = if version <= VERSION_WITHOUT_ANOMALY {
            None
        } else {
            r.isolation("window anomaly forest")?
        };
        let (db, dt) = if version <= VERSION_WITHOUT_DETECTOR {
            (None, None)
        } else {
            (
                r.forest("detector binary forest")?,
                r.forest("detector type forest")?,
            )
        };
        if r.pos != body.len() {
            return Err(LearnError::Bundle(format!(
                "{} unexpected bytes after the last forest",
                body.len() - r.pos
            )));
        }
        let mut window = check_pair(header.window, wb, wt, we, wa, "window model")?;
        window.detector = match header.detector {
            Some(meta) => {
                if db.is_none() {
                    return Err(LearnError::Bundle(
                        "detector: the header describes a detector whose binary forest is missing"
                            .into(),
                    ));
                }
                if meta.issue_types != window.meta.issue_types
                    || meta.feature_names != window.meta.feature_names
                {
                    return Err(LearnError::Bundle(
                        "detector: its issue types or features differ from the window model's"
                            .into(),
                    ));
                }
                Some(Box::new(check_pair(meta, db, dt, None, None, "detector")?))
            }
            None if db.is_some() || dt.is_some() => {
                return Err(LearnError::Bundle(
                    "detector: forests without their settings in the header".into(),
                ));
            }
            None => None,
        };
        let snapshot = match header.snapshot {
            Some(meta) => Some(check_pair(meta, sb, st, se, None, "snapshot model")?),
            None => None,
        };
        Ok(Self {
            info: header.info,
            window,
            snapshot,
            card_markdown: header.card_markdown,
            card: header.card,
        })
    }

    /// Reads a bundle file.
    pub fn load(path: &Path) -> Result<Self, LearnError> {
        let bytes = std::fs::read(path).map_err(|e| LearnError::io(path, e))?;
        Self::from_bytes(&bytes).map_err(|e| match e {
            LearnError::Bundle(m) => LearnError::Bundle(format!("{}: {m}", path.display())),
            other => other,
        })
    }

    /// Writes the bundle to a file.
    pub fn save(&self, path: &Path) -> Result<(), LearnError> {
        std::fs::write(path, self.to_bytes()).map_err(|e| LearnError::io(path, e))
    }

    /// The default model embedded in the binary (`models/default.kpm`).
    pub fn embedded() -> Result<Self, LearnError> {
        Self::from_bytes(EMBEDDED)
    }

    /// Name, version, window settings, metrics, types, threshold.
    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    /// The model card in Markdown.
    pub fn card_markdown(&self) -> &str {
        &self.card_markdown
    }

    /// The model card as JSON (the figures the Markdown card shows).
    pub fn card_json(&self) -> serde_json::Value {
        self.card.clone()
    }

    /// The window model pair.
    pub fn window_model(&self) -> &ModelPair {
        &self.window
    }

    /// The cluster snapshot model pair, if any.
    pub fn snapshot_model(&self) -> Option<&ModelPair> {
        self.snapshot.as_ref()
    }

    /// Predicts for one target's window. Its columns are matched to [`ModelInfo::metrics`] by name
    /// ([`crate::columns::resolve`]): every model metric must be there (a missing value is NaN in a
    /// column, not an absent column); columns the model does not use are ignored.
    pub fn predict_window(
        &self,
        w: &Window,
        options: PredictOptions,
    ) -> Result<Prediction, LearnError> {
        self.predict_window_with(w, options).map(|(p, _)| p)
    }

    /// [`ModelBundle::predict_window`], also returning the model metrics the window lacked (model order):
    /// with `options.missing` = [`crate::columns::MissingColumns::Nan`] they are predicted on as missing values
    /// throughout; with the default, they are an error.
    pub fn predict_window_with(
        &self,
        w: &Window,
        options: PredictOptions,
    ) -> Result<(Prediction, Vec<String>), LearnError> {
        let missing = options.missing;
        let names: Vec<&str> = w.columns.iter().map(|(n, _)| n.as_str()).collect();
        let resolution = crate::columns::resolve(
            &self.window.meta.features.metrics,
            &names,
            &ColumnMap::default().with_missing(missing),
        )
        .map_err(|e| {
            LearnError::Window(format!("target `{}`: {e}", crate::quote::clip(&w.target)))
        })?;
        // The extractor feeds a metric the window lacks as missing values.
        let features = self.window.meta.features.extract_window(w)?;
        let mut p = predict_row(&self.window, &features.row, options, Some(&w.target))?;
        p.baseline_seconds = features.baseline_secs.map(|s| s as f64);
        Ok((p, resolution.nan))
    }

    /// Predicts for one cluster snapshot with the snapshot model (trained on exactly these fields).
    pub fn predict_snapshot(
        &self,
        s: &Snapshot,
        options: PredictOptions,
    ) -> Result<Prediction, LearnError> {
        let pair = self
            .snapshot
            .as_ref()
            .ok_or_else(|| LearnError::Bundle("this model has no cluster snapshot model".into()))?;
        let row: Vec<f32> = pair
            .meta
            .features
            .metrics
            .iter()
            .map(|m| s.field(m) as f32)
            .collect();
        predict_row(pair, &row, options, None)
    }
}

/// Predicts from one feature row of a pair (shared by the window and snapshot paths), with the model's
/// threshold or the one `options` sets. A pair with a detector predicts the combined probability
/// ([`crate::model::detector`]), its type, time to issue and explanation from the model whose score it
/// shows.
pub fn predict_row(
    pair: &ModelPair,
    row: &[f32],
    options: PredictOptions,
    target: Option<&str>,
) -> Result<Prediction, LearnError> {
    let (Some(detector), Some(_)) = (&pair.detector, &pair.binary) else {
        return predict_single(pair, row, options, target, None);
    };
    let tp = pair.meta.threshold;
    let (p, from_detector) = crate::model::detector::combined(
        issue_probability(pair, row)?,
        tp,
        issue_probability(detector, row)?,
        detector.meta.threshold,
    );
    let source = if from_detector { detector } else { pair };
    predict_single(source, row, options, target, Some((p, tp)))
}

/// A supervised pair's calibrated issue probability of one row.
fn issue_probability(pair: &ModelPair, row: &[f32]) -> Result<f64, LearnError> {
    let Some(binary) = &pair.binary else {
        return Err(LearnError::Bundle(
            "a supervised pair needs a binary forest".into(),
        ));
    };
    let mut pb = vec![0.0; binary.classes().len()];
    binary.predict_proba_row(row, &mut pb)?;
    let raw = binary
        .classes()
        .iter()
        .position(|&c| c == 1.0)
        .map_or(0.0, |c| pb[c]);
    Ok(pair.meta.calibration.apply(raw))
}

/// [`predict_row`] of one pair; `shown` = (probability, its threshold) replaces the pair's own
/// probability and threshold (the combined probability of a predictor and its detector).
fn predict_single(
    pair: &ModelPair,
    row: &[f32],
    options: PredictOptions,
    target: Option<&str>,
    shown: Option<(f64, f64)>,
) -> Result<Prediction, LearnError> {
    let meta = &pair.meta;
    let explain = options.explain;
    let Some(binary) = &pair.binary else {
        return predict_anomaly(pair, row, options, target);
    };
    let issue_col = binary.classes().iter().position(|&c| c == 1.0);
    let (p, own_threshold) = match shown {
        Some(shown) => shown,
        None => (issue_probability(pair, row)?, meta.threshold),
    };
    let k = meta.issue_types.len().max(1);
    let mut q = vec![0.0; k];
    match &pair.types {
        Some(tf) => {
            let mut pt = vec![0.0; tf.classes().len()];
            tf.predict_proba_row(row, &mut pt)?;
            for (c, &label) in tf.classes().iter().enumerate() {
                q[(label as usize).min(k - 1)] += pt[c];
            }
        }
        None => q[0] = 1.0,
    }
    let best = (0..k).fold(0, |b, i| if q[i] > q[b] { i } else { b });
    let expected = p >= own_threshold;
    let will = p >= options.threshold.unwrap_or(own_threshold);
    let mut probabilities = BTreeMap::new();
    probabilities.insert("normal".to_string(), 1.0 - p);
    for (i, t) in meta.issue_types.iter().enumerate() {
        probabilities.insert(t.clone(), p * q[i]);
    }
    let issue_type = match (will, expected) {
        (false, _) => "normal".to_string(),
        (true, true) => meta
            .issue_types
            .get(best)
            .cloned()
            .unwrap_or_else(|| "issue".into()),
        (true, false) => likeliest_issue(&probabilities),
    };
    let names = &meta.feature_names;
    let value_of = |name: &str| {
        names
            .iter()
            .position(|n| n == name)
            .map(|i| f64::from(row[i]))
            .filter(|v| v.is_finite())
    };
    // Only an issue the model itself expects has a time to issue.
    let time_to_issue_seconds = if will && expected {
        Some(pair.time_to_issue_secs(row, best)?)
    } else {
        None
    };
    let explanation = if explain || will {
        // Only the issue class is explained: half the work of every class.
        let c = issue_col.unwrap_or(0);
        let mut shap = Vec::new();
        binary.shap_values_of_class(row, c, &mut shap)?;
        let mut contribs: Vec<Contribution> = (0..names.len())
            .map(|f| Contribution {
                feature: names[f].clone(),
                value: f64::from(row[f]),
                contribution: shap[f],
            })
            .collect();
        contribs.sort_by(|a, b| b.contribution.abs().total_cmp(&a.contribution.abs()));
        contribs.truncate(5);
        let summary = prediction::summary(&contribs, &value_of);
        Some(Explanation {
            summary,
            top_features: contribs,
        })
    } else {
        None
    };
    Ok(Prediction {
        will_have_issue: will,
        issue_probability: p,
        issue_type: issue_type.clone(),
        probabilities,
        time_to_issue_seconds,
        horizon_seconds: meta.window.horizon_secs as f64,
        explanation,
        recommendation: will.then(|| prediction::recommendation(&issue_type, target)),
        baseline_seconds: None,
    })
}

/// Predicts with an unsupervised pair: the probability is the anomaly score (0–1), the type `anomaly`,
/// and the explanation each input's exact share of the score (TreeSHAP of the isolation path length, as
/// `log2` of the score: positive = makes the window more anomalous).
fn predict_anomaly(
    pair: &ModelPair,
    row: &[f32],
    options: PredictOptions,
    target: Option<&str>,
) -> Result<Prediction, LearnError> {
    let explain = options.explain;
    let meta = &pair.meta;
    let (Some(anomaly), Some(am)) = (&pair.anomaly, &meta.anomaly) else {
        return Err(LearnError::Bundle(
            "a pair without a binary forest needs an anomaly scorer".into(),
        ));
    };
    let p = anomaly.score_row(row)?;
    let will = p >= options.threshold.unwrap_or(meta.threshold);
    let issue_type = meta
        .issue_types
        .first()
        .cloned()
        .unwrap_or_else(|| crate::anomaly::ISSUE_TYPE.to_string());
    let probabilities = BTreeMap::from([("normal".to_string(), 1.0 - p), (issue_type.clone(), p)]);
    let explanation = if explain || will {
        let inputs: Vec<f32> = am
            .features
            .iter()
            .map(|f| {
                meta.feature_names
                    .iter()
                    .position(|n| n == f)
                    .map_or(f32::NAN, |i| row[i])
            })
            .collect();
        let shares = anomaly
            .forest
            .explain_row(&inputs)?
            .log2_score_contributions();
        let mut contribs: Vec<Contribution> = am
            .features
            .iter()
            .zip(&inputs)
            .zip(&shares)
            .map(|((f, &v), &c)| Contribution {
                feature: f.clone(),
                value: f64::from(v),
                contribution: c,
            })
            .collect();
        contribs.sort_by(|a, b| b.contribution.total_cmp(&a.contribution));
        contribs.truncate(5);
        let summary = match contribs.first() {
            Some(c) if c.contribution > 0.0 => format!(
                "unusual for this target: {} = {} (anomaly score {:.2})",
                c.feature,
                if c.value.is_finite() {
                    format!("{:.3}", c.value)
                } else {
                    "missing".into()
                },
                p
            ),
            _ => format!("anomaly score {p:.2}"),
        };
        Some(Explanation {
            summary,
            top_features: contribs,
        })
    } else {
        None
    };
    let shown = if will {
        issue_type
    } else {
        "normal".to_string()
    };
    Ok(Prediction {
        will_have_issue: will,
        issue_probability: p,
        issue_type: shown.clone(),
        probabilities,
        time_to_issue_seconds: None,
        horizon_seconds: meta.window.horizon_secs as f64,
        explanation,
        recommendation: will.then(|| prediction::recommendation(&shown, target)),
        baseline_seconds: None,
    })
}

/// The issue type with the highest probability (the last of equals, in name order): the type of an issue
/// only a threshold override declares.
fn likeliest_issue(probabilities: &BTreeMap<String, f64>) -> String {
    probabilities
        .iter()
        .filter(|(t, _)| t.as_str() != "normal")
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(t, _)| t.clone())
        .unwrap_or_else(|| "issue".to_owned())
}

/// Feature names a spec yields (re-exported for the card).
pub fn feature_names(spec: &FeatureSpec) -> &[String] {
    spec.names()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A bundle of format version 1, before ETA forests (`tests/fixtures/README.md`).
    static V1: &[u8] = include_bytes!("../tests/fixtures/bundle-v1.kpm");

    /// `bytes` with its version set to `version` and the checksum made right again.
    fn with_version(bytes: &[u8], version: u32) -> Vec<u8> {
        let mut body = bytes[..bytes.len() - 8].to_vec();
        body[8..12].copy_from_slice(&version.to_le_bytes());
        let mut h = Fnv::new();
        h.write(&body);
        body.extend_from_slice(&h.0.to_le_bytes());
        body
    }

    #[test]
    fn version_1_loads_without_eta_and_a_newer_version_is_a_clear_error() {
        let old = ModelBundle::from_bytes(V1).unwrap();
        assert!(old.window_model().eta.is_none());
        let e = ModelBundle::from_bytes(&with_version(V1, FORMAT_VERSION + 1))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("format version 5") && e.contains("newer build"),
            "{e}"
        );
        // A version 1 file claiming version 2 lacks the ETA sections: truncated, not misread.
        let e = ModelBundle::from_bytes(&with_version(V1, 2))
            .unwrap_err()
            .to_string();
        assert!(e.contains("window ETA forest"), "{e}");
        // And a version 4 file claiming version 1, 2 or 3 has bytes left over.
        let v4 = old.to_bytes();
        for older in [1, 2, 3] {
            let e = ModelBundle::from_bytes(&with_version(&v4, older))
                .unwrap_err()
                .to_string();
            assert!(e.contains("unexpected bytes"), "{e}");
        }
        // The embedded default model: ETA forests and a detector, no anomaly scorer.
        let default = ModelBundle::embedded().unwrap();
        assert!(default.window_model().anomaly.is_none());
        assert!(default.window_model().detector.is_some());
    }

    #[test]
    fn a_version_3_bundle_loads_unchanged_without_a_detector() {
        // The embedded bundle without its detector, written as version 3 (no detector sections).
        let mut bundle = ModelBundle::embedded().unwrap();
        bundle.window.detector = None;
        let v4 = bundle.to_bytes();
        let body = &v4[..v4.len() - 8];
        // The two empty detector sections are the last 16 bytes of the body.
        assert_eq!(&body[body.len() - 16..], &[0u8; 16]);
        let mut v3 = body[..body.len() - 16].to_vec();
        v3.extend_from_slice(&v4[v4.len() - 8..]);
        let v3 = with_version(&v3, 3);
        let old = ModelBundle::from_bytes(&v3).unwrap();
        assert!(old.window_model().detector.is_none());
        assert_eq!(
            old.to_bytes(),
            v4,
            "read back, it writes the same bundle as version 4"
        );
        // A version 4 file whose header names a detector without its forests is an error.
        let full = ModelBundle::embedded().unwrap().to_bytes();
        let header_only = {
            let mut b = ModelBundle::embedded().unwrap();
            let det = b.window.detector.as_mut().unwrap();
            det.binary = None;
            det.types = None;
            b.to_bytes()
        };
        assert_ne!(header_only, full);
        let e = ModelBundle::from_bytes(&header_only)
            .unwrap_err()
            .to_string();
        assert!(e.contains("detector"), "{e}");
    }

    /// The embedded model with its snapshot pair's own threshold set to `own`.
    fn embedded_with_threshold(own: f64) -> ModelBundle {
        let mut bundle = ModelBundle::embedded().unwrap();
        bundle
            .snapshot
            .as_mut()
            .expect("a snapshot pair")
            .meta
            .threshold = own;
        bundle
    }

    fn options(explain: bool, threshold: Option<f64>) -> PredictOptions {
        PredictOptions {
            explain,
            threshold,
            ..PredictOptions::default()
        }
    }

    /// As JSON, where a missing feature value (NaN) is `null` and equal to itself.
    fn json<T: Serialize>(value: &T) -> serde_json::Value {
        serde_json::to_value(value).unwrap()
    }

    #[test]
    fn threshold_override_turns_normal_into_the_likeliest_issue() {
        // The model itself never alarms; the override always does.
        let bundle = embedded_with_threshold(f64::INFINITY);
        let s = Snapshot::default();
        let own = bundle.predict_snapshot(&s, options(true, None)).unwrap();
        assert!(!own.will_have_issue && own.time_to_issue_seconds.is_none());
        let p = bundle
            .predict_snapshot(&s, options(false, Some(0.0)))
            .unwrap();
        assert!(p.will_have_issue);
        assert_eq!(p.probabilities, own.probabilities);
        let likeliest = p
            .probabilities
            .iter()
            .filter(|(t, _)| t.as_str() != "normal")
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(t, _)| t.clone())
            .unwrap();
        assert_eq!(p.issue_type, likeliest);
        assert_eq!(
            p.recommendation,
            Some(prediction::recommendation(&likeliest, None))
        );
        assert!(
            p.explanation.is_some(),
            "an issue always comes with its explanation"
        );
        assert_eq!(json(&p.explanation), json(&own.explanation));
        assert!(
            p.time_to_issue_seconds.is_none(),
            "no ETA when the model did not expect the issue"
        );
    }

    #[test]
    fn threshold_override_turns_an_issue_into_normal() {
        // The model itself always alarms; the override never does.
        let bundle = embedded_with_threshold(0.0);
        let s = Snapshot::default();
        let own = bundle.predict_snapshot(&s, options(false, None)).unwrap();
        assert!(own.will_have_issue && own.time_to_issue_seconds.is_some());
        assert!(own.explanation.is_some() && own.recommendation.is_some());
        let p = bundle
            .predict_snapshot(&s, options(false, Some(f64::INFINITY)))
            .unwrap();
        assert!(!p.will_have_issue);
        assert_eq!(p.issue_type, "normal");
        assert!(p.recommendation.is_none());
        assert!(p.time_to_issue_seconds.is_none());
        assert!(p.explanation.is_none(), "not asked for");
        let explained = bundle
            .predict_snapshot(&s, options(true, Some(f64::INFINITY)))
            .unwrap();
        assert_eq!(json(&explained.explanation), json(&own.explanation));
        // Overriding with the model's own threshold changes nothing.
        let same = bundle
            .predict_snapshot(&s, options(false, Some(0.0)))
            .unwrap();
        assert_eq!(json(&same), json(&own));
    }
}
