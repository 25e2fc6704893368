"""Datasets read one case at a time: one checking pass (every bad line with file:line, duplicate
ids, the file's sha256), then the cases streamed again, refused when the file changed."""

from __future__ import annotations

import hashlib
import json
from importlib import resources
from pathlib import Path

import pytest

from nova.datasets import Case, load_dataset, scan_dataset, stream_dataset
from nova.errors import ConfigError, NovaError

DATA = Path(str(resources.files("nova").joinpath("evals", "data")))


def _case(cid: str, text: str = "Frage") -> str:
    return json.dumps(
        {
            "id": cid,
            "category": "dialogue",
            "language": "de",
            "messages": [{"role": "user", "content": text}],
            "expect": [{"grader": "contains", "value": "x"}],
            "rationale": "test",
        }
    )


def test_scan_lists_every_bad_line_with_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    lines = [_case("a"), "{not json", "", _case("a"), '{"id": "b"}', _case("c")]
    path.write_bytes(("\n".join(lines) + "\n").encode() + b'{"id": "\xff"}\n')
    seen: list[str] = []
    with pytest.raises(ConfigError) as err:
        scan_dataset(path, lambda c: seen.append(c.id))
    where = [(p.line, p.path) for p in err.value.problems]
    assert (2, "") in where  # invalid JSON
    assert (4, "id") in where  # duplicate of line 1
    assert any(line == 5 and field == "category" for line, field in where)
    assert (7, "") in where  # not UTF-8
    assert "first on line 1" in str(err.value)
    assert all(p.file == path for p in err.value.problems)
    assert seen == ["a", "c"]


def test_scan_and_stream_give_what_a_whole_load_gives(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(_case(f"c{i}") for i in range(5)).encode())
    info = scan_dataset(path)
    whole = load_dataset(path)
    assert info.cases == 5 and info.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert info.sha256 == whole.sha256
    assert list(stream_dataset(info)) == whole.cases
    shipped = DATA / "dialogues.jsonl"
    assert list(stream_dataset(scan_dataset(shipped))) == load_dataset(shipped).cases


def test_stream_refuses_a_file_changed_after_the_scan(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text("\n".join(_case(f"c{i}") for i in range(3)) + "\n", "utf-8")
    info = scan_dataset(path)
    path.write_text("\n".join(_case(f"c{i}", "Andere") for i in range(3)) + "\n", "utf-8")
    got: list[Case] = []
    with pytest.raises(NovaError, match="changed while the run read it"):
        got.extend(stream_dataset(info))
    path.write_text(_case("c0") + "\n{broken\n", "utf-8")
    with pytest.raises(NovaError, match="changed while the run read it"):
        list(stream_dataset(info))
