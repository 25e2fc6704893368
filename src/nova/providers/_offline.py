"""Whether a llamacpp candidate's real weights are available, or ``offline_fallback: tiny``
will serve nova's tiny model instead. Apart from the llamacpp adapter so that ``nova
benchmarks`` can warn up front without importing the adapter (and aiohttp)."""

from __future__ import annotations

import importlib
import os
import socket

from nova.config import Candidate

__all__ = ["offline_fallback_reason"]


def offline_fallback_reason(candidate: Candidate) -> str | None:
    """Why a candidate with ``offline_fallback: tiny`` will serve the tiny model instead of
    its ``hf_repo`` file, or None when the real model is available (cached or downloadable).

    Checks the Hugging Face cache first, then whether huggingface.co is reachable (3 s);
    ``HF_HUB_OFFLINE=1`` counts as offline.
    """
    s = candidate.provider
    if candidate.provider_kind != "llamacpp" or s.options.get("offline_fallback") != "tiny":
        return None
    if s.model_path or not s.hf_repo:
        return None
    repo, _, filename = s.hf_repo.partition(":")
    try:
        hub = importlib.import_module("huggingface_hub")
        cached = hub.try_to_load_from_cache(repo_id=repo, filename=filename)
        if isinstance(cached, str):
            return None
    except ModuleNotFoundError:
        return "huggingface_hub is not installed"
    except Exception:  # a broken cache entry: treat as not cached
        pass
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        return "HF_HUB_OFFLINE is set"
    try:
        with socket.create_connection(("huggingface.co", 443), timeout=3):
            return None
    except OSError as exc:
        return f"the Hugging Face Hub is unreachable ({exc.strerror or exc})"
