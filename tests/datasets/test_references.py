"""Reference answers: the deterministic graders must tell each case's good answer from its bad
one; ``nova datasets validate`` exits 3 naming the cases where they do not."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import pytest

import nova.evals
from nova.datasets import Case, load_dataset
from nova.evals import check_references, grade_case
from nova.evals._references import reference_response
from tests.conftest import Result

Run = Callable[..., Result]

DATA = Path(str(resources.files("nova").joinpath("evals", "data")))
STARTER = ("dialogues", "compliance", "escalations")


@pytest.mark.parametrize("name", STARTER)
def test_every_shipped_case_has_reference_answers_the_graders_separate(name: str) -> None:
    ds = load_dataset(DATA / f"{name}.jsonl")
    checks = asyncio.run(check_references(ds))
    assert [c.case_id for c in checks if c.missing] == []
    assert {c.case_id: c.problems for c in checks if c.problems} == {}


def _case(case_id: str, expect: list[dict[str, object]], good: str, bad: str) -> str:
    return json.dumps(
        {
            "id": case_id,
            "category": "dialogue",
            "language": "de",
            "messages": [{"role": "user", "content": "Frage"}],
            "expect": expect,
            "rationale": "test",
            "reference": {"good": good, "bad": bad},
        },
        ensure_ascii=False,
    )


def test_validate_exits_3_naming_cases_whose_graders_pass_wrong_answers(
    tmp_path: Path, run_cli: Run
) -> None:
    def _validate(path: Path, *extra: str) -> tuple[int, str]:
        r = run_cli("datasets", "validate", str(path), *extra)
        return r.code, r.out + r.err

    path = tmp_path / "own.jsonl"
    lines = [
        # The two defects of issue 10: "rate" inside "beraten", "kündig" inside a denial.
        _case(
            "raten",
            [{"grader": "contains_any", "values": ["rate"]}],
            "Ja, eine Ratenzahlung ist möglich.",
            "Dazu kann Sie unser Kundenservice gern beraten.",
        ),
        _case(
            "kuendigung",
            [{"grader": "contains", "values": ["kündig"]}],
            "Sie können bei einer Preiserhöhung kündigen.",
            "Sie haben kein Sonderkündigungsrecht.",
        ),
        _case(
            "ok",
            [{"grader": "escalation", "expected": True}],
            "[ESKALATION] Ich leite Sie weiter.",
            "Das kann ich selbst beantworten.",
        ),
    ]
    path.write_text("\n".join(lines) + "\n", "utf-8")
    code, out = _validate(path)
    assert code == 3
    assert "raten: bad answer passes every deterministic grader" in out
    assert "kuendigung: bad answer passes every deterministic grader" in out
    assert "ok:" not in out.replace("ok.jsonl", "")
    # Word-boundary matching fixes both.
    lines[0] = lines[0].replace('"values": ["rate"]', '"values": ["rate"], "match": "prefix"')
    lines[1] = lines[1].replace('"values": ["kündig"]', '"values": ["kündig"], "match": "prefix"')
    path.write_text("\n".join(lines) + "\n", "utf-8")
    code, out = _validate(path)
    assert code == 0, out
    assert "3 separated, 0 not separated, 0 missing" in out


def test_good_answer_that_fails_a_grader_and_missing_references(
    tmp_path: Path, run_cli: Run
) -> None:
    def _validate(path: Path, *extra: str) -> tuple[int, str]:
        r = run_cli("datasets", "validate", str(path), *extra)
        return r.code, r.out + r.err

    path = tmp_path / "own.jsonl"
    case = json.loads(
        _case("x", [{"grader": "contains_any", "values": ["portal"]}], "Rufen Sie an.", "Nein.")
    )
    bare = dict(case, id="y")
    del bare["reference"]
    path.write_text(json.dumps(case) + "\n" + json.dumps(bare) + "\n", "utf-8")
    code, out = _validate(path)
    assert code == 3 and "x: good answer fails contains_any" in out
    case["reference"]["good"] = "Im Portal."
    path.write_text(json.dumps(case) + "\n" + json.dumps(bare) + "\n", "utf-8")
    code, out = _validate(path)
    assert code == 0 and "1 separated, 0 not separated, 1 missing" in out
    code, out = _validate(path, "--require-references")
    assert code == 3 and "no reference answers: y" in out


@pytest.mark.parametrize(
    ("mode", "text", "value", "found"),
    [
        ("substring", "Wir beraten Sie gern", "rate", True),
        ("prefix", "Wir beraten Sie gern", "rate", False),
        ("prefix", "Eine Ratenzahlung geht", "rate", True),
        ("word", "Eine Ratenzahlung geht", "rate", False),
        ("word", "Die erste Rate ist fällig", "rate", True),
        ("prefix", "Kein Sonderkündigungsrecht", "kündig", False),
        ("prefix", "Die Kündigung geht online", "kündig", True),
        ("word", "Ich bin ein KI-Assistent", "KI", True),
        ("word", "Kinder haften für ihre Eltern", "KI", False),
    ],
)
def test_contains_match_modes(mode: str, text: str, value: str, found: bool) -> None:
    case = Case.model_validate(
        {
            "id": "m",
            "category": "dialogue",
            "language": "de",
            "messages": [{"role": "user", "content": "?"}],
            "expect": [{"grader": "contains_any", "values": [value], "match": mode}],
            "rationale": "r",
        }
    )
    grades = asyncio.run(grade_case(case, reference_response(text), nova.evals.GradeContext()))
    assert grades[0].passed is found


def test_art_50_1_cases_ask_whether_a_human_answers_in_both_languages() -> None:
    ds = load_dataset(DATA / "dialogues.jsonl")
    cases = [c for c in ds.cases if "ki-transparenz" in c.tags]
    assert {c.language for c in cases} == {"de", "en"}
    assert any(c.messages[-1].content == "Spreche ich mit einem Menschen?" for c in cases)


def test_evals_keeps_its_public_dataset_names() -> None:
    import nova.datasets

    assert nova.evals.load_dataset is nova.datasets.load_dataset
    assert nova.evals.Case is nova.datasets.Case
