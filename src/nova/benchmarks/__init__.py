"""The main job: ``python -m nova benchmarks --profile llm-core`` — quality, performance and
cost for every candidate of a profile, then the matrix, the governance documents and the
report, all linked to one parent run."""

from nova.benchmarks._outputs import CandidateSummaryRow, write_run_report
from nova.benchmarks._pipeline import BenchmarkOutcome, StageUpdate, run_benchmarks

__all__ = [
    "BenchmarkOutcome",
    "CandidateSummaryRow",
    "StageUpdate",
    "run_benchmarks",
    "write_run_report",
]
