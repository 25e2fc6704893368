"""GPU sizing of one replica: weights + KV cache + overhead → GPU type and count.

    weights  = parameters × bytes per parameter at the precision
    KV cache = 2 (K and V) × layers × KV heads × head dim × bytes per value × context × concurrency
    need     = weights + KV cache + overhead per GPU × GPUs
    GPUs     = the smallest count (a power of two that divides the attention heads for
               tensor-parallel engines) with GPUs × memory × engine utilisation ≥ need

Every step is kept as a line of arithmetic, so the README and the CLI show how the number came
about, and a reader can redo it by hand.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from nova.catalog import Catalog, CatalogModel
from nova.config import Candidate, NovaConfig
from nova.deploy._profiles import EngineProfile, gpu_types
from nova.errors import ConfigError, Problem

__all__ = [
    "BYTES_PER_PARAM",
    "KV_BYTES",
    "OVERHEAD_GIB_PER_GPU",
    "REDUCED_SHARE",
    "Sizing",
    "size_candidate",
]

GIB = 1024**3
BYTES_PER_PARAM: dict[str, float] = {
    "fp32": 4.0,
    "bf16": 2.0,
    "fp16": 2.0,
    "fp8": 1.0,
    "int8": 1.0,
    "int4": 0.5,
    # GGUF block formats store a scale per block: Q4_K_M averages ~4.85 bits, Q8_0 8.5 bits.
    "q4_k_m": 4.85 / 8,
    "q8_0": 8.5 / 8,
}
"""Bytes per weight at each precision."""
KV_BYTES = 2
"""Bytes per cached K or V value: a 16-bit cache, the engines' default."""
OVERHEAD_GIB_PER_GPU = 1.5
"""Activations, CUDA context and graphs per GPU, GiB: an assumption, not measured here."""
REDUCED_SHARE = 0.25
"""The fallback is sized for a quarter of the peak concurrency ("reduced resources")."""
_MAX_GPUS = 8  # one node


@dataclass
class Sizing:
    """The sizing of one candidate on one engine, with its arithmetic."""

    candidate: str
    engine: str
    precision: str
    gpu: str
    gpus: int
    """GPUs the rendered deployment requests (nova.yaml's ``gpus`` when set)."""
    needed_gpus: int
    """GPUs the arithmetic asks for."""
    weights_gib: float
    kv_gib: float
    kv_bytes_per_token: int
    context: int
    concurrency: int
    need_gib: float
    usable_gib_per_gpu: float
    max_model_len: int
    """Longest sequence the engine is started with (fits the KV cache of ``gpus``)."""
    kv_capacity_tokens: int
    """Tokens the KV room of ``gpus`` holds (at least ``max_model_len``)."""
    reduced: bool
    lines: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _profile_for(config: NovaConfig, cand: Candidate) -> tuple[str | None, int, int]:
    """Profile name, peak concurrency and tokens of one conversation for ``cand``."""
    names = sorted(config.profiles, key=lambda n: (n != "llm-core", n))
    chosen = next((n for n in names if cand.id in config.profiles[n].candidates), None)
    if chosen is None:
        chosen = next((n for n in names if not config.profiles[n].candidates), None)
    if chosen is None:
        return None, cand.provider.max_concurrency, 1024
    prof = config.profiles[chosen]
    conc = max(prof.performance.concurrency) if prof.performance else 1
    return chosen, conc, sum(prof.conversation_tokens)


def _precision(
    rec: CatalogModel, cand: Candidate, engine: EngineProfile, reduced: bool
) -> tuple[str, str]:
    """Precision and why: the catalog plan that matches nova.yaml, else the engine's first."""
    if engine.needs_gguf and rec.gguf:
        name = rec.gguf.rsplit(":", 1)[-1].lower()
        for p in engine.precisions:
            if p in name:
                return p, f"the catalog's GGUF file {rec.gguf.rsplit(':', 1)[-1]}"
    plans = [p for p in rec.self_hosting if p.engine == engine.catalog_engine]
    plans = [p for p in plans if p.precision in engine.precisions]
    if reduced and plans:
        best = min(plans, key=lambda p: (BYTES_PER_PARAM[p.precision], p.gpus))
        return best.precision, f"the catalog's smallest {engine.id} plan (reduced resources)"
    for plan in plans:
        if plan.gpu == cand.gpu and plan.gpus == cand.gpus:
            return plan.precision, f"the catalog plan {plan.gpus} x {plan.gpu}"
    if plans:
        return plans[0].precision, f"the catalog's first {engine.id} plan"
    return engine.precisions[0], f"the {engine.id} default"


def _gpu(rec: CatalogModel, cand: Candidate, engine: EngineProfile) -> str | None:
    if cand.gpu:
        return cand.gpu
    plans = [p for p in rec.self_hosting if p.engine == engine.catalog_engine] or list(
        rec.self_hosting
    )
    return plans[0].gpu if plans else None


def _counts(engine: EngineProfile, heads: int) -> list[int]:
    if not engine.tensor_parallel:
        return list(range(1, _MAX_GPUS + 1))
    return [n for n in (1, 2, 4, 8) if heads % n == 0]


def size_candidate(
    config: NovaConfig,
    cand: Candidate,
    catalog: Catalog,
    engine: EngineProfile,
    *,
    where: tuple[str, int | None] = ("nova.yaml", None),
    precision: str | None = None,
    context: int | None = None,
    concurrency: int | None = None,
) -> Sizing:
    """Size ``cand`` on ``engine``; ConfigError (exit 2) names what to set when it cannot.

    ``where`` is (nova.yaml path, line of the candidate) for the error messages.
    """
    path = f"candidates[{config.candidates.index(cand)}]"

    def fail(field_: str, msg: str) -> ConfigError:
        from pathlib import Path

        return ConfigError([Problem(Path(where[0]), where[1], f"{path}.{field_}", msg)], msg)

    if not cand.catalog or cand.catalog not in catalog.models:
        raise fail("catalog", f"candidate {cand.id} needs a catalog id to be sized (catalog:)")
    rec = catalog.models[cand.catalog]
    if rec.parameters is None or rec.architecture is None:
        raise fail(
            "catalog",
            f"catalog model {rec.id} has no parameters/architecture facts: add them to "
            f"catalog/models/{rec.id}.yaml (layers, attention_heads, kv_heads, head_dim)",
        )
    gpu = _gpu(rec, cand, engine)
    if gpu is None:
        raise fail(
            "gpu",
            f"self-hosted candidate {cand.id} has no GPU plan: set gpu: (e.g. H100-80GB) and "
            "gpus: in nova.yaml, or add a self_hosting plan to the catalog",
        )
    gtypes = gpu_types()
    if gpu not in gtypes:
        raise fail("gpu", f"unknown GPU {gpu!r}: use one of {', '.join(gtypes)}")
    gt = gtypes[gpu]
    reduced = cand.role == "fallback"
    prof_name, peak, conv_tokens = _profile_for(config, cand)
    why_prec = "--precision"
    if precision is None:
        precision, why_prec = _precision(rec, cand, engine, reduced)
    if precision not in engine.precisions:
        raise fail(
            "gpu",
            f"{engine.id} cannot serve precision {precision}: use one of "
            f"{', '.join(engine.precisions)}",
        )
    conc_why = (
        f"peak concurrency of profile {prof_name}" if prof_name else "provider.max_concurrency"
    )
    if concurrency is None:
        concurrency = peak
        if reduced:
            concurrency = max(1, math.ceil(peak * REDUCED_SHARE))
            conc_why = f"{REDUCED_SHARE:.0%} of the {conc_why} ({peak}): reduced resources"
    else:
        conc_why = "--concurrency"
    ctx_why = f"input + output tokens of one conversation (profile {prof_name})"
    if context is None:
        context = min(conv_tokens, rec.context_window.tokens)
    else:
        ctx_why = "--context"
    arch = rec.architecture
    bpp = BYTES_PER_PARAM[precision]
    weights = rec.parameters.total_b * 1e9 * bpp / GIB
    kv_token = 2 * arch.layers * arch.kv_heads * arch.head_dim * KV_BYTES
    kv = kv_token * context * concurrency / GIB
    usable = gt.memory_gib * engine.memory_utilization - OVERHEAD_GIB_PER_GPU
    counts = _counts(engine, arch.attention_heads)
    needed = next((n for n in counts if n * usable >= weights + kv), counts[-1])
    configured = cand.gpus
    gpus = configured or needed
    need = weights + kv + OVERHEAD_GIB_PER_GPU * needed
    kv_room = max(0.0, gpus * usable - weights)
    capacity_tokens = int(kv_room * GIB // kv_token)
    # Engines refuse to start when one sequence of max_model_len does not fit the KV cache.
    max_model_len = min(rec.context_window.tokens, 32768, (capacity_tokens // 1024) * 1024)
    max_model_len = max(max_model_len, min(rec.context_window.tokens, 1024))
    lines = [
        f"precision {precision} ({why_prec}): {bpp:g} bytes per parameter",
        f"weights = {rec.parameters.total_b:g}e9 parameters x {bpp:g} B = {weights:.1f} GiB",
        f"KV per token = 2 x {arch.layers} layers x {arch.kv_heads} KV heads x "
        f"{arch.head_dim} head dim x {KV_BYTES} B = {kv_token / 1024:g} KiB",
        f"context = {context} tokens ({ctx_why}); concurrency = {concurrency} ({conc_why})",
        f"KV cache = {kv_token / 1024:g} KiB x {context} x {concurrency} = {kv:.1f} GiB",
        f"usable per GPU = {gt.memory_gib:g} GiB ({gpu}) x {engine.memory_utilization:g} "
        f"({engine.id} memory utilisation) - {OVERHEAD_GIB_PER_GPU:g} GiB overhead "
        f"= {usable:.1f} GiB",
        f"need = {weights:.1f} + {kv:.1f} GiB = {weights + kv:.1f} GiB -> {needed} x {gpu} "
        f"({needed * usable:.1f} GiB usable"
        + (f"; tensor parallel must divide {arch.attention_heads} heads" if len(counts) < 8 else "")
        + ")",
        f"max model length = {max_model_len} tokens (KV room {kv_room:.1f} GiB on {gpus} GPU(s) "
        f"holds {capacity_tokens} tokens; context window {rec.context_window.tokens})",
    ]
    warnings = []
    if weights + kv > needed * usable:
        warnings.append(
            f"{cand.id}: {weights + kv:.1f} GiB does not fit even on {needed} x {gpu} "
            f"({needed * usable:.1f} GiB usable): choose a larger GPU or a lower precision"
        )
    if configured is not None and configured != needed:
        warnings.append(
            f"{cand.id}: nova.yaml plans gpus: {configured} x {gpu} "
            f"({configured * usable:.1f} GiB usable), the sizing needs {weights + kv:.1f} GiB "
            f"-> {needed} GPU(s); rendering {configured} as nova.yaml says "
            f"(set gpus: {needed} to follow the sizing)"
        )
    if max_model_len < context:
        warnings.append(
            f"{cand.id}: only {capacity_tokens} tokens of KV cache fit on {gpus} x {gpu}; "
            f"one conversation needs {context}"
        )
    return Sizing(
        candidate=cand.id,
        engine=engine.id,
        precision=precision,
        gpu=gpu,
        gpus=gpus,
        needed_gpus=needed,
        weights_gib=weights,
        kv_gib=kv,
        kv_bytes_per_token=kv_token,
        context=context,
        concurrency=concurrency,
        need_gib=need,
        usable_gib_per_gpu=usable,
        max_model_len=max_model_len,
        kv_capacity_tokens=max(capacity_tokens // 1024 * 1024, max_model_len),
        reduced=reduced,
        lines=lines,
        warnings=warnings,
    )
