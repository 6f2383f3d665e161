"""``ranopt ops ...``: database failover by the deployment guide's criteria, rejoin, status."""

import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from ranopt.ops.failover import Criteria, FailoverReport, ServiceProber, act, watch
from ranopt.ops.postgres import NodeError, NodeState, cluster_state, rejoin
from ranopt.store.config import database_url

app = typer.Typer(
    help="Operations: database failover, rejoin, cluster status.", no_args_is_help=True
)
console = Console()

DatabaseOpt = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="The service's database URL, every host named (default RANOPT_DATABASE_URL).",
    ),
]


def _nodes_table(states: list[NodeState]) -> Table:
    table = Table(title="database nodes")
    for column in ("node", "role", "WAL (bytes)", "note"):
        table.add_column(column)
    for s in states:
        role = "unreachable" if not s.reachable else ("standby" if s.in_recovery else "primary")
        table.add_row(s.node.label, role, "" if s.replay_lsn is None else str(s.replay_lsn),
                      s.error or "")  # fmt: skip
    return table


def _print_report(report: FailoverReport) -> None:
    table = Table(title=f"failover criteria over {report.measurement.probes} probes")
    for column in ("criterion", "measured", "threshold", "holds"):
        table.add_column(column)
    for f in report.decision.findings:
        table.add_row(f.name, f.measured, f.threshold, "[red]yes[/]" if f.holds else "no")
    console.print(table)
    console.print(_nodes_table(report.states))
    console.print(f"[bold]{report.action}[/]: {report.detail}")


def _report_json(report: FailoverReport) -> str:
    data = asdict(report)
    data["decision"]["held"] = report.decision.held
    if report.first_failure_s is not None and report.serving_s is not None:
        data["timings"]["first_failure_to_serving_s"] = report.serving_s - report.first_failure_s
    return json.dumps(data)


EXIT_CODES = {"healthy": 0, "dry-run": 0, "promoted": 0, "refused": 3, "impossible": 1}


@app.command("failover")
def failover(
    service: Annotated[str, typer.Option("--service", help="Base URL of the ranopt service.")],
    database: DatabaseOpt = None,
    window: Annotated[
        int, typer.Option("--window", min=2, help="Probes the criteria are measured over.")
    ] = 20,
    interval_s: Annotated[
        float, typer.Option("--interval-s", min=0.05, help="Seconds between probes.")
    ] = 1.0,
    timeout_s: Annotated[
        float, typer.Option("--timeout-s", min=0.5, help="HTTP timeout of one probe.")
    ] = 10.0,
    watch_mode: Annotated[
        bool, typer.Option("--watch", help="Keep probing (sliding window) until failover.")
    ] = False,
    max_s: Annotated[
        float | None, typer.Option("--max-s", help="With --watch: give up after this long.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the decision and why; change nothing.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")] = False,
) -> None:
    """Measure the service and its database; promote the standby when failover is indicated.

    Failover when at least two hold: availability < 0.95, response time > 5 s, error rate
    > 5 %, database unreachable. The standby that replayed the most WAL is promoted, and only
    when the primary is unreachable. Exit 0: healthy, promoted or dry run; 1: no standby to
    promote; 3: failover indicated but the primary answers (not promoted).
    """
    url = database or database_url()
    prober = ServiceProber(service, url, timeout_s=timeout_s)
    try:
        probes, decision = watch(
            prober, Criteria(), window=window, interval_s=interval_s,
            until_failover=watch_mode, max_s=max_s,
        )  # fmt: skip
        report = act(prober, probes, decision, dry_run=dry_run)
    except NodeError as exc:
        typer.echo(f"failover failed: {exc}", err=True)
        raise typer.Exit(1) from exc
    finally:
        prober.close()
    if as_json:
        typer.echo(_report_json(report))
    else:
        _print_report(report)
    raise typer.Exit(EXIT_CODES[report.action])


@app.command("rejoin")
def rejoin_cmd(
    pgdata: Annotated[
        Path, typer.Argument(exists=True, file_okay=False, help="The old primary's data folder.")
    ],
    source: Annotated[
        str, typer.Option("--source", help="URL of the new primary (one host) to follow.")
    ],
    start_options: Annotated[
        str | None,
        typer.Option("--start", help="Start the server here with these pg_ctl -o options."),
    ] = None,
    log: Annotated[Path | None, typer.Option("--log", help="Server log (with --start).")] = None,
    synchronous_names: Annotated[
        str, typer.Option("--synchronous-names", help="The primary's synchronous standbys.")
    ] = "*",
    no_sync: Annotated[
        bool, typer.Option("--no-sync", help="pg_rewind --no-sync (throwaway clusters).")
    ] = False,
) -> None:
    """Make a failed primary a standby of the new one (pg_rewind), and start it.

    Never start the old primary on its own after a failover: it would take writes beside the
    new primary. Once it streams, the primary commits synchronously again.
    """
    started = time.monotonic()
    try:
        result = rejoin(
            pgdata, source, start_options=start_options, log=log,
            synchronous_names=synchronous_names, sync_files=not no_sync,
        )  # fmt: skip
    except NodeError as exc:
        typer.echo(f"rejoin failed: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"pg_rewind: {result.rewind}")
    if result.streaming_s is not None:
        typer.echo(
            f"standby streaming {result.streaming_s:.1f} s after its start; synchronous "
            f"commit restored ({synchronous_names!r}); {time.monotonic() - started:.1f} s in all"
        )


@app.command("status")
def status(database: DatabaseOpt = None) -> None:
    """Show each database node of the URL: primary, standby or unreachable, and its WAL."""
    console.print(_nodes_table(cluster_state(database or database_url())))
