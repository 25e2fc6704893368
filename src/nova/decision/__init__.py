"""The decision: evidence, criteria, gates, weighted sum and TOPSIS, sensitivity, Pareto front,
and the selection matrix files."""

from nova.decision._collect import collect_evidence, dsfa_done, kpi_metric_key, latest_run
from nova.decision._evidence import (
    METRIC_NAMES,
    CandidateEvidence,
    Evidence,
    Measurement,
    RunRef,
)
from nova.decision._matrix import (
    MatrixResult,
    build_matrix,
    matrix_sha,
    source_key,
    write_matrix,
)
from nova.decision._matrix_md import render_markdown
from nova.decision._methods import (
    CriterionSpec,
    Flip,
    GateResult,
    GateSpec,
    ParetoFront,
    Ranking,
    apply_gates,
    evaluate_gates,
    min_weight_change_to_flip,
    pareto_front,
    rank,
    topsis,
    weighted_sum,
)
from nova.decision._sensitivity import (
    MeasurementNoise,
    Sensitivity,
    measurement_noise,
    sensitivity,
)

__all__ = [
    "METRIC_NAMES",
    "CandidateEvidence",
    "CriterionSpec",
    "Evidence",
    "Flip",
    "GateResult",
    "GateSpec",
    "MatrixResult",
    "Measurement",
    "MeasurementNoise",
    "ParetoFront",
    "Ranking",
    "RunRef",
    "Sensitivity",
    "apply_gates",
    "build_matrix",
    "collect_evidence",
    "dsfa_done",
    "evaluate_gates",
    "kpi_metric_key",
    "latest_run",
    "matrix_sha",
    "measurement_noise",
    "min_weight_change_to_flip",
    "pareto_front",
    "rank",
    "render_markdown",
    "sensitivity",
    "source_key",
    "topsis",
    "weighted_sum",
    "write_matrix",
]
