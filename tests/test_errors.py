"""The documented error tree, and no bare RuntimeError/KeyError raised anywhere in src/."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

import nova.errors
import nova.providers
from nova.config import NovaConfig
from nova.errors import EXIT_USAGE, NovaError, ProviderError, UnknownCandidateError

SRC = Path(nova.errors.__file__).parent


def _error_classes(module: object) -> list[type[BaseException]]:
    return [
        obj
        for name in getattr(module, "__all__", [])
        if inspect.isclass(obj := getattr(module, name)) and issubclass(obj, BaseException)
    ]


def test_the_tree_in_the_docstring_names_every_error_class() -> None:
    doc = nova.errors.__doc__ or ""
    classes = _error_classes(nova.errors) + _error_classes(nova.providers)
    assert ProviderError in classes and nova.providers.RateLimitError in classes
    missing = sorted({c.__name__ for c in classes} - set(doc.replace("─", " ").split()))
    assert missing == []
    assert all(issubclass(c, NovaError) for c in classes)


def test_provider_error_joins_the_tree_and_providers_keep_their_names() -> None:
    assert nova.providers.ProviderError is ProviderError
    err = nova.providers.TimeoutError_("c1", "no first token after 10 s", phase="first_token")
    assert isinstance(err, ProviderError) and isinstance(err, NovaError)
    assert str(err) == "candidate c1: no first token after 10 s" and err.retryable


def test_unknown_candidate_is_a_nova_error_that_names_the_known_ids() -> None:
    cfg = NovaConfig.model_validate(
        {
            "name": "t",
            "candidates": [{"id": "a", "model": "mock/a"}, {"id": "b", "model": "mock/b"}],
        }
    )
    with pytest.raises(UnknownCandidateError) as info:
        cfg.candidate("c")
    err = info.value
    assert isinstance(err, KeyError)  # code that looks ids up keeps working
    assert err.exit_code == EXIT_USAGE
    assert str(err) == (
        "no candidate 'c' in nova.yaml (known: a, b): check the id, or add the candidate under "
        "`candidates:`"
    )


def test_no_bare_runtime_or_key_error_is_raised_in_src() -> None:
    allowed: set[tuple[str, str]] = set()
    found = set()
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Raise) and node.exc is not None:
                exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
                name = exc.id if isinstance(exc, ast.Name) else None
                if name in ("RuntimeError", "KeyError"):
                    found.add((path.relative_to(SRC).as_posix(), name))
    assert found - allowed == set()
