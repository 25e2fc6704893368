"""``nova deploy render --job eval|perf --shards N``: an Indexed Job whose pod i runs shard i/N,
the store URL by Secret reference, validated offline (kubernetes-validate strict)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from nova.deploy import job_manifest, validate_job
from nova.shard import Shard


@pytest.mark.parametrize("job", ["eval", "perf"])
def test_render_job_writes_an_indexed_job_that_validates(
    job: str, workspace: Path, run_cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOVA_DATABASE_URL", "postgresql+psycopg://nova:s3cr3t-pw@db:5432/nova")
    r = run_cli(
        "--workspace", str(workspace), "deploy", "render", "--job", job, "--shards", "3",
        "--image", "registry.example/nova-ws:1", "--run-id", "Big_1", "-p", "llm-core",
    )  # fmt: skip
    assert r.code == 0, r.err
    path = workspace / "deploy" / "jobs" / f"nova-{job}-big-1.yaml"
    text = path.read_text("utf-8")
    assert "s3cr3t" not in text and "postgresql" not in text  # a reference, never the value
    doc = yaml.safe_load(text)
    spec = doc["spec"]
    assert (spec["completionMode"], spec["completions"], spec["parallelism"]) == ("Indexed", 3, 3)
    (rule,) = spec["podFailurePolicy"]["rules"]  # a failed gate or bad config: no retries
    assert (rule["action"], rule["onExitCodes"]["values"]) == ("FailIndex", [2, 3])
    (c,) = spec["template"]["spec"]["containers"]
    assert c["args"][:7] == [
        "--workspace",
        "/workspace",
        job,
        "run",
        "--run-id",
        "Big_1",
        "--shard",
    ]
    assert c["args"][7] == "$(JOB_COMPLETION_INDEX)/3"
    env = {e["name"]: e for e in c["env"]}
    assert env["NOVA_DATABASE_URL"]["valueFrom"] == {
        "secretKeyRef": {"name": "nova-store", "key": "url"}
    }
    index_ref = env["JOB_COMPLETION_INDEX"]["valueFrom"]["fieldRef"]["fieldPath"]
    assert index_ref == "metadata.annotations['batch.kubernetes.io/job-completion-index']"
    # What Kubernetes makes of the argument in pod 2 is a shard nova accepts.
    assert Shard.parse(c["args"][7].replace("$(JOB_COMPLETION_INDEX)", "2")) == Shard(2, 3)
    assert all(ch.ok for ch in validate_job(doc)), [ch for ch in validate_job(doc) if not ch.ok]
    assert {ch.name for ch in validate_job(doc)} == {
        "kubernetes-validate",
        "nova policy",
        "nova shard wiring",
    }


def _broken(m: dict[str, Any], how: str) -> dict[str, Any]:
    m = copy.deepcopy(m)
    c = m["spec"]["template"]["spec"]["containers"][0]
    if how == "literal url":
        c["env"][1] = {"name": "NOVA_DATABASE_URL", "value": "postgresql://u:p@h/db"}
    elif how == "not indexed":
        m["spec"]["completionMode"] = "NonIndexed"
    elif how == "shard count":
        m["spec"]["completions"] = 4
    elif how == "unknown field":
        m["spec"]["completionsMode"] = "Indexed"
    elif how == "root":
        c["securityContext"]["runAsNonRoot"] = False
    return m


@pytest.mark.parametrize(
    ("how", "check"),
    [
        ("literal url", "nova shard wiring"),
        ("not indexed", "nova shard wiring"),
        ("shard count", "nova shard wiring"),
        ("unknown field", "kubernetes-validate"),
        ("root", "nova policy"),
    ],
)
def test_validation_catches_a_broken_job(how: str, check: str) -> None:
    good = job_manifest("eval", 3, image="img", run_id="r1")
    assert all(c.ok for c in validate_job(good))
    failed = [c.name for c in validate_job(_broken(good, how)) if not c.ok]
    assert failed == [check]


def test_a_file_nova_did_not_write_is_not_replaced(
    workspace: Path, run_cli: Callable[..., Any]
) -> None:
    mine = workspace / "deploy" / "jobs" / "nova-eval-r1.yaml"
    mine.parent.mkdir(parents=True)
    mine.write_text("# my own job\n", "utf-8")
    r = run_cli(
        "--workspace", str(workspace), "deploy", "render", "--job", "eval", "--shards", "2",
        "--image", "img", "--run-id", "r1",
    )  # fmt: skip
    assert r.code == 1
    assert "not written by nova" in r.err
    assert mine.read_text("utf-8") == "# my own job\n"


def test_perf_shards_must_all_run_at_once() -> None:
    """Load shards wait for each other at every level: a perf Job that runs fewer pods at a
    time than it has shards would time out; an eval Job may run them in turns."""
    perf = job_manifest("perf", 3, image="img", run_id="r1")
    assert perf["spec"]["parallelism"] == 3
    assert all(c.ok for c in validate_job(perf))
    perf["spec"]["parallelism"] = 2
    (bad,) = [c for c in validate_job(perf) if not c.ok]
    assert bad.name == "nova shard wiring"
    assert "spec.parallelism must be 3: perf shards start each level together" in bad.detail
    ev = job_manifest("eval", 3, image="img", run_id="r1")
    ev["spec"]["parallelism"] = 2
    assert all(c.ok for c in validate_job(ev))
