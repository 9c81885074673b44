"""scikit-learn side of the comparison: prints one JSON object with the same fields as our fit_csv example.

Usage: python run_sklearn.py TRAIN.npz TEST.npz [--trees N] [--seed S] [--jobs J]
"""
import argparse
import json
import pickle
import resource
import time

import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import accuracy_score, f1_score, recall_score


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("train")
    ap.add_argument("test")
    ap.add_argument("--trees", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args()
    tr, te = np.load(a.train), np.load(a.test)
    xtr, ytr, xte, yte = tr["x"], tr["y"], te["x"], te["y"]

    model = RandomForestClassifier(
        n_estimators=a.trees, max_features="sqrt", class_weight="balanced", n_jobs=a.jobs, random_state=a.seed
    )
    t, cpu = time.perf_counter(), time.process_time()
    model.fit(xtr, ytr)
    fit_seconds = time.perf_counter() - t
    fit_cpu_seconds = time.process_time() - cpu

    # Median of 5 batch predictions (the machine is shared: one run is noisy).
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
    print(
        json.dumps(
            {
                "implementation": "scikit-learn",
                "n_trees": a.trees,
                "n_nodes": int(sum(e.tree_.node_count for e in model.estimators_)),
                "fit_seconds": fit_seconds,
                "predict_batch_seconds": predict_batch_seconds,
                "fit_cpu_seconds": fit_cpu_seconds,
                "predict_batch_cpu_seconds": predict_batch_cpu_seconds,
                "predict_one_us_median": float(np.median(times)),
                "accuracy": accuracy_score(yte, pred),
                "macro_f1": f1_score(yte, pred, average="macro"),
                "recall_per_class": {str(float(c)): float(r) for c, r in zip(model.classes_, recalls)},
                "model_bytes": len(pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)),
                "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            }
        )
    )


if __name__ == "__main__":
    main()
