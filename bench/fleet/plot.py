#!/usr/bin/env python3
"""Plots bench/fleet/run.sh's results (wall time and peak RSS against rows) as an SVG, standard library only.

    bench/fleet/plot.py RESULTS.tsv OUT.svg

RESULTS.tsv: rows, train wall s, train peak RSS MB, eval wall s, eval peak RSS MB, load before, load after
(eval fields `—` when not run); the last line of each size counts.
"""
import sys


def main(src, out):
    runs = {}
    for line in open(src, encoding="utf-8"):
        f = line.rstrip("\n").split("\t")
        if len(f) >= 5:
            runs[int(f[0])] = [None if v == "—" else float(v) for v in f[1:5]]
    rows = sorted(runs)
    if not rows:
        sys.exit("no results")
    w, h, pad = 420, 300, 55
    panels = [("wall clock (s)", (0, 2)), ("peak RSS (MB)", (1, 3))]
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{2 * w}" height="{h}" font-family="sans-serif" font-size="11">',
           f'<rect width="{2 * w}" height="{h}" fill="white"/>']
    xmax = max(rows) * 1.05
    for p, (title, (ti, ei)) in enumerate(panels):
        x0 = p * w
        vals = [v for r in rows for v in (runs[r][ti], runs[r][ei]) if v is not None]
        ymax = max(vals + ([2048] if p == 1 else [600])) * 1.1
        sx = lambda r: x0 + pad + (w - 2 * pad) * r / xmax
        sy = lambda v: h - pad + -(h - 2 * pad) * v / ymax
        svg.append(f'<line x1="{x0 + pad}" y1="{h - pad}" x2="{x0 + w - pad}" y2="{h - pad}" stroke="black"/>')
        svg.append(f'<line x1="{x0 + pad}" y1="{pad}" x2="{x0 + pad}" y2="{h - pad}" stroke="black"/>')
        svg.append(f'<text x="{x0 + w / 2}" y="20" text-anchor="middle" font-size="13">{title} vs rows</text>')
        svg.append(f'<text x="{x0 + w / 2}" y="{h - 15}" text-anchor="middle">rows (millions)</text>')
        for k in range(5):
            v = ymax * k / 4
            svg.append(f'<text x="{x0 + pad - 5}" y="{sy(v) + 4}" text-anchor="end">{v:.0f}</text>')
        for r in rows:
            svg.append(f'<text x="{sx(r)}" y="{h - pad + 15}" text-anchor="middle">{r / 1e6:.0f}</text>')
        limit = 2048 if p == 1 else 600
        svg.append(f'<line x1="{x0 + pad}" y1="{sy(limit)}" x2="{x0 + w - pad}" y2="{sy(limit)}" stroke="grey" stroke-dasharray="4"/>')
        svg.append(f'<text x="{x0 + w - pad}" y="{sy(limit) - 4}" text-anchor="end" fill="grey">goal: {"2 GB" if p == 1 else "10 min"}</text>')
        for i, (name, colour) in enumerate([("train", "#1f77b4"), ("eval", "#d62728")]):
            idx = ti if name == "train" else ei
            pts = [(sx(r), sy(runs[r][idx])) for r in rows if runs[r][idx] is not None]
            if pts:
                svg.append('<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>'
                           % (colour, " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)))
                for x, y in pts:
                    svg.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/>')
            svg.append(f'<text x="{x0 + pad + 10}" y="{pad + 14 * i}" fill="{colour}">{name}</text>')
    svg.append("</svg>")
    open(out, "w", encoding="utf-8").write("\n".join(svg) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:3])
