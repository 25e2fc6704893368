"""The one Jinja setup of nova's generated files (documents, deployment files, the chart)."""

from __future__ import annotations

from importlib import resources
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import jinja2

__all__ = ["template_environment"]


def template_environment(*folder: str, strip_j2: bool = False) -> jinja2.Environment:
    """A strict environment (undefined names fail, no autoescape, trailing newline kept,
    block tags trimmed) over the ``.j2`` files of ``nova/templates/<folder...>``, named by file
    name (without ``.j2`` when ``strip_j2``)."""
    import jinja2

    path = resources.files("nova").joinpath("templates", *folder)
    sources = {
        (t.name.removesuffix(".j2") if strip_j2 else t.name): t.read_text(encoding="utf-8")
        for t in path.iterdir()
        if t.name.endswith(".j2")
    }
    return jinja2.Environment(
        loader=jinja2.DictLoader(sources),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
