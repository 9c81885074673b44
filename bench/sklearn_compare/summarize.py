"""Prints min/median of each figure per implementation and the ratios sklearn / ours (higher = ours better)."""
import json
import statistics
import sys
from collections import defaultdict

FIELDS = [
    ("fit_seconds", "fit (s)", "lower"),
    ("predict_batch_seconds", "batch predict_proba (s, median of 5)", "lower"),
    ("fit_cpu_seconds", "fit CPU time, all threads (s)", "lower"),
    ("predict_batch_cpu_seconds", "batch predict_proba CPU time (s)", "lower"),
    ("predict_one_us_median", "single-row predict (us, median of 1000)", "lower"),
    ("peak_rss_bytes", "peak RSS (MB)", "lower"),
    ("model_bytes", "model size (MB)", "lower"),
    ("accuracy", "accuracy", "higher"),
    ("macro_f1", "macro F1", "higher"),
]


def table(label_a, a_runs, label_b, b_runs):
    print(f"\n{label_a} ({len(a_runs)} runs) vs {label_b} ({len(b_runs)} runs); ratio = {label_a} / {label_b}")
    print(f"{'figure':42} {'a min':>12} {'a med':>12} {'b min':>12} {'b med':>12} {'ratio (med)':>12}")
    for key, label, better in FIELDS:
        scale = 1e-6 if key.endswith("bytes") else 1.0
        a = [r[key] * scale for r in a_runs]
        b = [r[key] * scale for r in b_runs]
        ma, mb = statistics.median(a), statistics.median(b)
        if better == "lower":
            ratio = f"{ma / mb:.2f}x" if mb else "-"
        else:
            ratio = f"{(mb - ma) * 100:+.2f} pt"
        print(f"{label:42} {min(a):12.4f} {ma:12.4f} {min(b):12.4f} {mb:12.4f} {ratio:>12}")


def main(paths):
    runs = defaultdict(list)
    for p in paths:
        with open(p) as f:
            r = json.load(f)
        runs[r["implementation"]].append(r)
    ours = runs["kubepulse-forest"]
    for other in ("scikit-learn", "lightgbm-rf"):
        if runs[other]:
            table(other, runs[other], "ours", ours)
    print()
    for name, rs in runs.items():
        rec = rs[0]["recall_per_class"]
        print(
            f"{name:26} macro F1 {rs[0]['macro_f1']:.4f}, recall per class (run 1): "
            + ", ".join(f"{float(c):g}: {v:.4f}" for c, v in rec.items())
        )


if __name__ == "__main__":
    main(sys.argv[1:])
