"""Guardrail accuracy and speed on the labelled sets shipped in src/nova/safety/data/.

Accuracy: precision/recall/F1 per PII entity type (span level) and per rail (message level),
each with a Wilson 95 % interval over its denominator; reported separately for the tuning
split (written while the rails were tuned: an upper bound) and the holdout split (written
afterwards and never used to tune: the honest estimate). Definitions in
nova/safety/_rails_eval.py. Also: deny topics firing on benign messages and on the shipped
eval datasets (over-blocking), and near-miss false alarms.

Speed: time of Rails.check_input (prompt_injection, deny_topics, pii) and of
Rails.check_output (system_prompt_leak, pii_leak, max_length) per message, the shipped
rails.yaml of a fresh workspace, every message of both sets, REPEATS passes after one warm-up
pass; p50/p99 over all timings. Two clocks: wall time (perf_counter) and the thread's CPU time
(thread_time). On a shared machine wall p99 measures the scheduler (a preempted thread waits
for its core); CPU time is what the rails add to a request on a core of its own, so the
target (issue #11: p99 <= 1 ms per message) is checked on CPU time and both are printed.

Run: make bench  (or .venv/bin/python benchmarks/bench_rails.py [repeats])
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path

from rich.console import Console
from rich.table import Table

from nova.config import init_workspace
from nova.evals import wilson_interval
from nova.safety import (
    PII_ENTITIES,
    AccuracyCounts,
    detect_pii,
    injection_accuracy,
    labelled_set,
    load_rails,
    near_miss_hits,
    pii_accuracy,
    topic_accuracy,
)

REPEATS = int(sys.argv[1]) if len(sys.argv) > 1 else 20
TARGET_P99_MS = 1.0
console = Console(width=140)


def _ci(k: int, n: int) -> str:
    if n == 0:
        return "—"
    lo, hi = wilson_interval(k, n)
    return f"{k / n:.1%} [{lo:.1%}–{hi:.1%}]"


def _row(name: str, c: AccuracyCounts) -> list[str]:
    return [
        name,
        str(c.tp + c.fn),
        _ci(c.tp, c.tp + c.fp),
        _ci(c.tp, c.tp + c.fn),
        f"{c.f1:.3f}",
        f"{c.tp}/{c.fp}/{c.fn}",
    ]


def accuracy_tables() -> None:
    pii_rows = labelled_set("pii")
    inj_rows = labelled_set("injection")
    for split in ("tuning", "holdout"):
        rows = [r for r in pii_rows if r["split"] == split]
        acc = pii_accuracy(rows)
        t = Table(
            title=f"PII spans, {split} split ({len(rows)} messages) — precision/recall "
            "[Wilson 95% CI]; match = same type, IoU >= 0.5"
        )
        for col in ("Entity", "Labelled", "Precision", "Recall", "F1", "TP/FP/FN"):
            t.add_column(col)
        for e in (*PII_ENTITIES, "ALL"):
            t.add_row(*_row(e, acc[e]))
        console.print(t)
        hits, n = near_miss_hits(rows)
        console.print(f"  near misses with a false PII hit ({split}): {_ci(hits, n)}")

    t = Table(title="Rails on the message sets — precision/recall [Wilson 95% CI], message level")
    for col in ("Rail", "Split", "Positives", "Precision", "Recall", "F1", "TP/FP/FN"):
        t.add_column(col)
    for split in ("tuning", "holdout"):
        inj = [r for r in inj_rows if r["split"] == split]
        c = injection_accuracy(inj)
        t.add_row(*_row("prompt_injection", c)[:1], split, *_row("", c)[1:])
        pii_msgs = [r for r in pii_rows if r["split"] == split]
        m = AccuracyCounts()
        for r in pii_msgs:
            fired, positive = bool(detect_pii(r["text"])), bool(r["spans"])
            m.tp += fired and positive
            m.fp += fired and not positive
            m.fn += positive and not fired
        t.add_row("pii (message fires)", split, *_row("", m)[1:])
        topics = [r for r in labelled_set("topics") if r["split"] == split]
        t.add_row("deny_topics (right topic)", split, *_row("", topic_accuracy(topics))[1:])
    console.print(t)

    kinds: dict[str, list[int]] = {}
    for r in inj_rows:
        if r["label"] == "injection":
            k = kinds.setdefault(r["kind"], [0, 0])
            k[1] += 1
            k[0] += injection_accuracy([r]).tp
    console.print(
        "  injection recall by kind: "
        + "; ".join(f"{k} {_ci(v[0], v[1])}" for k, v in sorted(kinds.items()))
    )
    negatives = [{**r, "topic": None} for r in inj_rows if r["label"] == "benign"]
    fa = topic_accuracy(negatives).fp
    console.print(f"  benign messages refused by a deny topic: {_ci(fa, len(negatives))}")
    benign = [r for r in inj_rows if r["label"] == "benign"]
    de = [r for r in benign if r["language"] == "de"]
    fa = injection_accuracy(de).fp
    console.print(f"  benign German messages flagged as injection: {_ci(fa, len(de))}")


def overblocking() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "ws"
        init_workspace(root)
        rails = load_rails(root)
        texts = [r["text"] for r in labelled_set("injection") if r["label"] == "benign"]
        data = resources.files("nova.evals").joinpath("data")
        eval_msgs = []
        for f in sorted(data.iterdir(), key=lambda t: t.name):
            if f.name.endswith(".jsonl"):
                for line in f.read_text("utf-8").splitlines():
                    case = json.loads(line)
                    eval_msgs.append((case["id"], case["messages"]))
        blocked_benign = sum(
            rails.check_input([{"role": "user", "content": t}]).blocked for t in texts
        )
        fired: dict[str, list[str]] = {}
        for cid, msgs in eval_msgs:
            for v in rails.check_input(msgs).verdicts:
                if v.action == "block":
                    fired.setdefault(v.rail, []).append(cid)
        console.print(
            f"  benign messages blocked by the shipped input rails: "
            f"{_ci(blocked_benign, len(texts))}"
        )
        console.print(
            f"  shipped eval cases ({len(eval_msgs)}) blocked at input: "
            + (
                "; ".join(f"{k}: {len(v)} ({', '.join(v)})" for k, v in sorted(fired.items()))
                or "none"
            )
        )


def latency_table() -> bool:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "ws"
        init_workspace(root)
        rails = load_rails(root)
        texts = [r["text"] for r in labelled_set("pii")] + [
            r["text"] for r in labelled_set("injection")
        ]
        msgs = [[{"role": "user", "content": t}] for t in texts]
        timings: dict[str, list[float]] = {"input": [], "output": []}
        cpu: dict[str, list[float]] = {"input": [], "output": []}
        per_rail: dict[str, list[float]] = {}
        for rep in range(REPEATS + 1):
            for m in msgs:
                c0, t0 = time.thread_time_ns(), time.perf_counter_ns()
                r_in = rails.check_input(m)
                c1, t1 = time.thread_time_ns(), time.perf_counter_ns()
                r_out = rails.check_output(m[0]["content"], [])
                c2, t2 = time.thread_time_ns(), time.perf_counter_ns()
                if rep == 0:
                    continue  # warm-up pass
                timings["input"].append((t1 - t0) / 1e6)
                timings["output"].append((t2 - t1) / 1e6)
                cpu["input"].append((c1 - c0) / 1e6)
                cpu["output"].append((c2 - c1) / 1e6)
                for v in (*r_in.verdicts, *r_out.verdicts):
                    per_rail.setdefault(f"{v.stage}:{v.rail}", []).append(v.elapsed_ms)

    def q(xs: list[float], p: float) -> float:
        return statistics.quantiles(xs, n=1000, method="inclusive")[int(p * 1000) - 1]

    t = Table(
        title=f"Rail latency per message, ms ({len(msgs)} messages x {REPEATS} passes, "
        "one core, after a warm-up pass)"
    )
    for col in ("Stage / rail", "Clock", "p50", "p99", "max", "target p99"):
        t.add_column(col)
    ok = True
    for stage, xs in cpu.items():
        p99 = q(xs, 0.99)
        ok &= p99 <= TARGET_P99_MS
        t.add_row(
            f"all {stage} rails", "CPU", f"{q(xs, 0.5):.3f}", f"{p99:.3f}", f"{max(xs):.3f}",
            f"<= {TARGET_P99_MS}",
        )  # fmt: skip
        w = timings[stage]
        t.add_row(
            f"all {stage} rails", "wall", f"{q(w, 0.5):.3f}", f"{q(w, 0.99):.3f}", f"{max(w):.3f}",
            "",
        )  # fmt: skip
    for name, xs in sorted(per_rail.items()):
        t.add_row(
            f"  {name}", "wall", f"{q(xs, 0.5):.3f}", f"{q(xs, 0.99):.3f}", f"{max(xs):.3f}", ""
        )
    console.print(t)
    return ok


def main() -> None:
    accuracy_tables()
    overblocking()
    ok = latency_table()
    console.print("latency target met" if ok else "latency target MISSED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
