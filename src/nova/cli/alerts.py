"""``nova alerts [render|check|test|activate|status]``: monitoring and alerts for the chosen
model."""

from __future__ import annotations

import getpass
from typing import TYPE_CHECKING

import click

from nova.cli._context import AppContext, pass_app
from nova.cli._render import err_console, out_console, print_json, print_table

if TYPE_CHECKING:
    from nova.observability import ToolResult

__all__ = ["alerts_group"]

_CANDIDATE = click.option(
    "--candidate",
    help="Candidate to monitor (default: the latest recorded decision, else role primary).",
)


def _render(app: AppContext, candidate: str | None) -> None:
    from nova.observability import render_monitoring

    res = render_monitoring(app.workspace(), app.config().config, candidate)
    con = out_console()
    engines = ", ".join(
        f"{m.candidate.id}: {m.engine.id if m.engine else 'gateway metrics only'}"
        for m in res.monitored
    )
    con.print(
        f"rendered {res.directory} for {res.candidate} ({engines}): "
        f"{len(res.plan.alerts)} alerts, {len(res.written)} files written, "
        f"{len(res.unchanged)} unchanged",
        markup=False,
    )
    for p in res.kept:
        err_console().print(f"kept your edited copy: {p}", markup=False)
    for kpi_id, reason in res.plan.skipped:
        con.print(f"not watched at run time: {kpi_id} ({reason})", markup=False)


def _report(results: list[ToolResult]) -> bool:
    con = out_console()
    for r in results:
        name = " ".join(w for w in r.command[1:3] if not w.startswith("/"))
        tool = r.command[0].rsplit("/", 1)[-1]
        con.print(f"{'ok' if r.ok else 'FAILED'}: {tool} {name}", markup=False)
        if not r.ok:
            err_console().print(r.output, markup=False)
    return all(r.ok for r in results)


def _check(app: AppContext) -> bool:
    from nova.observability import check_monitoring

    return _report(check_monitoring(app.workspace()))


def _test(app: AppContext) -> bool:
    from nova.observability import run_rule_tests

    res = run_rule_tests(app.workspace())
    ok = _report([res])
    if ok:
        out_console().print(res.output.splitlines()[-1] if res.output else "", markup=False)
    return ok


@click.group("alerts", invoke_without_command=True)
@_CANDIDATE
@click.pass_context
def alerts_group(ctx: click.Context, candidate: str | None) -> None:
    """Prometheus rules, Alertmanager routes and Grafana dashboards for the chosen model.

    Without a subcommand: render, check and test (exit 1 if a check or test fails). Files
    go to deploy/monitoring/; thresholds come from the KPI catalogue in nova.yaml.

    \b
    Example:
      python -m nova alerts
      python -m nova alerts render && python -m nova alerts check && python -m nova alerts test
      python -m nova alerts activate
    """
    if ctx.invoked_subcommand is not None:
        return
    app = ctx.find_object(AppContext) or AppContext()
    _render(app, candidate)
    if not (_check(app) and _test(app)):
        raise SystemExit(1)


@alerts_group.command("render")
@_CANDIDATE
@pass_app
def render_command(app: AppContext, candidate: str | None) -> None:
    """Write deploy/monitoring/ (rules, unit tests, Alertmanager, Grafana, runbook).

    \b
    Example:
      python -m nova alerts render --candidate llama31-70b-vllm
    """
    _render(app, candidate)


@alerts_group.command("check")
@pass_app
def check_command(app: AppContext) -> None:
    """Validate with promtool check config/rules and amtool check-config (exit 1 on failure).

    \b
    Example:
      python -m nova alerts check
    """
    if not _check(app):
        raise SystemExit(1)


@alerts_group.command("test")
@pass_app
def test_command(app: AppContext) -> None:
    """Run the generated promtool unit tests: every burn-rate alert fires at 1.1x its
    threshold and stays silent at 0.9x (exit 1 on failure).

    \b
    Example:
      python -m nova alerts test
    """
    if not _test(app):
        raise SystemExit(1)


@alerts_group.command("activate")
@_CANDIDATE
@click.option("--prometheus-url", help="Prometheus (default: monitoring.prometheus_url).")
@click.option("--alertmanager-url", help="Alertmanager (default: monitoring.alertmanager_url).")
@click.option("--by", help="Who activates (default: the OS user).")
@pass_app
def activate_command(
    app: AppContext,
    candidate: str | None,
    prometheus_url: str | None,
    alertmanager_url: str | None,
    by: str | None,
) -> None:
    """Render and check, reload Prometheus and Alertmanager (POST /-/reload), verify that
    Prometheus serves nova's rules, then record `alerts.activate` in the audit log.

    Prometheus must run with --web.enable-lifecycle and
    --config.file=deploy/monitoring/prometheus/prometheus.yml.

    \b
    Example:
      python -m nova alerts activate --prometheus-url http://127.0.0.1:9090
    """
    from nova.observability import activate_monitoring

    res = activate_monitoring(
        app.workspace(),
        app.config().config,
        candidate=candidate,
        prometheus_url=prometheus_url,
        alertmanager_url=alertmanager_url,
        actor=by or getpass.getuser(),
    )
    out_console().print(
        f"activated {res.alerts} alerts for {res.candidate}: Prometheus serves "
        f"{len(res.rule_groups)} nova rule groups (audit #{res.audit_seq})",
        markup=False,
    )
    if res.rows_completed:
        out_console().print(
            f"task list: {', '.join(res.rows_completed)} set to Abgeschlossen", markup=False
        )


@alerts_group.command("status")
@click.option("--prometheus-url", help="Prometheus (default: monitoring.prometheus_url).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def status_command(app: AppContext, prometheus_url: str | None, as_json: bool) -> None:
    """Firing and pending alerts, from Prometheus' HTTP API.

    \b
    Example:
      python -m nova alerts status --json
    """
    from nova.observability import activation_state, alert_status

    cfg = app.config().config
    alerts = alert_status(cfg, prometheus_url)
    state = activation_state(app.workspace(), cfg)
    if as_json:
        print_json(
            {
                "activation": state.model_dump(mode="json") if state else None,
                "alerts": [a.model_dump() for a in alerts],
            }
        )
        return
    con = out_console()
    if state is None:
        con.print("monitoring was never activated (python -m nova alerts activate)")
    else:
        con.print(
            f"activated for {state.candidate} on {state.at:%Y-%m-%d %H:%M} UTC by {state.by} "
            f"(audit #{state.audit_seq})"
            + ("" if state.files_unchanged else "; deploy/monitoring/ changed since"),
            markup=False,
        )
    if not alerts:
        con.print("no firing or pending alerts")
        return
    print_table(
        ["State", "Alert", "Severity", "Owner", "Candidate", "Since", "Summary"],
        [
            [a.state, a.name, a.severity, a.owner, a.candidate, a.active_at[:19], a.summary]
            for a in alerts
        ],
    )
