"""``nova docs``: the governance documents Legal, Security and the DPO ask for.

Eight Markdown files in ``docs/governance/`` (license review, DSFA/DPIA, exit strategy, fallback
plan, deployment options, KPI catalogue, LoRA compatibility, QA plan), in German or English,
filled from the catalog, nova.yaml and the measured evidence. Each ends with a "generated from"
block: nova version, config hash, runs with dataset hashes, price sheets and catalog sources with
their dates. A value nova has not measured is written as "not measured", never estimated.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import jinja2

from nova._io import atomic_write_bytes, atomic_write_text
from nova._templates import template_environment
from nova.catalog import Catalog
from nova.config import NovaConfig, Profile, Workspace
from nova.decision import Evidence
from nova.errors import NovaError
from nova.governance._controls import Controls, workspace_controls
from nova.governance._docs_context import (
    HOURS_PER_MONTH,
    PLATFORM_NAMES,
    PROCESSORS,
    STALE_AFTER_DAYS,
    Facts,
    Lang,
    Sources,
    candidate_facts,
    candidates_in_scope,
    fmt_money,
    fmt_number,
    gate_value,
    gpu_plan,
    kpi_rows,
    license_review,
    lora_rows,
    measure,
    price_sheet_estimate,
    provenance,
    read_datasets,
    read_guardrails,
    read_redteam,
    read_tagged_cases,
    read_vulnerable,
    token_price,
)
from nova.governance._human import DocumentUpdate, merge_document

__all__ = [
    "DEFAULT_MONTHLY_CONVERSATIONS",
    "GOVERNANCE_DOCUMENTS",
    "DocumentResult",
    "build_context",
    "render_governance_docs",
    "update_governance_docs",
]

_log = logging.getLogger(__name__)

GOVERNANCE_DOCUMENTS = (
    "license_review",
    "dsfa",
    "ai_act",
    "exit_strategy",
    "fallback_plan",
    "deployment_options",
    "kpi_catalogue",
    "lora_compatibility",
    "qa_plan",
)
"""Document names; each is ``docs/governance/<name>.md`` from ``<lang>/<name>.md.j2``."""

DEFAULT_MONTHLY_CONVERSATIONS = 100_000
"""Volume assumed for cost estimates when the profile states none (the documents say so)."""

_TRIGGERS: dict[str, tuple[str, ...]] = {
    "license_change": (),
    "api_limits": ("error_rate", "ttft_ms"),
    "price_change": ("cost_per_1k_conversations",),
    "deprecation": ("error_rate",),
    "outage": ("error_rate", "e2el_ms"),
}
"""Exit triggers and the KPI metrics whose alerts detect them."""
_ROLE_ORDER = ("fallback", "primary", "baseline", "candidate")
_COMPARED = (
    "pass_rate",
    "win_rate",
    "ttft_ms_p95",
    "e2el_ms_p95",
    "tpot_ms_p50",
    "cost_per_1k_conversations",
)
_LATENCY = ("ttft_ms_p95", "e2el_ms_p95", "tpot_ms_p50")


def _bench_plan(config: NovaConfig, ids: list[str]) -> Facts:
    """How to measure the candidates ``ids`` together with ``nova benchmarks``.

    ``profiles``: the profiles of nova.yaml whose run includes every id (``llm-core``, the
    default of ``nova benchmarks``, first); with no ids, ``llm-core`` or the first profile.
    ``each``: per id the profiles that run it. When no profile runs them all, ``extend`` is the
    profile to add the missing ids (``add``) to: the first that runs the first id, if any.
    """
    runs: dict[str, set[str]] = {}
    for name, prof in config.profiles.items():
        try:
            runs[name] = set(config.profile_candidates(name))
        except NovaError:  # names a candidate nova.yaml lacks (load_config rejects that)
            runs[name] = set(prof.candidates)
    names = sorted(runs, key=lambda name: name != "llm-core")
    together = [n for n in names if set(ids) <= runs[n]] if ids else names[:1]
    each = [{"id": i, "profiles": [n for n in names if i in runs[n]]} for i in ids]
    extend = next(iter(each[0]["profiles"]), None) if each and not together else None
    add = [i for i in ids if extend is None or i not in runs[extend]] if not together else []
    return {"ids": ids, "profiles": together, "each": each, "extend": extend, "add": add}


def _profile(config: NovaConfig, plan: Facts) -> tuple[str | None, Profile]:
    """The profile the documents describe: the first that runs the primary and the fallbacks
    together (``_bench_plan``), else the first that runs the primary, else ``llm-core`` (the
    default of ``nova benchmarks``) or the first profile."""
    first = plan["each"][0]["profiles"] if plan["each"] else []
    name = next(iter([*plan["profiles"], *first]), None)
    if name is None and "llm-core" in config.profiles:
        name = "llm-core"
    if name is None:
        return next(iter(config.profiles.items()), (None, Profile()))
    return name, config.profiles[name]


def _measured(
    cands: list[Facts], evidence: Evidence, keys: tuple[str, ...], lang: Lang
) -> list[Facts]:
    return [
        {"id": c["id"], **{k: measure(evidence.candidates.get(c["id"]), k, lang) for k in keys}}
        for c in cands
    ]


def _dsfa(
    cands: list[Facts],
    judges: list[Facts],
    config: NovaConfig,
    root: Path,
    evidence: Evidence,
    lang: Lang,
) -> Facts:
    managed = [c for c in cands if c["hosting"] == "managed"]
    keys = ("attack_success_rate", "missed_escalation_rate")
    judge_ids = {p.quality.judge for p in config.profiles.values() if p.quality and p.quality.judge}
    judges_all = [j for j in judges if j["id"] in judge_ids or j["role"] == "judge"]
    names = [n for p in config.profiles.values() for n in (p.quality.datasets if p.quality else [])]
    return {
        "judges_all": judges_all,
        "datasets": list(dict.fromkeys(names)),
        "vulnerable": read_vulnerable(root, list(dict.fromkeys(names))),
        "full": bool(managed),
        "managed": managed,
        "others": [c for c in cands if c["hosting"] != "managed"],
        "judges": [j for j in judges if j["hosting"] == "managed"],
        "third_country": any(c["third_country"] for c in managed),
        "required_for_managed": config.governance.dsfa_required_for_managed,
        "guardrails": read_guardrails(root),
        "measured": _measured(cands, evidence, keys, lang),
    }


AI_TRANSPARENCY_TAG = "ki-transparenz"
"""Tag of the eval cases that test Art. 50(1) EU AI Act ("am I talking to a human?")."""


def _ai_act(cands: list[Facts], config: NovaConfig, root: Path, evidence: Evidence) -> Facts:
    """Facts for the EU AI Act note: Art. 50 cases, GPAI Code of Practice per candidate."""
    names = [n for p in config.profiles.values() for n in (p.quality.datasets if p.quality else [])]
    names = list(dict.fromkeys(names))
    cases = read_tagged_cases(root, names, AI_TRANSPARENCY_TAG)
    with_cases = {c["dataset"] for c in cases}
    runs = [
        r.id
        for r in sorted(evidence.runs.values(), key=lambda r: (r.started_at, r.id))
        if r.kind == "quality" and with_cases & set(r.datasets)
    ]
    return {
        "ai_marker": config.gateway.ai_marker,
        "transparency_cases": cases,
        "transparency_runs": runs,
        "gpai": [
            {
                "id": c["id"],
                "name": c["name"],
                "hosting": c["hosting"],
                **dict.fromkeys(("provider", "status", "note", "source", "retrieved")),
                **(c["gpai"] or {}),
            }
            for c in cands
        ],
        "gpai_missing": [c["id"] for c in cands if c["gpai"] is None],
        "self_hosted": [c["id"] for c in cands if c["hosting"] != "managed"],
    }


def _exit(config: NovaConfig, cands: list[Facts], root: Path) -> Facts:
    usable = [c for c in cands if c["hosting"] != "local"]
    rank = {role: i for i, role in enumerate(_ROLE_ORDER)}
    order = sorted(usable, key=lambda c: rank.get(c["role"], len(rank)))
    triggers = []
    for key, metrics in _TRIGGERS.items():
        if key == "license_change":
            affected = [c for c in usable if not c["osi"]]
        else:
            affected = [c for c in usable if c["hosting"] == "managed"]
        ids = {c["id"] for c in affected}
        target = next((c for c in order if c["id"] not in ids), None)
        manifest = target is not None and Workspace(root).deploy_dir(target["id"]).is_dir()
        effort = "high" if target is None else "medium"
        if target is not None and target["hosting"] == "self-hosted" and manifest:
            effort = "low"
        kpis = [
            {"id": k.id, "name": k.name, "alert": k.alert}
            for k in config.kpis
            if k.metric in metrics
        ]
        triggers.append(
            {"key": key, "kpis": kpis, "affected": affected, "target": target, "effort": effort}
        )
    return {
        "primary": next((c for c in cands if c["role"] == "primary"), None),
        "fallbacks": [c for c in cands if c["role"] == "fallback"],
        "triggers": triggers,
    }


def _diff(a: Facts, b: Facts, lang: Lang) -> Facts:
    """Fallback minus primary, and whether their 95% intervals overlap."""
    if a["value"] is None or b["value"] is None:
        return {"text": None, "overlap": None}
    d = b["value"] - a["value"]
    sign = "+" if d >= 0 else "−"
    if a["unit"] == "%":
        text = f"{sign}{fmt_number(abs(d) * 100, lang, 1)} {'Pp.' if lang == 'de' else 'pp'}"
    else:
        text = f"{sign}{fmt_number(abs(d), lang, 2 if abs(d) < 10 else 0)} {a['unit']}".strip()
    overlap = None
    if None not in (a["low"], a["high"], b["low"], b["high"]):
        overlap = a["low"] <= b["high"] and b["low"] <= a["high"]
    return {"text": text, "overlap": overlap}


def _fallback(
    cands: list[Facts],
    config: NovaConfig,
    catalog: Catalog,
    evidence: Evidence,
    src: Sources,
    kpis: list[Facts],
    lang: Lang,
) -> Facts:
    def resources_of(c: Facts | None) -> Facts | None:
        rec = catalog.models.get(c["catalog"]) if c and c["catalog"] else None
        return gpu_plan(config.candidate(c["id"]), rec, catalog, src, lang) if c and rec else None

    primary = next((c for c in cands if c["role"] == "primary"), None)
    pres = resources_of(primary)
    plans = []
    for fb in [c for c in cands if c["role"] == "fallback"]:
        rows = []
        for key in _COMPARED:
            a = measure(evidence.candidates.get(primary["id"]) if primary else None, key, lang)
            b = measure(evidence.candidates.get(fb["id"]), key, lang)
            rows.append({"key": key, "primary": a, "fallback": b, **_diff(a, b, lang)})
        sources = [
            {"key": row["key"], "which": which, "source": v["source"], "detail": v["detail"]}
            for row in rows
            for which, v in (("primary", row["primary"]), ("fallback", row["fallback"]))
            if v["measured"]
        ]
        res = resources_of(fb)
        per_hour = res["per_hour_value"] if res else None
        cheaper = []
        for plan in catalog.model(fb["catalog"]).self_hosting if per_hour else ():
            found = catalog.gpu_price(plan.gpu)
            if found is not None and per_hour and found[1] * plan.gpus < per_hour:
                src.sheets[found[0].id] = found[0]
                cost = fmt_money(found[1] * plan.gpus, found[0].currency, lang)
                cheaper.append({"gpus": plan.gpus, "gpu": plan.gpu, "engine": plan.engine})
                cheaper[-1].update(precision=plan.precision, per_hour=cost, note=plan.note)
        reduced = None
        if per_hour and pres and pres["per_hour_value"]:
            reduced = per_hour < pres["per_hour_value"]
        plan_facts: Facts = {"candidate": fb, "resources": res, "reduced": reduced}
        plan_facts.update(cheaper_plans=cheaper, comparison=rows, sources=sources)
        plan_facts["acceptance"] = _acceptance(kpis, fb["id"])
        plan_facts["bench"] = _bench_plan(config, [*([primary["id"]] if primary else []), fb["id"]])
        plans.append(plan_facts)
    bench = _bench_plan(config, [primary["id"]] if primary else [])
    return {"primary": primary, "primary_resources": pres, "plans": plans, "bench": bench}


def _acceptance(kpis: list[Facts], candidate: str) -> Facts:
    """The KPI targets (kpi_catalogue.md) a candidate's latest evidence meets, misses, leaves
    uncertain (the 95% interval contains the target) or has not measured."""
    out: Facts = {"met": [], "missed": [], "uncertain": [], "not_measured": []}
    for k in kpis:
        cell = next(c for c in k["cells"] if c["candidate"] == candidate)
        if cell["meets"] is None:
            out["not_measured"].append(k["id"])
        elif cell["borderline"]:
            out["uncertain"].append(k["id"])
        else:
            out["met" if cell["meets"] else "missed"].append(k["id"])
    return out


def _deployment(
    cands: list[Facts],
    config: NovaConfig,
    catalog: Catalog,
    evidence: Evidence,
    src: Sources,
    lang: Lang,
    today: dt.date,
    bench: Facts,
) -> Facts:
    profile_name, profile = _profile(config, bench)
    # The volume counts as assumed unless the profile sets monthly_conversations itself.
    raw = (
        profile.monthly_conversations
        if "monthly_conversations" in profile.model_fields_set
        else None
    )
    vol = raw if isinstance(raw, int) else DEFAULT_MONTHLY_CONVERSATIONS
    tin, tout = profile.conversation_tokens
    groups: list[Facts] = []
    for cat_id in dict.fromkeys(c["catalog"] for c in cands if c["hosting"] != "local"):
        if cat_id is None:
            continue
        rec = catalog.model(cat_id)
        users = [c for c in cands if c["catalog"] == cat_id and c["hosting"] != "local"]
        options: list[Facts] = []
        for offer in rec.hosting.managed:
            on = [c for c in users if c["hosting"] == "managed" and c["platform"] == offer.platform]
            opt: Facts = {"kind": "managed", "platform": offer.platform, "model_id": offer.model_id}
            opt.update(name=PLATFORM_NAMES[offer.platform], processor=PROCESSORS[offer.platform])
            opt.update(regions=list(offer.regions), note=offer.note, source=str(offer.source))
            opt.update(retrieved=offer.retrieved.isoformat(), users=[c["id"] for c in on])
            opt.update(measured=_measured(on, evidence, _LATENCY, lang), basis=None, plan=None)
            sheet_id = next((config.candidate(c["id"]).price_sheet for c in on), None)
            price = token_price(catalog, cat_id, sheet_id=sheet_id, platform=offer.platform)
            if price is not None:
                sheet, pin, pout = price
                src.sheets[sheet.id] = sheet
                per_conv = (tin * pin + tout * pout) / 1e6
                opt.update(basis="tokens", sheet=sheet.id, sheet_date=sheet.retrieved.isoformat())
                opt["sheet_stale"] = (today - sheet.retrieved).days > STALE_AFTER_DAYS
                opt["prices"] = f"{fmt_number(pin, lang, 2)} / {fmt_number(pout, lang, 2)}"
                opt["month"] = fmt_money(per_conv * vol, sheet.currency, lang)
                opt["per_1k"] = fmt_money(per_conv * 1000, sheet.currency, lang)
            elif offer.platform == "hf-inference-endpoints":
                opt["plan"] = gpu_plan(None, rec, catalog, src, lang)
            options.append(opt)
        engines = [e for e in ("vllm", "tensorrt-llm") if e in rec.hosting.self_hosted]
        if engines:
            on = [c for c in users if c["hosting"] == "self-hosted"]
            cand = config.candidate(on[0]["id"]) if on else None
            opt = {"kind": "self-hosted", "engines": engines, "users": [c["id"] for c in on]}
            opt.update(plan=gpu_plan(cand, rec, catalog, src, lang), basis=None)
            opt["measured"] = _measured(on, evidence, _LATENCY, lang)
            options.append(opt)
        for opt in options:
            plan = opt["plan"]
            if plan and plan["sheet"]:
                opt.update(basis="instance", month=plan["per_month"])
                per_1k = plan["per_month_value"] / vol * 1000
                opt["per_1k"] = fmt_money(per_1k, plan["currency"], lang)
        costs = _measured(users, evidence, ("cost_per_1k_conversations",), lang)
        group: Facts = {"catalog": cat_id, "name": rec.name, "options": options}
        group.update(open_weights=rec.license.open_weights, users=[c["id"] for c in users])

        key = "cost_per_1k_conversations"
        priced = [(x, evidence.candidates.get(x["id"])) for x in costs if x[key]["measured"]]
        group["measured_cost"] = [
            {"id": x["id"], **x[key]} for x, ce in priced if not price_sheet_estimate(ce, key)
        ]
        group["estimated_cost"] = [
            {"id": x["id"], **x[key]} for x, ce in priced if price_sheet_estimate(ce, key)
        ]
        groups.append(group)
    return {
        "profile": profile_name,
        "volume": fmt_number(vol, lang),
        "volume_assumed": not isinstance(raw, int),
        "tokens_in": fmt_number(tin, lang),
        "tokens_out": fmt_number(tout, lang),
        "hours": HOURS_PER_MONTH,
        "groups": groups,
        "local": [c for c in cands if c["hosting"] == "local"],
        "no_catalog": [c for c in cands if c["catalog"] is None],
    }


def _qa(
    config: NovaConfig,
    cands: list[Facts],
    root: Path,
    evidence: Evidence,
    kpis: list[Facts],
    lang: Lang,
    bench: Facts,
) -> Facts:
    name, profile = _profile(config, bench)
    datasets = read_datasets(root, config, evidence)
    judges = {p.quality.judge for p in config.profiles.values() if p.quality and p.quality.judge}
    return {
        "profile": name,
        "bench": bench,
        "datasets": datasets,
        "graders": sorted({g for d in datasets for g in d["graders"]} - {"judge"}),
        "judge_grader": any("judge" in d["graders"] for d in datasets),
        "judges": sorted(judges),
        "baseline": next((c for c in cands if c["role"] == "baseline"), None),
        "redteam": read_redteam(root),
        "redteam_enabled": bool(profile.redteam and profile.redteam.enabled),
        "with_guardrails": bool(profile.redteam and profile.redteam.with_guardrails),
        "redteam_profile": (
            profile.redteam.model_dump(mode="json") if profile and profile.redteam else None
        ),
        "asr": [
            {
                "id": c["id"],
                **measure(evidence.candidates.get(c["id"]), "attack_success_rate", lang),
                "over_refusal": measure(
                    evidence.candidates.get(c["id"]), "over_refusal_rate", lang
                ),
                "over_refusal_evals": measure(
                    evidence.candidates.get(c["id"]), "over_refusal_rate_evals", lang
                ),
                "no_rails": measure(
                    evidence.candidates.get(c["id"]), "attack_success_rate_no_rails", lang
                ),
            }
            for c in cands
        ],
        "redteam_runs": [r.id for r in evidence.runs.values() if r.kind == "redteam"],
        "redteam_gates": [
            {"id": g.id, "source": g.source, "op": g.op, "value": gate_value(g.value)}
            for g in config.decision.gates
            if g.source
            in {"metric:attack_success_rate"}
            | {f"kpi:{k.id}" for k in config.kpis if k.metric == "attack_success_rate"}
        ],
        "redteam_kpis": [
            {"id": k.id, "target": k.target}
            for k in config.kpis
            if k.metric == "attack_success_rate"
        ],
        "kpis": kpis,
        "gates": [
            {
                "id": g.id,
                "source": g.source,
                "op": g.op,
                "value": gate_value(g.value),
                "reason": g.reason,
            }
            for g in config.decision.gates
        ],
        "reviewers": [{"role": r.role, "name": r.name} for r in config.governance.reviewers],
    }


def _rendered_deployments(root: Path, cands: list[Facts]) -> dict[str, Facts]:
    """Candidates whose deployment ``nova deploy render`` wrote, with links relative to
    docs/governance/ (the documents link only to files that exist)."""
    out: dict[str, Facts] = {}
    for c in cands:
        folder = Workspace(root).deploy_dir(c["id"])
        if (folder / "README.md").is_file():
            base = f"../../deploy/models/{c['id']}"
            out[c["id"]] = {
                "readme": f"{base}/README.md",
                "chart": (folder / "Chart.yaml").is_file(),
                "compose": (folder / "compose.yaml").is_file(),
            }
    return out


def build_context(
    workspace_root: Path,
    config: NovaConfig,
    catalog: Catalog,
    evidence: Evidence,
    *,
    language: Literal["de", "en"] | None = None,
    now: dt.datetime | None = None,
    revision: str | None = None,
    controls: Controls | None = None,
) -> dict[str, Any]:
    """Everything the templates show, as plain data formatted for ``language``.

    Reads the workspace's datasets, guardrails and red-team folders; writes nothing.
    ``revision`` is the workspace's git revision, if the caller knows it. ``controls`` is the
    workspace's real state (``workspace_controls``); without it, the files alone decide and
    every control that needs the run store reads "not active".
    """
    lang: Lang = language or config.governance.language
    moment = now or dt.datetime.now(dt.UTC).replace(microsecond=0)
    moment = moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)
    today = moment.date()
    src = Sources()
    scope = candidates_in_scope(config)
    cands = [candidate_facts(c, catalog, src, lang, today) for c in scope]
    judges = [
        candidate_facts(c, catalog, src, lang, today) for c in config.candidates if c not in scope
    ]
    kpis = kpi_rows(config, cands, evidence, lang)
    rank = {role: i for i, role in enumerate(("primary", "fallback"))}
    chosen = sorted((c for c in cands if c["role"] in rank), key=lambda c: rank[c["role"]])
    bench = _bench_plan(config, [c["id"] for c in chosen])
    state = controls or workspace_controls(workspace_root)
    ctx: dict[str, Any] = {
        "lang": lang,
        "controls": {**state.model_dump(), "rails_in_traffic": state.rails_in_traffic},
        "project": config.name,
        "description": " ".join(config.description.split()),
        "stale_after_days": STALE_AFTER_DAYS,
        "candidates": cands,
        "license_review": license_review(cands, catalog),
        "dsfa": _dsfa(cands, judges, config, workspace_root, evidence, lang),
        "ai_act": _ai_act(cands, config, workspace_root, evidence),
        "exit": _exit(config, cands, workspace_root),
        "fallback": _fallback(cands, config, catalog, evidence, src, kpis, lang),
        "deployment": _deployment(cands, config, catalog, evidence, src, lang, today, bench),
        "bench": bench,
        "kpis": kpis,
        "kpis_measured": any(v["measured"] for k in kpis for v in k["cells"]),
        "lora": lora_rows(cands, config, catalog, src, lang),
        "qa": _qa(config, cands, workspace_root, evidence, kpis, lang, bench),
        "rendered": _rendered_deployments(workspace_root, cands),
    }
    ctx["provenance"] = provenance(config, evidence, src, moment, revision)
    return ctx


def _cell(value: object) -> str:
    """Text safe inside a Markdown table cell."""
    if value is None:
        return "—"
    return " ".join(str(value).split()).replace("|", "\\|")


def _environment(lang: Lang) -> jinja2.Environment:
    env = template_environment("governance", lang)
    env.filters["cell"] = _cell
    return env


@dataclass
class DocumentResult:
    """One regenerated document: where, what changed, and whether it was written."""

    path: Path
    """``docs/governance/<name>.md``."""
    update: DocumentUpdate
    """Merged text, diff of the generated parts, human sections carried over, conflict."""
    written: bool
    """False when a conflict kept the old file (or nothing changed)."""
    backup: Path | None = None
    """Where the old file was saved when ``force`` overwrote a conflicting one."""
    created: bool = False
    """The document did not exist before."""


def update_governance_docs(
    workspace_root: Path,
    config: NovaConfig,
    catalog: Catalog,
    evidence: Evidence,
    *,
    language: Literal["de", "en"] | None = None,
    now: dt.datetime | None = None,
    revision: str | None = None,
    controls: Controls | None = None,
    force: bool = False,
) -> list[DocumentResult]:
    """Regenerate every governance document, keeping what people wrote (see ``_human``).

    Each file is written atomically. A document whose old version has edits outside its human
    sections (or no seal and other text than nova generates now) is a conflict: it is left
    untouched, unless ``force``, which first copies the old file to ``.nova/backups/docs/`` and
    still carries its human sections over.
    """
    ws = Workspace(workspace_root)
    if controls is None:
        from nova.store import open_store

        with open_store(ws, config) as store:
            controls = workspace_controls(ws, store)
    ctx = build_context(
        workspace_root,
        config,
        catalog,
        evidence,
        language=language,
        now=now,
        revision=revision,
        controls=controls,
    )
    env = _environment(ctx["lang"])
    folder = ws.governance_dir
    planned: list[tuple[Path, DocumentUpdate]] = []
    for name in GOVERNANCE_DOCUMENTS:
        text = env.get_template(f"{name}.md.j2").render(ctx)
        # Templates keep their conditionals readable; collapse the blank lines they leave.
        text = re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"
        path = folder / f"{name}.md"
        # Bytes, not read_text: a person's CRLF line ends must survive byte for byte.
        old = path.read_bytes().decode("utf-8") if path.is_file() else None
        update = merge_document(old, text, name=f"{name}.md", lang=ctx["lang"], force=force)
        planned.append((path, update))
    results = []
    stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%dT%H%M%S")
    for path, update in planned:
        backup = None
        if update.conflict and not force:
            results.append(DocumentResult(path=path, update=update, written=False))
            continue
        old_bytes = path.read_bytes() if path.is_file() else None
        if old_bytes is not None and update.conflict:
            backup = ws.state_dir / "backups" / "docs" / f"{path.stem}.{stamp}.md"
            atomic_write_bytes(backup, old_bytes)
        changed = old_bytes != update.text.encode("utf-8")
        if changed:
            atomic_write_text(path, update.text)
        results.append(
            DocumentResult(
                path=path,
                update=update,
                written=changed,
                backup=backup,
                created=old_bytes is None,
            )
        )
    return results


def render_governance_docs(
    workspace_root: Path,
    config: NovaConfig,
    catalog: Catalog,
    evidence: Evidence,
    *,
    language: Literal["de", "en"] | None = None,
    now: dt.datetime | None = None,
    revision: str | None = None,
    controls: Controls | None = None,
) -> list[Path]:
    """Regenerate the governance documents (``update_governance_docs``); return their paths.

    The same inputs and ``now`` give byte-identical files. A document in conflict (a person
    edited its generated text) is left as it was and not returned.
    """
    results = update_governance_docs(
        workspace_root,
        config,
        catalog,
        evidence,
        language=language,
        now=now,
        revision=revision,
        controls=controls,
    )
    for r in results:
        if r.update.conflict and not r.written:
            _log.warning(
                "not regenerated, to keep what people wrote: %s (see `nova docs`)",
                r.update.conflict,
            )
    return [r.path for r in results if not r.update.conflict]
