from __future__ import annotations

import base64
import datetime as dt
import re
import subprocess
from pathlib import Path

import pytest

from nova.config import NovaConfig
from nova.decision import CandidateEvidence, Evidence, Measurement, build_matrix
from nova.evals._report import DEFINITIONS, CandidateQuality, EvalReport, Rate
from nova.evals._stats import minimum_detectable_effect, paired_win_rate, wilson_interval
from nova.perf import CandidatePerf, CostEstimate, LevelMetrics, RequestSample, compute_level
from nova.report import CHART_NAMES, ReportInputs, render_report, write_report
from tests._services import require

WARNING = "Offline demo: tiny generated models, quality numbers are meaningless"
MS = 1_000_000


def rate(passed: int, n: int) -> Rate:
    lo, hi = wilson_interval(passed, n)
    return Rate(rate=passed / n, low=lo, high=hi, n=n)


def quality_of(cid: str, passed: dict[str, int], wins: list[float] | None) -> CandidateQuality:
    """20 billing and 20 smalltalk cases; ``passed`` per category."""
    total = sum(passed.values())
    return CandidateQuality(
        candidate=cid,
        model_reported=f"mock/{cid}",
        cases=40,
        pass_rate=rate(total, 40),
        weighted_pass_rate=total / 40,
        by_category={k: rate(v, 20) for k, v in passed.items()},
        by_language={"de": rate(total - total // 3, 26), "en": rate(total // 3, 14)},
        worst_slice="smalltalk/en",
        errors=0,
        undecided=0,
        missed_escalation=rate(1, 8),
        unnecessary_escalation=rate(2, 32),
        escalation_cost_per_100=(5 * 1 + 2) * 100 / 40,
        win_rate=paired_win_rate(wins, seed=1) if wins else None,
        win_method="pass/fail per case (both pass or both fail = tie)" if wins else None,
        position_bias_rate=None,
        run_to_run_sd=0.0,
        mde=minimum_detectable_effect(40, total / 40),
        prompt_tokens=4000,
        completion_tokens=2000,
        cost_usd=None,
        cost_per_success_usd=None,
        cost_note="mock: no cost",
    )


def quality() -> EvalReport:
    return EvalReport(
        run_id="q1",
        status="completed",
        meta={},
        baseline="a",
        candidates=[
            quality_of("a", {"billing": 18, "smalltalk": 16}, None),
            quality_of("b", {"billing": 17, "smalltalk": 14}, [1.0] * 11 + [0.5] * 25 + [0.0] * 4),
            quality_of("c", {"billing": 15, "smalltalk": 12}, [1.0] * 3 + [0.5] * 27 + [0.0] * 10),
        ],
        bradley_terry=[("a", 1.3), ("b", 1.0), ("c", 0.8)],
        definitions=DEFINITIONS,
    )


def level(concurrency: int, ttft_ms: float, gap_ms: float) -> LevelMetrics:
    """20 requests of 32 tokens each, TTFT rising by 1% per request."""
    samples = []
    for i in range(20):
        send = i * 50 * MS
        first = send + int(ttft_ms * (1 + i / 100) * MS)
        chunks = [first + int(k * gap_ms * MS) for k in range(32)]
        samples.append(
            RequestSample(
                t_scheduled_ns=send,
                t_send_ns=send,
                t_first_byte_ns=first - MS,
                t_first_token_ns=first,
                t_last_token_ns=chunks[-1],
                t_end_ns=chunks[-1],
                chunk_times_ns=chunks,
                output_tokens=32,
                prompt_tokens=512,
                usage_source="server",
            )
        )
    return compute_level(samples, label=f"concurrency {concurrency}", concurrency=concurrency)


def perf() -> list[CandidatePerf]:
    out = []
    for cid, base, cost in (("a", 80.0, 3.2), ("b", 120.0, 1.1)):
        levels = [level(1, base, 12.0), level(4, base * 1.8, 15.0)]
        out.append(
            CandidatePerf(
                candidate=cid,
                model=f"mock/{cid}",
                levels=levels,
                operating_point="concurrency 4",
                cost=CostEstimate(
                    usd_per_mtok_output=cost * 4,
                    usd_per_1k_conversations=cost,
                    basis="price sheet demo (retrieved 2026-11-01)",
                    sheet="demo",
                    sheet_date="2026-11-01",
                ),
            )
        )
    return out


def config() -> NovaConfig:
    return NovaConfig.model_validate(
        {
            "name": "t",
            "candidates": [{"id": c, "model": f"mock/{c}"} for c in ("a", "b", "c")],
            "decision": {
                "criteria": [
                    {
                        "id": "quality",
                        "source": "metric:pass_rate",
                        "weight": 0.5,
                        "direction": "higher",
                    },
                    {
                        "id": "cost",
                        "source": "metric:cost_per_1k_conversations",
                        "weight": 0.3,
                        "direction": "lower",
                    },
                    {
                        "id": "latency",
                        "source": "metric:ttft_ms_p95",
                        "weight": 0.2,
                        "direction": "lower",
                    },
                ],
                "gates": [
                    {
                        "id": "commercial",
                        "source": "catalog:license.commercial_use",
                        "op": "==",
                        "value": True,
                        "reason": "commercial product",
                    },
                ],
            },
            "governance": {"language": "en"},
        }
    )


def evidence() -> Evidence:
    ev = Evidence(
        generated_at=dt.datetime(2026, 11, 27, tzinfo=dt.UTC), nova_version="t", config_hash="x"
    )
    vals = {"a": (0.85, 3.2, 160.0), "b": (0.78, 1.1, 230.0), "c": (0.68, 0.6, 400.0)}
    for cid, (q, cost, ttft) in vals.items():
        ev.candidates[cid] = CandidateEvidence(
            candidate=cid,
            metrics={
                "pass_rate": Measurement(
                    value=q, low=q - 0.1, high=q + 0.08, unit="%", source="run:q1"
                ),
                "cost_per_1k_conversations": Measurement(
                    value=cost, unit="USD", source="price-sheet:demo"
                ),
                "ttft_ms_p95": Measurement(value=ttft, unit="ms", source="run:p1"),
                "license.commercial_use": Measurement(value=cid != "c", source="catalog:x"),
            },
        )
    return ev


def inputs(**changes: object) -> ReportInputs:
    base = ReportInputs(
        title="Sophia: model selection benchmarks",
        run_id="20261127-101500-ab12cd",
        generated_at=dt.datetime(2026, 11, 27, 10, 30, tzinfo=dt.UTC),
        nova_version="0.1.0",
        config_hash="sha256:0f3c2a",
        workspace_name="sophia",
        language="en",
        quality=quality(),
        perf=perf(),
        matrix=build_matrix(config(), evidence()),
        warnings=[WARNING],
        not_measured={"c": "performance: no GPU for the self-hosted candidate"},
        provenance={"quality run": "q1", "dialogues.jsonl": "sha256:9a1b", "price sheet": "demo"},
    )
    return base.model_copy(update=changes)


def chart_images(html: str) -> dict[str, bytes]:
    imgs = re.findall(r"<img\b[^>]*>", html)
    out = {}
    for tag in imgs:
        name = re.search(r'data-chart="([^"]+)"', tag)
        src = re.search(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', tag)
        alt = re.search(r'alt="([^"]+)"', tag)
        assert name and src and alt, tag[:200]
        out[name.group(1)] = base64.b64decode(src.group(1))
    return out


def test_report_is_one_offline_html_file_and_a_markdown_summary(tmp_path: Path) -> None:
    html_path, md_path = write_report(inputs(), tmp_path)
    assert html_path == tmp_path / "20261127-101500-ab12cd.html" and html_path.is_file()
    assert md_path == tmp_path / "20261127-101500-ab12cd.md" and md_path.is_file()
    html = html_path.read_text("utf-8")
    # Nothing to fetch: no external resources in src= or <link>.
    assert not re.findall(r"""src\s*=\s*["']?\s*(?:https?:)?//""", html, re.I)
    assert not re.findall(r"<link\b[^>]*(?:https?:)?//", html, re.I)
    assert all(s.startswith("data:") for s in re.findall(r'src="([^"]*)"', html))
    # Every chart inline, decodable as PNG, and also written beside the Markdown.
    images = chart_images(html)
    assert list(images) == list(CHART_NAMES)
    for name, png in images.items():
        assert png.startswith(b"\x89PNG\r\n\x1a\n")
        assert (tmp_path / f"20261127-101500-ab12cd-{name}.png").read_bytes() == png
    # The warning is a banner at the top, before the summary.
    banner = re.search(r'<div class="warnings"[^>]*>(.*?)</div>', html, re.S)
    assert banner and WARNING in banner.group(1)
    assert html.index(WARNING) < html.index('id="summary"')
    md = md_path.read_text("utf-8")
    assert f"> - **{WARNING}**" in md
    head = "| Candidate | Pass rate [95% CI] | Win rate vs baseline [95% CI] |"
    assert head in md
    summary = md.split("## Summary", 1)[1].split("## Quality", 1)[0]
    rows = {line.split(" | ")[0] for line in summary.splitlines() if line.startswith("| ")}
    assert {"| a", "| b", "| c"} <= rows
    assert "85.0% [70.9–92.9] n=40" in summary  # a: 34/40 with its Wilson interval
    assert "no GPU for the self-hosted candidate" in summary
    for name in CHART_NAMES:
        assert f"](20261127-101500-ab12cd-{name}.png)" in md
    assert "## Provenance" in md and "| dialogues.jsonl | sha256:9a1b |" in md


def test_missing_data_skips_charts_and_says_not_measured_in_german() -> None:
    html, md, charts = render_report(inputs(quality=None, matrix=None, language="de"))
    assert list(charts) == ["latency_percentiles", "latency_throughput"]
    assert list(chart_images(html)) == list(charts)
    assert "Qualität: nicht gemessen" in html and "Entscheidung: nicht gemessen" in html
    assert "_Qualität: nicht gemessen_" in md
    assert "| Kandidat | Bestehensquote [95%-KI] |" in md


def test_same_inputs_give_the_same_report() -> None:
    first = render_report(inputs())
    again = render_report(inputs())
    assert first[0] == again[0] and first[1] == again[1]


def test_run_id_cannot_escape_the_output_folder() -> None:
    with pytest.raises(ValueError, match="run_id"):
        ReportInputs.model_validate(inputs().model_dump() | {"run_id": "../x"})


@pytest.mark.integration
def test_headless_chromium_renders_every_chart(tmp_path: Path) -> None:
    chromium = "/usr/bin/chromium"
    if not Path(chromium).is_file():
        require("Chromium", f"{chromium} not found")  # skips locally, fails when CI is set
    html_path, _ = write_report(inputs(), tmp_path / "out")
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--virtual-time-budget=5000",
    ]
    url = html_path.as_uri()
    dom = subprocess.run(
        [chromium, *flags, "--dump-dom", url], capture_output=True, text=True, timeout=120
    )
    body = re.search(r"<body\b[^>]*>", dom.stdout)
    assert body, dom.stderr[-2000:]
    assert f'data-charts-ok="{len(CHART_NAMES)}"' in body.group(0)
    shot = tmp_path / "shot.png"
    subprocess.run(
        [chromium, *flags, f"--screenshot={shot}", "--window-size=1280,2400", url],
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert shot.is_file() and shot.stat().st_size > 20_000


def test_bars_accept_an_interval_that_misses_the_point_by_rounding() -> None:
    # A pass rate of 100% with a bootstrap/Wilson bound computed as 0.9999999999999999 made
    # matplotlib reject the negative error bar and crashed the benchmarks report.
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from nova.report._charts import _grouped_bars

    fig, ax = plt.subplots()
    _grouped_bars(
        ax,
        ["dialogue"],
        {"a": [1.0]},
        {"a": "#000000"},
        errors={"a": [(0.8, 0.9999999999999999)]},
    )
    plt.close(fig)
