"""Cost per candidate, always naming the price sheet and its date.

- Managed (per-token prices): cost of a conversation = input tokens × input price + output
  tokens × output price, with the profile's average conversation (``conversation_tokens``).
  USD per 1M output tokens = output price + input price × (input/output tokens of the profile),
  i.e. what 1M output tokens cost including their share of input.
- Self-hosted (GPU-hour prices): USD per hour of one replica = GPUs × price per GPU-hour;
  USD per 1M output tokens = that ÷ (measured output tokens/s × 3,600) × 1,000,000, at the
  chosen operating point (highest goodput if SLOs are set, else highest output throughput).
  The throughput was measured with the performance spec's prompt and output lengths, which
  the basis names; when they differ from the profile's conversation, so may the cost.
- Local and mock candidates have no price: reported as such, never as zero cost.
- EUR and per month (``in_eur_and_per_month``): EUR = USD ÷ the catalog's dated USD/EUR
  reference rate (``1 EUR = x USD``, its date named next to every EUR figure); per month =
  per conversation × the profile's ``monthly_conversations``. A price sheet (or rate) older
  than the staleness limit (``NOVA_CATALOG_MAX_AGE_DAYS``, default 180) is flagged as stale.
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict

from nova.catalog import Catalog
from nova.config import Candidate

__all__ = [
    "CostEstimate",
    "estimate_cost",
    "in_eur_and_per_month",
    "managed_cost",
    "self_hosted_cost",
]


class CostEstimate(BaseModel):
    """Cost figures with their basis."""

    model_config = ConfigDict(extra="forbid")

    usd_per_mtok_output: float | None
    """USD per 1M output tokens."""
    usd_per_1k_conversations: float | None
    """USD per 1,000 conversations of the profile's average length."""
    basis: str
    """How it was computed: sheet, date, prices, assumptions."""
    sheet: str | None = None
    """Price sheet id."""
    sheet_date: str | None = None
    """Retrieved-on date of the sheet."""
    sheet_stale: bool = False
    """Whether the sheet is older than the staleness limit (its prices may be outdated)."""
    eur_per_1k_conversations: float | None = None
    """EUR per 1,000 conversations at ``fx`` (None: no USD figure or no exchange rate)."""
    monthly_conversations: int | None = None
    """Conversations per month (the profile's) that the monthly figures assume."""
    usd_per_month: float | None = None
    """USD per month at ``monthly_conversations``."""
    eur_per_month: float | None = None
    """EUR per month at ``monthly_conversations`` and ``fx``."""
    fx: str | None = None
    """The USD/EUR reference rate used, with its publisher and date."""


def managed_cost(pin: float, pout: float, conv_in: int, conv_out: int) -> tuple[float, float]:
    """(USD per 1M output tokens, USD per 1,000 conversations) for per-token prices."""
    per_conv = (conv_in * pin + conv_out * pout) / 1e6
    per_mtok_out = pout + pin * conv_in / conv_out if conv_out else float("nan")
    return per_mtok_out, per_conv * 1000


def self_hosted_cost(
    usd_per_hour: float, output_tokens_per_s: float, conv_out: int
) -> tuple[float, float]:
    """(USD per 1M output tokens, USD per 1,000 conversations) for a replica's hourly price."""
    per_mtok = usd_per_hour / (output_tokens_per_s * 3600) * 1e6
    return per_mtok, per_mtok * conv_out * 1000 / 1e6


def estimate_cost(
    c: Candidate,
    catalog: Catalog,
    *,
    conversation_tokens: tuple[int, int],
    output_tokens_per_s: float | None,
    measured_at: tuple[int, int] | None = None,
) -> CostEstimate:
    """Cost of a candidate from the catalog's price sheets and the measured throughput."""
    conv_in, conv_out = conversation_tokens
    conv = f"conversation = {conv_in} input + {conv_out} output tokens"
    if c.provider_kind == "mock":
        return CostEstimate(
            usd_per_mtok_output=None, usd_per_1k_conversations=None, basis="mock provider: no cost"
        )
    if c.hosting == "local":
        return CostEstimate(
            usd_per_mtok_output=None,
            usd_per_1k_conversations=None,
            basis="local model on this machine: no price sheet",
        )
    if c.catalog is None or c.catalog not in catalog.models:
        return CostEstimate(
            usd_per_mtok_output=None,
            usd_per_1k_conversations=None,
            basis="no catalog record: set `catalog:` in nova.yaml",
        )
    if c.hosting == "managed":
        found = catalog.token_price(c.catalog, c.price_sheet)
        if found is None:
            return CostEstimate(
                usd_per_mtok_output=None,
                usd_per_1k_conversations=None,
                basis=f"no price sheet lists {c.catalog}",
            )
        s, m = found
        per_mtok, per_1k = managed_cost(m.input_per_mtok, m.output_per_mtok, conv_in, conv_out)
        return CostEstimate(
            usd_per_mtok_output=per_mtok,
            usd_per_1k_conversations=per_1k,
            basis=f"price sheet {s.id} (retrieved {s.retrieved}): "
            f"{m.input_per_mtok:.2f}/{m.output_per_mtok:.2f} {s.currency} "
            f"per 1M input/output tokens; {conv}",
            sheet=s.id,
            sheet_date=str(s.retrieved),
        )
    plans = catalog.models[c.catalog].self_hosting
    gpu = c.gpu or (plans[0].gpu if plans else None)
    gpus = c.gpus or (plans[0].gpus if plans else None)
    gpu_found = catalog.gpu_price(gpu) if gpu else None
    if gpu is None or gpus is None or gpu_found is None:
        return CostEstimate(
            usd_per_mtok_output=None,
            usd_per_1k_conversations=None,
            basis="no GPU plan or GPU price for this candidate",
        )
    sheet, per_gpu = gpu_found
    if not output_tokens_per_s:
        return CostEstimate(
            usd_per_mtok_output=None,
            usd_per_1k_conversations=None,
            basis=f"{gpus}× {gpu} at {per_gpu:.2f} USD/GPU-h ({sheet.id}, "
            f"{sheet.retrieved}); throughput not measured",
            sheet=sheet.id,
            sheet_date=str(sheet.retrieved),
        )
    per_mtok, per_1k = self_hosted_cost(per_gpu * gpus, output_tokens_per_s, conv_out)
    return CostEstimate(
        usd_per_mtok_output=per_mtok,
        usd_per_1k_conversations=per_1k,
        basis=f"{gpus}× {gpu} at {per_gpu:.2f} USD/GPU-h (sheet {sheet.id}, retrieved "
        f"{sheet.retrieved}) ÷ measured {output_tokens_per_s:,.1f} output tokens/s"
        + (
            f" (measured with ~{measured_at[0]} input / {measured_at[1]} output tokens)"
            if measured_at
            else ""
        )
        + f"; {conv}",
        sheet=sheet.id,
        sheet_date=str(sheet.retrieved),
    )


def in_eur_and_per_month(
    est: CostEstimate,
    catalog: Catalog,
    *,
    monthly_conversations: int,
    today: dt.date,
    max_age_days: int,
) -> CostEstimate:
    """``est`` with EUR and monthly figures added and a stale price sheet flagged in ``basis``."""
    update: dict[str, object] = {"monthly_conversations": monthly_conversations}
    basis = est.basis
    sheet = catalog.price_sheets.get(est.sheet) if est.sheet else None
    if sheet is not None and sheet.stale(today, max_age_days) and "STALE" not in basis:
        update["sheet_stale"] = True
        basis += (
            f"; STALE price sheet: {sheet.id} was retrieved {sheet.retrieved}, "
            f"{sheet.age_days(today)} days ago (limit {max_age_days}): re-check its prices"
        )
    per_1k = est.usd_per_1k_conversations
    if per_1k is not None:
        update["usd_per_month"] = per_1k / 1000 * monthly_conversations
    rate = catalog.exchange_rate()
    if rate is not None and per_1k is not None:
        fx = rate.label()
        if rate.stale(today, max_age_days):
            fx += f", STALE: older than {max_age_days} days"
        update["fx"] = fx
        update["eur_per_1k_conversations"] = rate.to_eur(per_1k)
        update["eur_per_month"] = rate.to_eur(per_1k / 1000 * monthly_conversations)
    update["basis"] = basis
    return est.model_copy(update=update)
