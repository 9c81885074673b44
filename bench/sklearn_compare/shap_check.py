"""Loads our JSON-exported forest into shap.TreeExplainer (shap's dict-of-arrays model form) and checks that
our TreeSHAP values (written by `fit_csv --shap-out`) match shap's to 1e-6 on the same test rows.
Works for classifiers (one output per class) and regressors (`fit_csv --regression`: one output).

Usage: python shap_check.py MODEL.json SHAP.json TEST.npz
"""
import json
import sys
import time

import numpy as np
import shap


def main(model_path, shap_path, test_path):
    with open(model_path) as f:
        ours = json.load(f)
    with open(shap_path) as f:
        explained = json.load(f)
    n_trees = len(ours["trees"])
    trees = []
    for t in ours["trees"]:
        trees.append(
            {
                "children_left": np.array(t["children_left"], dtype=np.int32),
                "children_right": np.array(t["children_right"], dtype=np.int32),
                "children_default": np.array(t["children_default"], dtype=np.int32),
                "features": np.array(t["feature"], dtype=np.int32),
                "thresholds": np.array(t["threshold"], dtype=np.float64),
                # The forest averages its trees: shap sums them, so scale each tree by 1 / n_trees.
                "values": np.array(t["values"], dtype=np.float64) / n_trees,
                "node_sample_weight": np.array(t["node_sample_weight"], dtype=np.float64),
            }
        )
    explainer = shap.TreeExplainer({"trees": trees, "base_offset": 0.0}, model_output="raw")
    rows = [e["row"] for e in explained]
    # Our model saw float32 inputs: give shap exactly those values.
    x = np.load(test_path)["x"][rows].astype(np.float32).astype(np.float64)
    t = time.perf_counter()
    theirs = np.asarray(explainer.shap_values(x, check_additivity=False))
    seconds = time.perf_counter() - t
    # Files of format version 1 have no n_outputs: one output per class.
    k = ours.get("n_outputs", len(ours["classes"]))
    nf = ours["n_features"]
    # shap returns (rows, features, classes) or a list per class depending on the version, and
    # (rows, features) for one output: normalise.
    if theirs.shape == (k, len(rows), nf):
        theirs = theirs.transpose(1, 2, 0)
    theirs = theirs.reshape(len(rows), nf, k)
    mine = np.array([np.array(e["values"]).reshape(nf, k) for e in explained])
    max_diff = float(np.abs(mine - theirs).max())
    ev_diff = float(np.abs(np.asarray(explainer.expected_value).reshape(-1) - np.array(explained[0]["expected_value"])).max())
    print(
        json.dumps(
            {
                "task": ours.get("task", "classification"),
                "rows": len(rows),
                "trees": n_trees,
                "max_abs_diff_shap_values": max_diff,
                "max_abs_diff_expected_value": ev_diff,
                "shap_seconds": seconds,
                "match_1e-6": max_diff <= 1e-6 and ev_diff <= 1e-6,
            }
        )
    )
    if not (max_diff <= 1e-6 and ev_diff <= 1e-6):
        sys.exit(1)


if __name__ == "__main__":
    main(*sys.argv[1:])
