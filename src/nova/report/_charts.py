"""The report's charts: matplotlib (Agg) PNGs, each drawn only when its data exists.

Deterministic by construction: fixed figure sizes and dpi, the font bundled with matplotlib
(DejaVu Sans), no timestamps and no ``Software`` entry in the PNG metadata, candidate colours
fixed by the candidates' order. The same inputs give byte-identical PNGs.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import matplotlib
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter
from pydantic import BaseModel, ConfigDict

from nova.decision import MatrixResult, Measurement
from nova.evals import EvalReport, Rate
from nova.perf import CandidatePerf, LevelMetrics, choose_operating_point

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

__all__ = ["CHART_NAMES", "Chart", "build_charts", "candidate_colours", "operating_level"]

Lang = Literal["de", "en"]

CHART_NAMES = (
    "win_rates",
    "pass_rates",
    "latency_percentiles",
    "latency_throughput",
    "cost_quality",
    "sensitivity",
)
"""Every chart the report can hold, in the order the sections show them."""

# Okabe–Ito hues (told apart with the common colour-vision deficiencies), pale yellow left out.
_PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#555555")
_DPI = 150  # sharp on high-density screens; the HTML scales it to the column width
_WIDTH = 9.8  # inches: the report's content column (1,076 CSS px) at 110 px per inch
_GRID = "#D9DEE5"
_TEXT = "#1F2933"
_RC: dict[RcKeyType, object] = {
    "font.family": "DejaVu Sans",
    "font.size": 9.5,
    "axes.titlesize": 11,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.edgecolor": "#9AA5B1",
    "axes.labelcolor": _TEXT,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.axisbelow": True,
    "grid.color": _GRID,
    "grid.linewidth": 0.8,
    "xtick.color": _TEXT,
    "ytick.color": _TEXT,
    "legend.frameon": False,
}

# key | English | Deutsch, one label a line (a trailing backslash continues it)
_LABELS = """
win_title | Win rate vs {b} (95% bootstrap interval) | Gewinnrate gegen {b} (95%-Intervall)
win_x | win rate (50% = as good as the baseline) | Gewinnrate (50 % = so gut wie die Referenz)
pass_title | Pass rate (Wilson 95% interval) | Bestehensquote (Wilson-95%-Intervall)
by_cat | per category | je Kategorie
by_lang | per language | je Sprache
lat_title | Latency at the operating point | Latenz am Arbeitspunkt
ms | milliseconds | Millisekunden
lt_title | TTFT p50 vs output throughput per load level | TTFT p50 vs. Durchsatz je Laststufe
tok_s | output tokens/s | Ausgabe-Tokens/s
ttft_ms | TTFT p50 (ms) | TTFT p50 (ms)
cq_title | Cost vs quality (Pareto front highlighted) | \
  Kosten vs. Qualität (Pareto-Front hervorgehoben)
cost_x | USD per 1,000 conversations | USD je 1.000 Gespräche
pass_y | pass rate | Bestehensquote
front | Pareto front (quality, cost, latency) | Pareto-Front (Qualität, Kosten, Latenz)
dominated | dominated | dominiert
sens_title | Probability of rank 1 under perturbed weights | \
  Wahrscheinlichkeit für Platz 1 bei gestörten Gewichten
p_first | probability of rank 1 | Wahrscheinlichkeit Platz 1
"""


class Chart(BaseModel):
    """One rendered chart."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    """One of ``CHART_NAMES``; also the ``data-chart`` attribute and the PNG file suffix."""
    title: str
    """Heading shown above the chart."""
    alt: str
    """Alternative text: the chart's numbers in words."""
    png: bytes
    """The PNG image."""

    @property
    def b64(self) -> str:
        """The PNG as base64, for a ``data:`` URI."""
        return base64.b64encode(self.png).decode("ascii")


def candidate_colours(candidates: Sequence[str]) -> dict[str, str]:
    """A fixed colour per candidate (by position), shared by every chart and table."""
    return {c: _PALETTE[i % len(_PALETTE)] for i, c in enumerate(dict.fromkeys(candidates))}


def operating_level(perf: CandidatePerf) -> LevelMetrics | None:
    """The level the run chose as operating point (else the one it would choose)."""
    for lv in perf.levels:
        if lv.label == perf.operating_point:
            return lv
    return choose_operating_point(perf.levels)


def _figure(height: float, ncols: int = 1, ratios: Sequence[float] | None = None) -> Figure:
    fig = Figure(figsize=(_WIDTH, height), dpi=_DPI, layout="constrained")
    FigureCanvasAgg(fig)
    fig.subplots(1, ncols, width_ratios=ratios, squeeze=False)
    return fig


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None}, facecolor="white")
    return buf.getvalue()


def _pct(x: float) -> str:
    return f"{x:.1%}"


def _p(p: float) -> str:
    return "p<0.001" if p < 0.001 else f"p={p:.3f}"


def _grouped_bars(
    ax: Axes,
    groups: list[str],
    series: dict[str, list[float | None]],
    colours: dict[str, str],
    errors: dict[str, list[tuple[float, float]]] | None = None,
) -> None:
    """Bars per group, one per series (candidate); None values are left out."""
    n = max(len(series), 1)
    width = 0.8 / n
    for i, (name, vals) in enumerate(series.items()):
        xs = [g + (i - (n - 1) / 2) * width for g in range(len(groups))]
        keep = [j for j, v in enumerate(vals) if v is not None]
        heights = [float(vals[j] or 0.0) for j in keep]
        yerr = None
        if errors is not None:
            err = [errors[name][j] for j in keep]
            # Clamped at 0: a Wilson bound of 1.0 computes as 0.9999999999999999.
            yerr = [
                [max(0.0, h - lo) for h, (lo, _) in zip(heights, err, strict=True)],
                [max(0.0, hi - h) for h, (_, hi) in zip(heights, err, strict=True)],
            ]
        ax.bar(
            [xs[j] for j in keep],
            heights,
            width * 0.92,
            yerr=yerr,
            color=colours[name],
            label=name,
            error_kw={"ecolor": "#3E4C59", "elinewidth": 1, "capsize": 3},
        )
    ax.set_xticks(range(len(groups)), groups)
    ax.grid(axis="x", visible=False)


def _win_rates(q: EvalReport, colours: dict[str, str], t: dict[str, str]) -> Chart | None:
    rows = [(c.candidate, c.win_rate) for c in q.candidates if c.win_rate is not None]
    if not rows:
        return None
    fig = _figure(1.3 + 0.42 * len(rows))
    ax = fig.axes[0]
    ys = list(range(len(rows)))[::-1]
    for y, (cid, w) in zip(ys, rows, strict=True):
        ax.errorbar(
            w.rate,
            y,
            xerr=[[w.rate - w.low], [w.high - w.rate]],
            fmt="o",
            color=colours[cid],
            markersize=7,
            capsize=4,
            elinewidth=2,
        )
    ax.axvline(0.5, color="#616E7C", linestyle="--", linewidth=1)
    ax.set_xlim(0.0, 1.0)
    ax.set_ylim(-0.6, len(rows) - 0.4)
    ax.set_yticks(ys, [cid for cid, _ in rows])
    ax.grid(axis="y", visible=False)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_xlabel(t["win_x"])
    right = ax.twinx()
    right.set_ylim(ax.get_ylim())
    right.set_yticks(
        ys, [f"{_pct(w.rate)} [{_pct(w.low)}–{_pct(w.high)}]  {_p(w.p_value)}" for _, w in rows]
    )
    right.grid(visible=False)
    right.tick_params(length=0)
    right.spines["right"].set_visible(False)
    title = t["win_title"].format(b=q.baseline or "baseline")
    ax.set_title(title)
    alt = "; ".join(
        f"{cid}: {_pct(w.rate)} [{_pct(w.low)}–{_pct(w.high)}], {_p(w.p_value)}" for cid, w in rows
    )
    return Chart(name="win_rates", title=title, alt=f"{title}. {alt}", png=_png(fig))


def _pass_rates(q: EvalReport, colours: dict[str, str], t: dict[str, str]) -> Chart | None:
    cands = [c for c in q.candidates if c.pass_rate.n > 0 and (c.by_category or c.by_language)]
    if not cands:
        return None
    panels: list[tuple[str, list[str], dict[str, dict[str, Rate]]]] = []
    for label, attr in (("by_cat", "by_category"), ("by_lang", "by_language")):
        per = {c.candidate: getattr(c, attr) for c in cands}
        groups = sorted({g for rates in per.values() for g in rates})
        if groups:
            panels.append((t[label], groups, per))
    fig = _figure(3.6, len(panels), [len(g) + 1 for _, g, _ in panels])
    alt = []
    for ax, (label, groups, per) in zip(fig.axes, panels, strict=True):
        vals = {c: [r[g].rate if g in r else None for g in groups] for c, r in per.items()}
        errs = {
            c: [(r[g].low, r[g].high) if g in r else (0.0, 0.0) for g in groups]
            for c, r in per.items()
        }
        _grouped_bars(ax, groups, dict(vals), colours, errs)
        ax.set_ylim(0.0, 1.05)
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        ax.set_title(label, fontsize=10, loc="center")
        if len(groups) > 4:
            ax.tick_params(axis="x", labelrotation=25)
        alt.append(
            f"{label}: "
            + "; ".join(
                f"{c} {g} {_pct(r[g].rate)}" for c, r in per.items() for g in groups if g in r
            )
        )
    fig.axes[0].set_ylabel(t["pass_y"])
    fig.legend(
        *fig.axes[0].get_legend_handles_labels(),
        loc="outside lower center",
        ncols=min(len(cands), 6),
    )
    fig.suptitle(t["pass_title"], x=0.01, ha="left", fontsize=11, fontweight="bold")
    return Chart(name="pass_rates", title=t["pass_title"], alt=". ".join(alt), png=_png(fig))


def _latency(perf: list[CandidatePerf], colours: dict[str, str], t: dict[str, str]) -> Chart | None:
    ops = {p.candidate: lv for p in perf if (lv := operating_level(p)) and lv.ttft_ms}
    if not ops:
        return None
    ttft = ["p50", "p90", "p95", "p99"]
    e2el = ["p50", "p99"]
    fig = _figure(3.4, 2, [len(ttft) + 1, len(e2el) + 1])
    ax1, ax2 = fig.axes
    _grouped_bars(
        ax1,
        [f"TTFT {s}" for s in ttft],
        {c: [getattr(lv.ttft_ms, s) for s in ttft] for c, lv in ops.items()},
        colours,
    )
    _grouped_bars(
        ax2,
        [f"E2EL {s}" for s in e2el],
        {
            c: [getattr(lv.e2el_ms, s) if lv.e2el_ms else None for s in e2el]
            for c, lv in ops.items()
        },
        colours,
    )
    ax1.set_ylabel(t["ms"])
    fig.legend(*ax1.get_legend_handles_labels(), loc="outside lower center", ncols=min(len(ops), 6))
    fig.suptitle(t["lat_title"], x=0.01, ha="left", fontsize=11, fontweight="bold")
    alt = "; ".join(
        f"{c} ({lv.label}): TTFT p50 {lv.ttft_ms.p50:.0f} ms, p99 {lv.ttft_ms.p99:.0f} ms"
        + (f", E2EL p50 {lv.e2el_ms.p50:.0f} ms" if lv.e2el_ms else "")
        for c, lv in ops.items()
        if lv.ttft_ms
    )
    return Chart(
        name="latency_percentiles",
        title=t["lat_title"],
        alt=f"{t['lat_title']}. {alt}",
        png=_png(fig),
    )


def _latency_throughput(
    perf: list[CandidatePerf], colours: dict[str, str], t: dict[str, str]
) -> Chart | None:
    curves = {p.candidate: [lv for lv in p.levels if lv.ttft_ms] for p in perf}
    curves = {c: lvs for c, lvs in curves.items() if lvs}
    if not curves:
        return None
    fig = _figure(3.8)
    ax = fig.axes[0]
    alt = []
    for cid, lvs in curves.items():
        xs = [lv.output_throughput for lv in lvs]
        ys = [lv.ttft_ms.p50 for lv in lvs if lv.ttft_ms]
        ax.plot(xs, ys, marker="o", color=colours[cid], label=cid, linewidth=2)
        for lv, x, y in zip(lvs, xs, ys, strict=True):
            tag = f"c={lv.concurrency}" if lv.concurrency is not None else f"{lv.rate:g}/s"
            ax.annotate(
                tag, (x, y), textcoords="offset points", xytext=(5, 5), fontsize=8, color="#52606D"
            )
        alt.append(
            f"{cid}: "
            + ", ".join(f"{x:.0f} tok/s at {y:.0f} ms" for x, y in zip(xs, ys, strict=True))
        )
    ax.set_xlabel(t["tok_s"])
    ax.set_ylabel(t["ttft_ms"])
    ax.set_ylim(bottom=0)
    ax.margins(x=0.08)
    ax.set_title(t["lt_title"])
    ax.legend(loc="best")
    return Chart(name="latency_throughput", title=t["lt_title"], alt="; ".join(alt), png=_png(fig))


def _number(m: Measurement) -> float | None:
    v = m.value
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def _cost_quality(m: MatrixResult, colours: dict[str, str], t: dict[str, str]) -> Chart | None:
    pts: dict[str, tuple[float, float, Measurement]] = {}
    for cid in m.candidates:
        ev = m.evidence.candidates.get(cid)
        if ev is None:
            continue
        q, cost = ev.get("pass_rate"), _number(ev.get("cost_per_1k_conversations"))
        if (qv := _number(q)) is not None and cost is not None:
            pts[cid] = (cost, qv, q)
    if not pts:
        return None
    front = [c for c in (m.pareto.front if m.pareto else []) if c in pts]
    fig = _figure(3.8)
    ax = fig.axes[0]
    line = sorted(front, key=lambda c: (pts[c][0], -pts[c][1]))
    if len(line) > 1:
        ax.plot(
            [pts[c][0] for c in line],
            [pts[c][1] for c in line],
            color="#3E4C59",
            linewidth=1.5,
            linestyle="-",
            zorder=1,
            label=t["front"],
        )
    for cid, (x, y, q) in pts.items():
        on = cid in front
        yerr = None
        if q.low is not None and q.high is not None:
            yerr = [[max(0.0, y - q.low)], [max(0.0, q.high - y)]]
        ax.errorbar(
            x,
            y,
            yerr=yerr,
            fmt="o",
            color=colours[cid],
            markersize=11 if on else 7,
            markeredgecolor="#1F2933" if on else colours[cid],
            markeredgewidth=1.5,
            alpha=1.0 if on else 0.6,
            capsize=3,
            zorder=3,
        )
        ax.annotate(
            cid + ("" if on else f" ({t['dominated']})"),
            (x, y),
            textcoords="offset points",
            xytext=(8, 6),
            fontsize=8.5,
        )
    xs, ys = [p[0] for p in pts.values()], [p[1] for p in pts.values()]
    ax.set_xlim(0, max(xs) * 1.25 if max(xs) > 0 else 1.0)
    ax.set_ylim(max(0.0, min(ys) - 0.2), min(1.05, max(ys) + 0.15))  # room for the intervals
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_xlabel(t["cost_x"])
    ax.set_ylabel(t["pass_y"])
    ax.set_title(t["cq_title"])
    if len(line) > 1:
        ax.legend(loc="lower right")
    alt = "; ".join(
        f"{c}: {x:.2f} USD, {_pct(y)}" + (" (Pareto front)" if c in front else "")
        for c, (x, y, _) in pts.items()
    )
    return Chart(
        name="cost_quality", title=t["cq_title"], alt=f"{t['cq_title']}. {alt}", png=_png(fig)
    )


def _sensitivity(m: MatrixResult, colours: dict[str, str], t: dict[str, str]) -> Chart | None:
    if m.sensitivity is None or not m.sensitivity.p_first:
        return None
    p = m.sensitivity.p_first
    order = sorted(p, key=lambda c: (-p[c], c))
    fig = _figure(1.2 + 0.42 * len(order))
    ax = fig.axes[0]
    ys = list(range(len(order)))[::-1]
    bars = ax.barh(ys, [p[c] for c in order], 0.6, color=[colours[c] for c in order])
    ax.bar_label(bars, labels=[_pct(p[c]) for c in order], padding=4, fontsize=9)
    ax.set_yticks(ys, order)
    ax.set_xlim(0.0, 1.12)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.grid(axis="y", visible=False)
    ax.set_xlabel(t["p_first"])
    ax.set_title(t["sens_title"])
    alt = "; ".join(f"{c}: {_pct(p[c])}" for c in order)
    return Chart(
        name="sensitivity", title=t["sens_title"], alt=f"{t['sens_title']}. {alt}", png=_png(fig)
    )


def build_charts(
    quality: EvalReport | None,
    perf: Sequence[CandidatePerf],
    matrix: MatrixResult | None,
    *,
    language: Lang = "en",
    colours: dict[str, str] | None = None,
) -> dict[str, Chart]:
    """Every chart whose data exists, by name (in ``CHART_NAMES`` order).

    ``colours`` maps candidates to colours (default: ``candidate_colours`` in order of
    appearance); pass the same mapping to anything drawn beside the charts.
    """
    rows = [line.split("|") for line in _LABELS.strip().splitlines()]
    t = {k.strip(): (en if language == "en" else de).strip() for k, en, de in rows}
    perf = list(perf)
    seen = [c.candidate for c in quality.candidates] if quality else []
    seen += [p.candidate for p in perf] + (matrix.candidates if matrix else [])
    colours = candidate_colours(seen) | (colours or {})
    made: list[Chart | None] = []
    with matplotlib.rc_context(_RC):
        if quality is not None:
            made += [_win_rates(quality, colours, t), _pass_rates(quality, colours, t)]
        if perf:
            made += [_latency(perf, colours, t), _latency_throughput(perf, colours, t)]
        if matrix is not None:
            made += [_cost_quality(matrix, colours, t), _sensitivity(matrix, colours, t)]
    charts = {c.name: c for c in made if c is not None}
    return {n: charts[n] for n in CHART_NAMES if n in charts}
