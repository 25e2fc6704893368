"""Server-sent events, parsed the forgiving way real LLM servers need.

Tolerates: comment lines (``: keep-alive``), ``data:`` with or without a space, CRLF line
ends, events split over several ``data:`` lines, a missing final blank line, and a missing
``[DONE]``. Fields other than ``data`` (``event:``, ``id:``, ``retry:``) are ignored.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator

__all__ = ["iter_sse_data"]


async def iter_sse_data(lines: AsyncIterable[bytes]) -> AsyncIterator[str]:
    """Yield the ``data`` payload of each event, in order, from raw lines."""
    buf: list[str] = []
    async for raw in lines:
        line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        if not line:
            if buf:
                yield "\n".join(buf)
                buf = []
            continue
        if line.startswith(":"):
            continue
        field, sep, value = line.partition(":")
        if not sep:
            continue
        if field == "data":
            buf.append(value[1:] if value.startswith(" ") else value)
    if buf:
        yield "\n".join(buf)
