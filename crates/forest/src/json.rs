//! JSON export: one object per tree with scikit-learn/shap-style arrays, so other tools can check our trees.

use crate::shap::node_values;
use crate::{RandomForest, Task};
use serde_json::{Value, json};

impl RandomForest {
    /// JSON export: per tree, arrays `children_left`, `children_right`, `missing_goes_left`, `feature`,
    /// `threshold`, `values`, `node_sample_weight` (scikit-learn/shap conventions, -1 for leaves).
    ///
    /// Also per tree: `children_default` (the child NaN goes to, as shap's dict format wants). `values` holds
    /// one row of `n_outputs` per node: class probabilities, or a regressor's one mean target (internal
    /// nodes: the cover-weighted mean of their children). A threshold of +inf (every non-missing value goes
    /// left) is written as `f64::MAX`, since JSON has no infinity. The forest's output is the mean of the
    /// trees' leaf values. At the top: `task` (`"classification"` or `"regression"`), `n_outputs`, and
    /// `classes` (empty for a regressor).
    pub fn to_json(&self) -> Value {
        let k = self.n_outputs();
        let trees: Vec<Value> = self
            .trees
            .iter()
            .map(|t| {
                let n = t.nodes.len();
                let mut left = Vec::with_capacity(n);
                let mut right = Vec::with_capacity(n);
                let mut default = Vec::with_capacity(n);
                let mut missing_left = Vec::with_capacity(n);
                let mut feature = Vec::with_capacity(n);
                let mut threshold = Vec::with_capacity(n);
                for node in &t.nodes {
                    if node.is_leaf() {
                        left.push(-1i64);
                        right.push(-1i64);
                        default.push(-1i64);
                        missing_left.push(false);
                        feature.push(-2i64);
                        threshold.push(-2.0f64);
                    } else {
                        let l = i64::from(node.child);
                        left.push(l);
                        right.push(l + 1);
                        default.push(if node.missing_left() { l } else { l + 1 });
                        missing_left.push(node.missing_left());
                        feature.push(node.feature_index() as i64);
                        let thr = f64::from(node.threshold);
                        threshold.push(if thr.is_finite() { thr } else { f64::MAX });
                    }
                }
                let values: Vec<Vec<f64>> =
                    node_values(t, k).chunks(k).map(<[f64]>::to_vec).collect();
                let cover: Vec<f64> = t.cover.iter().map(|c| f64::from(*c)).collect();
                json!({
                    "children_left": left,
                    "children_right": right,
                    "children_default": default,
                    "missing_goes_left": missing_left,
                    "feature": feature,
                    "threshold": threshold,
                    "values": values,
                    "node_sample_weight": cover,
                })
            })
            .collect();
        json!({
            "format": "kubepulse-forest",
            "format_version": crate::FORMAT_VERSION,
            "n_features": self.n_features,
            "task": match self.task {
                Task::Classification => "classification",
                Task::Regression => "regression",
            },
            "n_outputs": k,
            "classes": self.classes,
            "expected_value": self.explainer().expected_value,
            "trees": trees,
        })
    }
}
