"""Quality evaluation: datasets, graders, LLM judges, the runner and the statistics."""

from nova.datasets import GRADER_NAMES, Case, CaseMessage, Dataset, Expectation, load_dataset
from nova.evals._csv_import import import_cases_csv
from nova.evals._graders import Grade, GradeContext, grade_case, grader_names, register_grader
from nova.evals._judge import LLMJudge, PairwiseVerdict, prompt_hash
from nova.evals._references import ReferenceCheck, check_references
from nova.evals._report import DEFINITIONS, CandidateQuality, EvalReport, Rate, build_report
from nova.evals._runner import (
    FLUSH_WINDOW_S,
    EvalSpec,
    Progress,
    default_spec,
    resume_spec,
    run_eval,
    select_cases,
)
from nova.evals._stats import (
    WinRate,
    bootstrap_ci,
    bradley_terry,
    bradley_terry_ranking,
    cases_needed,
    minimum_detectable_effect,
    paired_win_rate,
    run_to_run_sd,
    sign_test_p,
    wilson_interval,
    worst_slice,
)

__all__ = [
    "DEFINITIONS",
    "FLUSH_WINDOW_S",
    "GRADER_NAMES",
    "CandidateQuality",
    "Case",
    "CaseMessage",
    "Dataset",
    "EvalReport",
    "EvalSpec",
    "Expectation",
    "Grade",
    "GradeContext",
    "LLMJudge",
    "PairwiseVerdict",
    "Progress",
    "Rate",
    "ReferenceCheck",
    "WinRate",
    "bootstrap_ci",
    "bradley_terry",
    "bradley_terry_ranking",
    "build_report",
    "cases_needed",
    "check_references",
    "default_spec",
    "grade_case",
    "grader_names",
    "import_cases_csv",
    "load_dataset",
    "minimum_detectable_effect",
    "paired_win_rate",
    "prompt_hash",
    "register_grader",
    "resume_spec",
    "run_eval",
    "run_to_run_sd",
    "select_cases",
    "sign_test_p",
    "wilson_interval",
    "worst_slice",
]
