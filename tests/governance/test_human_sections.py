"""Regenerating documents never destroys what a person wrote; the DSFA check sees every
placeholder kind; documents state a control only when the workspace really has it."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import pytest

from nova.config import Workspace, init_workspace, load_config
from nova.decision import dsfa_done
from nova.decision._collect import DSFA_PLACEHOLDERS
from nova.governance import (
    human_regions,
    open_placeholders,
    render_governance_docs,
    update_governance_docs,
    workspace_controls,
)
from nova.store import open_store
from tests.conftest import Result
from tests.governance.test_docs import NOW, Setup, setup  # noqa: F401 - fixture

Lang = Literal["de", "en"]
_REGION = re.compile(r"(<!-- nova:human ([A-Za-z0-9_.:\-]+) -->)(.*?)(<!-- /nova:human -->)", re.S)


def _fill(text: str, typed: dict[str, str]) -> str:
    """Replace every human section's placeholder with text a person typed (multi-line)."""

    def sub(m: re.Match[str]) -> str:
        answer = f"Antwort zu {m.group(2)}:\r\n  Zeile 2 mit | Pipe, „Umlaute“ äöü ß\n"
        typed[m.group(2)] = answer
        return m.group(1) + answer + m.group(4)

    return _REGION.sub(sub, text)


def _regenerate(setup: Setup, lang: Lang, **options: Any) -> dict[str, str]:  # noqa: F811
    """``update_governance_docs`` at NOW; each document's text by name."""
    results = update_governance_docs(
        setup.root, setup.config, setup.catalog, setup.evidence, language=lang, now=NOW, **options
    )
    return {r.path.stem: r.path.read_bytes().decode("utf-8") for r in results}


@pytest.mark.parametrize("lang", ["de", "en"])
def test_filling_every_placeholder_then_regenerating_loses_nothing_typed(
    setup: Setup,  # noqa: F811
    lang: Lang,
) -> None:
    paths = render_governance_docs(
        setup.root, setup.config, setup.catalog, setup.evidence, language=lang, now=NOW
    )
    typed: dict[str, dict[str, str]] = {}
    for p in paths:
        text = p.read_bytes().decode("utf-8")
        assert open_placeholders(text) or p.stem not in ("dsfa", "license_review", "qa_plan")
        typed[p.name] = {}
        p.write_bytes(_fill(text, typed[p.name]).encode("utf-8"))
        # Nothing left to fill: every placeholder sat in a human section.
        assert open_placeholders(p.read_bytes().decode("utf-8")) == [], p.name
    assert sum(len(v) for v in typed.values()) > 40
    # New evidence and a later date change the generated parts.
    later = NOW + dt.timedelta(days=3)
    results = update_governance_docs(
        setup.root, setup.config, setup.catalog, setup.evidence, language=lang, now=later
    )
    for r in results:
        assert r.update.conflict is None, r.update.conflict
        text = r.path.read_bytes().decode("utf-8")
        regions = human_regions(text)
        for rid, answer in typed[r.path.name].items():
            assert regions[rid] == answer, (r.path.name, rid)
            assert answer in text
        assert sorted(r.update.kept) == sorted(typed[r.path.name])
        # The diff shows the generated parts that changed, never a typed answer.
        assert any("2026-12-04T09:00:00Z" in line for line in r.update.diff if line[0] == "+")
        assert not any("Antwort zu" in line for line in r.update.diff)
    assert dsfa_done(setup.root)


def test_an_edit_outside_the_human_sections_is_a_conflict_and_the_file_stays(
    setup: Setup,  # noqa: F811
) -> None:
    render_governance_docs(setup.root, setup.config, setup.catalog, setup.evidence, now=NOW)
    path = setup.root / "docs" / "governance" / "exit_strategy.md"
    edited = path.read_bytes().decode("utf-8").replace("## ", "## Mein Titel — ", 1)
    path.write_bytes(edited.encode("utf-8"))
    results = update_governance_docs(
        setup.root, setup.config, setup.catalog, setup.evidence, now=NOW + dt.timedelta(days=1)
    )
    exit_doc = next(r for r in results if r.path == path)
    assert exit_doc.update.conflict is not None and "edited" in exit_doc.update.conflict
    assert not exit_doc.written and path.read_bytes().decode("utf-8") == edited
    # --force keeps a backup of the old file before it overwrites it.
    forced = update_governance_docs(
        setup.root, setup.config, setup.catalog, setup.evidence, now=NOW, force=True
    )
    exit_doc = next(r for r in forced if r.path == path)
    assert exit_doc.written and exit_doc.backup is not None
    assert exit_doc.backup.read_bytes().decode("utf-8") == edited
    assert "Mein Titel" not in path.read_bytes().decode("utf-8")


def test_a_file_without_the_seal_is_never_overwritten(
    setup: Setup,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    path = setup.root / "docs" / "governance" / "dsfa.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("# DSFA\n\nVon Hand geschrieben vom DSB.\n", encoding="utf-8")
    written = render_governance_docs(
        setup.root, setup.config, setup.catalog, setup.evidence, now=NOW
    )
    assert path not in written
    assert "dsfa.md: has no nova seal line" in caplog.text
    assert path.read_bytes().decode("utf-8") == "# DSFA\n\nVon Hand geschrieben vom DSB.\n"


def test_a_section_the_template_drops_is_kept_in_an_appendix(setup: Setup) -> None:  # noqa: F811
    render_governance_docs(setup.root, setup.config, setup.catalog, setup.evidence, now=NOW)
    path = setup.root / "docs" / "governance" / "license_review.md"
    text = path.read_bytes().decode("utf-8")
    rid = "legal.llama31-70b-bedrock.assessment"
    assert rid in human_regions(text)
    typed: dict[str, str] = {}
    path.write_bytes(_fill(text, typed).encode("utf-8"))
    fewer = setup.config.model_copy(
        update={"candidates": [c for c in setup.config.candidates if c.id != "llama31-70b-bedrock"]}
    )
    render_governance_docs(setup.root, fewer, setup.catalog, setup.evidence, now=NOW)
    after = path.read_bytes().decode("utf-8")
    assert human_regions(after)[rid] == typed[rid]
    assert "## Menschliche Abschnitte, die die Vorlage nicht mehr schreibt" in after


@pytest.mark.parametrize("lang", ["de", "en"])
def test_dsfa_check_covers_every_placeholder_kind_it_writes(
    setup: Setup,  # noqa: F811
    lang: Lang,
) -> None:
    render_governance_docs(
        setup.root, setup.config, setup.catalog, setup.evidence, language=lang, now=NOW
    )
    path = setup.root / "docs" / "governance" / "dsfa.md"
    text = path.read_bytes().decode("utf-8")
    kinds = set(open_placeholders(text))
    assert len(kinds) >= 4, kinds  # DPO, DPO assessment, controller, Security
    assert kinds <= set(DSFA_PLACEHOLDERS), kinds - set(DSFA_PLACEHOLDERS)
    regions = list(_REGION.finditer(text))
    for keep in {m.group(3): m for m in regions}.values():
        # Fill every section except one of each kind: the DSFA is still not done.
        out = _REGION.sub(
            lambda m, k=keep: (
                m.group(0)
                if m is k or m.start() == k.start()
                else m.group(1) + "erledigt" + m.group(4)
            ),
            text,
        )
        path.write_text(out, encoding="utf-8")
        assert not dsfa_done(setup.root), keep.group(3)


@pytest.mark.parametrize(
    ("lang", "sections"),
    [
        (
            "de",
            [
                "### Verletzliche Kundinnen und Kunden (R8)",
                "### Bias (R9)",
                "### Beschäftigte, die Eskalationen übernehmen (R10)",
                "### Betroffenenrechte an Gesprächsprotokollen",
                "### Standpunkt der betroffenen Personen (Art. 35 Abs. 9 DSGVO)",
                "## (d) Abhilfemaßnahmen, technisch und organisatorisch (Art. 25, 32 DSGVO)",
                "### Wo das Judge-Modell Kundendaten sieht (R11)",
            ],
        ),
        (
            "en",
            [
                "### Vulnerable customers (R8)",
                "### Bias (R9)",
                "### Staff who handle escalations (R10)",
                "### Data-subject rights over chat logs",
                "### Views of data subjects (Art. 35(9) GDPR)",
                "## (d) Measures, technical and organisational (Art. 25, 32 GDPR)",
                "### Where the judge model sees customer data (R11)",
            ],
        ),
    ],
)
def test_dsfa_has_the_sections_a_data_protection_officer_expects(
    setup: Setup,  # noqa: F811
    lang: Lang,
    sections: list[str],
) -> None:
    paths = render_governance_docs(
        setup.root, setup.config, setup.catalog, setup.evidence, language=lang, now=NOW
    )
    dsfa = next(p for p in paths if p.stem == "dsfa").read_bytes().decode("utf-8")
    for s in sections:
        assert s in dsfa, s
    # The starter escalation set holds crisis and hardship cases; the DSFA counts them.
    m = re.search(r"(\d+) (?:case\(s\)|Fall/Fälle)", dsfa)
    assert m is not None and int(m.group(1)) >= 3
    assert "`judge-gpt4o`" in dsfa


def _activate_everything(root: Path) -> str:
    """Evidence of every control in a real store and workspace; return the red-team run id."""
    ws = Workspace(root)
    cfg = load_config(root / "nova.yaml", env={}).config
    with open_store(ws, cfg) as store:
        run = store.start_run("redteam")
        store.finish_run(run.id, "completed")
        store.audit("gateway", "gateway.request", "llama31-70b-vllm", {"status": 200})
        store.audit("platform", "alerts.activate", "llama31-70b-vllm", {})
    chart = root / "deploy" / "models" / "llama31-70b-vllm" / "Chart.yaml"
    chart.parent.mkdir(parents=True)
    chart.write_text("apiVersion: v2\nname: llama\n", encoding="utf-8")
    return run.id


@pytest.mark.parametrize("lang", ["de", "en"])
def test_documents_state_controls_from_the_real_workspace_state(
    setup: Setup,  # noqa: F811
    lang: Lang,
) -> None:
    def docs() -> dict[str, str]:
        return _regenerate(setup, lang, force=True)

    rails_file = setup.root / "guardrails" / "rails.yaml"
    rails_yaml = rails_file.read_bytes()
    rails_file.unlink()  # no rails configured: every control is off
    before = docs()
    ctl = workspace_controls(setup.root)
    assert [c.active for c in ctl.all()] == [False] * 5
    not_active = "nicht aktiv" if lang == "de" else "not active"
    redacted = {
        "de": "Schwärzung personenbezogener Daten: bevor der Text das Modell erreicht",
        "en": "PII redaction: before the text reaches the model",
    }[lang]
    assert redacted not in before["dsfa"]
    assert not_active in before["dsfa"]
    fallback_claim = {
        "de": "Das Fallback-Routing des Gateways",
        "en": "the gateway's fallback routing",
    }[lang]
    assert fallback_claim not in before["exit_strategy"]
    assert not_active in before["exit_strategy"] or "nicht aktiv" in before["exit_strategy"]

    run_id = _activate_everything(setup.root)
    rails_file.write_bytes(rails_yaml)
    with open_store(Workspace(setup.root)) as store:
        ctl = workspace_controls(setup.root, store)
    assert [c.name for c in ctl.all() if c.active] == [
        "rails",
        "redteam",
        "gateway",
        "monitoring",
        "deployment",
    ]
    assert ctl.redteam.evidence == f"run {run_id}"
    assert ctl.monitoring.subjects == ["llama31-70b-vllm"]
    assert ctl.deployment.evidence == "deploy/models/llama31-70b-vllm/Chart.yaml"
    assert ctl.rails.evidence == "guardrails/rails.yaml"
    after = docs()
    assert f"run {run_id}" in after["qa_plan"]
    assert ctl.gateway.evidence is not None and ctl.gateway.evidence in after["exit_strategy"]
    assert ctl.monitoring.evidence is not None and ctl.monitoring.evidence in after["dsfa"]
    assert redacted in after["dsfa"]  # the rails redact PII now, and the DSFA says so


def test_docs_cli_prints_the_diff_of_the_generated_parts(
    tmp_path: Path, run_cli: Callable[..., Result]
) -> None:
    root = tmp_path / "ws"
    init_workspace(root)
    first = run_cli("--workspace", str(root), "docs", "--language", "en")
    assert first.code == 0, first.err
    assert "dsfa.md: new" in first.out
    dsfa = root / "docs" / "governance" / "dsfa.md"
    typed: dict[str, str] = {}
    dsfa.write_bytes(_fill(dsfa.read_bytes().decode("utf-8"), typed).encode("utf-8"))
    with open_store(Workspace(root)) as store:  # monitoring becomes active
        store.audit("platform", "alerts.activate", "llama31-70b-vllm", {})
    again = run_cli("--workspace", str(root), "docs", "--language", "en", "--diff")
    assert again.code == 0, again.err
    assert f"dsfa.md: {len(typed)} human section(s) kept" in again.out
    assert "+++ b/dsfa.md" in again.out and "+++ b/exit_strategy.md" in again.out
    assert not any(answer.splitlines()[0] in again.out for answer in typed.values())
    # An edited generated part: exit 1, the file is left alone.
    text = dsfa.read_bytes().decode("utf-8")
    dsfa.write_text(text.replace("# ", "# Edited ", 1), encoding="utf-8")
    third = run_cli("--workspace", str(root), "docs", "--language", "en")
    assert third.code == 1
    message = third.err
    assert "dsfa.md: text outside the human sections was edited" in message
    assert "--force" in message
    assert dsfa.read_bytes().decode("utf-8").startswith("# Edited ")


@pytest.mark.parametrize("lang", ["de", "en"])
def test_workspace_files_do_not_claim_controls_nova_lacks(tmp_path: Path, lang: Lang) -> None:
    root = tmp_path / "ws"
    init_workspace(root, language=lang)
    rails = (root / "guardrails" / "rails.yaml").read_text("utf-8")
    # The file says nova's safety package reads it: true, it loads with the real rails.
    from nova.safety import load_rails

    assert "Read by nova's safety package" in rails
    assert load_rails(root).names
    assert "nova controls" in rails
    guidelines = (root / "guardrails" / "prompt_guidelines.md").read_text("utf-8")
    assert "rails.yaml` limits" not in guidelines and "rails.yaml` begrenzt" not in guidelines
    redteam = (root / "redteam" / "README.md").read_text("utf-8")
    # "nova ships a starter library": true only because `nova init` copied it here.
    assert "nova ships a starter library" in redteam
    assert sorted((root / "redteam").glob("*.jsonl"))


@pytest.mark.parametrize("lang", ["de", "en"])
def test_rails_are_active_only_when_nova_safety_loads_them(
    setup: Setup,  # noqa: F811
    lang: Lang,
) -> None:
    redacted = {
        "de": "Schwärzung personenbezogener Daten: bevor der Text das Modell erreicht",
        "en": "PII redaction: before the text reaches the model",
    }[lang]
    rails_file = setup.root / "guardrails" / "rails.yaml"
    good = rails_file.read_text("utf-8")
    rails_file.write_text(good + "magic_rail: {on: true}\n", "utf-8")
    ctl = workspace_controls(setup.root)
    assert not ctl.rails.active and "magic_rail" in ctl.rails.detail

    rails_file.write_text(good, "utf-8")
    ctl = workspace_controls(setup.root)
    assert ctl.rails.active and ctl.rails.evidence == "guardrails/rails.yaml"

    def dsfa() -> str:
        with open_store(Workspace(setup.root)) as store:
            controls = workspace_controls(setup.root, store)
        return _regenerate(setup, lang, controls=controls)["dsfa"]

    # Configured rails act on live conversations only through the gateway: until it served a
    # request, the DSFA must not tell the DPO that personal data is redacted.
    assert redacted not in dsfa()
    with open_store(Workspace(setup.root)) as store:
        store.audit("gateway", "gateway.request", "llama31-70b-vllm", {"status": 200})
    assert redacted in dsfa()
    rails_file.unlink()
    assert not workspace_controls(setup.root).rails.active


def test_unfilled_placeholders_follow_the_document_language(setup: Setup) -> None:  # noqa: F811
    render_governance_docs(
        setup.root, setup.config, setup.catalog, setup.evidence, language="de", now=NOW
    )
    path = setup.root / "docs" / "governance" / "dsfa.md"
    text = path.read_bytes().decode("utf-8")
    answer = "Stadtwerke Beispiel GmbH, Musterstraße 1"
    text = text.replace(
        "<!-- nova:human dsfa.controller -->[vom DSB auszufüllen]",
        f"<!-- nova:human dsfa.controller -->{answer}",
    )
    path.write_bytes(text.encode("utf-8"))
    render_governance_docs(
        setup.root, setup.config, setup.catalog, setup.evidence, language="en", now=NOW
    )
    after = path.read_bytes().decode("utf-8")
    assert human_regions(after)["dsfa.controller"] == answer
    assert "[vom DSB auszufüllen]" not in after and "[to be completed by the DPO]" in after


def test_a_checkout_with_crlf_line_ends_is_not_taken_for_an_edit(
    setup: Setup,  # noqa: F811
) -> None:
    render_governance_docs(setup.root, setup.config, setup.catalog, setup.evidence, now=NOW)
    path = setup.root / "docs" / "governance" / "dsfa.md"
    typed: dict[str, str] = {}
    crlf = _fill(path.read_bytes().decode("utf-8"), typed).replace("\r\n", "\n")
    crlf = crlf.replace("\n", "\r\n")  # what git autocrlf makes of it on Windows
    path.write_bytes(crlf.encode("utf-8"))
    results = update_governance_docs(
        setup.root, setup.config, setup.catalog, setup.evidence, now=NOW + dt.timedelta(days=1)
    )
    dsfa = next(r for r in results if r.path == path)
    assert dsfa.update.conflict is None and dsfa.written
    regions = human_regions(path.read_bytes().decode("utf-8"))
    for rid, answer in typed.items():
        assert regions[rid] == answer.replace("\r\n", "\n").replace("\n", "\r\n"), rid


@pytest.mark.parametrize("lang", ["de", "en"])
def test_kickoff_says_what_may_be_edited_and_what_is_regenerated(
    tmp_path: Path, lang: Lang
) -> None:
    root = tmp_path / "ws"
    init_workspace(root, language=lang, demo=True)
    text = (root / "docs" / "MODEL_OPERATIONS_KICKOFF.md").read_text("utf-8")
    old = {"de": "werden nicht von Hand bearbeitet", "en": "are not edited by hand"}[lang]
    assert old not in text
    sections = {"de": "menschlichen Abschnitten", "en": "human sections"}[lang]
    kept = {"de": "Byte für Byte", "en": "byte for byte"}[lang]
    assert sections in text and kept in text and "<!-- nova:human ID -->" in text
    assert "`nova docs --force`" in text and ".nova/backups/docs/" in text
    assert "values.override.yaml" in text and "custom_rules.yml" in text
    # The demo's llm-core runs local models; the baseline of the real candidates is sophia-real.
    assert "`python -m nova benchmarks --profile sophia-real`" in text
    assert "<!-- nova:human" not in text.split("<!-- nova:human ID -->", 1)[1]


_SEAL_LINE = re.compile(r"\n\n<!-- nova:generated sha256=[0-9a-f]{64} -->\n\Z")


def test_an_unsealed_document_equal_to_the_current_rendering_is_not_a_conflict(
    setup: Setup,  # noqa: F811
) -> None:
    """What an older nova wrote without a seal is regenerated when nova's text in it is exactly
    what nova writes now; what a person typed into its human sections is carried over."""
    render_governance_docs(setup.root, setup.config, setup.catalog, setup.evidence, now=NOW)
    folder = setup.root / "docs" / "governance"
    typed: dict[str, str] = {}
    for p in folder.glob("*.md"):
        unsealed = _SEAL_LINE.sub("\n", p.read_bytes().decode("utf-8"))
        assert "nova:generated" not in unsealed
        if p.stem == "dsfa":
            unsealed = _fill(unsealed, typed)
        p.write_bytes(unsealed.encode("utf-8"))
    results = update_governance_docs(
        setup.root, setup.config, setup.catalog, setup.evidence, now=NOW
    )
    for r in results:
        assert r.update.conflict is None, r.update.conflict
        text = r.path.read_bytes().decode("utf-8")
        assert r.written and _SEAL_LINE.search(text), r.path.name
    dsfa = human_regions((folder / "dsfa.md").read_bytes().decode("utf-8"))
    assert typed and all(dsfa[rid] == answer for rid, answer in typed.items())


def test_a_legacy_document_is_refused_with_what_to_do_and_force_keeps_everything(
    tmp_path: Path, run_cli: Callable[..., Result]
) -> None:
    root = tmp_path / "ws"
    init_workspace(root)
    assert run_cli("--workspace", str(root), "docs", "--language", "en").code == 0
    folder = root / "docs" / "governance"
    # An older nova: different generated wording, no seal, no human-section markers.
    legacy = "# Exit strategy\n\nLegal watches the vendors' pages. Our note: call Anna.\n"
    (folder / "exit_strategy.md").write_text(legacy, encoding="utf-8")
    # A current document with a typed section whose generated text a person edited.
    dsfa = folder / "dsfa.md"
    typed: dict[str, str] = {}
    edited = _fill(dsfa.read_bytes().decode("utf-8"), typed).replace("# ", "# Edited ", 1)
    dsfa.write_bytes(edited.encode("utf-8"))
    refused = run_cli("--workspace", str(root), "docs", "--language", "en")
    assert refused.code == 1
    message = " ".join(refused.err.split())
    assert "exit_strategy.md: has no nova seal line and differs from what nova generates now" in (
        message
    )
    assert "`nova docs --force` copies it to .nova/backups/docs/ and regenerates it" in message
    assert "copy what you wrote from the backup into the new file's human sections" in message
    assert "dsfa.md: text outside the human sections was edited" in message
    assert "carrying over what its human sections hold" in message
    assert (folder / "exit_strategy.md").read_text("utf-8") == legacy
    assert dsfa.read_bytes().decode("utf-8") == edited
    assert "license_review.md" not in message  # the untouched documents are not refused

    forced = run_cli("--workspace", str(root), "docs", "--language", "en", "--force")
    assert forced.code == 0, forced.err
    backups = root / ".nova" / "backups" / "docs"
    saved = {p.name.split(".")[0]: p.read_bytes().decode("utf-8") for p in backups.iterdir()}
    assert saved == {"exit_strategy": legacy, "dsfa": edited}
    regions = human_regions(dsfa.read_bytes().decode("utf-8"))
    assert typed and all(regions[rid] == answer for rid, answer in typed.items())
    assert "# Edited" not in dsfa.read_bytes().decode("utf-8")
    assert _SEAL_LINE.search((folder / "exit_strategy.md").read_text("utf-8"))


def test_broken_markers_are_refused_with_what_to_do() -> None:
    from nova.governance import merge_document

    new = "# Doc\n\n- Owner: <!-- nova:human a -->[to be confirmed by Legal]<!-- /nova:human -->\n"
    old = "# Doc\n\n- Owner: <!-- nova:human a -->Anna\n"  # end marker deleted
    refused = merge_document(old, new, name="doc.md", lang="en")
    assert refused.conflict is not None and "line 3" in refused.conflict
    assert "restore the marker" in refused.conflict and "nova docs --force" in refused.conflict
    forced = merge_document(old, new, name="doc.md", lang="en", force=True)
    assert forced.conflict == refused.conflict and _SEAL_LINE.search(forced.text)
