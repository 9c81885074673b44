"""LightGBM's random-forest mode on the same data: prints one JSON object with the same fields as fit_csv.

Settings a user would pick to mirror a random forest: boosting="rf", bagging_fraction=0.632 (a bootstrap's
share of distinct rows), bagging_freq=1, feature_fraction_bynode=sqrt(n)/n (scikit-learn's max_features="sqrt",
drawn at every split; `feature_fraction` would draw one feature set per tree),
class_weight="balanced", 100 trees, min_child_samples=1, at most --leaves leaves per tree (default 4096:
fully grown trees — ~11k leaves each here — take LightGBM over 20 minutes on 2 cores), 2 threads.

Usage: python run_lightgbm.py TRAIN.npz TEST.npz [--trees N] [--seed S] [--jobs J] [--leaves L]
"""
import json
import math

import lightgbm as lgb
import numpy as np

from measure import arguments, measure


def main():
    a = arguments(lambda ap: ap.add_argument("--leaves", type=int, default=4096))
    nf = np.load(a.train)["x"].shape[1]
    model = lgb.LGBMClassifier(
        boosting_type="rf",
        n_estimators=a.trees,
        bagging_fraction=0.632,
        bagging_freq=1,
        feature_fraction=1.0,
        feature_fraction_bynode=math.sqrt(nf) / nf,
        class_weight="balanced",
        num_leaves=a.leaves,
        max_depth=-1,
        min_child_samples=1,
        min_child_weight=1e-3,
        n_jobs=a.jobs,
        random_state=a.seed,
        verbose=-1,
    )
    result = measure(
        "lightgbm-rf",
        model,
        a,
        size_bytes=lambda m: len(m.booster_.model_to_string().encode()),
        n_nodes=lambda m: sum(2 * t["num_leaves"] - 1 for t in m.booster_.dump_model()["tree_info"]),
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
