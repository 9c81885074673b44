"""How `onset_shift`'s rank and k were chosen: Nezha Online Boutique day 1 only (2022-08-22; day 2 unseen).

For every target, metric and sample time t: the shift |mean(samples in (t-120 s, t]) - mean(the 600 s
before)| / std(those 600 s); divided by that target and metric's 99th percentile of shifts over the whole
of day 1 (label-free); the score is the rank-th largest ratio over the 16 metrics; a sample alarms when it
reaches k. Printed: day-1 incidents with an alarm within [start - 120 s, start + 120 s], and false alarm
episodes (an alarm onset not in [start - 120 s, end) of one of the target's incidents; alarms within 120 s
of each other are one episode) per target-day. The labels only score the grid.

    bench/sklearn_compare/.venv/bin/python bench/nezha/onset_shift_day1.py   # numpy + pandas
"""
import sys

import numpy as np
import pandas as pd

DATA = "../shared/data/nezha-onlineboutique/"
DAY2 = 1661212800  # 2022-08-23T00:00:00Z
AFTER, BEFORE, Q = 120, 600, 99.0

metrics = pd.read_csv(DATA + "metrics.csv")
metrics = metrics[metrics.timestamp < DAY2]
events = pd.read_csv(DATA + "events.csv")
events = events[events.start < DAY2]
columns = [c for c in metrics.columns if c not in ("timestamp", "target")]


def shifts(t, v):
    out = np.full(len(t), np.nan)
    for i in range(len(t)):
        after = v[(t > t[i] - AFTER) & (t <= t[i])]
        before = v[(t >= t[i] - AFTER - BEFORE) & (t <= t[i] - AFTER)]
        after, before = after[~np.isnan(after)], before[~np.isnan(before)]
        if len(before) >= 3 and len(after) and before.std() > 0:
            out[i] = abs(after.mean() - before.mean()) / before.std()
    return out


ratios = {}
for target, g in metrics.groupby("target"):
    g = g.sort_values("timestamp")
    t = g.timestamp.values
    rows = []
    for c in columns:
        s = shifts(t, g[c].values.astype(float))
        finite = s[~np.isnan(s)]
        if len(finite) >= 60 and np.percentile(finite, Q) > 0:
            rows.append(np.nan_to_num(s / np.percentile(finite, Q)))
    ratios[target] = (t, -np.sort(-np.array(rows), axis=0))

for rank in (1, 2, 3):
    for k in (1, 1.5, 2, 3, 4, 5, 6, 8):
        detected = incidents = false = 0
        days = 0.0
        for target, (t, r) in ratios.items():
            alarm = r[rank - 1] >= k
            days += (t[-1] - t[0] + 60) / 86400
            ev = events[events.target == target]
            previous = -(10**12)
            for i in np.where(alarm)[0]:
                if t[i] - previous > AFTER and not ((ev.start - 120 <= t[i]) & (t[i] < ev.end)).any():
                    false += 1
                previous = t[i]
            for _, e in ev.iterrows():
                incidents += 1
                detected += bool((alarm & (t >= e.start - 120) & (t <= e.start + 120)).any())
        print(f"rank {rank} k {k}: {detected}/{incidents} detected <= 120 s, {false / days:.2f} FA/td")
    sys.stdout.flush()
