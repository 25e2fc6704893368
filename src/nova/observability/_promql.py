"""Metric names a PromQL expression reads, for checking rules against an engine's exposition."""

from __future__ import annotations

import re

__all__ = ["metric_names"]

_KEYWORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless",
    "offset", "bool", "inf", "nan", "atan2",
    # aggregation operators may put their grouping before the parenthesis
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
    "bottomk", "topk", "quantile", "limitk", "limit_ratio",
}  # fmt: skip
_IDENT = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


def metric_names(expr: str) -> set[str]:
    """Names of the series ``expr`` selects (functions, keywords, label names and durations
    are not names).

    >>> sorted(metric_names('sum by (candidate) (rate(a_total{code=~"5.."}[5m])) / b:c'))
    ['a_total', 'b:c']
    """
    s = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # string literals
    s = re.sub(r"\{[^}]*\}", "", s)  # label matchers
    s = re.sub(r"\[[^\]]*\]", "", s)  # range and subquery windows
    s = re.sub(
        r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", r"\1", s
    )  # grouping label lists
    out = set()
    for m in _IDENT.finditer(s):
        name = m.group(0)
        before = s[: m.start()]
        if before and (before[-1].isalnum() or before[-1] in "._"):
            continue  # part of a number such as 1e3 or 0.5
        rest = s[m.end() :].lstrip()
        if rest.startswith("(") or name.lower() in _KEYWORDS:
            continue
        out.add(name)
    return out
