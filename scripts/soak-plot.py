"""Plot a soak run's samples (scripts/soak.ts writes the CSV, then runs this).

usage: python soak-plot.py SAMPLES.csv OUT.png WARMUP_SECONDS TITLE

Panels against minutes of steady load, one line per service: RSS, heap used, heap total
and external memory (when the run sampled them), event-loop delay p99, consumer lag,
open files, and the input rate (lines produced per second between samples). The
warm-up, left out of the trend fit, is shaded.
"""
import csv
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main() -> None:
    src, out, warmup, title = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
    series = defaultdict(lambda: defaultdict(list))
    produced = {}
    panels = [
        ("rss_mb", "RSS (MB)"),
        ("heap_used_mb", "heap used (MB)"),
        ("heap_total_mb", "heap total (MB)"),
        ("external_mb", "external memory (MB)"),
        ("loop_p99_ms", "event-loop delay p99 (ms)"),
        ("lag", "consumer lag (records)"),
        ("open_files", "open files"),
    ]
    with open(src, newline="") as f:
        reader = csv.DictReader(f)
        # Runs from before heap total and external memory were sampled have no such columns.
        panels = [(col, label) for col, label in panels if col in (reader.fieldnames or [])]
        for row in reader:
            t = float(row["t_s"]) / 60
            for col, _ in panels:
                series[col][row["service"]].append((t, float(row[col]) if row[col] else float("nan")))
            produced[t] = float(row["produced"])
    rows = (len(panels) + 2) // 2
    fig, axes = plt.subplots(rows, 2, figsize=(12, 3.4 * rows), sharex=True)
    for ax, (col, label) in zip(axes.flat, panels):
        for service, pts in series[col].items():
            ax.plot([p[0] for p in pts], [p[1] for p in pts], label=service, linewidth=1.2)
        ax.set_ylabel(label)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    ts = sorted(produced)
    rate = [(b, (produced[b] - produced[a]) / ((b - a) * 60)) for a, b in zip(ts, ts[1:]) if b > a]
    ax = axes.flat[len(panels)]
    ax.plot([p[0] for p in rate], [p[1] for p in rate], color="black", linewidth=1.2, label="produced")
    ax.set_ylabel("input (lines/s)")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    for ax in axes.flat[len(panels) + 1:]:
        ax.set_visible(False)
    for ax in axes.flat:
        ax.axvspan(0, warmup / 60, color="grey", alpha=0.15, linewidth=0)
    for ax in axes[-1]:
        ax.set_xlabel("minutes of steady load (shaded: warm-up, not fitted)")
    axes.flat[0].legend(loc="lower right", fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out, dpi=90)


if __name__ == "__main__":
    main()
