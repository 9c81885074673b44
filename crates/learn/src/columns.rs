//! Dataset columns matched to a model's metrics **by name**: the one resolver of every path where a
//! model meets data — `eval --model` and `train`'s hold-outs on a dataset ([`align`]), `serve`'s window
//! form and `watch`'s windows ([`ModelBundle::predict_window`](crate::bundle::ModelBundle::predict_window)),
//! `watch`'s query set.
//!
//! A model records the metric names it was trained on ([`FeatureSpec::metrics`](crate::features::FeatureSpec));
//! the data brings its own. [`resolve`] gives, for each model metric in model order, the index of the
//! data column that feeds it — through an optional [`ColumnMap`] (`model metric = "data column"`, the
//! file of `kubepulse eval --columns MAP.toml`) — or an error naming every missing column. The position of
//! a column never matters; columns the model does not use are ignored and listed in
//! [`Resolution::unused`]. A model of one [`Level`] applied to data of the other is an error of its own.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::Path;

use thiserror::Error;

use crate::dataset::{Dataset, Series};
use crate::error::LearnError;
use crate::quote;

/// What the rows of a dataset (or a model's training data) describe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// One row per workload or node (`namespace/deployment`, `cluster/node`): the window model's data.
    Target,
    /// One row per cluster: the original service's snapshot fields (`kubepulse simulate --level cluster`).
    Cluster,
}

impl Level {
    /// The level a set of column names implies: [`Level::Cluster`] when more than half of them (peer
    /// columns aside) are cluster snapshot fields ([`crate::snapshot::FIELDS`]), else [`Level::Target`].
    pub fn of<S: AsRef<str>>(columns: &[S]) -> Self {
        let own = || {
            columns
                .iter()
                .map(AsRef::as_ref)
                .filter(|c| !crate::context::is_peer_column(c))
        };
        let snapshot = own()
            .filter(|c| crate::snapshot::FIELDS.contains(c))
            .count();
        if 2 * snapshot > own().count() {
            Self::Cluster
        } else {
            Self::Target
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Level::Target => "per-target (deployment or node)",
            Level::Cluster => "cluster snapshot",
        })
    }
}

/// Why a model's metrics cannot be matched to the data's columns.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ColumnsError {
    /// Model metrics without a data column.
    #[error(
        "the data lacks {} of the model's {model_count} columns: {} (the data has: {})",
        .missing.len(), quote::names(.missing), quote::names(.available)
    )]
    Missing {
        /// The model metrics no data column feeds, in model order.
        missing: Vec<String>,
        /// How many metrics the model has.
        model_count: usize,
        /// The data's columns, in data order.
        available: Vec<String>,
    },
    /// A model of one level applied to data of the other.
    #[error(
        "level mismatch: the model is a {model} model (columns {}), the data is {data} level \
         (columns {}); a cluster snapshot model needs a `--level cluster` dataset and a window model a \
         per-target one",
        quote::names(.model_columns), quote::names(.data_columns)
    )]
    LevelMismatch {
        /// The model's level.
        model: Level,
        /// The data's level.
        data: Level,
        /// The model's columns.
        model_columns: Vec<String>,
        /// The data's columns.
        data_columns: Vec<String>,
    },
    /// The same column name twice in the data (or twice in the model's list).
    #[error("column `{}` appears twice in the {side}", quote::clip(.name))]
    Duplicate {
        /// The repeated name.
        name: String,
        /// `data` or `model`.
        side: &'static str,
    },
    /// Column-map entries whose key is not a metric of the model.
    #[error(
        "the column map names {}, not a column of the model (its columns: {})",
        quote::names(.unknown), quote::names(.model)
    )]
    UnknownMapped {
        /// The keys that are not model metrics.
        unknown: Vec<String>,
        /// The model's metrics.
        model: Vec<String>,
    },
    /// Column-map entries whose value is not a column of the data.
    #[error(
        "the column map points to {}, not a column of the data (the data has: {})",
        quote::names(.absent), quote::names(.available)
    )]
    MappedAbsent {
        /// The mapped data columns that do not exist.
        absent: Vec<String>,
        /// The data's columns.
        available: Vec<String>,
    },
    /// Two model metrics mapped to one data column.
    #[error(
        "the column map maps both `{}` and `{}` to data column `{}`",
        quote::clip(.first), quote::clip(.second), quote::clip(.column)
    )]
    MappedTwice {
        /// One model metric.
        first: String,
        /// The other.
        second: String,
        /// The data column both point to.
        column: String,
    },
}

/// What becomes of a model metric the data has no column for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum MissingColumns {
    /// An error naming every missing column (the default: a model fed less than it was trained on
    /// answers something else).
    #[default]
    Error,
    /// The metric is fed as missing values (NaN) at every sample, for a model trained with missing
    /// values (its forests route them); the columns are listed in [`Resolution::nan`] so callers report
    /// them.
    Nan,
}

/// Data column names for model metrics whose names differ (`model metric → data column`); a metric
/// the map does not name is looked up under its own name. Also says what becomes of a metric found
/// under neither ([`MissingColumns`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ColumnMap {
    to_data: BTreeMap<String, String>,
    missing: MissingColumns,
}

impl ColumnMap {
    /// A map from `(model metric, data column)` pairs; two metrics mapped to one column is an error.
    pub fn new(pairs: impl IntoIterator<Item = (String, String)>) -> Result<Self, ColumnsError> {
        let to_data: BTreeMap<String, String> = pairs.into_iter().collect();
        let mut seen: HashMap<&str, &str> = HashMap::new();
        for (metric, column) in &to_data {
            if let Some(first) = seen.insert(column, metric) {
                return Err(ColumnsError::MappedTwice {
                    first: first.to_string(),
                    second: metric.clone(),
                    column: column.clone(),
                });
            }
        }
        Ok(Self {
            to_data,
            missing: MissingColumns::Error,
        })
    }

    /// This map, with missing model metrics handled by `missing`.
    pub fn with_missing(mut self, missing: MissingColumns) -> Self {
        self.missing = missing;
        self
    }

    /// What becomes of a model metric the data lacks.
    pub fn missing(&self) -> MissingColumns {
        self.missing
    }

    /// Parses the TOML form: one `model_metric = "data column"` line per renamed metric (quote keys
    /// with `:` or `.`, e.g. `"peers_mean:cpu" = "..."`).
    pub fn from_toml(text: &str) -> Result<Self, String> {
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            e.to_string().lines().next().unwrap_or_default().to_string()
        })?;
        let mut pairs = Vec::with_capacity(table.len());
        for (metric, value) in table {
            match value {
                toml::Value::String(column) => pairs.push((metric, column)),
                other => {
                    return Err(format!(
                        "`{}` = {}: the value must be a string, the data column's name",
                        quote::clip(&metric),
                        other.type_str()
                    ));
                }
            }
        }
        Self::new(pairs).map_err(|e| e.to_string())
    }

    /// Reads a column map file ([`ColumnMap::from_toml`]); errors name the file.
    pub fn read(path: &Path) -> Result<Self, LearnError> {
        let text = std::fs::read_to_string(path).map_err(|e| LearnError::io(path, e))?;
        Self::from_toml(&text).map_err(|message| LearnError::ColumnMapFile {
            path: path.to_path_buf(),
            message,
        })
    }

    /// Whether the map renames nothing.
    pub fn is_empty(&self) -> bool {
        self.to_data.is_empty()
    }

    /// The data column that feeds a model metric.
    pub fn source<'a>(&'a self, metric: &'a str) -> &'a str {
        self.to_data.get(metric).map_or(metric, String::as_str)
    }
}

/// How a model's metrics were found in the data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    /// For each model metric, in model order, the index of the data column that feeds it; `None` for a
    /// metric fed as missing values ([`MissingColumns::Nan`]).
    pub index: Vec<Option<usize>>,
    /// Data columns no model metric uses (ignored), sorted by name.
    pub unused: Vec<String>,
    /// Model metrics the data lacks, fed as missing values (NaN), in model order.
    pub nan: Vec<String>,
}

impl Resolution {
    /// Whether the data's columns are exactly the model's, in the model's order.
    pub fn is_identity(&self, data_columns: usize) -> bool {
        self.index.len() == data_columns
            && self.index.iter().enumerate().all(|(i, &j)| j == Some(i))
    }
}

fn first_duplicate<S: AsRef<str>>(names: &[S]) -> Option<&str> {
    let mut seen = std::collections::HashSet::with_capacity(names.len());
    names
        .iter()
        .map(AsRef::as_ref)
        .find(|&name| !seen.insert(name))
}

fn owned<S: AsRef<str>>(names: &[S]) -> Vec<String> {
    names.iter().map(|s| s.as_ref().to_string()).collect()
}

/// Matches each model metric to a data column by name, through `map` (see the module docs).
///
/// Errors, in this order: a name twice in the data or the model; map keys that are not model metrics;
/// map values that are not data columns; a [`Level`] mismatch; model metrics without a column.
pub fn resolve<M: AsRef<str>, D: AsRef<str>>(
    model: &[M],
    data: &[D],
    map: &ColumnMap,
) -> Result<Resolution, ColumnsError> {
    if let Some(name) = first_duplicate(data) {
        return Err(ColumnsError::Duplicate {
            name: name.to_string(),
            side: "data",
        });
    }
    if let Some(name) = first_duplicate(model) {
        return Err(ColumnsError::Duplicate {
            name: name.to_string(),
            side: "model",
        });
    }
    let position: HashMap<&str, usize> = data
        .iter()
        .enumerate()
        .map(|(i, d)| (d.as_ref(), i))
        .collect();
    let unknown: Vec<String> = map
        .to_data
        .keys()
        .filter(|k| !model.iter().any(|m| m.as_ref() == k.as_str()))
        .cloned()
        .collect();
    if !unknown.is_empty() {
        return Err(ColumnsError::UnknownMapped {
            unknown,
            model: owned(model),
        });
    }
    let absent: Vec<String> = map
        .to_data
        .values()
        .filter(|c| !position.contains_key(c.as_str()))
        .cloned()
        .collect();
    if !absent.is_empty() {
        return Err(ColumnsError::MappedAbsent {
            absent,
            available: owned(data),
        });
    }
    // The data as the model would name it: mapped columns under their model names.
    let from_data: HashMap<&str, &str> = map
        .to_data
        .iter()
        .map(|(m, c)| (c.as_str(), m.as_str()))
        .collect();
    let seen_as: Vec<&str> = data
        .iter()
        .map(|d| from_data.get(d.as_ref()).copied().unwrap_or(d.as_ref()))
        .collect();
    let (model_level, data_level) = (Level::of(model), Level::of(&seen_as));
    if model_level != data_level {
        return Err(ColumnsError::LevelMismatch {
            model: model_level,
            data: data_level,
            model_columns: owned(model),
            data_columns: owned(data),
        });
    }
    let mut index = Vec::with_capacity(model.len());
    let mut missing = Vec::new();
    for metric in model {
        let found = position.get(map.source(metric.as_ref())).copied();
        if found.is_none() {
            missing.push(metric.as_ref().to_string());
        }
        index.push(found);
    }
    if !missing.is_empty() && (map.missing == MissingColumns::Error || missing.len() == model.len())
    {
        // Even as NaN, a model fed none of its metrics predicts on nothing.
        return Err(ColumnsError::Missing {
            missing,
            model_count: model.len(),
            available: owned(data),
        });
    }
    let mut used = vec![false; data.len()];
    for &i in index.iter().flatten() {
        used[i] = true;
    }
    let mut unused: Vec<String> = data
        .iter()
        .zip(&used)
        .filter(|(_, u)| !**u)
        .map(|(d, _)| d.as_ref().to_string())
        .collect();
    unused.sort();
    Ok(Resolution {
        index,
        unused,
        nan: missing,
    })
}

/// The dataset re-indexed to the model: exactly the model's metrics, under the model's names, in the
/// model's order (so every later stage can take column `m` as model metric `m`). The dataset itself
/// when it already is; an owned dataset is re-indexed in place (columns moved, never copied); a borrowed
/// one copies only the columns the model uses.
pub fn align<'a, M: AsRef<str>>(
    dataset: Cow<'a, Dataset>,
    model: &[M],
    map: &ColumnMap,
) -> Result<(Cow<'a, Dataset>, Resolution), ColumnsError> {
    let r = resolve(model, &dataset.metrics, map)?;
    let names = owned(model);
    if r.is_identity(dataset.metrics.len()) && dataset.metrics == names {
        return Ok((dataset, r));
    }
    let aligned = match dataset {
        Cow::Owned(mut d) => {
            for s in &mut d.series {
                let mut old = std::mem::take(&mut s.columns);
                let n = s.timestamps.len();
                // `resolve` maps distinct metrics to distinct columns, so each is taken once.
                s.columns = r
                    .index
                    .iter()
                    .map(|j| j.map_or_else(|| vec![f64::NAN; n], |j| std::mem::take(&mut old[j])))
                    .collect();
            }
            d.metrics = names;
            d
        }
        Cow::Borrowed(d) => Dataset {
            mitigated: d.mitigated.clone(),
            metrics: names,
            series: d
                .series
                .iter()
                .map(|s| Series {
                    target: s.target.clone(),
                    timestamps: s.timestamps.clone(),
                    columns: r
                        .index
                        .iter()
                        .map(|j| {
                            j.map_or_else(
                                || vec![f64::NAN; s.timestamps.len()],
                                |j| s.columns[j].clone(),
                            )
                        })
                        .collect(),
                })
                .collect(),
            events: d.events.clone(),
        },
    };
    Ok((Cow::Owned(aligned), r))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn columns_are_found_by_name_whatever_their_position() {
        let r = resolve(
            &["a", "b", "c"],
            &["c", "x", "a", "b"],
            &ColumnMap::default(),
        )
        .unwrap();
        assert_eq!(r.index, vec![Some(2), Some(3), Some(0)]);
        assert_eq!(r.unused, names(&["x"]));
        assert!(!r.is_identity(4));
        let r = resolve(&["a", "b"], &["a", "b"], &ColumnMap::default()).unwrap();
        assert!(r.is_identity(2));
    }

    #[test]
    fn every_missing_column_is_named_in_one_line() {
        let e = resolve(&["a", "b", "c"], &["b"], &ColumnMap::default()).unwrap_err();
        assert!(
            matches!(&e, ColumnsError::Missing { missing, .. } if *missing == names(&["a", "c"]))
        );
        let text = e.to_string();
        assert!(
            text.contains("lacks 2 of the model's 3 columns: `a`, `c`"),
            "{text}"
        );
        assert!(!text.contains('\n'), "{text}");
    }

    #[test]
    fn missing_columns_become_nan_only_when_asked_and_never_all_of_them() {
        let nan = ColumnMap::default().with_missing(MissingColumns::Nan);
        let r = resolve(&["a", "b", "c"], &["c", "x"], &nan).unwrap();
        assert_eq!(r.index, vec![None, None, Some(0)]);
        assert_eq!(r.nan, names(&["a", "b"]));
        assert_eq!(r.unused, names(&["x"]));
        assert!(resolve(&["a", "b", "c"], &["c", "x"], &ColumnMap::default()).is_err());
        let e = resolve(&["a", "b"], &["x"], &nan).unwrap_err();
        assert!(matches!(e, ColumnsError::Missing { .. }), "{e}");
        let d = Dataset {
            mitigated: Vec::new(),
            metrics: names(&["c", "x"]),
            series: vec![Series {
                target: "t".into(),
                timestamps: vec![1, 2],
                columns: vec![vec![1.0, 2.0], vec![9.0, 9.0]],
            }],
            events: vec![],
        };
        for data in [Cow::Borrowed(&d), Cow::Owned(d.clone())] {
            let (a, r) = align(data, &["a", "c"], &nan).unwrap();
            assert_eq!(a.metrics, names(&["a", "c"]));
            assert!(a.series[0].columns[0].iter().all(|v| v.is_nan()));
            assert_eq!(a.series[0].columns[1], vec![1.0, 2.0]);
            assert_eq!(r.nan, names(&["a"]));
        }
    }

    #[test]
    fn a_map_renames_and_its_mistakes_are_named() {
        let map = ColumnMap::from_toml("a = \"A\"\n\"peers_mean:b\" = \"B\"\n").unwrap();
        let r = resolve(&["a", "peers_mean:b"], &["B", "A"], &map).unwrap();
        assert_eq!(r.index, vec![Some(1), Some(0)]);
        let e = resolve(&["a", "peers_mean:b"], &["B"], &map).unwrap_err();
        assert!(
            matches!(&e, ColumnsError::MappedAbsent { absent, .. } if *absent == names(&["A"]))
        );
        let e = resolve(&["a"], &["A", "B"], &map).unwrap_err();
        assert!(
            matches!(&e, ColumnsError::UnknownMapped { unknown, .. } if *unknown == names(&["peers_mean:b"]))
        );
        let e = ColumnMap::from_toml("a = \"X\"\nb = \"X\"\n").unwrap_err();
        assert!(e.contains("both `a` and `b`"), "{e}");
        let e = ColumnMap::from_toml("a = 3\n").unwrap_err();
        assert!(e.contains("must be a string"), "{e}");
        let e = ColumnMap::from_toml("a = \n").unwrap_err();
        assert!(!e.is_empty() && !e.contains('\n'), "{e}");
    }

    #[test]
    fn duplicates_and_levels_are_errors() {
        let e = resolve(&["a"], &["a", "a"], &ColumnMap::default()).unwrap_err();
        assert!(
            matches!(e, ColumnsError::Duplicate { side: "data", .. }),
            "{e}"
        );
        let cluster: Vec<&str> = crate::snapshot::FIELDS.to_vec();
        let e = resolve(
            &cluster,
            &["cpu_usage_cores", "restarts_total"],
            &ColumnMap::default(),
        )
        .unwrap_err();
        assert!(
            matches!(
                e,
                ColumnsError::LevelMismatch {
                    model: Level::Cluster,
                    data: Level::Target,
                    ..
                }
            ),
            "{e}"
        );
        let e = resolve(&["cpu_usage_cores"], &cluster, &ColumnMap::default()).unwrap_err();
        assert!(e.to_string().starts_with("level mismatch"), "{e}");
    }

    #[test]
    fn align_moves_an_owned_dataset_and_leaves_an_aligned_one_alone() {
        let d = Dataset {
            mitigated: Vec::new(),
            metrics: names(&["b", "x", "a"]),
            series: vec![Series {
                target: "t".into(),
                timestamps: vec![1, 2],
                columns: vec![vec![1.0, 2.0], vec![9.0, 9.0], vec![3.0, 4.0]],
            }],
            events: vec![],
        };
        let (a, r) = align(Cow::Borrowed(&d), &["a", "b"], &ColumnMap::default()).unwrap();
        assert_eq!(r.unused, names(&["x"]));
        assert_eq!(a.metrics, names(&["a", "b"]));
        assert_eq!(a.series[0].columns, vec![vec![3.0, 4.0], vec![1.0, 2.0]]);
        let (b, _) = align(Cow::Owned(d.clone()), &["a", "b"], &ColumnMap::default()).unwrap();
        assert_eq!(*a, *b);
        let (same, _) = align(Cow::Borrowed(&*a), &["a", "b"], &ColumnMap::default()).unwrap();
        assert!(matches!(same, Cow::Borrowed(_)));
    }
}
