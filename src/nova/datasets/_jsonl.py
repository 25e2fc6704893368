"""JSONL files of pydantic records with file:line problems: eval cases, red-team scenarios."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from nova.errors import Problem

__all__ = ["jsonl_models"]

M = TypeVar("M", bound=BaseModel)


def jsonl_models(
    path: Path, text: str | Iterable[str], model: type[M], problems: list[Problem]
) -> Iterator[tuple[int, M]]:
    """Each non-blank line of ``text`` (the whole text, or its lines one at a time: a file is
    then never held whole) validated as ``model``, with its line number. A line that is not
    JSON or not a valid record is skipped and described in ``problems`` (file, line, field
    path, message), so a caller reports every bad line at once."""
    lines = text.splitlines() if isinstance(text, str) else text
    for lineno, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as exc:
            problems.append(
                Problem(path, lineno, "", f"invalid JSON: {exc.msg} (column {exc.colno})")
            )
            continue
        try:
            record = model.model_validate(obj)
        except ValidationError as exc:
            for err in exc.errors(include_url=False):
                loc = ".".join(str(p) for p in err["loc"])
                problems.append(
                    Problem(path, lineno, loc, err["msg"].removeprefix("Value error, "))
                )
            continue
        yield lineno, record
