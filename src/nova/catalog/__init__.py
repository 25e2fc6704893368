"""Facts about candidate models that nova does not measure: license, context, hosting, prices.

Every fact has a source URL and a retrieved-on date; the data ships as YAML under ``data/``
and a workspace may add or replace records in its own ``catalog/`` folder.
"""

from nova.catalog._load import Catalog, load_catalog
from nova.catalog._models import (
    Architecture,
    CatalogModel,
    ContextWindow,
    ExchangeRate,
    GpaiCode,
    GpuPrice,
    Hosting,
    License,
    LoraSupport,
    ManagedOffer,
    ModelPrice,
    Parameters,
    PriceSheet,
    SelfHostingPlan,
    Sourced,
)
from nova.catalog._summary import CandidateSummary, Price, summarize_candidate

__all__ = [
    "Architecture",
    "CandidateSummary",
    "Catalog",
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
    "Price",
    "PriceSheet",
    "SelfHostingPlan",
    "Sourced",
    "load_catalog",
    "summarize_candidate",
]
