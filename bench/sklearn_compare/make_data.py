"""Writes the issue's dataset: make_classification (200k x 40, 15 informative, 4 classes, weights
0.85/0.05/0.05/0.05, random_state=0), 5% of cells set to NaN (seeded), 80/20 split by row order.

Values are rounded to float32 once, so the CSV (read by our example) and the .npz (read by the
scikit-learn runner) hold exactly the same numbers. Usage: python make_data.py OUT_DIR [RANDOM_STATE]

RANDOM_STATE (default 0, the bench's data) seeds both the generator and the NaN mask: other values give
validation data of the same shape, to choose engine changes on data the bench does not score.
"""
import os
import sys

import numpy as np
from sklearn.datasets import make_classification


def write_csv(path, x, y, fmt="%.9g"):
    """Header `label,f0,…`, the label as an integer, `fmt` per value, an empty cell for NaN."""
    header = "label," + ",".join(f"f{i}" for i in range(x.shape[1]))
    cells = np.char.mod(fmt, x)
    cells[np.isnan(x)] = ""
    with open(path, "w") as f:
        f.write(header + "\n")
        for label, row in zip(y, cells):
            f.write(str(int(label)) + "," + ",".join(row) + "\n")


def main(out, random_state=0):
    os.makedirs(out, exist_ok=True)
    x, y = make_classification(
        n_samples=200_000,
        n_features=40,
        n_informative=15,
        n_classes=4,
        weights=[0.85, 0.05, 0.05, 0.05],
        random_state=random_state,
    )
    rng = np.random.default_rng(random_state)
    x[rng.random(x.shape) < 0.05] = np.nan
    x = x.astype(np.float32)
    n_train = int(len(y) * 0.8)
    for name, sl in (("train", slice(0, n_train)), ("test", slice(n_train, None))):
        np.savez(os.path.join(out, f"{name}.npz"), x=x[sl], y=y[sl])
        write_csv(os.path.join(out, f"{name}.csv"), x[sl], y[sl])


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 0)
