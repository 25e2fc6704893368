"""nova.yaml: models, loading with file:line errors, workspace paths and ``nova init``."""

from nova.config._init import InitResult, init_workspace
from nova.config._loader import LoadedConfig, config_hash, load_config
from nova.config._models import (
    Candidate,
    Criterion,
    Decision,
    Gate,
    GatewaySettings,
    Governance,
    Kpi,
    NovaConfig,
    OidcSettings,
    PerformanceSpec,
    Profile,
    ProviderSettings,
    QualitySpec,
    RedTeamSpec,
    Reviewer,
    Slo,
    StoreSettings,
)
from nova.config._workspace import CONFIG_FILE, Workspace, find_workspace

__all__ = [
    "CONFIG_FILE",
    "Candidate",
    "Criterion",
    "Decision",
    "Gate",
    "GatewaySettings",
    "Governance",
    "InitResult",
    "Kpi",
    "LoadedConfig",
    "NovaConfig",
    "OidcSettings",
    "PerformanceSpec",
    "Profile",
    "ProviderSettings",
    "QualitySpec",
    "RedTeamSpec",
    "Reviewer",
    "Slo",
    "StoreSettings",
    "Workspace",
    "config_hash",
    "find_workspace",
    "init_workspace",
    "load_config",
]
