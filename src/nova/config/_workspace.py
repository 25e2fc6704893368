"""The workspace folder: where nova finds nova.yaml and writes its files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from nova.errors import WorkspaceError

__all__ = ["CONFIG_FILE", "Workspace", "find_workspace"]

CONFIG_FILE = "nova.yaml"


@dataclass(frozen=True)
class Workspace:
    """Paths of one workspace (the layout of ARCHITECTURE.md)."""

    root: Path

    @property
    def config_file(self) -> Path:
        """nova.yaml."""
        return self.root / CONFIG_FILE

    @property
    def datasets_dir(self) -> Path:
        """Eval datasets (JSONL)."""
        return self.root / "datasets"

    @property
    def guardrails_dir(self) -> Path:
        """Prompt guidelines, safety system prompt, rails."""
        return self.root / "guardrails"

    @property
    def redteam_dir(self) -> Path:
        """Red-team scenarios."""
        return self.root / "redteam"

    @property
    def selection_matrix(self) -> Path:
        """The decision matrix nova writes."""
        return self.root / "orchestration_journal" / "models" / "llm_selection_matrix.md"

    def deploy_dir(self, candidate_id: str) -> Path:
        """Helm chart and compose file of one candidate."""
        return self.root / "deploy" / "models" / candidate_id

    @property
    def monitoring_dir(self) -> Path:
        """Prometheus rules, Alertmanager config, Grafana dashboards."""
        return self.root / "deploy" / "monitoring"

    @property
    def kickoff_doc(self) -> Path:
        """Decision log document."""
        return self.root / "docs" / "MODEL_OPERATIONS_KICKOFF.md"

    @property
    def governance_dir(self) -> Path:
        """License review, DSFA, exit strategy and other governance documents."""
        return self.root / "docs" / "governance"

    @property
    def tasks_csv(self) -> Path:
        """The team's task list."""
        return self.root / "Agenten_Aufgaben_Uebersicht.csv"

    @property
    def state_dir(self) -> Path:
        """nova's own state (run store, cache)."""
        return self.root / ".nova"

    @property
    def catalog_dir(self) -> Path:
        """Workspace catalog overrides (same YAML schema as the shipped catalog)."""
        return self.root / "catalog"

    @property
    def default_database_url(self) -> str:
        """SQLite file in the state folder."""
        return f"sqlite:///{self.state_dir / 'nova.db'}"


def find_workspace(start: Path | None = None, explicit: Path | None = None) -> Workspace:
    """The workspace given explicitly, or the nearest folder upwards holding nova.yaml."""
    if explicit is not None:
        root = explicit.expanduser().resolve()
        if not (root / CONFIG_FILE).is_file():
            raise WorkspaceError(
                f"{root} has no {CONFIG_FILE}: run `nova init {explicit}` to create a workspace"
            )
        return Workspace(root)
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / CONFIG_FILE).is_file():
            return Workspace(folder)
    raise WorkspaceError(
        f"no {CONFIG_FILE} in {here} or any parent folder: run `nova init DIR` to create a "
        "workspace, or pass --workspace DIR"
    )
