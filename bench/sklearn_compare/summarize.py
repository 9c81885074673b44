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


def main(paths):
    runs = defaultdict(list)
    for p in paths:
        with open(p) as f:
            r = json.load(f)
        runs[r["implementation"]].append(r)
    sk, ours = runs["scikit-learn"], runs["kubepulse-forest"]
    print(f"runs: scikit-learn {len(sk)}, ours {len(ours)}")
    print(f"{'figure':42} {'sklearn min':>12} {'sklearn med':>12} {'ours min':>12} {'ours med':>12} {'ratio (med)':>12}")
    for key, label, better in FIELDS:
        scale = 1e-6 if key.endswith("bytes") else 1.0
        a = [r[key] * scale for r in sk]
        b = [r[key] * scale for r in ours]
        ma, mb = statistics.median(a), statistics.median(b)
        if better == "lower":
            ratio = f"{ma / mb:.2f}x" if mb else "-"
        else:
            ratio = f"{(mb - ma) * 100:+.2f} pt"
        print(f"{label:42} {min(a):12.4f} {ma:12.4f} {min(b):12.4f} {mb:12.4f} {ratio:>12}")
    for name, rs in (("scikit-learn", sk), ("ours", ours)):
        rec = rs[0]["recall_per_class"]
        print(f"recall per class ({name}, run 1): " + ", ".join(f"{float(c):g}: {v:.4f}" for c, v in rec.items()))


if __name__ == "__main__":
    main(sys.argv[1:])
