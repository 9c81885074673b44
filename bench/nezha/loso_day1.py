#!/usr/bin/env python3
"""Leave-one-service-out on Nezha day 1 alone: a validation protocol for targets a model has never seen.

For each service S: train on the other nine services' whole day 1 (`kubepulse train`, the flags of
`scripts/eval-nezha`), then evaluate S's incident hours (day 1 before CUT; every day-1 incident falls
there) with S's own quiet hours (after CUT) moved one day earlier, so that what precedes S's test period
is a long stretch of its own unlabelled history — what a new service has within a day, and what `eval`
warms per-target state (the relative condition's score history, trailing baselines, onset_shift) with.
Day 2 is never read. Prints per-service and pooled figures (detected within 120 s, false alarms per
target-day).

    bench/nezha/loso_day1.py [--bin target/release/kubepulse] [--work DIR] [--seeds 42] [-- train flags]

With several seeds (`--seeds 1,2,3,4,5,42`, as in docs/model.md) each seed's pooled model row is
printed, then the incidents detected over all seeds.

Run from the repository root, beside ../shared. Each service's test period is only its ~4.6 incident
hours (0.19 target-day), so one false alarm there is 5.2 per target-day: read the pooled rate, and
several seeds, not one service's. Used in docs/model.md ("Tried 2026-12-08").
"""

import argparse
import csv
import json
import os
import subprocess
from datetime import datetime, timezone

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../../shared/data/nezha-onlineboutique")
DAY2 = int(datetime(2022, 8, 23, tzinfo=timezone.utc).timestamp())
CUT = int(datetime(2022, 8, 22, 8, 30, tzinfo=timezone.utc).timestamp())
FLAGS = [
    "--ongoing", "detect", "--window", "180", "--horizon", "60", "--no-calendar", "--jumps",
    "--false-alarm-budget", "2", "--validation-folds", "5",
    "--relative-alarm", "--relative-baseline", "quantile",
]


def read(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def write(path, header, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/release/kubepulse")
    ap.add_argument("--work", default="target/nezha-loso-day1")
    ap.add_argument("--seeds", default="42", help="comma-separated training seeds")
    ap.add_argument("extra", nargs="*", help="extra flags for train (after --)")
    a = ap.parse_args()
    data = read(os.path.join(DATA, "metrics.csv")), read(os.path.join(DATA, "events.csv"))
    seeds = a.seeds.split(",")
    detected = incidents = 0
    for seed in seeds:
        print(f"== seed {seed}")
        pooled = run(a, seed, data)
        detected += pooled["model"]["detected"]
        incidents += pooled["model"]["incidents"]
    if len(seeds) > 1:
        print(f"\nall seeds: model detected {detected} of {incidents} within 120 s")


def run(a, seed, data):
    (mh, metrics), (eh, events) = data
    ti, mt = mh.index("target"), mh.index("timestamp")
    et, es = eh.index("target"), eh.index("start")
    metrics = [r for r in metrics if int(r[mt]) < DAY2]
    events = [r for r in events if int(r[es]) < DAY2]
    services = sorted({r[ti] for r in metrics})
    pooled = {}
    for s in services:
        d = os.path.join(a.work, seed, s.split("/")[-1])
        os.makedirs(os.path.join(d, "train"), exist_ok=True)
        os.makedirs(os.path.join(d, "test"), exist_ok=True)
        write(os.path.join(d, "train", "metrics.csv"), mh, [r for r in metrics if r[ti] != s])
        write(os.path.join(d, "train", "events.csv"), eh, [r for r in events if r[et] != s])
        own = []
        for r in metrics:
            if r[ti] != s:
                continue
            t = int(r[mt])
            r = list(r)
            r[mt] = str(t - 86_400 if t >= CUT else t)
            own.append(r)
        own.sort(key=lambda r: int(r[mt]))
        write(os.path.join(d, "test", "metrics.csv"), mh, own)
        write(os.path.join(d, "test", "events.csv"), eh, [r for r in events if r[et] == s])
        model = os.path.join(d, "model.kpm")
        subprocess.run([a.bin, "train", "--data", os.path.join(d, "train"), *FLAGS, "--seed", seed, *a.extra,
                        "--out", model], check=True, capture_output=True)
        test_from = DAY2 - 86_400  # day 1, 00:00: the test period is S's incident hours
        subprocess.run([a.bin, "eval", "--model", model, "--data", os.path.join(d, "test"),
                        "--train-until", str(test_from), "--out", os.path.join(d, "eval")],
                       check=True, capture_output=True)
        rep = json.load(open(os.path.join(d, "eval", "report.json")))
        rows = {"model": rep, **rep["baselines"]}
        for name, r in rows.items():
            inc = r["incidents"]
            p = pooled.setdefault(name, {"incidents": 0, "detected": 0, "false": 0, "days": 0.0,
                                         "worst": (0.0, None)})
            det = round(inc["count"] * inc["detected_within_120s_ratio"])
            p["incidents"] += inc["count"]
            p["detected"] += det
            p["false"] += r["false_alarms"]
            p["days"] += r["target_days"]
            fa = r["false_alarms"] / r["target_days"] if r["target_days"] else 0.0
            if fa > p["worst"][0]:
                p["worst"] = (fa, s)
        m = rows["model"]
        print(f"{s:40} incidents {m['incidents']['count']} detected<=120s "
              f"{round(m['incidents']['count'] * m['incidents']['detected_within_120s_ratio'])} "
              f"false alarms {m['false_alarms']} over {m['target_days']:.3f} target-days "
              f"(threshold {rep['model']['threshold']:.4f})")
    print()
    print("| scorer | incidents | detected <= 120 s | false alarms / target-day | worst service (FA/td) |")
    print("|---|---|---|---|---|")
    for name, p in pooled.items():
        print(f"| {name} | {p['incidents']} | {p['detected']} ({100 * p['detected'] / max(p['incidents'], 1):.1f}%) "
              f"| {p['false'] / p['days']:.2f} | {p['worst'][1] or '-'} ({p['worst'][0]:.2f}) |")

    return pooled

if __name__ == "__main__":
    main()
