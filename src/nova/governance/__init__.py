"""Governance: reviews and sign-off, the decision record, the team's task list, and the
documents Legal and Security ask for (license review, DSFA, exit strategy, fallback plan,
deployment options, KPI catalogue, LoRA compatibility, QA plan)."""

from nova.governance._controls import CONTROL_NAMES, Control, Controls, workspace_controls
from nova.governance._decide import DecisionOutcome, check_decision, decide, load_matrix
from nova.governance._docs import (
    DEFAULT_MONTHLY_CONVERSATIONS,
    GOVERNANCE_DOCUMENTS,
    DocumentResult,
    build_context,
    render_governance_docs,
    update_governance_docs,
)
from nova.governance._human import (
    DocumentUpdate,
    HumanSectionError,
    human_regions,
    merge_document,
    open_placeholders,
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
from nova.governance._task_rules import (
    CONDITIONS,
    DEFAULT_TASK_RULES,
    TaskCheck,
    effective_rules,
    rows_to_complete,
    rule_for,
)
from nova.governance._tasks_csv import STATUS_VALUES, TaskTable, update_tasks

__all__ = [
    "CONDITIONS",
    "CONTROL_NAMES",
    "DEFAULT_MONTHLY_CONVERSATIONS",
    "DEFAULT_TASK_RULES",
    "GOVERNANCE_DOCUMENTS",
    "REVIEW_NAMESPACE",
    "STATUS_VALUES",
    "Control",
    "Controls",
    "DecisionOutcome",
    "DocumentResult",
    "DocumentUpdate",
    "HumanSectionError",
    "ReviewState",
    "SignaturePolicy",
    "SignedReview",
    "TaskCheck",
    "TaskTable",
    "build_context",
    "check_decision",
    "decide",
    "effective_rules",
    "human_regions",
    "load_matrix",
    "merge_document",
    "open_placeholders",
    "record_review",
    "render_governance_docs",
    "request_review",
    "review_payload",
    "review_status",
    "rows_to_complete",
    "rule_for",
    "update_governance_docs",
    "update_tasks",
    "verify_review_signature",
    "workspace_controls",
]
