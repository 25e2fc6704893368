"""The benchmark report: one self-contained HTML file and a Markdown summary.

The HTML inlines its CSS and every chart (``data:`` PNG URIs), so it opens offline and can be
mailed or archived as one file; a small inline script reports in ``body[data-charts-ok]``
whether every chart decoded. The Markdown holds the same tables and links the charts, which
are written beside it as ``<run id>-<chart>.png``. Values nova did not measure are shown as
"not measured" (a dash in table cells), never as zero.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import jinja2
import markupsafe
from pydantic import BaseModel, ConfigDict, Field

from nova._io import atomic_write_bytes, atomic_write_text
from nova.decision import MatrixResult
from nova.evals import DEFINITIONS as Q_DEFS
from nova.evals import EvalReport, Rate
from nova.perf import DEFINITIONS as PERF_DEFINITIONS
from nova.perf import CandidatePerf, Summary
from nova.report._charts import Chart, build_charts, candidate_colours, operating_level
from nova.safety import RedTeamReport

__all__ = ["ReportInputs", "render_report", "write_report"]

_DASH = "—"
# key | English | Deutsch, one label a line (a trailing backslash continues it); t.<key>
_LABELS = """
report | Benchmark report | Benchmark-Bericht
run | Run | Lauf
generated | Generated | Erzeugt
version | nova version | nova-Version
config | Config hash | Konfigurations-Hash
workspace | Workspace | Arbeitsbereich
warnings | Warnings | Warnungen
summary | Summary | Zusammenfassung
quality | Quality | Qualität
performance | Performance | Performance
decision | Decision | Entscheidung
definitions | Definitions | Definitionen
provenance | Provenance | Herkunft der Daten
nm | not measured | nicht gemessen
dash_note | — = not measured. | — = nicht gemessen.
cand | Candidate | Kandidat
pass | Pass rate [95% CI] | Bestehensquote [95%-KI]
win | Win rate vs baseline [95% CI] | Gewinnrate gegen Referenz [95%-KI]
ttft | TTFT p50 / p95 (ms) | TTFT p50 / p95 (ms)
toks | Output tok/s | Ausgabe-Tok/s
cost1k | USD / 1k conversations | USD / 1.000 Gespräche
cost1k_eur | EUR / 1k conversations | EUR / 1.000 Gespräche
stale | STALE price sheet | Preisliste VERALTET
gates | Gates | Gates
rank | Rank | Rang
notes | Notes | Hinweise
baseline | baseline | Referenz
passed | passed | erfüllt
failed | failed | verfehlt
unknown | unknown | unbekannt
op_note | TTFT, throughput and cost at each candidate's operating point. | \
  TTFT, Durchsatz und Kosten am Arbeitspunkt des Kandidaten.
category | Category | Kategorie
language | Language | Sprache
by_cat | Pass rate per category | Bestehensquote je Kategorie
by_lang | Pass rate per language | Bestehensquote je Sprache
wins | Win rate vs baseline | Gewinnrate gegen Referenz
wlt | Wins / ties / losses | Siege / Unentschieden / Niederlagen
method | Method | Methode
escal | Missed vs unnecessary escalations | Verpasste vs. unnötige Eskalationen
missed | Missed [95% CI] | Verpasst [95%-KI]
unnec | Unnecessary [95% CI] | Unnötig [95%-KI]
esc_cost | Cost per 100 cases | Kosten je 100 Fälle
power | Sample size and noise | Stichprobe und Streuung
cases | Cases | Fälle
undecided | Undecided | Unentschieden
errors | Errors | Fehler
mde | MDE | MDE
sd | Run-to-run SD | Streuung zw. Läufen
worst | Worst slice | Schwächster Ausschnitt
mde_note | MDE: smallest pass-rate difference this dataset detects (α 0.05, power 0.8). | \
  MDE: kleinster Unterschied der Bestehensquote, den dieser Datensatz erkennt (α 0,05, Power 0,8).
bt | Bradley–Terry strengths | Bradley-Terry-Stärken
levels | Load levels | Laststufen
level | Level | Laststufe
ok | OK / all | OK / alle
goodput | Goodput (req/s) | Goodput (Anf./s)
reqs | req/s | Anf./s
op_mark | ★ operating point (used for cost and the summary); times in ms. | \
  ★ Arbeitspunkt (Grundlage für Kosten und Zusammenfassung); Zeiten in ms.
cost | Cost at the operating point | Kosten am Arbeitspunkt
mtok | USD / 1M output tokens | USD / 1 Mio. Ausgabe-Tokens
basis | Basis | Grundlage
winner | Recommendation | Empfehlung
no_winner | none (every candidate fails a hard gate) | \
  keiner (alle Kandidaten verfehlen ein Pflichtkriterium)
disagree | Weighted sum and TOPSIS name different winners: | \
  Gewichtete Summe und TOPSIS nennen verschiedene Gewinner:
ws_name | weighted sum | gewichtete Summe
criteria | Criteria and weights | Kriterien und Gewichte
criterion | Criterion | Kriterium
source | Source | Quelle
weight | Weight | Gewicht
direction | Direction | Richtung
higher | higher is better | höher ist besser
lower | lower is better | niedriger ist besser
matrix | Selection matrix | Auswahlmatrix
ws | Weighted sum (rank) | Gewichtete Summe (Rang)
topsis | TOPSIS (rank) | TOPSIS (Rang)
gate_detail | Hard gates | Pflichtkriterien (Gates)
gate | Gate | Gate
result | Result | Ergebnis
actual | Value | Wert
reason | Reason | Begründung
sens | Sensitivity | Sensitivität
noise | Measurement noise alone (weights fixed): the winner {w} changes in {p} of the \
resamples ({d}). | \
  Messrauschen allein (Gewichte fest): der Gewinner {w} wechselt in {p} der Stichproben ({d}).
p_first | P(rank 1) | P(Platz 1)
mean_rank | Mean rank | Mittlerer Rang
flips | Smallest weight change that changes the winner | \
  Kleinste Gewichtsänderung, die den Gewinner ändert
new_weight | New weight | Neues Gewicht
new_winner | New winner | Neuer Gewinner
pareto | Pareto front (quality, cost, latency) | Pareto-Front (Qualität, Kosten, Latenz)
front | On the front | Auf der Front
dominated_by | dominated by | dominiert von
excluded | left out, no value for | ausgelassen, kein Wert für
q_defs | Quality metrics | Qualitätsmetriken
p_defs | Performance metrics | Performance-Metriken
defs_en | | Die Definitionen stehen im Wortlaut des Codes (Englisch).
key | Item | Eintrag
value | Value | Wert
footer | Generated by nova | Erzeugt von nova
chart_win_rates | Win rates vs baseline | Gewinnraten gegen Referenz
chart_pass_rates | Pass rates per category and language | Bestehensquoten je Kategorie und Sprache
chart_latency_percentiles | Latency percentiles | Latenz-Perzentile
chart_latency_throughput | Latency vs throughput | Latenz vs. Durchsatz
chart_cost_quality | Cost vs quality | Kosten vs. Qualität
chart_sensitivity | Sensitivity | Sensitivität
redteam | Red teaming | Red Teaming
rails | Rails | Rails
asr | Attack success [95% CI] | Angriffserfolg [95%-KI]
overref | Over-refusal [95% CI] | Überverweigerung [95%-KI]
rail_ms | Rail ms p50 / p95 | Rails ms p50 / p95
rt_cat | Attack success per category | Angriffserfolg je Kategorie
rt_pairs | Paired differences on the same attacks | Gepaarte Unterschiede auf denselben Angriffen
rt_a | A | A
rt_b | B | B
rt_shared | Shared attacks | Gemeinsame Angriffe
rt_disc | A only / B only | nur A / nur B
rt_diff | ASR(A) − ASR(B) [95% CI] | ASR(A) − ASR(B) [95%-KI]
rt_p | McNemar p | McNemar p
rt_succ | Successful attacks (redacted excerpts) | Erfolgreiche Angriffe (geschwärzte Auszüge)
scenario | Scenario | Szenario
converter | Converter | Konverter
evidence | Evidence | Beleg
on | on | an
off | off | aus
rt_note | Attack success = successful attacks / decided attacks; over-refusal = refused benign \
  look-alikes / decided benign ones; Wilson 95% intervals; differences with Newcombe's interval \
  and the exact McNemar test. | \
  Angriffserfolg = erfolgreiche / entschiedene Angriffe; Überverweigerung = abgelehnte harmlose \
  Ähnliche / entschiedene harmlose; Wilson-95%-Intervalle; Unterschiede mit Newcombe-Intervall \
  und exaktem McNemar-Test.
"""


def _labels(lang: str) -> dict[str, str]:
    rows = [line.split("|") for line in _LABELS.strip().splitlines()]
    return {key.strip(): (en if lang == "en" else de).strip() for key, en, de in rows}


class ReportInputs(BaseModel):
    """Everything one benchmark report shows."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    title: str
    """Heading of the report."""
    run_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    """Id of the parent ``benchmarks`` run; also the file name stem."""
    generated_at: dt.datetime
    """When the report was generated (naive times are taken as UTC)."""
    nova_version: str
    """nova version that generated it."""
    config_hash: str
    """Hash of nova.yaml the runs used."""
    workspace_name: str
    """Workspace (assistant) name."""
    language: Literal["de", "en"] = "en"
    """Language of labels and headings."""
    quality: EvalReport | None = None
    """Quality report (None: no quality run)."""
    perf: list[CandidatePerf] = Field(default_factory=list)
    """Performance results per candidate (empty: no performance run)."""
    matrix: MatrixResult | None = None
    """Selection matrix (None: not computed)."""
    warnings: list[str] = Field(default_factory=list)
    """Shown prominently at the top, e.g. that a demo used tiny generated models."""
    not_measured: dict[str, str] = Field(default_factory=dict)
    """Candidate -> why it was not measured."""
    provenance: dict[str, str] = Field(default_factory=dict)
    """Run ids, dataset hashes, price sheets with dates: the final table."""
    redteam: RedTeamReport | None = None
    """Red-team report (None: no red-team run)."""


@dataclass
class _Table:
    """A table as the templates lay it out: strings only."""

    headers: list[str]
    numeric: set[int] = field(default_factory=set)
    """Columns aligned right (HTML)."""
    swatch: int | None = 0
    """Column holding a candidate id (HTML shows its chart colour next to it)."""
    rows: list[list[str]] = field(default_factory=list)


class _Fmt:
    """Numbers in the report's language (de: ``1.234,5`` and ``82,0 %``)."""

    def __init__(self, lang: str) -> None:
        self.de = lang == "de"

    def _loc(self, s: str) -> str:
        return s.translate(str.maketrans(",.", ".,")) if self.de else s

    def num(self, x: float | None, digits: int = 0) -> str:
        if x is None or math.isnan(x):
            return _DASH
        return "∞" if math.isinf(x) else self._loc(f"{x:,.{digits}f}")

    def pct(self, x: float | None) -> str:
        if x is None or math.isnan(x):
            return _DASH
        return self._loc(f"{x:.1%}").replace("%", " %" if self.de else "%")

    def ci(self, x: float, lo: float, hi: float, n: int | None = None) -> str:
        bounds = self._loc(f"{lo * 100:.1f}–{hi * 100:.1f}")
        return f"{self.pct(x)} [{bounds}]" + (f" n={n}" if n is not None else "")

    def rate(self, r: Rate | None) -> str:
        return _DASH if r is None or r.n == 0 else self.ci(r.rate, r.low, r.high, r.n)

    def p(self, p: float) -> str:
        return "p<" + self._loc("0.001") if p < 0.001 else "p=" + self._loc(f"{p:.3f}")

    def ms(self, s: Summary | None, stat: str, digits: int = 0) -> str:
        return self.num(getattr(s, stat), digits) if s is not None else _DASH


def _words(text: str) -> str:
    return " ".join(text.replace("``", "`").split())


def _candidates(inp: ReportInputs) -> list[str]:
    order = list(inp.matrix.order) if inp.matrix else []
    order += [c.candidate for c in inp.quality.candidates] if inp.quality else []
    order += [p.candidate for p in inp.perf] + list(inp.not_measured)
    return list(dict.fromkeys(order))


def _gate_status(m: MatrixResult | None, cid: str, t: dict[str, str]) -> str:
    if m is None or cid not in m.candidates:
        return _DASH
    primary = m.weighted_sum if m.method == "weighted-sum" else m.topsis
    if failed := primary.failed_gates.get(cid):
        return f"{t['failed']}: " + ", ".join(g.split(":")[0] for g in failed)
    if unknown := primary.unknown_gates.get(cid):
        return f"{t['unknown']}: " + ", ".join(g.split(":")[0] for g in unknown)
    return t["passed"]


def _cost_1k(
    cp: CandidatePerf | None, m: MatrixResult | None, cid: str
) -> tuple[float | None, float | None, bool]:
    """(USD, EUR per 1,000 conversations, price sheet stale): the performance run's estimate,
    else the matrix evidence."""
    c = cp.cost if cp and cp.cost and cp.cost.usd_per_1k_conversations is not None else None
    if c is None and m is not None:
        c = m.evidence.costs.get(cid)
    if c is not None and c.usd_per_1k_conversations is not None:
        return c.usd_per_1k_conversations, c.eur_per_1k_conversations, c.sheet_stale
    v = m.evidence.candidates[cid].get("cost_per_1k_conversations").value if m else None
    usd = float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None
    return usd, None, False


def _fx(inp: ReportInputs) -> str | None:
    """The USD/EUR rate with its date, as the EUR figures use it."""
    costs = [p.cost for p in inp.perf if p.cost] + (
        list(inp.matrix.evidence.costs.values()) if inp.matrix else []
    )
    return next((c.fx for c in costs if c.fx), None)


def _summary(inp: ReportInputs, f: _Fmt, t: dict[str, str], cands: list[str]) -> _Table:
    q = {c.candidate: c for c in inp.quality.candidates} if inp.quality else {}
    perf, m = {p.candidate: p for p in inp.perf}, inp.matrix
    cols = ["cand", "pass", "win", "ttft", "toks", "cost1k", "cost1k_eur", "gates", "rank"]
    heads = [t[c] for c in cols] + [t["notes"]]
    fx = _fx(inp)
    heads[6] += f" ({fx})" if fx else ""
    tb = _Table(heads, numeric={3, 4, 5, 6, 8})
    for cid in cands:
        cq, cp = q.get(cid), perf.get(cid)
        win = t["baseline"] if inp.quality and cid == inp.quality.baseline else _DASH
        if cq and (w := cq.win_rate):
            win = f"{f.ci(w.rate, w.low, w.high)}, {f.p(w.p_value)}"
        lv = operating_level(cp) if cp else None
        ttft = f"{f.ms(lv.ttft_ms, 'p50')} / {f.ms(lv.ttft_ms, 'p95')}" if lv else _DASH
        usd, eur, stale = _cost_1k(cp, m if m and cid in m.evidence.candidates else None, cid)
        stale_note = t["stale"] if stale else None
        notes = "; ".join(n for n in (inp.not_measured.get(cid), cp and cp.error, stale_note) if n)
        rank = str(m.order.index(cid) + 1) if m and cid in m.order else _DASH
        row = [cid, f.rate(cq.pass_rate) if cq else _DASH, win, ttft]
        cost = f.num(usd, 2) + (" ⚠" if stale else "")
        row += [f.num(lv.output_throughput, 1) if lv else _DASH, cost, f.num(eur, 2)]
        tb.rows.append([*row, _gate_status(m, cid, t), rank, notes or _DASH])
    return tb


def _quality(q: EvalReport, f: _Fmt, t: dict[str, str]) -> dict[str, Any]:
    cands = [c.candidate for c in q.candidates]
    out: dict[str, Any] = {"baseline": q.baseline}
    for key, attr, label in (("by_cat", "by_category", "category"),
                             ("by_lang", "by_language", "language")):  # fmt: skip
        per = {c.candidate: getattr(c, attr) for c in q.candidates}
        out[key] = tb = _Table([t[label], *cands], swatch=None)
        for g in sorted({g for rates in per.values() for g in rates}):
            tb.rows.append([g, *(f.rate(per[c].get(g)) for c in cands)])
    wins = _Table([t["cand"], t["wins"], t["wlt"], "p", t["method"]], numeric={3})
    esc = _Table([t["cand"], t["missed"], t["unnec"], t["esc_cost"]], numeric={3})
    cols = ["cand", "cases", "undecided", "errors", "mde", "sd", "worst"]
    power = _Table([t[c] for c in cols], numeric={1, 2, 3, 4, 5})
    for c in q.candidates:
        if w := c.win_rate:
            wlt = f"{w.wins} / {w.ties} / {w.losses}"
            wins.rows.append([c.candidate, f.ci(w.rate, w.low, w.high), wlt, f.p(w.p_value)])
            wins.rows[-1].append(c.win_method or _DASH)
        if c.missed_escalation or c.unnecessary_escalation:
            row = [f.rate(c.missed_escalation), f.rate(c.unnecessary_escalation)]
            esc.rows.append([c.candidate, *row, f.num(c.escalation_cost_per_100, 1)])
        counts = [str(c.cases), str(c.undecided), str(c.errors)]
        noise = [f.pct(c.mde), f.pct(c.run_to_run_sd), c.worst_slice or _DASH]
        power.rows.append([c.candidate, *counts, *noise])
    out |= {"wins": wins if wins.rows else None, "esc": esc if esc.rows else None}
    out["power"] = power
    out["bt"] = ", ".join(f"{c} {f.num(s, 2)}" for c, s in q.bradley_terry)
    return out


def _performance(perf: list[CandidatePerf], f: _Fmt, t: dict[str, str]) -> dict[str, Any]:
    stats = ["TTFT p50", "TTFT p95", "TTFT p99", "TPOT p50", "E2EL p50", "E2EL p99"]
    head = [t["cand"], t["level"], t["ok"], *stats, t["toks"], t["reqs"], t["goodput"]]
    levels = _Table(head, numeric=set(range(2, len(head))))
    cols = [t["cand"], t["level"], t["mtok"], t["cost1k"], t["cost1k_eur"], t["basis"]]
    cost = _Table(cols, numeric={2, 3, 4})
    errors = []
    for p in perf:
        op = operating_level(p)
        for lv in p.levels:
            star = " ★" if op is not None and lv.label == op.label else ""
            label = (lv.label + star).replace(" ", "\u00a0")  # keep "concurrency 4 ★" on a line
            row = [p.candidate, label, f"{lv.successful} / {lv.requests}"]
            row += [f.ms(lv.ttft_ms, s) for s in ("p50", "p95", "p99")]
            row += [f.ms(lv.tpot_ms, "p50", 1), f.ms(lv.e2el_ms, "p50"), f.ms(lv.e2el_ms, "p99")]
            row += [f.num(lv.output_throughput, 1), f.num(lv.request_throughput, 2)]
            levels.rows.append([*row, f.num(lv.goodput, 2)])
        if p.error:
            errors.append(f"{p.candidate}: {p.error}")
        if c := p.cost:
            row = [p.candidate, op.label if op else _DASH, f.num(c.usd_per_mtok_output, 2)]
            eur = f.num(c.eur_per_1k_conversations, 2)
            basis = c.basis + (f"; EUR at {c.fx}" if c.fx else "")
            cost.rows.append([*row, f.num(c.usd_per_1k_conversations, 2), eur, basis])
    return {"levels": levels, "cost": cost if cost.rows else None, "errors": errors}


def _redteam(rep: RedTeamReport, f: _Fmt, t: dict[str, str]) -> dict[str, Any]:
    """ASR always next to over-refusal; excerpts are already redacted by the report."""
    onoff = {True: t["on"], False: t["off"]}
    main = _Table([t["cand"], t["rails"], t["asr"], t["overref"], t["errors"], t["rail_ms"]])
    for r in rep.rows:
        asr, ref = _rate_ci(r.asr, f), _rate_ci(r.over_refusal, f)
        ms = f"{f.num(r.rail_ms_p50, 2)} / {f.num(r.rail_ms_p95, 2)}" if r.rail_ms_p50 else _DASH
        main.rows.append([r.candidate, onoff[r.guardrails], asr, ref, str(r.errors), ms])
    cats = sorted({k for r in rep.rows for k in r.by_category})
    by_cat = _Table([t["category"], *(f"{r.candidate} ({onoff[r.guardrails]})" for r in rep.rows)])
    by_cat.swatch = None
    for c in cats:
        by_cat.rows.append([c, *(_rate_ci(r.by_category.get(c), f) for r in rep.rows)])
    cols = ["rt_a", "rt_b", "rails", "rt_shared", "rt_disc", "rt_diff", "rt_p"]
    pairs = _Table([t[c] for c in cols], numeric={3, 6})
    for p in [*rep.pairs, *rep.rails_effect]:
        diff = _DASH if p.difference is None else f.ci(p.difference, p.low, p.high)
        pairs.rows.append([p.a, p.b, onoff[p.guardrails], str(p.n), f"{p.only_a} / {p.only_b}"])
        pairs.rows[-1] += [diff, f.p(p.p_value)]
    succ = _Table([t["cand"], t["scenario"], t["converter"], t["rails"], t["evidence"]])
    for x in rep.successes:
        succ.rows.append([x.candidate, x.scenario, x.converter, onoff[x.guardrails], x.evidence])
    return {
        "run": rep.run_id,
        "rails": str(rep.meta.get("rails", "")),
        "main": main,
        "by_cat": by_cat,
        "pairs": pairs if pairs.rows else None,
        "succ": succ if succ.rows else None,
    }


def _rate_ci(r: Any, f: _Fmt) -> str:
    if r is None or r.rate is None:
        return _DASH
    return f"{f.ci(r.rate, r.low, r.high)} ({r.k}/{r.n})"


def _decision(m: MatrixResult, f: _Fmt, t: dict[str, str]) -> dict[str, Any]:
    cols = ["criterion", "source", "weight", "direction"]
    crit = _Table([t[c] for c in cols], numeric={2}, swatch=None)
    for c in m.criteria:
        crit.rows.append([c["id"], f"`{c['source']}`", f.num(c["weight_normalized"], 2)])
        crit.rows[-1].append(t[c["direction"]])
    ids = [c["id"] for c in m.criteria]
    head = [t["rank"], t["cand"], *ids, t["ws"], t["topsis"], t["gates"]]
    matrix = _Table(head, numeric={0, *range(2, len(ids) + 4)}, swatch=1)
    for i, cid in enumerate(m.order, 1):
        missing = m.weighted_sum.missing.get(cid, [])
        row = [str(i), cid, *(m.cells[cid][k].display + " ⚠" * (k in missing) for k in ids)]
        for r in (m.weighted_sum, m.topsis):
            row.append(f"{f.num(r.scores[cid], 3)} ({r.order.index(cid) + 1})")
        matrix.rows.append([*row, _gate_status(m, cid, t)])
    gates = _Table([t["cand"], t["gate"], t["result"], t["actual"], t["reason"]])
    for cid, results in m.gates.items():
        for g in results:
            res = {True: t["passed"], False: t["failed"], None: t["unknown"]}[g.passed]
            actual = _DASH if g.actual is None else str(g.actual)
            gates.rows.append([cid, g.gate, res, actual, g.reason])
    sens = None
    if s := m.sensitivity:
        sens = _Table([t["cand"], t["p_first"], t["mean_rank"]], numeric={1, 2})
        for cid in sorted(s.p_first, key=lambda k: (-s.p_first[k], k)):
            sens.rows.append([cid, f.pct(s.p_first[cid]), f.num(s.mean_rank[cid], 2)])
    cols = ["criterion", "weight", "new_weight"]
    flips = _Table([*(t[c] for c in cols), "Δ", t["new_winner"]], {1, 2, 3}, swatch=None)
    for fl in m.flips:
        row = [fl.criterion, f.num(fl.weight, 3)]
        if fl.new_weight is None or fl.delta is None:
            flips.rows.append([*row, _DASH, _DASH, fl.note or _DASH])
        else:
            delta = ("+" if fl.delta >= 0 else "−") + f.num(abs(fl.delta), 3)
            flips.rows.append([*row, f.num(fl.new_weight, 3), delta, fl.new_winner or _DASH])
    pareto: list[str] = []
    if p := m.pareto:
        pareto.append(f"{t['front']}: " + (", ".join(p.front) or _DASH))
        pareto += [f"{c}: {t['dominated_by']} {', '.join(by)}" for c, by in p.dominated_by.items()]
        pareto += [f"{c}: {t['excluded']} {', '.join(d)}" for c, d in p.excluded.items()]
    disagree = ""
    if m.methods_disagree:
        ws, tp = m.weighted_sum.winner, m.topsis.winner
        disagree = f"{t['disagree']} {t['ws_name']} {ws}, TOPSIS {tp}."
    out: dict[str, Any] = {"winner": m.winner or t["no_winner"], "method": m.method}
    out["disagree"] = disagree
    out |= {"criteria": crit, "matrix": matrix, "gates": gates if gates.rows else None}
    sens_def = m.sensitivity.definition if m.sensitivity else ""
    if n := m.noise:
        noise = t["noise"].format(w=n.winner, p=f.pct(n.winner_changed), d=n.definition)
        sens_def = f"{sens_def}. {noise}" if sens_def else noise
    out |= {"sens": sens, "sens_def": sens_def}
    return out | {"flips": flips if flips.rows else None, "pareto": pareto}


def _utc(when: dt.datetime) -> str:
    aware = when if when.tzinfo else when.replace(tzinfo=dt.UTC)
    return f"{aware.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S} UTC"


def _context(
    inp: ReportInputs, charts: dict[str, Chart], colours: dict[str, str]
) -> dict[str, Any]:
    t, f = _labels(inp.language), _Fmt(inp.language)
    perf_head, *perf_defs = PERF_DEFINITIONS.split("\n- ")
    prov = _Table([t["key"], t["value"]], swatch=None)
    prov.rows = [[t["run"], inp.run_id], [t["version"], inp.nova_version]]
    prov.rows += [[t["config"], inp.config_hash], [t["workspace"], inp.workspace_name]]
    prov.rows += [[k, v] for k, v in inp.provenance.items()]
    q_defs = inp.quality.definitions if inp.quality else Q_DEFS
    ctx: dict[str, Any] = {"t": t, "r": inp, "generated": _utc(inp.generated_at)}
    ctx |= {"colours": colours, "charts": charts, "provenance": prov}
    ctx["summary"] = _summary(inp, f, t, _candidates(inp))
    ctx["quality"] = _quality(inp.quality, f, t) if inp.quality else None
    ctx["perf"] = _performance(inp.perf, f, t) if inp.perf else None
    ctx["redteam"] = _redteam(inp.redteam, f, t) if inp.redteam else None
    ctx["decision"] = _decision(inp.matrix, f, t) if inp.matrix else None
    ctx["q_defs"] = [_words(d) for d in q_defs]
    ctx["p_defs"] = [_words(d) for d in perf_defs]
    return ctx | {"p_defs_head": _words(perf_head)}


_CI = re.compile(r"(\[[^\]]*\](?: n=\d+|,? p(?:=|&lt;)[0-9.,]+)?|\bp(?:=|&lt;)[0-9.,]+)")
_CODE = re.compile(r"`([^`]+)`")


def _md_cell(value: object) -> str:
    return _DASH if value is None else " ".join(str(value).split()).replace("|", "\\|")


def _html_prose(value: object) -> markupsafe.Markup:
    """Escaped text with `code` spans as <code>."""
    return markupsafe.Markup(_CODE.sub(r"<code>\1</code>", str(markupsafe.escape(value))))


def _html_cell(value: object) -> markupsafe.Markup:
    """Like prose, with intervals, ``n=`` and p-values de-emphasised."""
    text = str(_html_prose(_DASH if value is None else value))
    return markupsafe.Markup(_CI.sub(r'<span class="ci">\1</span>', text))


def _environment(html: bool) -> jinja2.Environment:
    folder = resources.files("nova").joinpath("templates", "report")
    sources = {p.name: p.read_text("utf-8") for p in folder.iterdir() if p.name.endswith(".j2")}
    env = jinja2.Environment(
        loader=jinja2.DictLoader(sources),
        undefined=jinja2.StrictUndefined,
        autoescape=html,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["cell"] = _html_cell if html else _md_cell
    env.filters["prose"] = _html_prose if html else str
    return env


def render_report(inputs: ReportInputs) -> tuple[str, str, dict[str, Chart]]:
    """(HTML, Markdown, charts by name); the Markdown links ``<run id>-<chart>.png``."""
    colours = candidate_colours(_candidates(inputs))
    q, perf, m = inputs.quality, inputs.perf, inputs.matrix
    charts = build_charts(q, perf, m, language=inputs.language, colours=colours)
    ctx = _context(inputs, charts, colours)
    html = _environment(html=True).get_template("report.html.j2").render(ctx)
    md = _environment(html=False).get_template("report.md.j2").render(ctx)
    return html, md, charts


def write_report(inputs: ReportInputs, out_dir: Path) -> tuple[Path, Path]:
    """Write ``<run id>.html``, ``<run id>.md`` and ``<run id>-<chart>.png`` atomically to
    ``out_dir``; return (HTML path, Markdown path)."""
    html, md, charts = render_report(inputs)
    for chart in charts.values():
        atomic_write_bytes(out_dir / f"{inputs.run_id}-{chart.name}.png", chart.png)
    html_path, md_path = out_dir / f"{inputs.run_id}.html", out_dir / f"{inputs.run_id}.md"
    atomic_write_text(html_path, html)
    atomic_write_text(md_path, md)
    return html_path, md_path
