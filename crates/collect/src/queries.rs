//! The query set: one PromQL per dataset column, incident-label rules, and how series labels name a target.
//! The built-in set is generated from the `catalog` crate ([`builtin_toml`]; `config/queries.toml` is that
//! text, written for users to copy); `--queries FILE` reads a user file of the same format.

use std::fmt::Write as _;
use std::path::Path;

use regex::Regex;
use serde::Deserialize;

use crate::error::CollectError;
use crate::prom::Labels;

/// Gauge or counter (a `*_total` column): the catalog's kind.
pub use catalog::ColumnKind;

/// How several series mapped to the same target are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Aggregate {
    /// Sum of the series.
    #[default]
    Sum,
    /// Largest value.
    Max,
    /// Smallest value.
    Min,
    /// Mean of the series.
    Mean,
}

/// One dataset column.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnQuery {
    /// Column name in `metrics.csv`.
    pub name: String,
    /// Gauge or counter.
    pub kind: ColumnKind,
    /// PromQL template (`$RANGE` = rate window).
    pub query: String,
    /// How to combine series that map to the same target (default sum).
    #[serde(default)]
    pub aggregate: Aggregate,
}

/// One incident-label rule: where its query is > 0, the target is in incident.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelRule {
    /// Issue type of the events it produces.
    pub issue_type: String,
    /// Detail written to `events.csv` (e.g. `oom_kill`).
    #[serde(default)]
    pub detail: String,
    /// PromQL template (`$RANGE` = rate window).
    pub query: String,
}

/// How series labels name a target.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetSpec {
    /// Labels joined into the target name.
    pub labels: Vec<String>,
    /// Separator between label values.
    #[serde(default = "default_separator")]
    pub separator: String,
    /// Regex whose first group is the deployment, applied to `pod` when `deployment` is missing.
    #[serde(default)]
    pub pod_regex: Option<String>,
}

fn default_separator() -> String {
    "/".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct QueryFile {
    rate_window_steps: Option<u32>,
    target: TargetSpec,
    #[serde(default)]
    column: Vec<ColumnQuery>,
    #[serde(default)]
    label: Vec<LabelRule>,
}

/// A validated query set.
#[derive(Debug, Clone)]
pub struct QuerySet {
    /// Steps in a rate window (`$RANGE` = this × step).
    pub rate_window_steps: u32,
    /// Target naming.
    pub target: TargetMapper,
    /// Dataset columns, in `metrics.csv` order.
    pub columns: Vec<ColumnQuery>,
    /// Label rules, first wins on overlap.
    pub labels: Vec<LabelRule>,
}

impl QuerySet {
    /// The built-in set: [`builtin_toml`], read as a user file would be.
    pub fn builtin() -> Result<Self, CollectError> {
        Self::parse(&builtin_toml(), "the built-in query set")
    }

    /// Reads a query set file.
    pub fn load(path: &Path) -> Result<Self, CollectError> {
        let text = std::fs::read_to_string(path).map_err(CollectError::io(path))?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses and validates TOML text; `source_name` names it in errors.
    pub fn parse(text: &str, source_name: &str) -> Result<Self, CollectError> {
        let bad = |reason: String| CollectError::Config {
            source_name: source_name.to_string(),
            reason,
        };
        let file: QueryFile = toml::from_str(text).map_err(|e| bad(one_line(&e.to_string())))?;
        if file.column.is_empty() {
            return Err(bad("no [[column]] defined".into()));
        }
        let mut seen = std::collections::HashSet::new();
        for c in &file.column {
            if c.name.is_empty() || c.name.contains([',', '"', '\n']) {
                return Err(bad(format!(
                    "column name {:?} must be non-empty without commas or quotes",
                    c.name
                )));
            }
            if matches!(c.name.as_str(), "timestamp" | "target") {
                return Err(bad(format!("column name {:?} is reserved", c.name)));
            }
            if !seen.insert(c.name.as_str()) {
                return Err(bad(format!("column {:?} is defined twice", c.name)));
            }
            if c.query.trim().is_empty() {
                return Err(bad(format!("column {:?} has an empty query", c.name)));
            }
        }
        for l in &file.label {
            if l.issue_type.is_empty()
                || l.issue_type.contains([',', '"', '\n'])
                || l.issue_type == "normal"
            {
                return Err(bad(format!(
                    "label rule issue_type {:?} is not a valid issue type",
                    l.issue_type
                )));
            }
            if l.query.trim().is_empty() {
                return Err(bad(format!(
                    "label rule {:?} has an empty query",
                    l.issue_type
                )));
            }
        }
        let steps = file.rate_window_steps.unwrap_or(4);
        if steps < 2 {
            return Err(bad(format!(
                "rate_window_steps must be at least 2, not {steps}"
            )));
        }
        let target = TargetMapper::new(file.target).map_err(bad)?;
        Ok(QuerySet {
            rate_window_steps: steps,
            target,
            columns: file.column,
            labels: file.label,
        })
    }

    /// The rate window for a step, seconds.
    pub fn range_secs(&self, step_secs: i64) -> i64 {
        i64::from(self.rate_window_steps) * step_secs
    }

    /// Fills `$RANGE` in a template.
    pub fn render(&self, template: &str, step_secs: i64) -> String {
        template.replace("$RANGE", &format!("{}s", self.range_secs(step_secs)))
    }
}

/// The built-in query set as a query set file (`config/queries.toml` is this text): the
/// `catalog` crate's columns, label rules and target naming, so a model trained on simulated data reads the
/// same columns from a real cluster.
pub fn builtin_toml() -> String {
    let mut out = String::from(BUILTIN_HEADER);
    let _ = writeln!(out, "# Steps in a rate window.");
    let _ = writeln!(out, "rate_window_steps = {}\n", catalog::RATE_WINDOW_STEPS);
    let _ = writeln!(out, "[target]");
    let _ = writeln!(
        out,
        "# Labels that name a target, joined with `separator` (a missing label makes the series unusable)."
    );
    let labels: Vec<String> = catalog::TARGET_LABELS
        .iter()
        .map(|l| toml_string(l))
        .collect();
    let _ = writeln!(out, "labels = [{}]", labels.join(", "));
    let _ = writeln!(
        out,
        "separator = {}",
        toml_string(catalog::TARGET_SEPARATOR)
    );
    out.push_str(POD_REGEX_COMMENT);
    let _ = writeln!(
        out,
        "pod_regex = {}",
        toml_string(catalog::TARGET_POD_REGEX)
    );
    for c in catalog::COLUMNS {
        let _ = writeln!(out, "\n[[column]]");
        let _ = writeln!(out, "# {} ({}).", c.description, c.unit);
        let _ = writeln!(out, "name = {}", toml_string(c.name));
        let kind = match c.kind {
            ColumnKind::Gauge => "gauge",
            ColumnKind::Counter => "counter",
        };
        let _ = writeln!(out, "kind = {}", toml_string(kind));
        let _ = writeln!(out, "query = {}", toml_query(&c.template()));
    }
    out.push_str(LABELS_COMMENT);
    for rule in catalog::LABEL_RULES {
        let _ = writeln!(out, "\n[[label]]");
        let _ = writeln!(out, "# {}", rule.description);
        let _ = writeln!(out, "issue_type = {}", toml_string(rule.issue_type));
        let _ = writeln!(out, "detail = {}", toml_string(rule.detail));
        let _ = writeln!(out, "query = {}", toml_query(&rule.template()));
    }
    out
}

/// A TOML string: a basic one (`"..."`), or for a query a literal one (`'...'`: PromQL's double quotes
/// and backslashes stay as they are) when it can be one.
fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}

/// A query as a TOML string (see [`toml_string`]).
fn toml_query(text: &str) -> String {
    if text.contains(['\'', '\n', '\r']) {
        toml_string(text)
    } else {
        format!("'{text}'")
    }
}

const BUILTIN_HEADER: &str = "\
# KubePulse query set: the PromQL behind every dataset column, and the rules that turn kube-state-metrics
# series into incident labels. `kubepulse collect` and `kubepulse watch` use this set, built into the binary,
# unless `--queries FILE` names another one: copy this file to write your own.
#
# Generated from the `catalog` crate (`KUBEPULSE_REGENERATE=1 cargo test -p collect` rewrites it): the
# simulator's metric catalog, so a model trained on simulated data reads the same columns from a real cluster:
# cAdvisor (`container_*`), kube-state-metrics (`kube_*`), node-exporter (`node_*`) and Istio (`istio_*`)
# names. Deployments are recovered from pod names (`<deployment>-<replicaset hash>-<5 chars>`) with
# label_replace.
#
# Each query is evaluated ONCE for all targets (never once per target) and must return one series per target,
# with the labels named in [target].labels. `$RANGE` is replaced by the rate window, `rate_window_steps` × step
# (60s at a 15 s step). A column may set `aggregate` (sum, the default, max, min or mean): how series that map
# to the same target are combined.

";

const POD_REGEX_COMMENT: &str = "\
# When a series has no `deployment` label but has `pod`, the deployment is the first capture group of this
# regex applied to the pod name (ReplicaSet pods); otherwise the pod name itself (StatefulSets, bare pods).
";

const LABELS_COMMENT: &str = "
# Incident labels for `collect`: every step at which a rule's query is > 0 for a target marks that target as
# in incident; consecutive steps form one event [first step − rate window, last step]. When rules overlap for
# the same target and type, the first rule listed wins (its detail is kept).
";

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Turns a series' labels into a target name.
#[derive(Debug, Clone)]
pub struct TargetMapper {
    spec: TargetSpec,
    pod_regex: Option<Regex>,
}

impl TargetMapper {
    /// Validates the spec (non-empty labels, valid regex with a capture group).
    pub fn new(spec: TargetSpec) -> Result<Self, String> {
        if spec.labels.is_empty() {
            return Err("[target].labels must name at least one label".into());
        }
        let pod_regex = match &spec.pod_regex {
            None => None,
            Some(r) => {
                let re = Regex::new(r).map_err(|e| {
                    format!("[target].pod_regex {r:?}: {}", one_line(&e.to_string()))
                })?;
                if re.captures_len() < 2 {
                    return Err(format!(
                        "[target].pod_regex {r:?} needs a capture group for the deployment"
                    ));
                }
                Some(re)
            }
        };
        Ok(TargetMapper { spec, pod_regex })
    }

    /// The labels that form a target.
    pub fn labels(&self) -> &[String] {
        &self.spec.labels
    }

    /// The target named by `labels`, or `None` when a label is missing.
    pub fn target_of(&self, labels: &Labels) -> Option<String> {
        let mut name = String::new();
        for (i, key) in self.spec.labels.iter().enumerate() {
            if i > 0 {
                name.push_str(&self.spec.separator);
            }
            let value = match labels.get(key) {
                Some(v) if !v.is_empty() => v.clone(),
                _ if key == "deployment" => self.deployment_from_pod(labels.get("pod")?),
                _ => return None,
            };
            name.push_str(&value);
        }
        Some(name)
    }

    fn deployment_from_pod(&self, pod: &str) -> String {
        self.pod_regex
            .as_ref()
            .and_then(|re| re.captures(pod))
            .and_then(|c| c.get(1))
            .map_or_else(|| pod.to_string(), |m| m.as_str().to_string())
    }
}

// One stable target hash for every sharded command (`watch`, `collect`, `train`): it lives in `learn`,
// which `train` needs it in and which this crate depends on.
pub use learn::shard::{Shard, shard_of, stable_hash};

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn builtin_set_parses_and_renders_the_rate_window() {
        let q = QuerySet::builtin().unwrap();
        assert!(q.columns.len() >= 10);
        assert!(
            q.columns
                .iter()
                .any(|c| c.name == "memory_limit_utilization_max")
        );
        let cpu = q
            .columns
            .iter()
            .find(|c| c.name == "cpu_usage_cores")
            .unwrap();
        assert!(q.render(&cpu.query, 15).contains("[60s]"));
        assert!(!q.labels.is_empty());
    }

    #[test]
    fn the_builtin_file_is_the_catalog_and_strings_stay_valid_toml() {
        let text = builtin_toml();
        let q = QuerySet::builtin().unwrap();
        assert_eq!(q.columns.len(), catalog::N_COLUMNS);
        assert_eq!(q.labels.len(), catalog::LABEL_RULES.len());
        for (rule, theirs) in q.labels.iter().zip(catalog::LABEL_RULES) {
            assert_eq!(
                (
                    rule.issue_type.as_str(),
                    rule.detail.as_str(),
                    rule.query.as_str()
                ),
                (theirs.issue_type, theirs.detail, theirs.template().as_str())
            );
        }
        assert_eq!(q.target.labels(), catalog::TARGET_LABELS);
        assert!(text.contains("[[label]]\n# A node running"), "{text}");
        // A string a literal cannot hold is written as a basic string that reads back the same.
        for odd in ["it's", "line\nbreak", r#"say "hi" \d"#, "plain"] {
            for text in [toml_string(odd), toml_query(odd)] {
                let parsed: toml::Value = toml::from_str(&format!("v = {text}")).unwrap();
                assert_eq!(parsed["v"].as_str(), Some(odd));
            }
        }
    }

    /// `config/queries.toml` is generated: `KUBEPULSE_REGENERATE=1` rewrites it from the catalog.
    #[test]
    fn config_queries_toml_is_the_generated_builtin_set() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/queries.toml");
        let generated = builtin_toml();
        if std::env::var_os("KUBEPULSE_REGENERATE").is_some() {
            std::fs::write(&path, &generated).unwrap();
        }
        let shipped = std::fs::read_to_string(&path).unwrap();
        assert!(
            shipped == generated,
            "config/queries.toml is not the catalog's query set: regenerate it with \
             `KUBEPULSE_REGENERATE=1 cargo test -p collect config_queries_toml`"
        );
    }

    #[test]
    fn targets_come_from_labels_or_pod_names() {
        let q = QuerySet::builtin().unwrap();
        let t = &q.target;
        assert_eq!(
            t.target_of(&labels(&[("namespace", "shop"), ("deployment", "cart")]))
                .as_deref(),
            Some("shop/cart")
        );
        assert_eq!(
            t.target_of(&labels(&[
                ("namespace", "shop"),
                ("pod", "cart-7d9f8b6c5d-x2k4q")
            ]))
            .as_deref(),
            Some("shop/cart")
        );
        assert_eq!(
            t.target_of(&labels(&[("namespace", "db"), ("pod", "redis-0")]))
                .as_deref(),
            Some("db/redis-0")
        );
        assert_eq!(t.target_of(&labels(&[("deployment", "cart")])), None);
    }

    #[test]
    fn invalid_files_name_the_problem() {
        let err = QuerySet::parse(
            "[target]\nlabels = []\n[[column]]\nname='a'\nkind='gauge'\nquery='up'\n",
            "q.toml",
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("q.toml") && err.to_string().contains("at least one label"),
            "{err}"
        );
        let err = QuerySet::parse("[target]\nlabels=['x']\n[[column]]\nname='a'\nkind='gauge'\nquery='up'\n[[column]]\nname='a'\nkind='gauge'\nquery='up'\n", "q.toml").unwrap_err();
        assert!(err.to_string().contains("twice"), "{err}");
        let err = QuerySet::parse(
            "[target]\nlabels=['x']\n[[column]]\nname='a'\nkind='gauge'\nquerry='up'\n",
            "q.toml",
        )
        .unwrap_err();
        assert!(err.to_string().contains("querry"), "{err}");
        let err = QuerySet::parse("not toml at all [", "q.toml").unwrap_err();
        assert!(
            err.to_string().starts_with("invalid query set q.toml"),
            "{err}"
        );
    }

    #[test]
    fn shards_are_stable_and_partition_targets() {
        // Fixed values: a change would move targets between replicas on upgrade.
        assert_eq!(shard_of("shop/cart", 3), shard_of("shop/cart", 3));
        let targets: Vec<String> = (0..300).map(|i| format!("ns/app-{i}")).collect();
        let shards: Vec<Shard> = (0..3).map(|i| Shard { index: i, count: 3 }).collect();
        for t in &targets {
            assert_eq!(shards.iter().filter(|s| s.owns(t)).count(), 1);
        }
        let sizes: Vec<usize> = shards
            .iter()
            .map(|s| targets.iter().filter(|t| s.owns(t)).count())
            .collect();
        assert!(sizes.iter().all(|&n| n > 60), "{sizes:?}");
        assert_eq!(
            "1/3".parse::<Shard>().unwrap(),
            Shard { index: 1, count: 3 }
        );
        assert!("3/3".parse::<Shard>().is_err());
        assert!("x".parse::<Shard>().is_err());
    }
}
