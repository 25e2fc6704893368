"""Content-addressed response cache: the same request to the same model gives the stored answer.

Key: sha256 over provider, model, endpoint and every request field that decides the answer
(messages, sampling parameters, seed, tools, response format). One JSON file per entry under
``.nova/cache/responses/<2 hex>/<64 hex>.json``, written atomically, so concurrent runs and
shards on a shared folder never see half an entry. Secrets are masked before writing.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from pydantic import ValidationError

from nova._io import atomic_write_text
from nova._secrets import redact
from nova.config import Candidate
from nova.providers._types import ChatRequest, ChatResponse

__all__ = ["ResponseCache", "cache_key"]


def cache_key(candidate: Candidate, request: ChatRequest) -> str:
    """Hex sha256 of what decides the answer (never the API key)."""
    data = {
        "model": candidate.model,
        "endpoint": candidate.provider.base_url or "",
        "deployment": candidate.provider.deployment or "",
        "request": request.cache_key_data(),
    }
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class ResponseCache:
    """File-per-entry cache in ``root``; counts hits and misses."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.hits = 0
        self.misses = 0

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> ChatResponse | None:
        """The stored response, marked ``cached``; None when absent or unreadable."""
        try:
            text = self._path(key).read_text(encoding="utf-8")
            resp = ChatResponse.model_validate_json(text)
        except (OSError, ValidationError, ValueError):
            self.misses += 1
            return None
        self.hits += 1
        return resp.model_copy(update={"cached": True})

    def put(self, key: str, response: ChatResponse) -> None:
        """Store a successful response."""
        data = redact(response.model_dump(mode="json"))
        atomic_write_text(self._path(key), json.dumps(data, ensure_ascii=False))
