"""Eval datasets: JSONL, one case per line, identified by a content hash.

A case is a conversation (one or more turns) plus what the answer must satisfy. Example line:

    {"id": "dlg-001", "category": "dialogue", "language": "de",
     "messages": [{"role": "user", "content": "Wie kann ich meinen Vertrag kündigen?"}],
     "expect": [{"grader": "contains_any", "values": ["kündig", "Kündigung"]},
                {"grader": "escalation", "expected": false}],
     "tags": ["vertrag"], "weight": 1.0,
     "rationale": "Standard cancellation question; answer directly, no hand-over needed.",
     "reference": {"good": "Sie können Ihren Vertrag im Kundenportal kündigen …",
                   "bad": "Dazu kann ich leider nichts sagen."}}

``reference`` holds a good and a bad answer written by a person: ``nova datasets validate`` runs
the deterministic graders on both and fails when they do not tell them apart. In a reference
answer, ``[ESKALATION]`` stands for a call of the hand-over tool.
"""

from __future__ import annotations

import codecs
import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from nova.datasets._jsonl import jsonl_models
from nova.errors import ConfigError, NovaError, Problem

__all__ = [
    "GRADER_NAMES",
    "Case",
    "CaseMessage",
    "Dataset",
    "DatasetInfo",
    "Expectation",
    "Reference",
    "dataset_files",
    "load_dataset",
    "scan_dataset",
    "stream_dataset",
]

GRADER_NAMES = (
    "contains",
    "contains_any",
    "contains_all",
    "not_contains",
    "regex",
    "json_schema",
    "max_length",
    "language",
    "refusal",
    "escalation",
    "pii_leak",
    "judge",
)
"""Grader names a case may use (see nova.evals graders for their parameters)."""


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)


class CaseMessage(_M):
    """One turn of the conversation."""

    role: Literal["user", "assistant", "system"]
    """Who speaks; the last message must be the user's."""
    content: str = Field(min_length=1)
    """Text of the turn."""


class Expectation(_M):
    """One check of the answer: a grader name and its parameters."""

    model_config = ConfigDict(extra="allow")

    grader: str
    """Grader name, one of GRADER_NAMES."""

    @field_validator("grader")
    @classmethod
    def _known(cls, v: str) -> str:
        if v not in GRADER_NAMES:
            raise ValueError(f"unknown grader {v!r}; known: {', '.join(GRADER_NAMES)}")
        return v

    @property
    def params(self) -> dict[str, Any]:
        """Parameters besides the grader name."""
        return dict(self.model_extra or {})


class Reference(_M):
    """A good and a bad answer to a case, written by a person, to check the graders."""

    good: str = Field(min_length=1)
    """An answer a reviewer would accept; every deterministic grader must pass it."""
    bad: str = Field(min_length=1)
    """A plausible wrong answer; at least one deterministic grader must fail it."""


class Case(_M):
    """An eval case."""

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
    """Unique id within the dataset."""
    category: Literal["dialogue", "compliance", "escalation"]
    """Which starter set the case belongs to."""
    language: Literal["de", "en"]
    """Language of the conversation (and of the expected answer)."""
    messages: list[CaseMessage] = Field(min_length=1)
    """The conversation so far; the model answers the last user turn."""
    system: str | None = None
    """System prompt override (default: the workspace's safety system prompt)."""
    expect: list[Expectation] = Field(min_length=1)
    """Checks the answer must pass; a case passes when all pass."""
    tags: list[str] = Field(default_factory=list)
    """Free tags for slicing (e.g. ``dsgvo``, ``kündigung``)."""
    weight: float = Field(default=1.0, gt=0)
    """Weight in weighted pass rates."""
    rationale: str = Field(min_length=1)
    """Why this is the expected behaviour (for reviewers)."""
    reference: Reference | None = None
    """Reference answers that show the graders separate right from wrong."""

    @field_validator("messages")
    @classmethod
    def _ends_with_user(cls, v: list[CaseMessage]) -> list[CaseMessage]:
        if v and v[-1].role != "user":
            raise ValueError("the last message must have role 'user'")
        return v


class Dataset(BaseModel):
    """A loaded dataset with its content hash."""

    name: str
    """File stem, e.g. ``dialogues``."""
    path: str
    """Where it was read from."""
    sha256: str
    """sha256 of the file bytes: what every run records."""
    cases: list[Case]
    """Cases in file order."""


class DatasetInfo(BaseModel):
    """A dataset checked in one streaming pass: what a run records about it, without its cases
    (``stream_dataset`` reads them again, one at a time)."""

    name: str
    """File stem, e.g. ``dialogues``."""
    path: str
    """Where it was read from."""
    sha256: str
    """sha256 of the file bytes: what every run records."""
    cases: int
    """Number of cases."""


def _lines(path: Path, digest: Any, problems: list[Problem]) -> Iterator[str]:
    """The lines of a UTF-8 file one at a time (a BOM at the start dropped), their bytes fed to
    ``digest``; a line that is not UTF-8 is a problem and reads as blank."""
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            digest.update(raw)
            if lineno == 1:
                raw = raw.removeprefix(codecs.BOM_UTF8)
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                problems.append(Problem(path, lineno, "", f"not UTF-8: {exc.reason}"))
                yield ""


def scan_dataset(path: Path, on_case: Callable[[Case], None] | None = None) -> DatasetInfo:
    """Validate a JSONL dataset in one streaming pass (no case kept): every bad line and every
    duplicate id is listed in one ConfigError. ``on_case`` sees each valid case in file order."""
    digest = hashlib.sha256()
    problems: list[Problem] = []
    seen: dict[str, int] = {}  # id -> first line: the one thing kept per case
    for lineno, case in jsonl_models(path, _lines(path, digest, problems), Case, problems):
        if case.id in seen:
            problems.append(
                Problem(
                    path, lineno, "id", f"duplicate id {case.id!r} (first on line {seen[case.id]})"
                )
            )
            continue
        seen[case.id] = lineno
        if on_case is not None:
            on_case(case)
    if problems:
        raise ConfigError(problems, f"dataset {path} is not valid")
    return DatasetInfo(name=path.stem, path=str(path), sha256=digest.hexdigest(), cases=len(seen))


def stream_dataset(info: DatasetInfo) -> Iterator[Case]:
    """The cases of a dataset ``scan_dataset`` checked, read again one at a time in file order.

    Raises NovaError when the file is no longer the one scanned (checked by its sha256 once
    read to the end, and by every line on the way)."""
    path = Path(info.path)
    digest = hashlib.sha256()
    problems: list[Problem] = []
    for _lineno, case in jsonl_models(path, _lines(path, digest, problems), Case, problems):
        if problems:
            break
        yield case
    if problems or digest.hexdigest() != info.sha256:
        raise NovaError(
            f"dataset {path} changed while the run read it (sha256 was {info.sha256[:12]}); "
            "restore it, then resume the run (`nova eval run --resume RUN`)"
        )


def load_dataset(path: Path) -> Dataset:
    """Read and validate a JSONL dataset whole; ConfigError lists every bad line.

    For large files, ``scan_dataset`` and ``stream_dataset`` do the same one case at a time."""
    cases: list[Case] = []
    info = scan_dataset(path, cases.append)
    return Dataset(name=info.name, path=info.path, sha256=info.sha256, cases=cases)


def dataset_files(folder: Path) -> list[Path]:
    """The JSONL datasets in ``folder`` (a workspace's ``datasets/``), sorted by name."""
    return sorted(folder.glob("*.jsonl"))
