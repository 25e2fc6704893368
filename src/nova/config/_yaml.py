"""YAML loading that remembers where every value came from, and ``${VAR}`` interpolation.

PyYAML's composer gives us nodes with line marks; we build plain Python data from them and
keep a map from the data path (``("candidates", 2, "provider", "api_key")``) to the line, so a
validation error can say ``nova.yaml:34 candidates[2].provider.api_key``. Duplicate keys, which
PyYAML would silently resolve to the last one, are reported as problems.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from nova.errors import Problem

__all__ = ["LoadedYaml", "format_path", "interpolate", "load_yaml"]

PathT = tuple[str | int, ...]

_REF = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_PURE_REF = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-)?\}$")


def format_path(path: PathT) -> str:
    """``("candidates", 2, "model")`` -> ``candidates[2].model``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out


@dataclass
class LoadedYaml:
    """Data of one YAML file plus where each value is and which values came from the env."""

    file: Path
    data: Any
    lines: dict[PathT, int] = field(default_factory=dict)
    raw_strings: dict[PathT, str] = field(default_factory=dict)
    """Scalar strings as written in the file, before interpolation (only those with ``$``)."""
    problems: list[Problem] = field(default_factory=list)

    def line_of(self, path: PathT) -> int | None:
        """Line of ``path``, or of its nearest ancestor that has one."""
        p = tuple(path)
        while p:
            if p in self.lines:
                return self.lines[p]
            p = p[:-1]
        return self.lines.get(())

    def is_pure_reference(self, path: PathT) -> bool:
        """Whether the value at ``path`` was written as a bare ``${VAR}`` reference."""
        raw = self.raw_strings.get(tuple(path))
        return raw is not None and _PURE_REF.match(raw) is not None


def interpolate(text: str, env: Mapping[str, str]) -> tuple[str, list[str]]:
    """Replace ``${VAR}`` and ``${VAR:-default}``; ``$$`` is a literal ``$``.

    Returns the new text and the names of referenced variables that are unset and have no
    default.
    """
    missing: list[str] = []

    def repl(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name, default = m.group(1), m.group(2)
        if name in env:
            return env[name]
        if default is not None:
            return default
        missing.append(name)
        return ""

    return _REF.sub(repl, text), missing


def load_yaml(
    file: Path, *, env: Mapping[str, str] | None = None, text: str | None = None
) -> LoadedYaml:
    """Load ``file``; syntax errors, duplicate keys and unset variables become problems."""
    env = os.environ if env is None else env
    if text is None:
        try:
            text = file.read_text(encoding="utf-8")
        except FileNotFoundError:
            return LoadedYaml(file, None, problems=[Problem(file, None, "", "file not found")])
        except UnicodeDecodeError as exc:
            return LoadedYaml(
                file,
                None,
                problems=[
                    Problem(file, None, "", f"not UTF-8 text ({exc.reason}): save it as UTF-8")
                ],
            )
    result = LoadedYaml(file, None)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else None
        msg = f"YAML syntax error: {exc.problem or exc}"
        result.problems.append(Problem(file, line, "", msg))
        return result
    if root is None:
        result.data = None
        return result
    result.data = _build(root, (), result, env)
    return result


def _build(node: yaml.Node, path: PathT, out: LoadedYaml, env: Mapping[str, str]) -> Any:
    out.lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        mapping: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                out.problems.append(
                    Problem(
                        out.file,
                        key_node.start_mark.line + 1,
                        format_path(path),
                        "YAML merge keys (<<) are not supported: write the keys out",
                    )
                )
                continue
            key = yaml.SafeLoader(  # construct the key with YAML's own scalar rules
                ""
            ).construct_object(key_node, deep=True)
            key = str(key)
            child = (*path, key)
            if key in mapping:
                out.problems.append(
                    Problem(
                        out.file,
                        key_node.start_mark.line + 1,
                        format_path(child),
                        f"duplicate key {key!r} (first on line {out.lines[child]})",
                    )
                )
                continue
            out.lines[child] = key_node.start_mark.line + 1
            mapping[key] = _build(value_node, child, out, env)
            out.lines[child] = key_node.start_mark.line + 1
        return mapping
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, (*path, i), out, env) for i, item in enumerate(node.value)]
    value = yaml.SafeLoader("").construct_object(node, deep=True)
    if isinstance(value, str) and "$" in value:
        out.raw_strings[path] = value
        value, missing = interpolate(value, env)
        for name in missing:
            out.problems.append(
                Problem(
                    out.file,
                    node.start_mark.line + 1,
                    format_path(path),
                    f"environment variable {name} is not set: export it, or write "
                    f"${{{name}:-default}} to allow a default",
                )
            )
    return value
