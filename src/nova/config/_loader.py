"""Load and check nova.yaml: every problem with file, line and field path, not just the first."""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from nova._secrets import register_secret
from nova.config._models import REQUIRED_SETTINGS, SECRET_FIELDS, NovaConfig
from nova.config._yaml import LoadedYaml, PathT, format_path, load_yaml
from nova.errors import ConfigError, Problem

__all__ = ["LoadedConfig", "config_hash", "load_config", "pydantic_problems"]

# Providers whose endpoints normally need a key; an empty key there is worth a warning.
_KEYED_PROVIDERS = {"azure"}
_ENV_NAME = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)")


@dataclass
class LoadedConfig:
    """A valid nova.yaml with its location data, hash and non-fatal warnings."""

    config: NovaConfig
    source: LoadedYaml
    hash: str
    warnings: list[Problem] = field(default_factory=list)

    @property
    def file(self) -> Path:
        """The nova.yaml file."""
        return self.source.file


def config_hash(config: NovaConfig) -> str:
    """sha256 of the resolved config in canonical JSON; secrets are masked, never hashed."""
    dumped = config.model_dump(mode="json")
    canonical = json.dumps(dumped, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def load_config(
    file: Path,
    *,
    env: Mapping[str, str] | None = None,
    catalog_ids: set[str] | None = None,
    price_sheet_ids: set[str] | None = None,
) -> LoadedConfig:
    """Load nova.yaml; raise ConfigError listing every problem found.

    ``catalog_ids`` and ``price_sheet_ids``, when given, are used to check references.
    """
    env = os.environ if env is None else env
    src = load_yaml(file, env=env)
    problems = list(src.problems)
    if src.data is None and not problems:
        problems.append(Problem(file, 1, "", "file is empty: run `nova init` to create one"))
    if problems and src.data is None:
        raise ConfigError(problems, f"{file} is not valid")
    if not isinstance(src.data, dict):
        problems.append(Problem(file, 1, "", "top level must be a mapping of keys to values"))
        raise ConfigError(problems, f"{file} is not valid")

    problems.extend(_secret_literals(src))
    config: NovaConfig | None = None
    try:
        config = NovaConfig.model_validate(src.data)
    except ValidationError as exc:
        problems.extend(pydantic_problems(exc, src))
    warnings: list[Problem] = []
    if config is not None:
        problems.extend(_cross_checks(config, src, catalog_ids, price_sheet_ids))
        warnings.extend(_warnings(config, src))
    problems.sort(key=lambda p: (p.line or 0, p.path))
    if problems or config is None:
        raise ConfigError(problems, f"{file} is not valid")
    for cand in config.candidates:
        if cand.provider.api_key is not None:
            register_secret(cand.provider.api_key.get_secret_value())
    return LoadedConfig(config, src, config_hash(config), warnings)


def _secret_literals(src: LoadedYaml) -> list[Problem]:
    out: list[Problem] = []
    for i, cand in enumerate(src.data.get("candidates") or []):
        if not isinstance(cand, dict) or not isinstance(cand.get("provider"), dict):
            continue
        for name in SECRET_FIELDS:
            path: PathT = ("candidates", i, "provider", name)
            value = cand["provider"].get(name)
            if value in (None, ""):
                continue
            if not src.is_pure_reference(path):
                out.append(
                    Problem(
                        src.file,
                        src.line_of(path),
                        format_path(path),
                        "secrets must not be written into nova.yaml: put the value in an "
                        "environment variable and write ${VARIABLE_NAME}",
                    )
                )
    return out


def pydantic_problems(
    exc: ValidationError, src: LoadedYaml, root: type[BaseModel] = NovaConfig
) -> list[Problem]:
    """Turn a pydantic ValidationError into Problems with the file line of each field."""
    out = []
    for err in exc.errors(include_url=False):
        loc: PathT = tuple(p for p in err["loc"] if isinstance(p, str | int))
        # Errors raised by model validators carry no field; keep them at the model's path.
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            allowed = _allowed_fields(root, loc[:-1])
            hint = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
            msg = f"unknown field {loc[-1]!r}" + (
                f": did you mean {hint[0]!r}?"
                if hint
                else (f"; allowed: {', '.join(sorted(allowed))}" if allowed else "")
            )
        elif err["type"] == "missing":
            msg = "required field is missing"
        elif "input" in err and not isinstance(err["input"], dict | list):
            shown = "<secret>" if loc and loc[-1] in SECRET_FIELDS else repr(err["input"])
            msg = f"{msg} (got {shown})"
        out.append(Problem(src.file, src.line_of(loc), format_path(loc), msg))
    return out


def _allowed_fields(root: type[BaseModel], loc: PathT) -> list[str]:
    """Field names of the model found at ``loc`` inside ``root`` (empty if unknown)."""
    tp: Any = root
    for part in loc:
        tp = _unwrap(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel) and isinstance(part, str):
            info = tp.model_fields.get(part)
            if info is None:
                return []
            tp = info.annotation
        else:
            args = get_args(tp)
            if get_origin(tp) is dict:
                tp = args[1]
            elif get_origin(tp) in (list, tuple) and args:
                tp = args[0]
            else:
                return []
    tp = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return list(tp.model_fields)
    return []


def _unwrap(tp: Any) -> Any:
    if get_origin(tp) in (Union, types.UnionType):
        inner = [a for a in get_args(tp) if a is not type(None)]
        if len(inner) == 1:
            return inner[0]
    return tp


def _cross_checks(
    cfg: NovaConfig,
    src: LoadedYaml,
    catalog_ids: set[str] | None,
    price_sheet_ids: set[str] | None,
) -> list[Problem]:
    out: list[Problem] = []

    def add(path: PathT, msg: str) -> None:
        out.append(Problem(src.file, src.line_of(path), format_path(path), msg))

    seen: dict[str, int] = {}
    for i, c in enumerate(cfg.candidates):
        if c.id in seen:
            add(
                ("candidates", i, "id"),
                f"duplicate candidate id {c.id!r} (also candidates[{seen[c.id]}])",
            )
        seen.setdefault(c.id, i)
        if catalog_ids is not None and c.catalog and c.catalog not in catalog_ids:
            hint = difflib.get_close_matches(c.catalog, sorted(catalog_ids), n=1)
            add(
                ("candidates", i, "catalog"),
                f"unknown catalog id {c.catalog!r}"
                + (f": did you mean {hint[0]!r}?" if hint else ": see `nova catalog list`"),
            )
        if price_sheet_ids is not None and c.price_sheet and c.price_sheet not in price_sheet_ids:
            add(("candidates", i, "price_sheet"), f"unknown price sheet {c.price_sheet!r}")
    baselines = [c.id for c in cfg.candidates if c.role == "baseline"]
    if len(baselines) > 1:
        add(
            ("candidates",),
            f"at most one candidate may have role 'baseline' (found {', '.join(baselines)})",
        )
    kpi_ids = {k.id for k in cfg.kpis}
    for i, k in enumerate(cfg.kpis):
        if [x.id for x in cfg.kpis].count(k.id) > 1:
            add(("kpis", i, "id"), f"duplicate KPI id {k.id!r}")
    for name, prof in cfg.profiles.items():
        for j, cid in enumerate(prof.candidates):
            if cid not in seen:
                add(
                    ("profiles", name, "candidates", j),
                    f"unknown candidate {cid!r}; known: {', '.join(seen)}",
                )
        if prof.quality and prof.quality.judge:
            judge = prof.quality.judge
            if judge not in seen:
                add(("profiles", name, "quality", "judge"), f"unknown candidate {judge!r}")
        if prof.redteam and prof.redteam.judge and prof.redteam.judge not in seen:
            add(
                ("profiles", name, "redteam", "judge"),
                f"unknown candidate {prof.redteam.judge!r}",
            )
    gw = cfg.gateway
    gw_refs: list[tuple[PathT, str]] = [
        *((("gateway", f), v) for f in ("primary", "fallback") if (v := getattr(gw, f))),
        *((("gateway", "models", j), cid) for j, cid in enumerate(gw.models)),
    ]
    for path, cid in gw_refs:
        if cid not in seen:
            add(path, f"unknown candidate {cid!r}; known: {', '.join(seen)}")
    sources: list[tuple[str, int, str]] = [
        ("criteria", i, c.source) for i, c in enumerate(cfg.decision.criteria)
    ] + [("gates", i, g.source) for i, g in enumerate(cfg.decision.gates)]
    for kind, i, source in sources:
        src_kind, _, ref = source.partition(":")
        if src_kind == "kpi" and ref not in kpi_ids:
            add(
                ("decision", kind, i, "source"),
                f"unknown KPI {ref!r}; known: {', '.join(sorted(kpi_ids)) or 'none (add kpis:)'}",
            )
    return out


def _env_hint(src: LoadedYaml, path: PathT) -> str:
    ref = src.raw_strings.get(path, "")
    names = _ENV_NAME.findall(ref)
    return f" (set {', '.join(names)})" if names else ""


def _warnings(cfg: NovaConfig, src: LoadedYaml) -> list[Problem]:
    out: list[Problem] = []
    for i, c in enumerate(cfg.candidates):
        empty = [
            f for f in REQUIRED_SETTINGS.get(c.provider_kind, ()) if getattr(c.provider, f) == ""
        ]
        key = c.provider.api_key
        if c.provider_kind in _KEYED_PROVIDERS and (key is None or not key.get_secret_value()):
            empty.append("api_key")
        for name in empty:
            path: PathT = ("candidates", i, "provider", name)
            out.append(
                Problem(
                    src.file,
                    src.line_of(path),
                    format_path(path),
                    f"candidate {c.id}: {name} is empty{_env_hint(src, path)}; "
                    "until then it is reported as not reachable",
                )
            )
    if cfg.candidates and not any(c.role == "baseline" for c in cfg.candidates):
        out.append(
            Problem(
                src.file,
                src.line_of(("candidates",)),
                "candidates",
                "no candidate has role 'baseline': win rates need one",
            )
        )
    return out
