"""pydantic models of nova.yaml. ``extra="forbid"`` everywhere: a typo is an error.

The one-line docstring under each field is its documentation; ``nova config schema`` turns the
models into JSON Schema with those texts as descriptions.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from nova.errors import NovaError, UnknownCandidateError

__all__ = [
    "PROVIDER_KINDS",
    "REQUIRED_SETTINGS",
    "SECRET_FIELDS",
    "Candidate",
    "Criterion",
    "Decision",
    "Gate",
    "GatewaySettings",
    "Governance",
    "Kpi",
    "MonitoringSettings",
    "NovaConfig",
    "OidcSettings",
    "PerformanceSpec",
    "Profile",
    "ProviderSettings",
    "QualitySpec",
    "Receiver",
    "RedTeamSpec",
    "Reviewer",
    "Slo",
    "StoreSettings",
    "SubjectLimits",
]

PROVIDER_KINDS: dict[str, str] = {
    "openai": "OpenAI-compatible HTTP server (vLLM, TGI, llama.cpp server, Ollama, OpenAI)",
    "azure": "Azure OpenAI (deployment, api-version, key or Entra ID)",
    "bedrock": "AWS Bedrock Converse API",
    "llamacpp": "local GGUF file served by llama.cpp (llama-cpp-python)",
    "mock": "scripted responses for tests and dry runs",
}

SECRET_FIELDS = ("api_key",)
"""Fields that may only be given as a ``${VAR}`` reference, never as a literal value."""

ID_PATTERN = r"^[a-z0-9][a-z0-9._\-]*$"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True, use_attribute_docstrings=True)


class ProviderSettings(_Model):
    """How to reach a candidate. Which fields are needed depends on the provider kind."""

    base_url: str | None = None
    """Base URL of an OpenAI-compatible API (``…/v1``), or the Azure resource endpoint."""
    api_key: SecretStr | None = None
    """API key; only as an environment reference such as ``${AZURE_OPENAI_API_KEY}``."""
    api_version: str | None = None
    """Azure OpenAI API version, e.g. ``2024-10-21``."""
    deployment: str | None = None
    """Azure OpenAI deployment name."""
    region: str | None = None
    """Cloud region, e.g. ``eu-central-1`` for Bedrock."""
    model_path: str | None = None
    """Local GGUF file (llamacpp), relative to the workspace or absolute."""
    hf_repo: str | None = None
    """Hugging Face ``org/repo:file.gguf`` to download when ``model_path`` is absent."""
    timeout_s: float = Field(default=60.0, gt=0)
    """Timeout of one whole request in seconds."""
    connect_timeout_s: float = Field(default=10.0, gt=0)
    """Timeout for opening the connection."""
    first_token_timeout_s: float | None = Field(default=None, gt=0)
    """Timeout until the first token arrives (default: ``timeout_s``)."""
    max_retries: int = Field(default=2, ge=0, le=10)
    """Retries on 429/5xx/connection errors, with exponential backoff."""
    max_concurrency: int = Field(default=8, ge=1, le=1024)
    """Most requests in flight to this candidate at once."""
    rpm: int | None = Field(default=None, ge=1)
    """Requests-per-minute limit nova keeps to (managed APIs' quotas)."""
    tpm: int | None = Field(default=None, ge=1)
    """Tokens-per-minute limit nova keeps to (prompt + max output tokens)."""
    cache: bool = True
    """Reuse identical earlier answers from the response cache (benchmarks never do)."""
    headers: dict[str, str] = Field(default_factory=dict)
    """Extra HTTP headers (no secrets here; use ``api_key``)."""
    options: dict[str, Any] = Field(default_factory=dict)
    """Provider-specific settings passed through unchanged (for provider plugins)."""


REQUIRED_SETTINGS: dict[str, tuple[str, ...]] = {
    "openai": ("base_url",),
    "azure": ("base_url", "deployment", "api_version"),
    "bedrock": ("region",),
    "llamacpp": (),
    "mock": (),
}


class Candidate(_Model):
    """A model under evaluation, and how to reach it."""

    id: str = Field(pattern=ID_PATTERN)
    """Short unique id used in commands, file names and the matrix, e.g. ``llama31-70b``."""
    name: str | None = None
    """Display name; defaults to the catalog name or the id."""
    model: str = Field(pattern=r"^[a-z0-9_\-]+/.+$")
    """``provider/model`` as the provider names it, e.g. ``azure/gpt-4o``."""
    catalog: str | None = None
    """Catalog id with license, context window and price facts, e.g. ``gpt-4o``."""
    role: Literal["primary", "candidate", "fallback", "baseline", "judge"] = "candidate"
    """Role in the selection: the baseline anchors win rates, the judge grades answers."""
    hosting: Literal["managed", "self-hosted", "local"] = "self-hosted"
    """Where it runs; managed cloud hosting triggers the DSFA requirement."""
    price_sheet: str | None = None
    """Price sheet id for managed cost (defaults to the sheet that lists the catalog model)."""
    gpu: str | None = None
    """GPU type for self-hosted cost, overriding the catalog's reference plan."""
    gpus: int | None = Field(default=None, ge=1)
    """Number of GPUs per replica for self-hosted cost."""
    provider: ProviderSettings = Field(default_factory=ProviderSettings)
    """Connection settings of the provider."""
    notes: str | None = None
    """Free text shown in the matrix."""

    @property
    def provider_kind(self) -> str:
        """The part of ``model`` before the first slash."""
        return self.model.split("/", 1)[0]

    @property
    def provider_model(self) -> str:
        """The part of ``model`` after the first slash."""
        return self.model.split("/", 1)[1]

    @model_validator(mode="after")
    def _check_provider(self) -> Candidate:
        kind = self.provider_kind
        if kind not in REQUIRED_SETTINGS:
            # Unknown kinds may come from plugins; the providers registry checks them at use.
            return self
        # None means "not written"; "" means "written as ${VAR:-}" and unset now, which is
        # a readiness warning, not a config error (see the loader).
        missing = [f for f in REQUIRED_SETTINGS[kind] if getattr(self.provider, f) is None]
        if missing:
            raise ValueError(f"provider {kind!r} needs provider.{', provider.'.join(missing)}")
        if (
            kind == "llamacpp"
            and self.provider.model_path is None
            and self.provider.hf_repo is None
            and not self.provider.options.get("tiny")
        ):
            raise ValueError(
                "provider 'llamacpp' needs provider.model_path or provider.hf_repo "
                "(or options.tiny: true for nova's generated test model)"
            )
        return self


class Slo(_Model):
    """Service level objectives for goodput: a request counts when it meets all given."""

    ttft_ms: float | None = Field(default=None, gt=0)
    """Time to first token, milliseconds."""
    tpot_ms: float | None = Field(default=None, gt=0)
    """Time per output token after the first, milliseconds."""
    e2el_ms: float | None = Field(default=None, gt=0)
    """End-to-end latency, milliseconds."""


class QualitySpec(_Model):
    """Quality evaluation of a profile."""

    datasets: list[str] = Field(default_factory=lambda: ["dialogues", "compliance", "escalations"])
    """Dataset names under ``datasets/`` (without ``.jsonl``)."""
    judge: str | None = None
    """Candidate id of the LLM judge (role ``judge``)."""
    repeats: int = Field(default=1, ge=1, le=100)
    """Samples per case, to measure run-to-run noise."""
    max_cases: int | None = Field(default=None, ge=1)
    """Use at most this many cases per dataset (stratified), for quick profiles."""
    temperature: float = Field(default=0.0, ge=0, le=2)
    """Sampling temperature for candidates."""
    max_tokens: int = Field(default=512, ge=1)
    """Maximum output tokens per answer."""
    seed: int = 1234
    """Seed for sampling, case selection and bootstrap resampling."""


class PerformanceSpec(_Model):
    """Load test of a profile."""

    concurrency: list[int] = Field(default_factory=lambda: [1, 4, 16])
    """Concurrency levels of the sweep; the sweep stops at saturation."""
    arrival: Literal["concurrency", "constant", "poisson"] = "concurrency"
    """Fixed concurrency, constant request rate, or Poisson arrivals."""
    rate: float | None = Field(default=None, gt=0)
    """Requests per second for constant or Poisson arrivals."""
    requests: int = Field(default=100, ge=1)
    """Requests per level (after warm-up)."""
    duration_s: float | None = Field(default=None, gt=0)
    """Stop a level after this many seconds even if requests remain."""
    warmup: int = Field(default=4, ge=0)
    """Warm-up requests per level, excluded from metrics."""
    prompts: Literal["datasets", "synthetic"] = "datasets"
    """Take prompts from the workspace datasets or generate them."""
    input_tokens: int = Field(default=512, ge=1)
    """Synthetic prompt length in tokens."""
    output_tokens: int = Field(default=256, ge=1)
    """Requested output tokens per request."""

    @field_validator("concurrency")
    @classmethod
    def _sorted_positive(cls, v: list[int]) -> list[int]:
        if not v or any(c < 1 for c in v):
            raise ValueError("concurrency needs at least one level, each >= 1")
        return sorted(set(v))


class RedTeamSpec(_Model):
    """Red-team run of a profile."""

    enabled: bool = True
    """Whether the profile runs the red-team scenarios."""
    scenarios: list[str] = Field(default_factory=list)
    """Scenario files, ids, OWASP ids, harms or tags to keep (empty: all under ``redteam/``)."""
    with_guardrails: bool = True
    """Also run each attack with the workspace guardrails on, to measure their effect."""
    converters: list[str] = Field(default_factory=lambda: ["none"], min_length=1)
    """Converters applied to every attack: none, base64, leetspeak, translation, roleplay,
    payload_split, crescendo."""
    max_scenarios: int | None = Field(default=None, ge=1)
    """Use at most this many attacks (stratified over categories) plus a third as many benign
    look-alikes, for quick profiles."""
    max_tokens: int = Field(default=256, ge=1)
    """Maximum output tokens per answer."""
    temperature: float = Field(default=0.0, ge=0, le=2)
    """Sampling temperature for candidates."""
    seed: int = 1234
    """Seed of scenario selection, converters and sampling."""
    judge: str | None = None
    """Candidate id of an optional judge that checks attacks with a ``detect.judge`` goal."""


class Profile(_Model):
    """A named set of runs, e.g. ``llm-core``."""

    description: str = ""
    """What the profile is for."""
    candidates: list[str] = Field(default_factory=list)
    """Candidate ids (empty: every candidate except judges)."""
    quality: QualitySpec | None = Field(default_factory=QualitySpec)
    """Quality evaluation; null to skip."""
    performance: PerformanceSpec | None = Field(default_factory=PerformanceSpec)
    """Performance benchmark; null to skip."""
    redteam: RedTeamSpec | None = None
    """Red-team run; null to skip."""
    slo: Slo = Field(default_factory=Slo)
    """SLOs for goodput."""
    conversation_tokens: tuple[int, int] = (800, 250)
    """Average (input, output) tokens of one conversation, for cost per 1,000 conversations."""
    monthly_conversations: int = Field(default=100_000, ge=1)
    """Expected conversations per month, for monthly cost (USD and EUR) in matrix and documents."""


KpiMetric = Literal[
    "ttft_ms",
    "tpot_ms",
    "itl_ms",
    "e2el_ms",
    "output_tokens_per_s",
    "requests_per_s",
    "goodput",
    "error_rate",
    "pass_rate",
    "win_rate",
    "missed_escalation_rate",
    "attack_success_rate",
    "over_refusal_rate",
    "cost_per_1k_conversations",
    "cost_per_mtok_output",
    "tokens_per_request",
]


class Kpi(_Model):
    """A KPI of the catalogue agreed with its owner; it drives alerts and the matrix."""

    id: str = Field(pattern=ID_PATTERN)
    """KPI id, e.g. ``latency-ttft-p95``."""
    name: str
    """Display name."""
    metric: KpiMetric
    """Measured metric the KPI reads."""
    statistic: Literal["mean", "p50", "p90", "p95", "p99", "rate", "value"] = "value"
    """Statistic of the metric."""
    target: float
    """Target value."""
    direction: Literal["lower", "higher"]
    """Whether lower or higher values are better."""
    unit: str = ""
    """Unit shown next to numbers, e.g. ``ms``, ``%``, ``USD``."""
    owner: str
    """Who owns the KPI, e.g. ``Aura``."""
    alert: bool = True
    """Whether ``nova alerts`` turns the target into a Prometheus alert."""


class Criterion(_Model):
    """A weighted criterion of the decision matrix."""

    id: str = Field(pattern=ID_PATTERN)
    """Criterion id."""
    source: str = Field(pattern=r"^(kpi|catalog|metric):[A-Za-z0-9_.\-]+$")
    """Where the value comes from: ``kpi:<kpi id>``, ``metric:<name>``, ``catalog:<field>``."""
    weight: float = Field(ge=0)
    """Relative weight; weights are normalised to sum to 1."""
    direction: Literal["lower", "higher"]
    """Whether lower or higher values are better."""
    unit: str = ""
    """Unit for display."""


class Gate(_Model):
    """A hard requirement: a candidate that fails it ranks last, with the reason."""

    id: str = Field(pattern=ID_PATTERN)
    """Gate id."""
    source: str = Field(pattern=r"^(kpi|catalog|metric|governance):[A-Za-z0-9_.\-]+$")
    """Value to test, same syntax as a criterion source."""
    op: Literal["==", "!=", ">=", "<=", ">", "<"]
    """Comparison."""
    value: float | bool | str
    """Value to compare against."""
    reason: str
    """Why the gate exists, shown when it fails."""
    bound: Literal["point", "lower", "upper"] = "point"
    """Value tested: ``point`` (as measured) or the ``lower``/``upper`` end of its 95% interval;
    values without an interval are tested at the point (the matrix shows which was used)."""


class Decision(_Model):
    """How candidates are ranked."""

    method: Literal["weighted-sum", "topsis"] = "weighted-sum"
    """Ranking method; the other one is shown too when they disagree."""
    criteria: list[Criterion] = Field(default_factory=list)
    """Weighted criteria."""
    gates: list[Gate] = Field(default_factory=list)
    """Hard gates."""
    sensitivity_samples: int = Field(default=2000, ge=100)
    """Monte-Carlo samples of perturbed weights (each with a paired bootstrap of the cases), and
    bootstrap resamples of the measurement-noise check."""

    @model_validator(mode="after")
    def _weights(self) -> Decision:
        if self.criteria and sum(c.weight for c in self.criteria) <= 0:
            raise ValueError("criteria weights must not all be zero")
        return self


class Reviewer(_Model):
    """A role that must approve before a decision is final."""

    role: Literal["product", "legal", "security", "data-protection", "operations", "analytics"]
    """Review role."""
    name: str | None = None
    """Person or team expected to review (informational)."""
    allowed_signers: list[str] = Field(default_factory=list)
    """SSH public keys (``ssh-ed25519 AAAA… name``) whose signatures count for this role."""


class Governance(_Model):
    """Sign-off rules and document language."""

    language: Literal["de", "en"] = "de"
    """Language of the documents nova writes."""
    reviewers: list[Reviewer] = Field(
        default_factory=lambda: [
            Reviewer(role="product"),
            Reviewer(role="legal"),
            Reviewer(role="security"),
        ]
    )
    """Roles whose approval a decision needs."""
    dsfa_required_for_managed: bool = True
    """Require a DSFA (GDPR Art. 35 DPIA) before choosing a managed cloud candidate."""
    tasks_csv: str = "Agenten_Aufgaben_Uebersicht.csv"
    """The team's task list that nova updates after approval."""
    require_signed_reviews: bool = False
    """Refuse approvals without an SSH signature by an allowed signer of the role."""
    task_rules: dict[str, str] = Field(default_factory=dict)
    """When a task row is done: {row ID or title regex: conditions joined by ``and``}."""


class StoreSettings(_Model):
    """Where runs and the audit log are stored."""

    url: str | None = None
    """SQLAlchemy URL; default ``sqlite:///.nova/nova.db``; ``NOVA_DATABASE_URL`` overrides."""
    audit_head: str | None = None
    """File anchoring the audit chain's head, relative to the workspace or absolute (default:
    next to a SQLite file, ``.nova/audit.head`` for a database server); gateways on several
    hosts sharing one database should point it at storage they share."""


class SubjectLimits(_Model):
    """Limits of each OIDC caller on its own (counted per ``sub`` claim, shared by every
    gateway process on the store); an absent field is no limit."""

    rpm: int | None = Field(default=None, ge=1)
    """Requests per minute."""
    tpm: int | None = Field(default=None, ge=1)
    """Tokens per minute, prompt + completion (reserved up front like an API key's)."""
    budget_tokens: int | None = Field(default=None, ge=1)
    """Total tokens each subject may use (kept in the store, table ``gateway_subject_usage``)."""


class OidcSettings(_Model):
    """Bearer JWTs from an OpenID Connect provider, accepted besides nova's own API keys."""

    jwks_url: str
    """URL of the provider's JSON Web Key Set, e.g. ``https://idp.example/.well-known/jwks.json``."""
    issuer: str
    """Expected ``iss`` claim."""
    audience: str
    """Expected ``aud`` claim."""
    role_claim: str = "nova_role"
    """Claim that holds the role (``app``, ``auditor`` or ``admin``; a list may hold several)."""
    models_claim: str | None = None
    """Claim with the allowed candidate ids (absent: every model the gateway serves)."""
    algorithms: list[str] = Field(default_factory=lambda: ["RS256", "ES256"])
    """Accepted signature algorithms (never ``none``, never HMAC with a public key)."""
    limits: dict[Literal["app", "auditor", "admin"], SubjectLimits] = Field(default_factory=dict)
    """Limits per role for each subject, e.g. ``{app: {rpm: 60, budget_tokens: 2000000}}``
    (a role without an entry: no limits)."""
    limits_claim: str | None = None
    """Claim whose value selects an entry of ``claim_limits`` (e.g. ``tier``; a list claim:
    its first listed value)."""
    claim_limits: dict[str, SubjectLimits] = Field(default_factory=dict)
    """Limits per value of ``limits_claim``, used instead of the role's when the token's
    value has an entry, e.g. ``{gold: {rpm: 600}, free: {rpm: 10, budget_tokens: 100000}}``."""

    @field_validator("algorithms")
    @classmethod
    def _asymmetric(cls, v: list[str]) -> list[str]:
        bad = [a for a in v if not a.startswith(("RS", "ES", "PS", "EdDSA"))]
        if bad or not v:
            raise ValueError(f"only asymmetric JWT algorithms are accepted, not {bad or v}")
        return v

    @model_validator(mode="after")
    def _claim_limits_need_their_claim(self) -> OidcSettings:
        if self.claim_limits and not self.limits_claim:
            raise ValueError(
                "claim_limits needs limits_claim: the claim whose value selects an entry"
            )
        if self.limits_claim and not self.claim_limits:
            raise ValueError(f"limits_claim {self.limits_claim!r} is set but claim_limits is empty")
        return self

    def limits_for(self, role: str, claims: dict[str, Any]) -> SubjectLimits | None:
        """The limits of a token: its ``limits_claim`` value's entry, else its role's."""
        if self.limits_claim:
            raw = claims.get(self.limits_claim)
            value = raw[0] if isinstance(raw, list) and raw else raw
            if isinstance(value, str | int) and str(value) in self.claim_limits:
                return self.claim_limits[str(value)]
        for known, limits in self.limits.items():
            if known == role:
                return limits
        return None


class GatewaySettings(_Model):
    """``nova serve``: which candidates it serves and how it guards, meters and audits them."""

    primary: str | None = None
    """Candidate id answered by default (default: the candidate with ``role: primary``)."""
    fallback: str | None = None
    """Candidate id tried when the primary fails before its first token (default: the
    candidate with ``role: fallback``)."""
    models: list[str] = Field(default_factory=list)
    """Candidate ids clients may request (default: the primary and the fallback)."""
    ai_marker: bool = True
    """Mark every generated answer as AI-generated (EU AI Act Art. 50(2)): the response
    header ``X-AI-Generated: true`` and the body field ``ai_generated: true``."""
    audit_content: Literal["hash", "redacted", "none"] = "hash"
    """What the audit record keeps of prompt and answer: SHA-256 only, the text after the
    rails' redaction (hash only while no rails are active), or nothing."""
    stream_output_rails: Literal["end", "buffer"] = "end"
    """Output rails on a streamed answer: ``end`` streams tokens as they come and checks the
    complete answer (a block then ends the stream with ``content_filter`` and an error
    event, after the text was shown); ``buffer`` sends nothing before the rails passed the
    whole answer (no streaming benefit, nothing unchecked shown)."""
    first_token_timeout_s: float = Field(default=10.0, gt=0)
    """A streamed answer without a first token after this long falls back."""
    breaker_failures: int = Field(default=5, ge=1)
    """Consecutive failures that open a candidate's circuit breaker."""
    breaker_cooldown_s: float = Field(default=30.0, gt=0)
    """How long an open breaker sends requests straight to the fallback before one trial."""
    max_body_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    """Largest request body accepted (bigger: HTTP 413)."""
    max_tokens_limit: int = Field(default=32768, ge=1)
    """Largest ``max_tokens`` a request may ask for (bigger: HTTP 400)."""
    default_max_tokens: int = Field(default=1024, ge=1)
    """Tokens reserved against TPM limits and budgets when a request gives no ``max_tokens``."""
    key_refresh_s: float = Field(default=1.0, gt=0)
    """How often keys are re-read from the store: a revocation takes effect within this."""
    limits_sync_s: float = Field(default=1.0, gt=0, le=60)
    """How often each gateway process writes its RPM/TPM counts to the store and reads the
    other processes' (``--workers N`` or replicas on one PostgreSQL store): a key can go over
    its limit by what the other processes admit in about two such intervals."""
    oidc: OidcSettings | None = None
    """Accept OIDC bearer JWTs too (optional)."""


_DURATION = r"^[0-9]+(ms|s|m|h|d|w|y)$"


class Receiver(_Model):
    """Where the alerts of one owner go. Secrets only as file references (mounted secrets)."""

    webhook_url: str | None = Field(default=None, pattern=r"^https?://[^@\s]+$")
    """Webhook URL (no credentials in it; put a token in ``webhook_token_file``)."""
    webhook_token_file: str | None = None
    """File with a bearer token for the webhook, as Alertmanager sees its file system."""
    email_to: str | None = None
    """E-mail address for the alerts."""
    email_from: str = "nova-alerts@example.invalid"
    """Sender address of alert e-mails."""
    smarthost: str | None = None
    """SMTP server ``host:port``."""
    smtp_username: str | None = None
    """SMTP user name."""
    smtp_password_file: str | None = None
    """File with the SMTP password, as Alertmanager sees its file system."""


class MonitoringSettings(_Model):
    """Prometheus, Alertmanager and Grafana for ``python -m nova alerts``."""

    prometheus_url: str = Field(default="http://127.0.0.1:9090", pattern=r"^https?://")
    """Prometheus HTTP API; ``alerts activate`` reloads it (needs ``--web.enable-lifecycle``)."""
    alertmanager_url: str = Field(default="http://127.0.0.1:9093", pattern=r"^https?://")
    """Alertmanager HTTP API; ``alerts activate`` reloads it."""
    gateway_target: str = "127.0.0.1:8080"
    """``host:port`` where Prometheus scrapes the gateway's ``/metrics``."""
    engine_targets: dict[str, str] = Field(default_factory=dict)
    """``host:port`` of an engine's ``/metrics`` per candidate id (default: its base_url)."""
    engines: dict[str, str] = Field(default_factory=dict)
    """Engine profile per candidate id (vllm, vllm-v0, tgi, triton-trtllm, llamacpp)."""
    scrape_interval: str = Field(default="15s", pattern=_DURATION)
    """How often Prometheus scrapes."""
    evaluation_interval: str = Field(default="15s", pattern=_DURATION)
    """How often Prometheus evaluates the rules."""
    engine_down_for: str = Field(default="2m", pattern=_DURATION)
    """How long an engine must be unreachable before EngineDown fires."""
    burn_page_for: str | None = Field(default=None, pattern=_DURATION)
    """How long a paging burn rate must last before it fires (default: 2m for the 1 h tier,
    15m for the 6 h tier); end-to-end tests set seconds."""
    queue_backlog: int = Field(default=16, ge=1)
    """Waiting requests at the engine above which QueueBacklog fires (after 5 minutes)."""
    kv_cache_saturation: float = Field(default=0.95, gt=0, le=1)
    """KV-cache usage (0..1) above which KvCacheSaturation fires (after 10 minutes)."""
    fallback_rate: float = Field(default=0.05, gt=0, le=1)
    """Share of requests served by a fallback above which FallbackRateHigh fires."""
    rail_block_spike: float = Field(default=3.0, gt=1)
    """Guardrail blocks per second over 10 minutes this many times the 1-day rate: a spike."""
    daily_cost_usd: float | None = Field(default=None, gt=0)
    """Cost budget per day; CostBudgetBurn fires when the last hour's spend projects above it."""
    daily_tokens: int | None = Field(default=None, gt=0)
    """Token budget per day; TokenBudgetBurn fires when the last hour projects above it."""
    group_wait: str = Field(default="30s", pattern=_DURATION)
    """How long Alertmanager waits to bundle the first alerts of a group."""
    group_interval: str = Field(default="5m", pattern=_DURATION)
    """How long Alertmanager waits before notifying about changes (and resolutions) of a group."""
    receivers: dict[str, Receiver] = Field(default_factory=dict)
    """Receiver per KPI owner (e.g. ``Aura``, ``Security``, ``Platform``)."""
    runbook_base_url: str | None = None
    """Base URL of the workspace's docs (e.g. its git web view); runbook links start with it."""
    grafana_datasource_url: str | None = None
    """Prometheus URL as Grafana reaches it (default: ``prometheus_url``)."""


class NovaConfig(_Model):
    """nova.yaml: everything nova needs to evaluate and roll out a model for one assistant."""

    version: Literal[1] = 1
    """Schema version of this file."""
    name: str
    """Name of the assistant or project, e.g. ``Sophia``."""
    description: str = ""
    """One paragraph on what the assistant does."""
    candidates: list[Candidate]
    """Models under evaluation, plus judges."""
    profiles: dict[str, Profile] = Field(default_factory=dict)
    """Named run profiles, e.g. ``llm-core``."""
    kpis: list[Kpi] = Field(default_factory=list)
    """The KPI catalogue."""
    decision: Decision = Field(default_factory=Decision)
    """Decision criteria and gates."""
    governance: Governance = Field(default_factory=Governance)
    """Reviews, sign-off and language."""
    store: StoreSettings = Field(default_factory=StoreSettings)
    """Run store location."""
    monitoring: MonitoringSettings = Field(default_factory=MonitoringSettings)
    """Prometheus, Alertmanager and Grafana for ``python -m nova alerts``."""
    gateway: GatewaySettings = Field(default_factory=GatewaySettings)
    """``nova serve``: served candidates, access control, fallback and audit."""

    def candidate(self, candidate_id: str) -> Candidate:
        """The candidate with this id; ``UnknownCandidateError`` (also a KeyError) when absent."""
        for c in self.candidates:
            if c.id == candidate_id:
                return c
        raise UnknownCandidateError(candidate_id, [c.id for c in self.candidates])

    def profile_candidates(
        self, profile: str | None, override: list[str] | None = None
    ) -> list[str]:
        """Candidate ids a run uses: ``override``, else the profile's list, else every
        candidate except judges. Unknown profile or candidate ids are a NovaError."""
        prof = self.profiles.get(profile) if profile else None
        if profile and prof is None:
            raise NovaError(
                f"no profile {profile!r} in nova.yaml (known: {', '.join(self.profiles) or 'none'})"
            )
        chosen = override or (
            prof.candidates
            if prof and prof.candidates
            else [c.id for c in self.candidates if c.role != "judge"]
        )
        known = {c.id for c in self.candidates}
        for cid in chosen:
            if cid not in known:
                raise NovaError(
                    f"no candidate {cid!r} in nova.yaml (known: {', '.join(sorted(known))})"
                )
        return list(chosen)
