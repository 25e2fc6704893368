"""One row of facts per workspace candidate: what `nova candidates list` shows."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict

from nova.catalog._load import Catalog
from nova.config import Candidate

__all__ = ["CandidateSummary", "Price", "summarize_candidate"]


class Price(BaseModel):
    """The price that applies to a candidate, with the sheet it comes from."""

    model_config = ConfigDict(extra="forbid")

    kind: str
    """``tokens`` (managed, per 1M tokens) or ``gpu-hours`` (self-hosted)."""
    sheet: str
    """Price sheet id."""
    sheet_date: dt.date
    """Retrieved-on date of the sheet."""
    currency: str
    """Currency."""
    input_per_mtok: float | None = None
    """Input price per 1M tokens (managed)."""
    output_per_mtok: float | None = None
    """Output price per 1M tokens (managed)."""
    gpu: str | None = None
    """GPU type (self-hosted)."""
    gpus: int | None = None
    """GPUs per replica (self-hosted)."""
    per_hour: float | None = None
    """Replica price per hour = GPUs × price per GPU-hour (self-hosted)."""

    def describe(self) -> str:
        """Short text, e.g. ``2.50/10.00 USD per 1M in/out (azure-openai-2026-11)``."""
        if self.kind == "tokens":
            return (
                f"{self.input_per_mtok:.2f}/{self.output_per_mtok:.2f} {self.currency}/1M "
                f"in/out ({self.sheet})"
            )
        return f"{self.gpus}× {self.gpu} = {self.per_hour:.2f} {self.currency}/h ({self.sheet})"


class CandidateSummary(BaseModel):
    """Catalog facts joined to one candidate of nova.yaml."""

    model_config = ConfigDict(extra="forbid")

    id: str
    """Candidate id."""
    name: str
    """Display name."""
    role: str
    """Role in the selection."""
    hosting: str
    """managed, self-hosted or local."""
    model: str
    """``provider/model``."""
    catalog: str | None
    """Catalog id."""
    license: str | None
    """SPDX id, or the license name where SPDX has none."""
    commercial_use: bool | None
    """Whether commercial use is allowed."""
    eu_restricted: bool | None
    """Whether EU licensees are excluded."""
    context_window: int | None
    """Context window in tokens."""
    price: Price | None
    """Applicable price, if the catalog has one."""
    oldest_fact: dt.date | None
    """Retrieved-on date of the oldest fact used."""
    age_days: int | None
    """Days since ``oldest_fact``."""
    stale: bool
    """Whether the oldest fact is older than the configured maximum age."""
    ready: bool
    """Whether nova.yaml has everything needed to reach the candidate."""
    not_ready_reasons: list[str]
    """What is missing to reach it."""


def _price(c: Candidate, cat: Catalog) -> Price | None:
    if c.catalog is None or c.catalog not in cat.models:
        return None
    if c.hosting == "managed":
        found = cat.token_price(c.catalog, c.price_sheet)
        if found is None:
            return None
        sheet, mp = found
        return Price(
            kind="tokens",
            sheet=sheet.id,
            sheet_date=sheet.retrieved,
            currency=sheet.currency,
            input_per_mtok=mp.input_per_mtok,
            output_per_mtok=mp.output_per_mtok,
        )
    if c.hosting == "self-hosted":
        plans = cat.models[c.catalog].self_hosting
        gpu = c.gpu or (plans[0].gpu if plans else None)
        gpus = c.gpus or (plans[0].gpus if plans else None)
        if gpu is None or gpus is None:
            return None
        gpu_found = cat.gpu_price(gpu)
        if gpu_found is None:
            return None
        gsheet, per_gpu = gpu_found
        return Price(
            kind="gpu-hours",
            sheet=gsheet.id,
            sheet_date=gsheet.retrieved,
            currency=gsheet.currency,
            gpu=gpu,
            gpus=gpus,
            per_hour=per_gpu * gpus,
        )
    return None


def summarize_candidate(
    c: Candidate,
    cat: Catalog,
    *,
    not_ready: list[str] | None = None,
    today: dt.date | None = None,
    max_age_days: int = 180,
) -> CandidateSummary:
    """Join a candidate with its catalog record and the applicable price."""
    today = today or dt.date.today()
    rec = cat.models.get(c.catalog) if c.catalog else None
    price = _price(c, cat)
    oldest = None
    if rec is not None:
        oldest = cat.oldest_fact(rec.id, with_prices=False)
        if price is not None:
            oldest = min(oldest, price.sheet_date)
    age = (today - oldest).days if oldest else None
    return CandidateSummary(
        id=c.id,
        name=c.name or (rec.name if rec else c.id),
        role=c.role,
        hosting=c.hosting,
        model=c.model,
        catalog=c.catalog,
        license=(
            rec.license.name if rec.license.spdx.startswith("LicenseRef-") else rec.license.spdx
        )
        if rec
        else None,
        commercial_use=rec.license.commercial_use if rec else None,
        eu_restricted=rec.license.eu_restricted if rec else None,
        context_window=rec.context_window.tokens if rec else None,
        price=price,
        oldest_fact=oldest,
        age_days=age,
        stale=age is not None and age > max_age_days,
        ready=not not_ready,
        not_ready_reasons=list(not_ready or []),
    )
