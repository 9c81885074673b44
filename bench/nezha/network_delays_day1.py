"""Is a Nezha network delay visible anywhere? Day 1 only (2022-08-22; training data, day 2 unseen).

For each of day 1's network_issue incidents: the onset shift (the report's onset-signal measure: mean of
the 120 s from the start against the 600 s before, in standard deviations of those) of every metric of
every one of the 10 services, divided by that service and metric's 99th percentile of shifts over the whole
day. Printed: the largest ratio on the delayed service itself and the three largest anywhere. Over 160
series, several ratios near 1 are expected by chance at any moment.

    bench/sklearn_compare/.venv/bin/python bench/nezha/network_delays_day1.py   # numpy + pandas
"""
import numpy as np
import pandas as pd

DATA = "../shared/data/nezha-onlineboutique/"
DAY2 = 1661212800  # 2022-08-23T00:00:00Z
AFTER, BEFORE = 120, 600

metrics = pd.read_csv(DATA + "metrics.csv")
metrics = metrics[metrics.timestamp < DAY2]
events = pd.read_csv(DATA + "events.csv")
events = events[(events.start < DAY2) & (events.issue_type == "network_issue")]
columns = [c for c in metrics.columns if c not in ("timestamp", "target")]


def shift(t, v, at):
    after = v[(t >= at) & (t <= at + AFTER)]
    before = v[(t >= at - BEFORE) & (t < at)]
    after, before = after[~np.isnan(after)], before[~np.isnan(before)]
    if len(before) < 3 or not len(after) or before.std() <= 0:
        return np.nan
    return abs(after.mean() - before.mean()) / before.std()


series = {}
for target, g in metrics.groupby("target"):
    g = g.sort_values("timestamp")
    t = g.timestamp.values
    for c in columns:
        v = g[c].values.astype(float)
        normal = np.array([shift(t, v, x) for x in t])
        p99 = np.nanpercentile(normal, 99)
        if p99 > 0:
            series[(target, c)] = (t, v, p99)

short = lambda target: target.split("/")[1]
for _, e in events.iterrows():
    ratios = sorted(
        ((shift(t, v, e.start) / p99, f"{short(target)}.{c}") for (target, c), (t, v, p99) in series.items()),
        key=lambda r: -np.nan_to_num(r[0]),
    )
    own = next(r for r in ratios if r[1].startswith(short(e.target) + "."))
    top = ", ".join(f"{name} {r:.1f}" for r, name in ratios[:3])
    print(f"{short(e.target)}: own largest {own[0]:.2f} ({own[1]}); anywhere: {top}", flush=True)

# The same "largest anywhere" at ordinary minutes: 200 evenly spaced sample times of day 1 farther than
# 15 minutes from every incident of any service.
all_events = pd.read_csv(DATA + "events.csv")
times = np.sort(metrics.timestamp.unique())
quiet = [x for x in times if ((all_events.start - 900 > x) | (all_events.end + 900 < x)).all()]
largest = []
for x in quiet[:: max(1, len(quiet) // 200)]:
    r = [shift(t, v, x) / p99 for (t, v, p99) in series.values()]
    largest.append(np.nanmax(r))
print(
    f"ordinary minutes ({len(largest)}): largest anywhere median {np.median(largest):.2f}, "
    f"90th percentile {np.percentile(largest, 90):.2f}"
)
