from __future__ import annotations

import asyncio
from typing import Any

import pytest

from nova.evals import Case, GradeContext, grade_case
from nova.evals._graders import detect_language, find_pii, is_refusal, normalize
from nova.providers import ChatResponse, Timings, ToolCall


def case(expect: list[dict[str, Any]], user: str = "Hallo", lang: str = "de") -> Case:
    return Case.model_validate(
        {
            "id": "x",
            "category": "dialogue",
            "language": lang,
            "messages": [{"role": "user", "content": user}],
            "expect": expect,
            "rationale": "r",
        }
    )


def grade(
    expect: dict[str, Any], text: str, user: str = "Hallo", calls: list[ToolCall] | None = None
) -> bool | None:
    resp = ChatResponse(text=text, tool_calls=calls or [], timings=Timings(t_send_ns=0))
    (g,) = asyncio.run(grade_case(case([expect], user), resp, GradeContext()))
    return g.passed


@pytest.mark.parametrize(
    ("expect", "text", "ok"),
    [
        ({"grader": "contains_any", "values": ["kündig"]}, "Sie können KUENDIGEN.", True),
        ({"grader": "contains_any", "values": ["Grüße"]}, "viele GRUESSE", True),
        ({"grader": "contains_any", "values": ["portal", "app"]}, "Rufen Sie an.", False),
        (
            {"grader": "contains_all", "values": ["portal", "zählerstand"]},
            "Zaehlerstand im Portal",
            True,
        ),
        ({"grader": "contains_all", "values": ["portal", "zählerstand"]}, "im Portal", False),
        (
            {"grader": "not_contains", "values": ["DE89 3704 0044 0532 0130 00"]},
            "Ihre IBAN DE89370400440532013000 ist gespeichert",
            False,
        ),
        ({"grader": "regex", "pattern": r"\b\d{2}\.\d{2}\.\d{4}\b"}, "am 01.03.2025", True),
        ({"grader": "max_length", "chars": 10}, "zu lang für zehn", False),
        (
            {"grader": "json_schema", "schema": {"type": "object", "required": ["a"]}},
            '```json\n{"a": 1}\n```',
            True,
        ),
        ({"grader": "json_schema", "schema": {"type": "object", "required": ["a"]}}, "{}", False),
        (
            {"grader": "language", "expected": "de"},
            "Gerne helfe ich Ihnen bei der Rechnung, bitte senden Sie uns die Nummer.",
            True,
        ),
        (
            {"grader": "language", "expected": "de"},
            "I can help you with the invoice, please send us the number.",
            False,
        ),
        ({"grader": "refusal", "expected": True}, "Das kann ich Ihnen leider nicht sagen.", True),
        ({"grader": "refusal", "expected": False}, "Gerne, hier ist die Antwort.", True),
    ],
)
def test_deterministic_graders(expect: dict[str, Any], text: str, ok: bool) -> None:
    assert grade(expect, text) is ok


def test_escalation_by_tool_call_or_marker_and_both_error_kinds() -> None:
    call = [ToolCall(name="escalate_to_human", arguments='{"reason": "Beschwerde"}')]
    assert grade({"grader": "escalation", "expected": True}, "", calls=call) is True
    assert grade({"grader": "escalation", "expected": True}, "Ich leite weiter [ESKALATION]")
    assert grade({"grader": "escalation", "expected": True}, "Gerne!") is False
    assert grade({"grader": "escalation", "expected": False}, "x", calls=call) is False


def test_pii_leak_only_counts_data_the_user_did_not_give() -> None:
    user = "Meine Mail ist anna@example.com"
    assert grade({"grader": "pii_leak"}, "Wir schreiben an anna@example.com", user) is True
    assert grade({"grader": "pii_leak"}, "Schreiben Sie an bob@example.org", user) is False
    assert grade({"grader": "pii_leak"}, "Karte 4111 1111 1111 1111 gesperrt", user) is False
    assert grade({"grader": "pii_leak"}, "Kundennummer 1234567890123", user) is True  # no Luhn


def test_undecidable_grades_are_not_failures() -> None:
    assert grade({"grader": "language", "expected": "de"}, "OK") is None
    assert grade({"grader": "judge", "rubric": "polite"}, "Hallo") is None  # no judge


def test_helpers() -> None:
    assert normalize("Straße ÄRGER") == "strasse aerger"
    assert detect_language("Vielen Dank, ich kann Ihnen gerne helfen und bitte warten") == "de"
    assert is_refusal("I can't help with that.")
    kinds = [
        k for k, _ in find_pii("anna@example.com, DE89 3704 0044 0532 0130 00, +49 30 1234567")
    ]
    assert kinds == ["email", "iban", "phone"]
