"""Load the shipped catalog, with workspace overrides, and report problems with file:line."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from pydantic import BaseModel, ValidationError

from nova.catalog._models import CatalogModel, ExchangeRate, ModelPrice, PriceSheet
from nova.config import load_yaml, pydantic_problems
from nova.errors import CatalogError, ConfigError, Problem

__all__ = ["Catalog", "load_catalog"]


@dataclass
class Catalog:
    """Models and price sheets by id; ``origin`` says which file each came from."""

    models: dict[str, CatalogModel] = field(default_factory=dict)
    price_sheets: dict[str, PriceSheet] = field(default_factory=dict)
    origin: dict[str, str] = field(default_factory=dict)
    exchange_rates: dict[str, ExchangeRate] = field(default_factory=dict)

    def exchange_rate(self) -> ExchangeRate | None:
        """The USD/EUR reference rate with the latest ``rate_date`` (None: the catalog has none)."""
        return max(self.exchange_rates.values(), key=lambda r: (r.rate_date, r.id), default=None)

    def model(self, model_id: str) -> CatalogModel:
        """The model with this id, or CatalogError naming the known ids."""
        try:
            return self.models[model_id]
        except KeyError:
            raise CatalogError(
                f"unknown catalog model {model_id!r}: known are {', '.join(sorted(self.models))}"
            ) from None

    def sheets_for(self, model_id: str) -> list[PriceSheet]:
        """Token price sheets that list this model, newest first."""
        sheets = [
            s for s in self.price_sheets.values() if any(m.model == model_id for m in s.models)
        ]
        return sorted(sheets, key=lambda s: s.retrieved, reverse=True)

    def token_price(
        self, model_id: str, sheet_id: str | None = None
    ) -> tuple[PriceSheet, ModelPrice] | None:
        """Per-token price of a model: from ``sheet_id`` when it names a known sheet, else
        from the newest sheet that lists the model."""
        sheets = (
            [self.price_sheets[sheet_id]]
            if sheet_id in self.price_sheets
            else self.sheets_for(model_id)
        )
        for sheet in sheets:
            for mp in sheet.models:
                if mp.model == model_id:
                    return sheet, mp
        return None

    def gpu_price(self, gpu: str) -> tuple[PriceSheet, float] | None:
        """Newest GPU-hour price sheet listing ``gpu``, and the price."""
        best: tuple[PriceSheet, float] | None = None
        for s in self.price_sheets.values():
            for g in s.gpus:
                if g.gpu == gpu and (best is None or s.retrieved > best[0].retrieved):
                    best = (s, g.usd_per_gpu_hour)
        return best

    def oldest_fact(self, model_id: str, *, with_prices: bool = True) -> dt.date:
        """Retrieved-on date of the oldest fact of a model: how stale its record may be."""
        m = self.model(model_id)
        dates = [m.license.retrieved, m.context_window.retrieved]
        if m.parameters:
            dates.append(m.parameters.retrieved)
        if m.architecture:
            dates.append(m.architecture.retrieved)
        dates += [o.retrieved for o in m.hosting.managed]
        dates += [x.retrieved for x in m.lora] + [x.retrieved for x in m.self_hosting]
        if with_prices:
            dates += [s.retrieved for s in self.sheets_for(model_id)]
        return min(dates)


def _data_dir(kind: str) -> Traversable:
    return resources.files("nova.catalog").joinpath("data", kind)


def _yaml_files(folder: Traversable | Path) -> Iterable[tuple[str, str]]:
    if not folder.is_dir():
        return []
    items = sorted(folder.iterdir(), key=lambda t: t.name)
    return [(str(t), t.read_text(encoding="utf-8")) for t in items if t.name.endswith(".yaml")]


def _parse(
    name: str, text: str, model: type[BaseModel], problems: list[Problem]
) -> BaseModel | None:
    src = load_yaml(Path(name), text=text, env={})
    problems.extend(src.problems)
    if src.data is None:
        return None
    try:
        obj = model.model_validate(src.data)
    except ValidationError as exc:
        problems.extend(pydantic_problems(exc, src, model))
        return None
    stem = Path(name).stem
    if getattr(obj, "id", stem) != stem:
        problems.append(
            Problem(
                Path(name),
                src.line_of(("id",)),
                "id",
                f"id {getattr(obj, 'id', '')!r} must match the file name {stem!r}",
            )
        )
    return obj


def load_catalog(workspace_catalog: Path | None = None) -> Catalog:
    """The shipped catalog; files in ``workspace_catalog/{models,prices,fx}`` add or replace
    records (``fx``: USD/EUR reference rates).

    Raises ConfigError listing every invalid file (shipped data is tested, so in practice
    only workspace overrides can fail).
    """
    cat = Catalog()
    problems: list[Problem] = []
    sources: list[tuple[str, Traversable | Path]] = [
        ("models", _data_dir("models")),
        ("prices", _data_dir("prices")),
        ("fx", _data_dir("fx")),
    ]
    if workspace_catalog is not None:
        sources += [
            ("models", workspace_catalog / "models"),
            ("prices", workspace_catalog / "prices"),
            ("fx", workspace_catalog / "fx"),
        ]
    for kind, folder in sources:
        for name, text in _yaml_files(folder):
            if kind == "models":
                obj = _parse(name, text, CatalogModel, problems)
                if isinstance(obj, CatalogModel):
                    cat.models[obj.id] = obj
                    cat.origin[obj.id] = name
            elif kind == "fx":
                obj = _parse(name, text, ExchangeRate, problems)
                if isinstance(obj, ExchangeRate):
                    cat.exchange_rates[obj.id] = obj
                    cat.origin[obj.id] = name
            else:
                obj = _parse(name, text, PriceSheet, problems)
                if isinstance(obj, PriceSheet):
                    cat.price_sheets[obj.id] = obj
                    cat.origin[obj.id] = name
    for sheet in cat.price_sheets.values():
        for mp in sheet.models:
            if mp.model not in cat.models:
                problems.append(
                    Problem(
                        Path(cat.origin[sheet.id]),
                        None,
                        "models",
                        f"price for unknown model {mp.model!r}",
                    )
                )
    if problems:
        raise ConfigError(problems, "the candidate catalog is invalid")
    return cat
