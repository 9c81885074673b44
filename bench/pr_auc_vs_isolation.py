"""Binary PR-AUC (average precision: an issue starts within the horizon vs. normal) of two evaluations of the
same test windows, e.g. the default model against a label-free isolation forest fitted on the period before:

    kubepulse simulate --seed 5101 --preset online-boutique --duration 7d --out t
    kubepulse eval --data t --train-until 1767744000 --unsupervised --baseline 1h --seed 42 --out u
    kubepulse eval --model models/default.kpm --data t --train-until 1767744000 --out m
    bench/sklearn_compare/.venv/bin/python bench/pr_auc_vs_isolation.py m u

Windows inside an incident (`ongoing:*`, left out of training and of the window figures) are left out here too.
"""
import sys

import pandas as pd
from sklearn.metrics import average_precision_score

a, b = (pd.read_csv(f"{d}/predictions.csv") for d in sys.argv[1:3])
j = a.merge(b, on=["target", "timestamp"], suffixes=("_a", "_b"))
j = j[~j.truth_a.str.startswith("ongoing")]
y = (j.truth_a != "normal").astype(int)
print(
    f"{len(j)} windows, {y.sum()} positive (base rate {y.mean():.4f}): PR-AUC {sys.argv[1]} "
    f"{average_precision_score(y, j.issue_probability_a):.3f}, {sys.argv[2]} "
    f"{average_precision_score(y, j.issue_probability_b):.3f}"
)
