"""Rate-limit counters that gateway replicas share through the store.

Each gateway process (a "node", random id per process) writes its own request and token
counts per subject and minute as absolute values (``gateway_rate_counters``: one row per
subject, minute and node, so a write that is retried after an unclear failure still counts
once) and reads the sums of the other nodes back. OIDC subjects' token usage for their
budgets is added atomically to ``gateway_subject_usage`` (API keys keep theirs on the key).
Rows older than a few minutes are deleted as they fall out of every limit's window.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from nova.store import _schema

__all__ = ["RateCount", "RateSync", "sync_rate_counters"]

_KEEP_MINUTES = 10
"""Minutes of other nodes' rows kept (a dead node's rows are deleted after this)."""


class RateCount(NamedTuple):
    """Requests and tokens (net: reserved minus refunded) of one subject in one minute."""

    subject: str
    minute: int
    """Unix time // 60."""
    requests: int
    tokens: int


@dataclass(frozen=True)
class RateSync:
    """What the other nodes counted, and OIDC subjects' stored token usage."""

    others: list[RateCount] = field(default_factory=list)
    """Sums over every other node, per subject and minute (from ``since`` on)."""
    subject_used: dict[str, int] = field(default_factory=dict)
    """Tokens used per subject asked for (absent: none stored yet)."""


def _insert(engine: sa.Engine, table: sa.Table) -> Any:
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


def sync_rate_counters(
    engine: sa.Engine,
    *,
    node: str,
    mine: Sequence[RateCount],
    since: int,
    add_usage: Mapping[str, int] | None = None,
    read_usage: Collection[str] | None = (),
) -> RateSync:
    """Read the other nodes' counts from minute ``since`` on and the stored usage of
    ``read_usage`` (None: of every subject), then write this node's counts (``mine``,
    absolute per subject and minute) and the tokens OIDC subjects used since the last call
    (``add_usage``, included in the usage returned) in one transaction.

    Read first, on its own: SQLite's write lock is then held only for the writes (the
    gateway's audit commits in the event loop hand their batch to a thread when they meet
    it), and a failure leaves nothing written, so the caller may send everything again."""
    rc, su = _schema.rate_counters, _schema.subject_usage
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                rc.c.subject, rc.c.minute, sa.func.sum(rc.c.requests), sa.func.sum(rc.c.tokens)
            )
            .where(rc.c.minute >= since, rc.c.node != node)
            .group_by(rc.c.subject, rc.c.minute)
        ).all()
        used: dict[str, int] = {}
        if read_usage is None or read_usage:
            query = sa.select(su.c.subject, su.c.tokens_used)
            if read_usage is not None:
                query = query.where(su.c.subject.in_(sorted(read_usage)))
            used = {s: int(n) for s, n in conn.execute(query).all()}
    if not mine and not add_usage:
        return RateSync([RateCount(s, int(m), int(r), int(t)) for s, m, r, t in rows], used)
    with engine.begin() as conn:
        if mine:
            ins = _insert(engine, rc)
            conn.execute(
                ins.on_conflict_do_update(
                    index_elements=[rc.c.subject, rc.c.minute, rc.c.node],
                    set_={"requests": ins.excluded.requests, "tokens": ins.excluded.tokens},
                ),
                [{**c._asdict(), "node": node} for c in mine],
            )
            # Own rows leave once no limit's window reaches them; others' (a node that
            # stopped) after _KEEP_MINUTES, so two nodes rarely delete the same rows.
            conn.execute(sa.delete(rc).where(rc.c.node == node, rc.c.minute < since - 1))
            conn.execute(sa.delete(rc).where(rc.c.minute < since - _KEEP_MINUTES))
        if add_usage:
            ins = _insert(engine, su)
            conn.execute(
                ins.on_conflict_do_update(
                    index_elements=[su.c.subject],
                    set_={"tokens_used": su.c.tokens_used + ins.excluded.tokens_used},
                ),
                # Sorted: two nodes adding to the same subjects lock rows in one order.
                [{"subject": s, "tokens_used": n} for s, n in sorted(add_usage.items())],
            )
    wanted = None if read_usage is None else set(read_usage)
    for s, n in (add_usage or {}).items():
        if wanted is None or s in wanted:
            used[s] = used.get(s, 0) + n
    return RateSync([RateCount(s, int(m), int(r), int(t)) for s, m, r, t in rows], used)
