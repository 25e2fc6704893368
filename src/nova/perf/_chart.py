"""Latency-vs-throughput chart per candidate (matplotlib, PNG or SVG)."""

from __future__ import annotations

from pathlib import Path

from nova._io import atomic_write_bytes
from nova.perf._runner import CandidatePerf

__all__ = ["latency_throughput_chart"]


def latency_throughput_chart(
    results: list[CandidatePerf], out: Path, *, title: str = "Latency vs throughput"
) -> Path:
    """Median and p95 TTFT against output tokens/s, one line per candidate, one point per
    load level; written atomically as PNG or SVG (by suffix)."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4), dpi=110)
    for r in results:
        pts = [lv for lv in r.levels if lv.ttft_ms is not None]
        if not pts:
            continue
        x = [lv.output_throughput for lv in pts]
        (line,) = ax1.plot(
            x, [lv.ttft_ms.p50 for lv in pts if lv.ttft_ms], marker="o", label=r.candidate
        )
        ax1.plot(
            x,
            [lv.ttft_ms.p95 for lv in pts if lv.ttft_ms],
            linestyle="--",
            alpha=0.6,
            color=line.get_color(),
        )
        e2 = [lv for lv in pts if lv.e2el_ms is not None]
        ax2.plot(
            [lv.output_throughput for lv in e2],
            [lv.e2el_ms.p50 for lv in e2 if lv.e2el_ms],
            marker="o",
            label=r.candidate,
        )
        for lv in pts:
            ax1.annotate(
                str(lv.concurrency or lv.rate),
                (lv.output_throughput, lv.ttft_ms.p50 if lv.ttft_ms else 0),
                fontsize=7,
                textcoords="offset points",
                xytext=(3, 3),
            )
    ax1.set_xlabel("output tokens/s")
    ax1.set_ylabel("TTFT ms (solid p50, dashed p95)")
    ax2.set_xlabel("output tokens/s")
    ax2.set_ylabel("end-to-end latency p50, ms")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title + " (labels: concurrency or req/s)")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="svg" if out.suffix.lower() == ".svg" else "png")
    plt.close(fig)
    atomic_write_bytes(out, buf.getvalue())
    return out
