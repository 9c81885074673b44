#!/usr/bin/env bash
# Side-by-side benchmark: scikit-learn RandomForestClassifier and LightGBM's rf mode vs KubePulse's forest on the
# same data, same run.
# Usage: bench/sklearn_compare/run.sh [RUNS]   (default 3 runs each, interleaved; takes several minutes)
# Creates bench/sklearn_compare/.venv (git-ignored) and writes data and results under bench/sklearn_compare/out.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
runs="${1:-3}"
out="$here/out"
py="$here/.venv/bin/python"
# LightGBM's OpenMP threads spin while waiting by default; on a shared, loaded machine that makes a 100-tree fit
# take over 15 minutes instead of about one. Passive waiting is the fair setting here.
export OMP_WAIT_POLICY=PASSIVE

if [ ! -x "$py" ]; then
  python3 -m venv "$here/.venv"
  "$here/.venv/bin/pip" install --quiet -r "$here/requirements.txt"
fi
mkdir -p "$out"
if [ ! -f "$out/train.csv" ] || [ ! -f "$out/test.npz" ]; then
  echo "generating the dataset..." >&2
  "$py" "$here/make_data.py" "$out"
fi
(cd "$root" && cargo build --release --quiet -p forest --example fit_csv)
# Run a copy, so rebuilding the workspace during the comparison cannot change the binary under test.
cp "$root/target/release/examples/fit_csv" "$out/fit_csv"
ours="$out/fit_csv"

rm -f "$out"/result-*.json
for i in $(seq 1 "$runs"); do
  echo "run $i/$runs: scikit-learn..." >&2
  "$py" "$here/run_sklearn.py" "$out/train.npz" "$out/test.npz" --trees 100 --seed 0 --jobs 2 \
    > "$out/result-sklearn-$i.json"
  echo "run $i/$runs: LightGBM rf mode..." >&2
  "$py" "$here/run_lightgbm.py" "$out/train.npz" "$out/test.npz" --trees 100 --seed 0 --jobs 2 \
    > "$out/result-lightgbm-$i.json"
  echo "run $i/$runs: ours..." >&2
  "$ours" "$out/train.csv" "$out/test.csv" --trees 100 --seed 0 --threads 2 > "$out/result-ours-$i.json"
  "$ours" "$out/train.csv" "$out/test.csv" --trees 100 --seed 0 --threads 2 --class-weight uniform \
    | sed 's/"kubepulse-forest"/"kubepulse-forest-uniform"/' > "$out/result-ours-uniform-$i.json"
done
echo "load average during the runs: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores" >&2
"$py" "$here/summarize.py" "$out"/result-*.json

# shap's own TreeSHAP costs O(leaves x depth^2) per row and tree: on 100 fully grown trees (~11k leaves
# each) 100 rows take many minutes, so the check uses a 20-tree depth-12 forest of the same data.
echo "checking our TreeSHAP against shap.TreeExplainer..." >&2
"$ours" "$out/train.csv" "$out/test.csv" --trees 20 --max-depth 12 --seed 0 --threads 2 \
  --json-out "$out/model.json" --shap-out "$out/shap.json" --shap-rows 100 > /dev/null
"$py" "$here/shap_check.py" "$out/model.json" "$out/shap.json" "$out/test.npz"
# The same check for a regression forest (the class labels taken as a numeric target).
"$ours" "$out/train.csv" "$out/test.csv" --regression --trees 20 --max-depth 12 --seed 0 --threads 2 \
  --json-out "$out/model-regression.json" --shap-out "$out/shap-regression.json" --shap-rows 100 > /dev/null
"$py" "$here/shap_check.py" "$out/model-regression.json" "$out/shap-regression.json" "$out/test.npz"
