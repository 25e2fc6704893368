"""Change one candidate's ``provider.base_url`` in nova.yaml by exact byte spans.

nova.yaml belongs to the team: comments, key order, quoting, blank lines and line endings stay
byte for byte; only the bytes of the one scalar change (or one line is inserted when the key is
missing). When the value is an environment reference ``${VAR:-default}``, only the default is
replaced, so the variable still wins when it is set.

>>> text = b"candidates:\\n  - id: a  # mine\\n    provider:\\n      base_url: http://old/v1\\n"
>>> set_base_url(text, "a", "https://new.example/v1").decode()
'candidates:\\n  - id: a  # mine\\n    provider:\\n      base_url: https://new.example/v1\\n'
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from nova._io import atomic_write_bytes
from nova.errors import ConfigError, Problem

__all__ = ["set_base_url", "update_base_url"]

_REF = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}$")
# Safe as a plain block scalar: no spaces, no leading indicator other than "$".
_PLAIN = re.compile(r"^[A-Za-z0-9$][A-Za-z0-9:/._\-${}]*$")


def _child(node: yaml.Node, key: str) -> tuple[yaml.Node, yaml.Node] | None:
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.value == key:
                return k, v
    return None


def _scalar(value: str) -> str:
    return value if _PLAIN.match(value) else json.dumps(value)


def set_base_url(data: bytes, candidate_id: str, url: str, file: Path | None = None) -> bytes:
    """``data`` with the candidate's ``provider.base_url`` set to ``url``; all else unchanged."""
    text = data.decode("utf-8")

    def at(index: int) -> int:  # PyYAML marks count characters; we splice bytes
        return len(text[:index].encode("utf-8"))

    def fail(msg: str) -> ConfigError:
        return ConfigError([Problem(file, None, "candidates", msg)], msg)

    root = yaml.compose(text, Loader=yaml.SafeLoader)
    cands = _child(root, "candidates") if root is not None else None
    if cands is None or not isinstance(cands[1], yaml.SequenceNode):
        raise fail("nova.yaml has no candidates list")
    for item in cands[1].value:
        ident = _child(item, "id")
        if ident is None or ident[1].value != candidate_id:
            continue
        provider = _child(item, "provider")
        if provider is None or not isinstance(provider[1], yaml.MappingNode):
            raise fail(f"candidate {candidate_id} has no provider block: add provider: first")
        if provider[1].flow_style:
            raise fail(f"candidate {candidate_id}: provider is a flow mapping; write it as a block")
        found = _child(provider[1], "base_url")
        if found is None:
            first_key = provider[1].value[0][0]
            line_start = text.rfind("\n", 0, first_key.start_mark.index) + 1
            indent = text[line_start : first_key.start_mark.index]
            insert = f"{indent}base_url: {_scalar(url)}{_newline(text)}".encode()
            pos = at(line_start)
            return data[:pos] + insert + data[pos:]
        value = found[1]
        if not isinstance(value, yaml.ScalarNode):
            raise fail(f"candidate {candidate_id}: provider.base_url is not a scalar")
        m = _REF.match(value.value)
        new = f"${{{m.group(1)}:-{url}}}" if m else url
        if value.style in ('"', "'") or not _PLAIN.match(new):
            new = json.dumps(new)
        start, end = at(value.start_mark.index), at(value.end_mark.index)
        return data[:start] + new.encode("utf-8") + data[end:]
    raise fail(f"no candidate {candidate_id!r} in nova.yaml")


def _newline(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


def update_base_url(config_file: Path, candidate_id: str, url: str) -> None:
    """Write ``url`` into nova.yaml atomically (see ``set_base_url``)."""
    data = config_file.read_bytes()
    atomic_write_bytes(config_file, set_base_url(data, candidate_id, url, config_file))
