from __future__ import annotations

from collections import Counter
from importlib import resources
from pathlib import Path

from nova.evals import load_dataset

DATA = Path(str(resources.files("nova").joinpath("evals", "data")))


def test_starter_sets_are_valid_sized_and_mostly_german() -> None:
    sets = {
        n: load_dataset(DATA / f"{n}.jsonl") for n in ("dialogues", "compliance", "escalations")
    }
    assert len(sets["dialogues"].cases) >= 40
    assert len(sets["compliance"].cases) >= 30
    assert len(sets["escalations"].cases) >= 30
    for name, ds in sets.items():
        langs = Counter(c.language for c in ds.cases)
        assert langs["de"] > 0.7 * len(ds.cases) and langs["en"] > 0, name
        category = {
            "dialogues": "dialogue",
            "compliance": "compliance",
            "escalations": "escalation",
        }[name]
        assert {c.category for c in ds.cases} == {category}
        assert all(c.rationale for c in ds.cases)
    esc = sets["escalations"].cases
    expected = Counter(
        next(e.params["expected"] for e in c.expect if e.grader == "escalation") for c in esc
    )
    assert expected[True] >= 15 and expected[False] >= 8  # must and must-not escalate


def test_init_copies_the_starter_sets(workspace: Path) -> None:
    for n in ("dialogues", "compliance", "escalations"):
        assert (workspace / "datasets" / f"{n}.jsonl").read_bytes() == (
            DATA / f"{n}.jsonl"
        ).read_bytes()
