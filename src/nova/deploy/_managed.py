"""README for a managed candidate (Azure OpenAI, AWS Bedrock): no manifests, but the settings
nova needs, the catalog's region facts and what the gateway needs to reach it."""

from __future__ import annotations

import re
from importlib import resources

import jinja2

from nova.__about__ import __version__
from nova.catalog import Catalog, CatalogModel, ManagedOffer
from nova.config import Candidate, LoadedConfig

__all__ = ["render_managed_readme"]

_PLATFORMS = {"azure": "azure-openai", "bedrock": "aws-bedrock"}
_NAMES = {
    "azure-openai": "Azure OpenAI",
    "aws-bedrock": "AWS Bedrock",
    "hf-inference-endpoints": "Hugging Face Inference Endpoints",
    "openai": "OpenAI API",
}
_FIELDS = {
    "azure": ("base_url", "deployment", "api_version", "api_key"),
    "bedrock": ("region",),
    "openai": ("base_url", "api_key"),
}
_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)")


def _offer(cand: Candidate, rec: CatalogModel | None) -> ManagedOffer | None:
    if rec is None:
        return None
    want = _PLATFORMS.get(cand.provider_kind)
    hit = next((o for o in rec.hosting.managed if o.platform == want), None)
    return hit or (rec.hosting.managed[0] if len(rec.hosting.managed) == 1 else None)


def render_managed_readme(
    loaded: LoadedConfig, cand: Candidate, rec: CatalogModel | None, catalog: Catalog
) -> str:
    """The README text; secrets are shown as the variable that holds them, never the value."""
    i = loaded.config.candidates.index(cand)
    settings = []
    for fld in _FIELDS.get(cand.provider_kind, ("base_url",)):
        raw = loaded.source.raw_strings.get(("candidates", i, "provider", fld))
        m = _REF.search(raw or "")
        if fld == "api_key":
            shown = f"`{raw}`" if raw else "not set"
        else:
            value = getattr(cand.provider, fld)
            shown = f"`{raw}`" if raw else (f"`{value}`" if value else "not set")
        settings.append({"field": fld, "shown": shown, "var": m.group(1) if m else None})
    offer = _offer(cand, rec)
    price = None
    if rec is not None:
        found = catalog.token_price(rec.id, cand.price_sheet)
        if found is not None:
            sheet, mp = found
            price = (
                f"{mp.input_per_mtok:g} / {mp.output_per_mtok:g} {sheet.currency} per 1M "
                f"input/output tokens (`{sheet.id}`, read {sheet.retrieved})"
            )
    platform = offer.platform if offer else _PLATFORMS.get(cand.provider_kind, "openai")
    folder = resources.files("nova").joinpath("templates", "deploy")
    tmpl = jinja2.Environment(
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True
    ).from_string(folder.joinpath("managed.md.j2").read_text(encoding="utf-8"))
    text = tmpl.render(
        c={
            "id": cand.id,
            "name": cand.name or (rec.name if rec else cand.id),
            "kind": cand.provider_kind,
            "provider_model": cand.provider_model,
            "region": cand.provider.region,
        },
        index=i,
        settings=settings,
        offer=offer,
        platform_name=_NAMES.get(platform, platform),
        price=price,
        nova_version=__version__,
        fallbacks=[c.id for c in loaded.config.candidates if c.role == "fallback"],
    )
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"
