"""Facts for the governance documents: catalog, config and evidence joined per candidate.

Everything here is plain data (str, int, bool, lists, dicts), with numbers already formatted for
the document language, so the templates only arrange it and a test can check each value. Nothing
is estimated that the catalog or the evidence does not hold: a missing value reads
"not measured" / "nicht gemessen".
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Literal

import yaml

from nova.__about__ import __version__
from nova.catalog import Catalog, CatalogModel, ManagedOffer, PriceSheet
from nova.config import Candidate, NovaConfig, config_hash
from nova.datasets import load_dataset
from nova.decision import CandidateEvidence, Evidence, Measurement
from nova.errors import NovaError

__all__ = [
    "HOURS_PER_MONTH",
    "LORA_ENGINES",
    "PLATFORM_NAMES",
    "PROCESSORS",
    "STALE_AFTER_DAYS",
    "Facts",
    "Lang",
    "Sources",
    "candidate_facts",
    "candidates_in_scope",
    "fmt_measurement",
    "fmt_money",
    "fmt_number",
    "fmt_share",
    "gate_value",
    "gpu_plan",
    "iso",
    "kpi_rows",
    "license_review",
    "lora_rows",
    "measure",
    "provenance",
    "read_datasets",
    "read_guardrails",
    "read_redteam",
    "read_tagged_cases",
    "read_vulnerable",
    "token_price",
]

Lang = Literal["de", "en"]
Facts = dict[str, Any]
HOURS_PER_MONTH = 730
"""One replica running all month: 24 h × 365 d / 12."""
STALE_AFTER_DAYS = 180
"""Catalog facts older than this are flagged for re-checking (as in ``nova candidates``)."""
LORA_ENGINES = ("vllm", "tgi", "tensorrt-llm", "llama.cpp")
PLATFORM_NAMES = {
    "azure-openai": "Azure OpenAI",
    "aws-bedrock": "AWS Bedrock",
    "hf-inference-endpoints": "Hugging Face Inference Endpoints",
    "openai": "OpenAI API",
}
PROCESSORS = {
    "azure-openai": "Microsoft",
    "aws-bedrock": "Amazon Web Services (AWS)",
    "hf-inference-endpoints": "Hugging Face",
    "openai": "OpenAI",
}
_PLATFORM_BY_KIND = {"azure": "azure-openai", "bedrock": "aws-bedrock"}
_NON_EU_PREFIXES = ("us-", "ap-", "ca-", "sa-", "me-", "af-", "il-", "mx-", "cn-")
_NOT_MEASURED: dict[Lang, str] = {"de": "nicht gemessen", "en": "not measured"}
_YES_NO: dict[Lang, tuple[str, str]] = {"de": ("ja", "nein"), "en": ("yes", "no")}


def iso(moment: dt.datetime) -> str:
    """UTC timestamp to the second, ``2026-12-01T09:00:00Z``; naive times count as UTC."""
    utc = moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%SZ")


def _de(text: str) -> str:
    return text.translate(str.maketrans(",.", ".,"))


def fmt_number(x: float, lang: Lang, decimals: int = 0) -> str:
    """``6,570.00`` in English, ``6.570,00`` in German."""
    text = f"{x:,.{decimals}f}"
    return _de(text) if lang == "de" else text


def fmt_money(x: float, currency: str, lang: Lang, decimals: int = 2) -> str:
    """``450.00 USD`` / ``450,00 USD``."""
    return f"{fmt_number(x, lang, decimals)} {currency}"


def fmt_share(x: float, lang: Lang) -> str:
    """A share 0..1 as percent: ``82.0%`` / ``82,0 %`` (German puts a space before %)."""
    return f"{x:.1%}" if lang == "en" else f"{_de(f'{x * 100:.1f}')} %"


def fmt_measurement(m: Measurement, lang: Lang) -> str:
    """``Measurement.fmt()`` in the document language, e.g. ``82,0 % [74,1 %–88,0 %]``."""
    v = m.value
    if v is None:
        return _NOT_MEASURED[lang]
    if isinstance(v, bool):
        return _YES_NO[lang][0 if v else 1]
    if isinstance(v, str):
        return v
    if lang == "en":
        return m.fmt()
    if m.unit == "%":
        out = fmt_share(v, lang)
        if m.low is not None and m.high is not None:
            out += f" [{fmt_share(m.low, lang)}–{fmt_share(m.high, lang)}]"
        return out
    out = _de(f"{v:,.4g}") if abs(v) < 1000 else _de(f"{v:,.0f}")
    if m.low is not None and m.high is not None:
        out += f" [{_de(f'{m.low:,.4g}')}–{_de(f'{m.high:,.4g}')}]"
    return f"{out} {m.unit}".strip()


def price_sheet_estimate(ev: CandidateEvidence | None, key: str) -> bool:
    """Whether ``key`` of this candidate is a price sheet times an assumed conversation, with no
    performance run behind it (a managed candidate's cost): an estimate, never "measured"."""
    m = ev.metrics.get(key) if ev is not None else None
    tps = ev.metrics.get("output_tokens_per_s") if ev is not None else None
    from_run = tps is not None and tps.source.startswith("run:")
    return m is not None and m.source.startswith("price-sheet:") and not from_run


def measure(ev: CandidateEvidence | None, key: str, lang: Lang) -> Facts:
    """One metric of one candidate: formatted text, raw value and interval, source."""
    m = ev.get(key) if ev is not None else Measurement(value=None, source="not measured")
    v = m.value
    return {
        "key": key,
        "text": fmt_measurement(m, lang),
        "measured": m.measured,
        "value": float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None,
        "low": m.low,
        "high": m.high,
        "unit": m.unit,
        "source": m.source if m.measured else "",
        "detail": m.detail,
    }


class Sources:
    """The price sheets and catalog records a document set used, for its footer."""

    def __init__(self) -> None:
        self.sheets: dict[str, PriceSheet] = {}
        self.models: dict[str, CatalogModel] = {}


def candidates_in_scope(config: NovaConfig) -> list[Candidate]:
    """Every candidate except judges, unless a judge is also ranked in some profile."""
    ranked = {cid for p in config.profiles.values() for cid in p.candidates}
    return [c for c in config.candidates if c.role != "judge" or c.id in ranked]


def _offer(c: Candidate, rec: CatalogModel | None) -> ManagedOffer | None:
    """The catalog's managed offer that this candidate's provider reaches."""
    if rec is None or c.hosting != "managed":
        return None
    want = _PLATFORM_BY_KIND.get(c.provider_kind)
    if want is None and "huggingface" in (c.provider.base_url or ""):
        want = "hf-inference-endpoints"
    for offer in rec.hosting.managed:
        if offer.platform == want:
            return offer
    return rec.hosting.managed[0] if len(rec.hosting.managed) == 1 else None


def _region_status(region: str | None, offer: ManagedOffer | None) -> str:
    """``eu`` (an EU region the catalog lists for the offer), ``non_eu`` or ``unknown``."""
    if not region:
        return "unknown"
    if offer is not None and region in offer.regions:
        return "eu"
    return "non_eu" if region.startswith(_NON_EU_PREFIXES) else "unknown"


def token_price(
    catalog: Catalog, model_id: str, *, sheet_id: str | None, platform: str
) -> tuple[PriceSheet, float, float] | None:
    """Sheet and (input, output) price per 1M tokens: the named sheet, else the platform's."""
    for sheet in catalog.sheets_for(model_id):
        if sheet.id == sheet_id or (sheet_id is None and sheet.id.startswith(platform)):
            for mp in sheet.models:
                if mp.model == model_id:
                    return sheet, mp.input_per_mtok, mp.output_per_mtok
    return None


def gpu_plan(
    c: Candidate | None, rec: CatalogModel, catalog: Catalog, src: Sources, lang: Lang
) -> Facts | None:
    """GPUs for one replica (nova.yaml overrides the catalog's first plan) and their cost."""
    plans = rec.self_hosting
    gpu = (c.gpu if c else None) or (plans[0].gpu if plans else None)
    gpus = (c.gpus if c else None) or (plans[0].gpus if plans else None)
    if gpu is None or gpus is None:
        return None
    match = next((p for p in plans if p.gpu == gpu and p.gpus == gpus), None) or (
        plans[0] if plans else None
    )
    out: Facts = {"gpu": gpu, "gpus": gpus, "from_config": bool(c and (c.gpu or c.gpus))}
    out.update(engine=match.engine if match else None, precision=match.precision if match else None)
    out.update(source=str(match.source) if match else None)
    out.update(retrieved=match.retrieved.isoformat() if match else None)
    out.update(per_hour=None, per_hour_value=None, per_month=None, sheet=None)
    found = catalog.gpu_price(gpu)
    if found is not None:
        sheet, per_gpu = found
        src.sheets[sheet.id] = sheet
        out.update(per_hour_value=per_gpu * gpus, currency=sheet.currency)
        out["per_hour"] = fmt_money(per_gpu * gpus, sheet.currency, lang)
        out["per_month_value"] = per_gpu * gpus * HOURS_PER_MONTH
        out["per_month"] = fmt_money(out["per_month_value"], sheet.currency, lang)
        out["per_gpu_hour"] = fmt_money(per_gpu, sheet.currency, lang)
        out["sheet"] = {
            "id": sheet.id,
            "date": sheet.retrieved.isoformat(),
            "provider": sheet.provider,
        }
    return out


def candidate_facts(
    c: Candidate, catalog: Catalog, src: Sources, lang: Lang, today: dt.date
) -> Facts:
    """The facts every document shows about one candidate."""
    rec = catalog.models.get(c.catalog) if c.catalog else None
    if rec is not None:
        src.models[rec.id] = rec
    offer = _offer(c, rec)
    lic = rec.license if rec else None
    age = (today - lic.retrieved).days if lic else None
    status = _region_status(c.provider.region, offer)
    return {
        "id": c.id,
        "name": c.name or (rec.name if rec else c.id),
        "role": c.role,
        "hosting": c.hosting,
        "model": c.model,
        "catalog": rec.id if rec else None,
        "catalog_name": rec.name if rec else None,
        "released": rec.released.isoformat() if rec and rec.released else None,
        "license": lic.name if lic else None,
        "spdx": lic.spdx if lic else None,
        "open_weights": lic.open_weights if lic else None,
        "osi": lic.osi_approved if lic else None,
        "commercial_use": lic.commercial_use if lic else None,
        "eu_restricted": lic.eu_restricted if lic else None,
        "license_source": str(lic.source) if lic else None,
        "license_retrieved": lic.retrieved.isoformat() if lic else None,
        "license_age_days": age,
        "license_stale": age is not None and age > STALE_AFTER_DAYS,
        "context_window": rec.context_window.tokens if rec else None,
        "context_text": fmt_number(rec.context_window.tokens, lang) if rec else None,
        "platform": offer.platform if offer else None,
        "platform_name": PLATFORM_NAMES.get(offer.platform) if offer else None,
        "processor": PROCESSORS.get(offer.platform) if offer else None,
        "eu_regions": list(offer.regions) if offer else [],
        "region": c.provider.region or None,
        "region_status": status,
        "third_country": c.hosting == "managed"
        and (status == "non_eu" or not offer or not offer.regions),
        "offer_note": offer.note if offer else None,
        "offer_source": str(offer.source) if offer else None,
        "offer_retrieved": offer.retrieved.isoformat() if offer else None,
        "gpai": (
            {
                "provider": rec.gpai_code.provider,
                "status": rec.gpai_code.status,
                "note": rec.gpai_code.note,
                "source": str(rec.gpai_code.source),
                "retrieved": rec.gpai_code.retrieved.isoformat(),
            }
            if rec is not None and rec.gpai_code is not None
            else None
        ),
    }


def _license_flags(rec: CatalogModel) -> list[str]:
    """Findings a legal review must see, derived from the catalog's license facts."""
    lic = rec.license
    text = " ".join((*lic.restrictions, lic.attribution or "")).lower()
    checks = [
        ("non_commercial", not lic.commercial_use),
        ("eu_blocked", lic.eu_restricted),
        ("llama_mau", "700 million" in text),
        ("acceptable_use", "acceptable use policy" in text),
        ("built_with_llama", "built with llama" in text),
        ("llama_naming", 'beginning with "llama"' in text or 'start with "llama"' in text),
        ("eu_multimodal", rec.family == "llama" or "multimodal" in text),
        ("prohibited_use", "prohibited use policy" in text),
        ("flow_down", "flow down" in text),
        ("remote_restriction", "remotely" in text),
        ("api_only", not lic.open_weights),
        ("not_osi", lic.open_weights and not lic.osi_approved),
        ("apache_notice", lic.spdx == "Apache-2.0"),
    ]
    return [key for key, hit in checks if hit]


_ASKED: tuple[str, ...] = ("non_commercial", "eu_blocked", "llama_mau", "acceptable_use")
_ASKED += ("built_with_llama", "llama_naming", "prohibited_use", "flow_down", "remote_restriction")


def license_review(cands: list[Facts], catalog: Catalog) -> list[Facts]:
    """Per candidate: license facts, findings and the open questions for Legal."""
    rows = []
    for c in cands:
        rec = catalog.models.get(c["catalog"]) if c["catalog"] else None
        flags = _license_flags(rec) if rec else []
        questions = [f for f in flags if f in _ASKED]
        questions += ["no_catalog"] if rec is None else []
        if c["hosting"] == "managed":
            questions += ["dpa"] + (["region"] if c["region_status"] != "eu" else [])
        questions += ["service_terms"] if "api_only" in flags else []
        questions += ["stale"] if c["license_stale"] else []
        rows.append(
            {
                **c,
                "restrictions": list(rec.license.restrictions) if rec else [],
                "attribution": rec.license.attribution if rec else None,
                "flags": flags,
                "questions": questions,
            }
        )
    return rows


def lora_rows(
    cands: list[Facts], config: NovaConfig, catalog: Catalog, src: Sources, lang: Lang
) -> list[Facts]:
    """Per candidate and engine: LoRA yes/no/unknown with the catalog's note and source."""
    rows = []
    for c in cands:
        rec = catalog.models.get(c["catalog"]) if c["catalog"] else None
        engines = []
        for engine in LORA_ENGINES:
            hit = next((x for x in rec.lora if x.engine == engine), None) if rec else None
            engines.append(
                {
                    "engine": engine,
                    "status": "unknown" if hit is None else ("yes" if hit.supported else "no"),
                    "listed": bool(rec and engine in rec.hosting.self_hosted),
                    "note": hit.note if hit else None,
                    "source": str(hit.source) if hit else None,
                    "retrieved": hit.retrieved.isoformat() if hit else None,
                }
            )
        cand = config.candidate(c["id"])
        planned = "llama.cpp" if cand.provider_kind == "llamacpp" else None
        if planned is None and c["hosting"] == "self-hosted" and rec is not None:
            plan = gpu_plan(cand, rec, catalog, src, lang)
            planned = plan["engine"] if plan else None
        rows.append({**c, "engines": engines, "planned_engine": planned})
    return rows


def kpi_rows(config: NovaConfig, cands: list[Facts], evidence: Evidence, lang: Lang) -> list[Facts]:
    """Each KPI with its target and every candidate's latest measured value against it.

    The metric reads ``<metric>_<statistic>`` (``ttft_ms`` + ``p95`` → ``ttft_ms_p95``);
    rates and single values read the metric itself.
    """
    rows = []
    for k in config.kpis:
        key = k.metric if k.statistic in ("rate", "value") else f"{k.metric}_{k.statistic}"
        if k.unit == "%":
            target = fmt_share(k.target, lang)
        else:
            target = f"{fmt_number(k.target, lang, 2 if k.target % 1 else 0)} {k.unit}".strip()
        cells = []
        for c in cands:
            ce = evidence.candidates.get(c["id"])
            m = measure(ce, key, lang)
            meets = borderline = None
            if price_sheet_estimate(ce, key):
                est = "Schätzung, nicht gemessen" if lang == "de" else "estimate, not measured"
                cells.append({**m, "text": f"{m['text']} ({est})", "candidate": c["id"],
                              "meets": None, "borderline": None})  # fmt: skip
                continue
            if m["value"] is not None:
                meets = m["value"] <= k.target if k.direction == "lower" else m["value"] >= k.target
                if m["low"] is not None and m["high"] is not None:
                    borderline = m["low"] <= k.target <= m["high"]
            cells.append({**m, "candidate": c["id"], "meets": meets, "borderline": borderline})
        row: Facts = {"id": k.id, "name": k.name, "metric": k.metric, "evidence_key": key}
        row.update(statistic=k.statistic, target=target, direction=k.direction, unit=k.unit)
        row.update(owner=k.owner, alert=k.alert, cells=cells)
        rows.append(row)
    return rows


def provenance(
    config: NovaConfig, evidence: Evidence, src: Sources, now: dt.datetime, revision: str | None
) -> Facts:
    """The "generated from" block: versions, hashes, runs, price sheets, catalog sources."""
    today = now.date()
    chash = config_hash(config)
    runs = sorted(evidence.runs.values(), key=lambda r: (r.started_at, r.id))
    catalog_sources = []
    for mid in sorted(src.models):
        m = src.models[mid]
        facts = [m.license, m.context_window, *m.hosting.managed, *m.lora, *m.self_hosting]
        facts += [m.gpai_code] if m.gpai_code else []
        facts += [m.parameters] if m.parameters else []
        pairs = sorted({(str(f.source), f.retrieved.isoformat()) for f in facts})
        catalog_sources.append(
            {"id": mid, "sources": [{"url": u, "retrieved": d} for u, d in pairs]}
        )
    return {
        "nova_version": __version__,
        "config_hash": chash,
        "evidence_config_hash": evidence.config_hash,
        "evidence_matches": evidence.config_hash == chash,
        "evidence_generated_at": iso(evidence.generated_at),
        "runs": [
            {
                "id": r.id,
                "kind": r.kind,
                "started_at": iso(r.started_at),
                "config_hash": r.config_hash,
                "datasets": [{"name": n, "sha256": h} for n, h in sorted(r.datasets.items())],
            }
            for r in runs
        ],
        "price_sheets": [
            {
                "id": s.id,
                "provider": s.provider,
                "retrieved": s.retrieved.isoformat(),
                "age_days": (today - s.retrieved).days,
                "stale": (today - s.retrieved).days > STALE_AFTER_DAYS,
                "source": str(s.source),
            }
            for s in sorted(src.sheets.values(), key=lambda s: s.id)
        ],
        "catalog": catalog_sources,
        "revision": revision,
        "generated_at": iso(now),
    }


def read_guardrails(root: Path) -> Facts | None:
    """What ``guardrails/rails.yaml`` switches on; None when absent or unreadable."""
    try:
        data = yaml.safe_load((root / "guardrails" / "rails.yaml").read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None
    if not isinstance(data, dict):
        return None
    inp = data["input"] if isinstance(data.get("input"), dict) else {}
    outp = data["output"] if isinstance(data.get("output"), dict) else {}

    def listed(block: Any, key: str) -> list[str]:
        items = block.get(key) if isinstance(block, dict) else None
        return [str(e) for e in items] if isinstance(items, list) else []

    inj = inp.get("prompt_injection")
    return {
        "pii_input": listed(inp.get("pii_redaction"), "entities"),
        "pii_output": listed(outp.get("pii_leak"), "entities"),
        "prompt_injection": str(inj.get("action")) if isinstance(inj, dict) else None,
        "deny_topics": listed(inp, "deny_topics"),
    }


def read_datasets(root: Path, config: NovaConfig, evidence: Evidence) -> list[Facts]:
    """Eval datasets of the profiles: case count, graders and sha256 now and in each quality
    run (a red-team run's scenario files live under ``redteam/``; the QA plan lists them)."""
    quality = [r for r in evidence.runs.values() if r.kind == "quality"]
    names = [n for p in config.profiles.values() for n in (p.quality.datasets if p.quality else [])]
    names += [n for r in quality for n in sorted(r.datasets)]
    runs = sorted(quality, key=lambda r: (r.started_at, r.id))
    out = []
    for name in dict.fromkeys(names):
        path = root / "datasets" / f"{name}.jsonl"
        row: Facts = {"name": name, "path": f"datasets/{name}.jsonl", "exists": path.is_file()}
        row.update(cases=None, graders=[], sha256=None, error=None)
        if path.is_file():
            try:
                ds = load_dataset(path)
            except NovaError as exc:
                row["error"] = str(exc).splitlines()[0]
            else:
                row["cases"] = len(ds.cases)
                row["graders"] = sorted({e.grader for case in ds.cases for e in case.expect})
                row["sha256"] = ds.sha256
        row["runs"] = [
            {"id": r.id, "sha256": r.datasets[name], "matches": r.datasets[name] == row["sha256"]}
            for r in runs
            if name in r.datasets
        ]
        out.append(row)
    return out


VULNERABLE_TAGS = (
    "selbstgefaehrdung",
    "krise",
    "verletzlich",
    "senioren",
    "medizinisch",
    "zahlungsschwierigkeiten",
    "sperre",
    "notfall",
)
"""Case tags that mark a vulnerable customer (crisis, hardship, health, age)."""


def read_vulnerable(root: Path, names: list[str]) -> Facts:
    """How many cases of the given datasets concern vulnerable customers, by tag."""
    tags: set[str] = set()
    hits: list[str] = []
    count = 0
    for name in names:
        path = root / "datasets" / f"{name}.jsonl"
        try:
            ds = load_dataset(path)
        except (NovaError, OSError):
            continue
        for case in ds.cases:
            found = set(case.tags) & set(VULNERABLE_TAGS)
            if found:
                count += 1
                tags |= found
                hits.append(name)
    return {"cases": count, "tags": sorted(tags), "datasets": list(dict.fromkeys(hits))}


def read_tagged_cases(root: Path, names: list[str], tag: str) -> list[Facts]:
    """Cases carrying ``tag`` in the given datasets: id, dataset, language, first user turn."""
    out: list[Facts] = []
    for name in names:
        try:
            ds = load_dataset(root / "datasets" / f"{name}.jsonl")
        except (NovaError, OSError):
            continue
        for case in ds.cases:
            if tag in case.tags:
                ask = next((m.content for m in case.messages if m.role == "user"), "")
                out.append({"id": case.id, "dataset": name, "language": case.language, "ask": ask})
    return out


def read_redteam(root: Path) -> Facts:
    """The scenario library under ``redteam/`` (JSONL): files with their sha256, every
    scenario, and how many carry each OWASP LLM Top 10 id and each Sophia harm. An invalid
    library is reported (``error``), not raised: the QA plan must still be writable."""
    from nova.safety import HARMS, OWASP_2025, load_scenarios

    counts = dict.fromkeys(OWASP_2025, 0)
    harms = dict.fromkeys(HARMS, 0)
    out: Facts = {"files": [], "scenarios": [], "error": None, "benign": 0, "attacks": 0}
    try:
        lib = load_scenarios(root / "redteam")
    except NovaError as exc:
        out["error"] = " ".join(str(exc).split())[:300]
        lib = None
    for f in lib.files if lib else []:
        rel = Path(f.path).resolve().relative_to(root.resolve()).as_posix()
        out["files"].append({"path": rel, "sha256": f.sha256, "scenarios": len(f.scenarios)})
        for sc in f.scenarios:
            for o in sc.owasp:
                counts[o] += 1
            if sc.harm:
                harms[sc.harm] += 1
            out["benign" if sc.kind == "benign" else "attacks"] += 1
            out["scenarios"].append(
                {
                    "id": sc.id,
                    "kind": sc.kind,
                    "language": sc.language,
                    "owasp": ", ".join(sc.owasp),
                    "harm": sc.harm or "",
                    "title": sc.title,
                    "turns": len(sc.turns),
                    "detect": ", ".join(
                        d
                        for d, on in (
                            ("canary", sc.detect.canary),
                            ("regex", bool(sc.detect.patterns)),
                            ("no " + str(sc.detect.no_tool_call), bool(sc.detect.no_tool_call)),
                            ("judge", bool(sc.detect.judge)),
                            ("refusal", sc.kind == "benign"),
                        )
                        if on
                    ),
                }
            )
    out["owasp"] = [{"id": k, "count": v} for k, v in counts.items()]
    out["harms"] = [{"id": k, "name": HARMS[k], "count": v} for k, v in harms.items()]
    return out


def gate_value(value: float | bool | str) -> str:
    """A gate value as nova.yaml writes it: ``true``, ``32000``, ``0.05``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
