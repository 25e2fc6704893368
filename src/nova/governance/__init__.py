"""Governance: reviews and sign-off, the decision record, the team's task list, and the
documents Legal and Security ask for (license review, DSFA, exit strategy, fallback plan,
deployment options, KPI catalogue, LoRA compatibility, QA plan)."""

from nova.governance._decide import DecisionOutcome, check_decision, decide, load_matrix
from nova.governance._docs import (
    DEFAULT_MONTHLY_CONVERSATIONS,
    GOVERNANCE_DOCUMENTS,
    build_context,
    render_governance_docs,
)
from nova.governance._review import (
    ReviewState,
    SignaturePolicy,
    record_review,
    request_review,
    review_status,
)
from nova.governance._signing import NAMESPACE as REVIEW_NAMESPACE
from nova.governance._signing import SignedReview, review_payload, verify_review_signature
from nova.governance._tasks_csv import STATUS_VALUES, TaskTable, update_tasks

__all__ = [
    "DEFAULT_MONTHLY_CONVERSATIONS",
    "GOVERNANCE_DOCUMENTS",
    "REVIEW_NAMESPACE",
    "STATUS_VALUES",
    "DecisionOutcome",
    "ReviewState",
    "SignaturePolicy",
    "SignedReview",
    "TaskTable",
    "build_context",
    "check_decision",
    "decide",
    "load_matrix",
    "record_review",
    "render_governance_docs",
    "request_review",
    "review_payload",
    "review_status",
    "update_tasks",
    "verify_review_signature",
]
