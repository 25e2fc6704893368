"""The examples in the safety package's docstrings run and hold."""

from __future__ import annotations

import doctest
import importlib

import pytest


@pytest.mark.parametrize(
    "module",
    [
        "_rails_pii",
        "_rails_topics",
        "_rails_output",
        "_rails_moderation",
        "_rails_base",
        "_rails_injection",
    ],
)
def test_docstring_examples(module: str) -> None:
    result = doctest.testmod(importlib.import_module(f"nova.safety.{module}"))
    assert result.failed == 0 and result.attempted > 0
