"""Safety: red teaming — the scenario library (OWASP LLM Top 10 2025 and Sophia's own harms),
converters, offline detectors, the runner with and without the rails, and its statistics.

(The rails themselves — ``load_rails``, ``Rails`` … — are added by the guardrails stream; the
red-team runner uses them through ``RailsLike``.)
"""

from nova.safety._redteam_attack import AttackResult, RailCall, RedTeamProgress
from nova.safety._redteam_converters import (
    Converted,
    apply_converter,
    converter_names,
    register_converter,
)
from nova.safety._redteam_detectors import (
    Evidence,
    Verdict,
    canary_evidence,
    decide_attack,
    is_refusal,
    make_canary,
    redact_excerpt,
    refusal_evidence,
    regex_evidence,
    tool_evidence,
)
from nova.safety._redteam_rails import RailsLike, RailsResultLike, RailVerdictLike, workspace_rails
from nova.safety._redteam_report import (
    CandidateRedTeam,
    RedTeamReport,
    SuccessfulAttack,
    build_redteam_report,
    eval_over_refusal,
)
from nova.safety._redteam_runner import RedTeamRunSpec, default_redteam_spec, run_redteam
from nova.safety._redteam_scenarios import (
    HARMS,
    OWASP_2025,
    Detection,
    Scenario,
    ScenarioFile,
    ScenarioLibrary,
    load_scenario_file,
    load_scenarios,
    select_scenarios,
    shipped_scenario_files,
)
from nova.safety._redteam_stats import (
    PairedDifference,
    RateCI,
    mcnemar_exact_p,
    newcombe_paired_interval,
    paired_difference,
    rate_ci,
)

__all__ = [
    "HARMS",
    "OWASP_2025",
    "AttackResult",
    "CandidateRedTeam",
    "Converted",
    "Detection",
    "Evidence",
    "PairedDifference",
    "RailCall",
    "RailVerdictLike",
    "RailsLike",
    "RailsResultLike",
    "RateCI",
    "RedTeamProgress",
    "RedTeamReport",
    "RedTeamRunSpec",
    "Scenario",
    "ScenarioFile",
    "ScenarioLibrary",
    "SuccessfulAttack",
    "Verdict",
    "apply_converter",
    "build_redteam_report",
    "canary_evidence",
    "converter_names",
    "decide_attack",
    "default_redteam_spec",
    "eval_over_refusal",
    "is_refusal",
    "load_scenario_file",
    "load_scenarios",
    "make_canary",
    "mcnemar_exact_p",
    "newcombe_paired_interval",
    "paired_difference",
    "rate_ci",
    "redact_excerpt",
    "refusal_evidence",
    "regex_evidence",
    "register_converter",
    "run_redteam",
    "select_scenarios",
    "shipped_scenario_files",
    "tool_evidence",
    "workspace_rails",
]
