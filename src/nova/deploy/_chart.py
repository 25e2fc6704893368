"""One engine-neutral Helm chart, from Jinja2 templates that render in two modes.

``helm`` mode writes the chart's Go templates (``{{ .Values.engine.port }}``), so users keep
the whole Helm workflow (``-f values.override.yaml``). ``direct`` mode evaluates the same
templates against a values dict and yields the concrete manifests, which is how
``nova deploy validate`` checks them when the Helm library (helm-python-sdk) is not installed;
when it is, the tests compare both renderings. The templates use only a few helpers:

    h.v(path)          a scalar            {{ .Values.path }}
    h.q(path)          a quoted string     {{ .Values.path | quote }}
    h.y(path, n)       a YAML block        {{- toYaml .Values.path | nindent n }}
    h.items(path, n)   list items, if any  {{- with .Values.path }}{{- toYaml . | nindent n }}…
    call h.when(path)  a section, if true  {{- if .Values.path }} … {{- end }}
    call h.unless(path)                    {{- if not .Values.path }} … {{- end }}
    h.files(name, n)   a chart file        {{- .Files.Get "name" | nindent n }}
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import jinja2
import yaml

from nova._templates import template_environment

__all__ = ["TEMPLATE_NAMES", "deep_merge", "render_manifests", "render_templates"]

Mode = Literal["helm", "direct"]


def _folder() -> Any:
    return resources.files("nova").joinpath("templates", "deploy", "chart", "templates")


TEMPLATE_NAMES: tuple[str, ...] = tuple(
    sorted(t.name.removesuffix(".j2") for t in _folder().iterdir() if t.name.endswith(".j2"))
)
"""File names under the chart's ``templates/``."""


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Helm's coalescing: maps merge key by key, anything else replaces, null deletes."""
    out = copy.deepcopy(dict(base))
    for key, value in override.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _indent(text: str, n: int) -> str:
    pad = " " * n
    return "\n".join(pad + line if line else line for line in text.rstrip("\n").split("\n"))


class _Helpers:
    """The helpers templates call; each knows how to write Go templates or evaluate."""

    def __init__(self, mode: Mode, values: Mapping[str, Any], files: Mapping[str, str]):
        self.mode = mode
        self.values = values
        self.files_ = files

    def _get(self, path: str) -> Any:
        cur: Any = self.values
        for part in path.split("."):
            if not isinstance(cur, Mapping) or part not in cur:
                return None
            cur = cur[part]
        return cur

    def v(self, path: str) -> str:
        if self.mode == "helm":
            return f"{{{{ .Values.{path} }}}}"
        value = self._get(path)
        return json.dumps(value) if isinstance(value, bool) else str(value)

    def q(self, path: str) -> str:
        if self.mode == "helm":
            return f"{{{{ .Values.{path} | quote }}}}"
        value = self._get(path)
        return json.dumps("" if value is None else str(value))

    def y(self, path: str, n: int) -> str:
        if self.mode == "helm":
            return f"{{{{- toYaml .Values.{path} | nindent {n} }}}}"
        value = self._get(path)
        if value is None:
            value = {}
        dumped = yaml.safe_dump(value, sort_keys=False, default_flow_style=False, width=1000)
        return "\n" + _indent(dumped, n)

    def items(self, path: str, n: int) -> str:
        if self.mode == "helm":
            return f"{{{{- with .Values.{path} }}}}{{{{- toYaml . | nindent {n} }}}}{{{{- end }}}}"
        value = self._get(path)
        if not value:
            return ""
        dumped = yaml.safe_dump(value, sort_keys=False, default_flow_style=False, width=1000)
        return _indent(dumped, n)

    def when(self, path: str, caller: Callable[[], str]) -> str:
        if self.mode == "helm":
            return f"{{{{- if .Values.{path} }}}}\n{caller()}{{{{- end }}}}\n"
        return caller() if self._get(path) else ""

    def unless(self, path: str, caller: Callable[[], str]) -> str:
        if self.mode == "helm":
            return f"{{{{- if not .Values.{path} }}}}\n{caller()}{{{{- end }}}}\n"
        return "" if self._get(path) else caller()

    def files(self, name: str, n: int) -> str:
        if self.mode == "helm":
            return f'{{{{- .Files.Get "{name}" | nindent {n} }}}}'
        return "\n" + _indent(self.files_.get(name, ""), n)


def _environment() -> jinja2.Environment:
    return template_environment("deploy", "chart", "templates", strip_j2=True)


def render_templates(
    mode: Mode, values: Mapping[str, Any] | None = None, files: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Template name → text: Go templates (``helm``) or concrete YAML (``direct``)."""
    env = _environment()
    h = _Helpers(mode, values or {}, files or {})
    return {name: env.get_template(name).render(h=h) for name in TEMPLATE_NAMES}


def render_manifests(values: Mapping[str, Any], chart_dir: Path | None = None) -> list[Any]:
    """The Kubernetes objects the chart yields for ``values`` (direct mode), in file order."""
    files: dict[str, str] = {}
    if chart_dir is not None:
        for f in (chart_dir / "files").glob("*"):
            files[f"files/{f.name}"] = f.read_text(encoding="utf-8")
    docs: list[Any] = []
    for _name, text in sorted(render_templates("direct", values, files).items()):
        docs += [d for d in yaml.safe_load_all(text) if d is not None]
    return docs
