"""Writes the forest's quality-regression fixture and scikit-learn's recorded figures on it.

A small imbalanced multiclass dataset with missing values: make_classification(n_samples=6000,
n_features=12, n_informative=8, n_redundant=2, n_classes=4, weights=[0.85, 0.05, 0.05, 0.05],
random_state=7), 5% of cells NaN (numpy default_rng(7)), values rounded to 3 decimals, first 4000 rows
train, last 2000 test. Then scikit-learn's RandomForestClassifier(n_estimators=100, max_features="sqrt",
random_state=s) for s in 0..5, class_weight "balanced" and None: the mean macro F1 and mean recall per
class go to imbalanced-sklearn.json, which crates/forest/tests/it/quality.rs compares our forest against.

Usage: python make_fixture.py [OUT_DIR]   (default crates/forest/tests/fixtures)
"""
import json
import os
import sys

import numpy as np
import sklearn
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import f1_score, recall_score

from make_data import write_csv

SEEDS = range(5)


def main(out):
    os.makedirs(out, exist_ok=True)
    x, y = make_classification(
        n_samples=6000,
        n_features=12,
        n_informative=8,
        n_redundant=2,
        n_classes=4,
        weights=[0.85, 0.05, 0.05, 0.05],
        random_state=7,
    )
    rng = np.random.default_rng(7)
    x = np.round(x, 3)
    x[rng.random(x.shape) < 0.05] = np.nan
    x = x.astype(np.float32)
    xtr, ytr, xte, yte = x[:4000], y[:4000], x[4000:], y[4000:]
    write_csv(os.path.join(out, "imbalanced-train.csv"), xtr, ytr, "%.3f")
    write_csv(os.path.join(out, "imbalanced-test.csv"), xte, yte, "%.3f")

    figures = {"scikit_learn": sklearn.__version__, "seeds": list(SEEDS), "n_estimators": 100}
    for name, cw in (("balanced", "balanced"), ("uniform", None)):
        f1s, recalls = [], []
        for s in SEEDS:
            m = RandomForestClassifier(n_estimators=100, max_features="sqrt", class_weight=cw, random_state=s)
            pred = m.fit(xtr, ytr).predict(xte)
            f1s.append(f1_score(yte, pred, average="macro"))
            recalls.append(recall_score(yte, pred, average=None, labels=[0, 1, 2, 3]))
        figures[name] = {
            "macro_f1_mean": float(np.mean(f1s)),
            "recall_per_class_mean": [float(v) for v in np.mean(recalls, axis=0)],
        }
    with open(os.path.join(out, "imbalanced-sklearn.json"), "w") as f:
        json.dump(figures, f, indent=2)
        f.write("\n")
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "crates/forest/tests/fixtures")
