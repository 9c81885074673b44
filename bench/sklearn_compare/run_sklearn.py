"""scikit-learn side of the comparison: prints one JSON object with the same fields as our fit_csv example.

Usage: python run_sklearn.py TRAIN.npz TEST.npz [--trees N] [--seed S] [--jobs J]
"""
import json
import pickle

from sklearn.ensemble import RandomForestClassifier

from measure import arguments, measure


def main():
    a = arguments()
    model = RandomForestClassifier(
        n_estimators=a.trees, max_features="sqrt", class_weight="balanced", n_jobs=a.jobs, random_state=a.seed
    )
    result = measure(
        "scikit-learn",
        model,
        a,
        size_bytes=lambda m: len(pickle.dumps(m, protocol=pickle.HIGHEST_PROTOCOL)),
        n_nodes=lambda m: sum(e.tree_.node_count for e in m.estimators_),
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
