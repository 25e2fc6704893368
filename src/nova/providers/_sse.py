"""Server-sent events, parsed the forgiving way real LLM servers need.

Tolerates: comment lines (``: keep-alive``), ``data:`` with or without a space, CRLF line
ends, events split over several ``data:`` lines or over several network reads, a missing
final blank line, and a missing ``[DONE]``. Fields other than ``data`` (``event:``, ``id:``,
``retry:``) are ignored.

Input is any async iterable of byte chunks (network reads of any size, or lines): reading
whole chunks instead of line by line cut the client's CPU per streamed request by about half
(benchmarks/bench_evals.py). Events that arrive in the same read share one arrival time,
which is the truth: they did arrive together.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator

__all__ = ["iter_sse_data"]


async def iter_sse_data(chunks: AsyncIterable[bytes]) -> AsyncIterator[str]:
    """Yield the ``data`` payload of each event, in order."""
    tail = b""
    data: list[bytes] = []
    async for chunk in chunks:
        if not chunk:
            continue
        lines = (tail + chunk).split(b"\n")
        tail = lines.pop()  # incomplete last line (b"" when the chunk ended with \n)
        for raw in lines:
            line = raw[:-1] if raw.endswith(b"\r") else raw
            if not line:
                if data:
                    yield b"\n".join(data).decode("utf-8", errors="replace")
                    data = []
            elif line.startswith(b"data:"):
                value = line[5:]
                data.append(value[1:] if value.startswith(b" ") else value)
            # comments (":…") and other fields are ignored
    line = tail[:-1] if tail.endswith(b"\r") else tail
    if line.startswith(b"data:"):
        value = line[5:]
        data.append(value[1:] if value.startswith(b" ") else value)
    if data:
        yield b"\n".join(data).decode("utf-8", errors="replace")
