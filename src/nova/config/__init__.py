"""nova.yaml: models, loading with file:line errors, workspace paths and ``nova init``."""

from nova.config._init import InitResult, init_workspace
from nova.config._loader import LoadedConfig, config_hash, load_config, pydantic_problems
from nova.config._models import (
    Candidate,
    Criterion,
    Decision,
    Gate,
    Governance,
    Kpi,
    MonitoringSettings,
    NovaConfig,
    PerformanceSpec,
    Profile,
    ProviderSettings,
    QualitySpec,
    Receiver,
    RedTeamSpec,
    Reviewer,
    Slo,
    StoreSettings,
)
from nova.config._workspace import CONFIG_FILE, Workspace, find_workspace
from nova.config._yaml import LoadedYaml, format_path, load_yaml

__all__ = [
    "CONFIG_FILE",
    "Candidate",
    "Criterion",
    "Decision",
    "Gate",
    "Governance",
    "InitResult",
    "Kpi",
    "LoadedConfig",
    "LoadedYaml",
    "MonitoringSettings",
    "NovaConfig",
    "PerformanceSpec",
    "Profile",
    "ProviderSettings",
    "QualitySpec",
    "Receiver",
    "RedTeamSpec",
    "Reviewer",
    "Slo",
    "StoreSettings",
    "Workspace",
    "config_hash",
    "find_workspace",
    "format_path",
    "init_workspace",
    "load_config",
    "load_yaml",
    "pydantic_problems",
]
