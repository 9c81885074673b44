"""LightGBM's random-forest mode on the same data: prints one JSON object with the same fields as fit_csv.

Settings a user would pick to mirror a random forest: boosting="rf", bagging_fraction=0.632 (a bootstrap's
share of distinct rows), bagging_freq=1, feature_fraction=sqrt(n)/n (scikit-learn's max_features="sqrt"),
class_weight="balanced", 100 trees, min_child_samples=1, at most --leaves leaves per tree (default 4096:
fully grown trees — ~11k leaves each here — take LightGBM over 20 minutes on 2 cores), 2 threads.

Usage: python run_lightgbm.py TRAIN.npz TEST.npz [--trees N] [--seed S] [--jobs J]
"""
import argparse
import json
import math
import resource
import time

import lightgbm as lgb
import numpy as np
from sklearn.metrics import accuracy_score, f1_score, recall_score


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("train")
    ap.add_argument("test")
    ap.add_argument("--trees", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--leaves", type=int, default=4096)
    a = ap.parse_args()
    tr, te = np.load(a.train), np.load(a.test)
    xtr, ytr, xte, yte = tr["x"], tr["y"], te["x"], te["y"]
    nf = xtr.shape[1]

    model = lgb.LGBMClassifier(
        boosting_type="rf",
        n_estimators=a.trees,
        bagging_fraction=0.632,
        bagging_freq=1,
        feature_fraction=math.sqrt(nf) / nf,
        class_weight="balanced",
        num_leaves=a.leaves,
        max_depth=-1,
        min_child_samples=1,
        min_child_weight=1e-3,
        n_jobs=a.jobs,
        random_state=a.seed,
        verbose=-1,
    )
    t, cpu = time.perf_counter(), time.process_time()
    model.fit(xtr, ytr)
    fit_seconds = time.perf_counter() - t
    fit_cpu_seconds = time.process_time() - cpu

    batch_times = []
    cpu = time.process_time()
    for _ in range(5):
        t = time.perf_counter()
        proba = model.predict_proba(xte)
        batch_times.append(time.perf_counter() - t)
    predict_batch_seconds = float(np.median(batch_times))
    predict_batch_cpu_seconds = (time.process_time() - cpu) / 5

    times = []
    for i in range(min(1000, len(xte))):
        row = xte[i : i + 1]
        t = time.perf_counter()
        model.predict_proba(row)
        times.append((time.perf_counter() - t) * 1e6)

    pred = model.classes_[proba.argmax(axis=1)]
    recalls = recall_score(yte, pred, average=None, labels=model.classes_)
    booster = model.booster_
    dump = booster.dump_model()
    n_nodes = sum(2 * t["num_leaves"] - 1 for t in dump["tree_info"])
    print(
        json.dumps(
            {
                "implementation": "lightgbm-rf",
                "n_trees": a.trees,
                "n_nodes": int(n_nodes),
                "fit_seconds": fit_seconds,
                "predict_batch_seconds": predict_batch_seconds,
                "fit_cpu_seconds": fit_cpu_seconds,
                "predict_batch_cpu_seconds": predict_batch_cpu_seconds,
                "predict_one_us_median": float(np.median(times)),
                "accuracy": accuracy_score(yte, pred),
                "macro_f1": f1_score(yte, pred, average="macro"),
                "recall_per_class": {str(float(c)): float(r) for c, r in zip(model.classes_, recalls)},
                "model_bytes": len(booster.model_to_string().encode()),
                "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            }
        )
    )


if __name__ == "__main__":
    main()
