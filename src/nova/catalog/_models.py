"""Typed records of the candidate catalog: facts about models that nova does not measure.

Every fact block carries ``source`` (a URL) and ``retrieved`` (the date someone read it there),
so a reader can check it and see how old it is.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl

__all__ = [
    "Architecture",
    "CatalogModel",
    "ContextWindow",
    "ExchangeRate",
    "GpaiCode",
    "GpuPrice",
    "Hosting",
    "License",
    "LoraSupport",
    "ManagedOffer",
    "ModelPrice",
    "Parameters",
    "PriceSheet",
    "SelfHostingPlan",
    "Sourced",
]

ManagedPlatform = Literal["azure-openai", "aws-bedrock", "hf-inference-endpoints", "openai"]
Engine = Literal["vllm", "tgi", "tensorrt-llm", "llama.cpp"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class Sourced(_Strict):
    """A fact with the public page it comes from and the day it was read there."""

    source: HttpUrl
    """Public URL where the fact can be checked."""
    retrieved: date
    """Day the fact was read at ``source`` (ISO date)."""

    def age_days(self, today: date) -> int:
        """Days since ``retrieved``."""
        return (today - self.retrieved).days

    def stale(self, today: date, max_age_days: int) -> bool:
        """Whether the fact is older than ``max_age_days`` (``NOVA_CATALOG_MAX_AGE_DAYS``)."""
        return self.age_days(today) > max_age_days


class GpaiCode(Sourced):
    """Whether the model's provider signed the EU General-Purpose AI Code of Practice."""

    provider: str
    """The GPAI model provider the status is about (e.g. ``Meta``)."""
    status: Literal["signed", "partial", "declined", "unknown"]
    """``signed`` (all chapters), ``partial`` (some chapters), ``declined`` (publicly refused),
    ``unknown`` (not verifiable from public sources on ``retrieved``; never guessed)."""
    note: str | None = None
    """What the source says, in one line."""


class License(Sourced):
    """License terms of the model weights (or the service terms for API-only models)."""

    name: str
    """Human name of the license, e.g. ``Llama 3.1 Community License``."""
    spdx: str
    """SPDX identifier, or ``LicenseRef-…`` for licenses SPDX does not list."""
    open_weights: bool
    """Whether the weights can be downloaded and self-hosted."""
    osi_approved: bool
    """Whether the license is approved by the Open Source Initiative."""
    commercial_use: bool
    """Whether commercial use is allowed at all (restrictions may still apply)."""
    eu_restricted: bool = False
    """Whether the grant is withheld from EU-domiciled licensees (e.g. multimodal Llama)."""
    restrictions: tuple[str, ...] = ()
    """Key restrictions a legal review must look at, one sentence each."""
    attribution: str | None = None
    """Attribution or naming duties, if any."""


class ContextWindow(Sourced):
    """Maximum context length in tokens (prompt plus completion)."""

    tokens: int = Field(gt=0)
    """Context window in tokens as published by the vendor."""
    note: str | None = None
    """Caveats, e.g. 'needs YaRN rope scaling above 32k'."""


class Parameters(Sourced):
    """Parameter count in billions."""

    total_b: float = Field(gt=0)
    """Total parameters, in billions."""
    active_b: float | None = Field(default=None, gt=0)
    """Parameters active per token (mixture-of-experts models), in billions."""


class Architecture(Sourced):
    """Transformer shape that sizes the KV cache (from the model's ``config.json``)."""

    layers: int = Field(gt=0)
    """Hidden layers (``num_hidden_layers``)."""
    attention_heads: int = Field(gt=0)
    """Query heads (``num_attention_heads``); tensor parallelism must divide it."""
    kv_heads: int = Field(gt=0)
    """Key/value heads (``num_key_value_heads``; fewer than query heads with GQA)."""
    head_dim: int = Field(gt=0)
    """Dimension of one attention head (``head_dim``, else hidden size ÷ attention heads)."""


class ManagedOffer(Sourced):
    """A managed service that serves this model."""

    platform: ManagedPlatform
    """Which managed platform."""
    model_id: str
    """The platform's identifier for the model (deployment name, Bedrock model id, …)."""
    regions: tuple[str, ...] = ()
    """EU regions known to offer it (empty: not checked)."""
    note: str | None = None
    """Anything a buyer should know (data residency, preview status, …)."""


class LoraSupport(Sourced):
    """Whether an engine can serve LoRA adapters on top of this model."""

    engine: Engine
    """Serving engine."""
    supported: bool
    """Whether LoRA adapters can be served."""
    note: str | None = None
    """Limits such as max rank or number of adapters per batch."""


class SelfHostingPlan(Sourced):
    """A reference deployment for self-hosting: which GPUs it needs."""

    engine: Engine
    """Engine the plan assumes."""
    gpu: str
    """GPU type; must match a ``gpu`` entry of a GPU price sheet (e.g. ``H100-80GB``)."""
    gpus: int = Field(gt=0)
    """Number of GPUs for one replica."""
    precision: Literal["fp32", "bf16", "fp16", "fp8", "int8", "int4", "q4_k_m", "q8_0"]
    """Weight precision of the plan."""
    note: str | None = None
    """How the number was derived (weights + KV cache at which context)."""


class Hosting(_Strict):
    """Where the model can run."""

    managed: tuple[ManagedOffer, ...] = ()
    """Managed API offers."""
    self_hosted: tuple[Engine, ...] = ()
    """Engines that can serve the open weights."""


class CatalogModel(_Strict):
    """One model of the catalog: facts that are not measured, each with its source."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9.\-]*$")
    """Catalog id, lowercase, e.g. ``llama-3.1-70b-instruct``."""
    name: str
    """Display name."""
    vendor: str
    """Who publishes the model."""
    family: str
    """Model family, e.g. ``llama``, ``mistral``, ``qwen``."""
    released: date | None = None
    """Release date of this version, if known."""
    languages_note: str | None = None
    """What the vendor says about German (and other languages) support."""
    license: License
    """License of the weights or the service terms."""
    context_window: ContextWindow
    """Maximum context length."""
    parameters: Parameters | None = None
    """Parameter count (None for undisclosed API models)."""
    architecture: Architecture | None = None
    """Layers and attention heads, for KV-cache sizing (None for undisclosed API models)."""
    hosting: Hosting
    """Managed offers and self-hosting engines."""
    lora: tuple[LoraSupport, ...] = ()
    """LoRA/adapter support per engine."""
    self_hosting: tuple[SelfHostingPlan, ...] = ()
    """Reference GPU plans for self-hosting."""
    hf_repo: str | None = None
    """Hugging Face repository of the weights (``org/name``), if open."""
    gguf: str | None = None
    """Hugging Face repository and file of a GGUF build, ``org/name:file.gguf``."""
    local_only: bool = False
    """True for tiny test models nova generates itself (no real-world facts)."""
    gpai_code: GpaiCode | None = None
    """EU GPAI Code of Practice status of the model's provider (EU AI Act Art. 56)."""


class ModelPrice(_Strict):
    """Price of one model on a managed platform, per million tokens."""

    model: str
    """Catalog id of the model."""
    input_per_mtok: float = Field(ge=0)
    """Price per 1M input (prompt) tokens."""
    output_per_mtok: float = Field(ge=0)
    """Price per 1M output (completion) tokens."""
    cached_input_per_mtok: float | None = Field(default=None, ge=0)
    """Price per 1M cached input tokens, where offered."""
    region: str | None = None
    """Region the price applies to, if region-specific."""


class GpuPrice(_Strict):
    """On-demand price of one GPU for one hour."""

    gpu: str
    """GPU type, e.g. ``H100-80GB``."""
    usd_per_gpu_hour: float = Field(gt=0)
    """Price of one GPU for one hour, derived as instance price ÷ GPUs per instance."""
    instance: str | None = None
    """Instance type the price was derived from, e.g. ``p5.48xlarge (8 GPUs)``."""


class PriceSheet(Sourced):
    """A dated price list of one provider: token prices or GPU-hour prices."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9.\-]*$")
    """Sheet id, e.g. ``aws-bedrock-2026-11``; cost figures name it."""
    provider: str
    """Who charges these prices."""
    currency: Literal["USD", "EUR"] = "USD"
    """Currency of every price on the sheet."""
    kind: Literal["tokens", "gpu-hours"]
    """What the sheet prices."""
    models: tuple[ModelPrice, ...] = ()
    """Token prices (kind = tokens)."""
    gpus: tuple[GpuPrice, ...] = ()
    """GPU-hour prices (kind = gpu-hours)."""
    note: str | None = None
    """Caveats (region, tier, older table values)."""


class ExchangeRate(Sourced):
    """A dated reference exchange rate between the US dollar and the euro."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9.\-]*$")
    """Rate id, e.g. ``ecb-usd-2025-02-28``."""
    publisher: str
    """Who publishes the rate, e.g. ``European Central Bank``."""
    usd_per_eur: float = Field(gt=0)
    """US dollars per euro, as the ECB quotes it (1 EUR = ``usd_per_eur`` USD)."""
    rate_date: date
    """Day the reference rate applies to."""
    note: str | None = None
    """Caveats (reference rate, not a transaction rate)."""

    def stale(self, today: date, max_age_days: int) -> bool:
        """Whether the rate's own ``rate_date`` is older than ``max_age_days``."""
        return (today - self.rate_date).days > max_age_days

    def to_eur(self, usd: float) -> float:
        """USD amount in EUR at this rate."""
        return usd / self.usd_per_eur

    def label(self) -> str:
        """``1 EUR = 1.0411 USD (European Central Bank reference rate of 2025-02-28)``."""
        rate = f"1 EUR = {self.usd_per_eur:.4f} USD"
        return f"{rate} ({self.publisher} reference rate of {self.rate_date})"
