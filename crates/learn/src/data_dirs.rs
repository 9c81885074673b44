//! Several dataset directories read as one logical dataset ([`DataDirs`]): `--data DIR...` of `train`,
//! `eval` and `gate`, e.g. the per-shard datasets of `collect --shard i/n` (each holding only its
//! targets' rows and incidents).
//!
//! The rule: the dataset is the union of the directories, exactly the dataset of one directory holding
//! their union (the same model, byte for byte; tested).
//! - every directory has the same metric columns, in the same order (an error naming both otherwise);
//!   each may be CSV or Parquet;
//! - a target's rows are in one directory only (a target in two is an error naming both);
//! - every directory's events are read (each checked against the union's targets: an incident may name
//!   a target of another directory), in the order the directories are given, then sorted by
//!   (target, start) as one directory's are — the events file of the union is their concatenation.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use crate::dataset::{self, Dataset, Format, Incident, Series};
use crate::error::LearnError;
use crate::quote;

/// One or more dataset directories read as one (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataDirs(Vec<PathBuf>);

impl DataDirs {
    /// The dataset in these directories: at least one, none twice.
    pub fn new(dirs: Vec<PathBuf>) -> Result<Self, LearnError> {
        if dirs.is_empty() {
            return Err(LearnError::InvalidOption {
                name: "data",
                reason: "no dataset directory given".into(),
            });
        }
        let mut seen = HashSet::new();
        if let Some(twice) = dirs.iter().find(|d| !seen.insert(d.as_path())) {
            return Err(LearnError::InvalidOption {
                name: "data",
                reason: format!("{} is given twice", twice.display()),
            });
        }
        Ok(Self(dirs))
    }

    /// One directory.
    pub fn one(dir: impl Into<PathBuf>) -> Self {
        Self(vec![dir.into()])
    }

    /// The directories, in the order given.
    pub fn dirs(&self) -> &[PathBuf] {
        &self.0
    }

    /// The directories for messages: `a`, or `a + b + c`.
    pub fn display(&self) -> String {
        self.0
            .iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(" + ")
    }

    /// Every directory's metrics file format (each detected as [`Format::detect`] does).
    pub fn formats(&self) -> Result<Vec<Format>, LearnError> {
        self.0
            .iter()
            .map(|d| Format::detect(d).map_err(LearnError::from))
            .collect()
    }

    /// Rows of the union when every directory is Parquet (from the files' footers), else `None`.
    pub fn parquet_rows(&self) -> Result<Option<u64>, LearnError> {
        let mut rows = 0;
        for (dir, format) in self.0.iter().zip(self.formats()?) {
            if format != Format::Parquet {
                return Ok(None);
            }
            rows += columnar::MetricsReader::open(&dir.join("metrics.parquet"))?.num_rows();
        }
        Ok(Some(rows))
    }

    /// The metric column names (headers or schemas only: a cheap check before a long job); an error
    /// when two directories differ.
    pub fn metric_names(&self) -> Result<Vec<String>, LearnError> {
        let first = Dataset::read_metric_names(&self.0[0])?;
        for dir in &self.0[1..] {
            check_same_metrics(&self.0[0], &first, dir, &Dataset::read_metric_names(dir)?)?;
        }
        Ok(first)
    }

    /// Reads the union into memory (see the module docs), with a progress bar per directory when
    /// `progress`.
    pub fn read(&self, progress: bool) -> Result<Dataset, LearnError> {
        let mut metrics: Option<Vec<String>> = None;
        let mut series: Vec<Series> = Vec::new();
        let mut owner: HashMap<String, usize> = HashMap::new();
        for (k, dir) in self.0.iter().enumerate() {
            let (m, s) = dataset::read_dir_metrics(dir, progress)?;
            match &metrics {
                None => metrics = Some(m),
                Some(first) => check_same_metrics(&self.0[0], first, dir, &m)?,
            }
            for one in &s {
                if let Some(&other) = owner.get(&one.target) {
                    return Err(in_two(&one.target, &self.0[other], dir));
                }
                owner.insert(one.target.clone(), k);
            }
            series.extend(s);
        }
        series.sort_by(|a, b| a.target.cmp(&b.target));
        let known = |t: &str| owner.contains_key(t);
        let events = self.read_events(&known)?;
        Ok(Dataset {
            metrics: metrics.unwrap_or_default(),
            series,
            events,
            mitigated: Vec::new(),
        })
    }

    /// Every directory's events, each checked with `known` (the union's targets), concatenated in
    /// directory order and sorted by (target, start) (a stable sort: ties keep that order).
    pub(crate) fn read_events(
        &self,
        known: &dyn Fn(&str) -> bool,
    ) -> Result<Vec<Incident>, LearnError> {
        let mut events = Vec::new();
        for dir in &self.0 {
            let file = Format::detect(dir)?.metrics_file();
            events.extend(dataset::read_dir_events(dir, known, file)?);
        }
        if self.0.len() > 1 {
            events.sort_by(|a, b| (&a.target, a.start).cmp(&(&b.target, b.start)));
        }
        Ok(events)
    }
}

impl From<&Path> for DataDirs {
    fn from(dir: &Path) -> Self {
        Self::one(dir)
    }
}

impl From<PathBuf> for DataDirs {
    fn from(dir: PathBuf) -> Self {
        Self::one(dir)
    }
}

impl From<&PathBuf> for DataDirs {
    fn from(dir: &PathBuf) -> Self {
        Self::one(dir.clone())
    }
}

impl From<&DataDirs> for DataDirs {
    fn from(d: &DataDirs) -> Self {
        d.clone()
    }
}

/// An error unless `b`'s metric columns (in `b_dir`) are `a`'s (in `a_dir`), in the same order.
pub(crate) fn check_same_metrics(
    a_dir: &Path,
    a: &[String],
    b_dir: &Path,
    b: &[String],
) -> Result<(), LearnError> {
    if a == b {
        return Ok(());
    }
    let only_a: Vec<&String> = a.iter().filter(|m| !b.contains(m)).collect();
    let only_b: Vec<&String> = b.iter().filter(|m| !a.contains(m)).collect();
    let what = if only_a.is_empty() && only_b.is_empty() {
        "the same columns in another order".to_string()
    } else {
        format!(
            "columns only in {}: {}; only in {}: {}",
            a_dir.display(),
            quote::names(&only_a),
            b_dir.display(),
            quote::names(&only_b)
        )
    };
    Err(LearnError::Dataset(format!(
        "{} and {} are read as one dataset and their metric columns differ ({what}): every --data \
         directory needs the same metric columns in the same order",
        a_dir.display(),
        b_dir.display()
    )))
}

/// The error for a target whose rows are in two directories.
pub(crate) fn in_two(target: &str, a: &Path, b: &Path) -> LearnError {
    LearnError::Dataset(format!(
        "target `{}` has rows in {} and in {}: directories read as one dataset hold disjoint targets \
         (as `collect --shard i/n` writes them)",
        quote::clip(target),
        a.display(),
        b.display()
    ))
}
