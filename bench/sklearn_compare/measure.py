"""The measurement both Python runners share: fit, batch and single-row timings, quality, size, RSS.

`measure(name, model, train, test, size_bytes)` fits `model` (a scikit-learn style classifier) on TRAIN.npz and
returns one dict with the same fields as our `fit_csv` example prints; `size_bytes(model)` gives the model size.
"""
import argparse
import resource
import time

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, recall_score


def arguments(extra=None):
    """Parses `TRAIN.npz TEST.npz [--trees N] [--seed S] [--jobs J]` (+ the runner's own options)."""
    ap = argparse.ArgumentParser()
    ap.add_argument("train")
    ap.add_argument("test")
    ap.add_argument("--trees", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=2)
    if extra:
        extra(ap)
    return ap.parse_args()


def measure(name, model, a, size_bytes, n_nodes):
    tr, te = np.load(a.train), np.load(a.test)
    xtr, ytr, xte, yte = tr["x"], tr["y"], te["x"], te["y"]
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
    predict_batch_cpu_seconds = (time.process_time() - cpu) / 5

    times = []
    for i in range(min(1000, len(xte))):
        row = xte[i : i + 1]
        t = time.perf_counter()
        model.predict_proba(row)
        times.append((time.perf_counter() - t) * 1e6)

    pred = model.classes_[proba.argmax(axis=1)]
    recalls = recall_score(yte, pred, average=None, labels=model.classes_)
    return {
        "implementation": name,
        "n_trees": a.trees,
        "n_nodes": int(n_nodes(model)),
        "fit_seconds": fit_seconds,
        "predict_batch_seconds": float(np.median(batch_times)),
        "fit_cpu_seconds": fit_cpu_seconds,
        "predict_batch_cpu_seconds": predict_batch_cpu_seconds,
        "predict_one_us_median": float(np.median(times)),
        "accuracy": accuracy_score(yte, pred),
        "macro_f1": f1_score(yte, pred, average="macro"),
        "recall_per_class": {str(float(c)): float(r) for c, r in zip(model.classes_, recalls)},
        "model_bytes": size_bytes(model),
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }
