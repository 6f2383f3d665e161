"""``ranopt deploy verify URL``: the blue-green gate a pipeline runs before moving traffic."""

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from ranopt.ops.verify import CheckResult, VerifyConfig, verify

app = typer.Typer(help="Releases: verify a deployment before traffic moves.", no_args_is_help=True)
console = Console()


@app.callback()
def releases() -> None:
    """Keep ``verify`` a subcommand (a Typer app of one command would collapse into it)."""


def _api_key(key_file: Path | None) -> str:
    if key_file is not None:
        return key_file.read_text().strip()
    key = os.environ.get("RANOPT_VERIFY_API_KEY", "").strip()
    if not key:
        typer.echo("--api-key-file or RANOPT_VERIFY_API_KEY: an API key of the canary's tenant",
                   err=True)  # fmt: skip
        raise typer.Exit(2)
    return key


def _show(result: CheckResult) -> None:
    mark = "[green]pass[/]" if result.ok else "[red]FAIL[/]"
    console.print(f"{mark} {result.name:7} {result.detail}")


@app.command("verify")
def verify_cmd(
    url: Annotated[str, typer.Argument(help="Base URL of the deployment to verify.")],
    canary: Annotated[
        str, typer.Option("--canary", help="Canary network (name or id); needs PM history.")
    ],
    key_file: Annotated[
        Path | None,
        typer.Option(
            "--api-key-file",
            exists=True,
            dir_okay=False,
            help="API key (network_admin) of the canary's tenant; else RANOPT_VERIFY_API_KEY.",
        ),
    ] = None,
    min_confidence: Annotated[
        float, typer.Option("--min-confidence", min=0, max=1, help="Canary plan confidence bar.")
    ] = 0.85,
    users: Annotated[int, typer.Option("--users", min=1, help="Concurrent users.")] = 100,
    duration_s: Annotated[
        float, typer.Option("--duration-s", min=0.5, help="Seconds the load lasts.")
    ] = 10.0,
    think_s: Annotated[
        float, typer.Option("--think-s", min=0.0, help="Each user's pause between requests.")
    ] = 1.0,
    max_p95_ms: Annotated[
        float, typer.Option("--max-p95-ms", min=0.0, help="Latency bar of the load (p95).")
    ] = 50.0,
) -> None:
    """Check /health, /ready, a canary optimization and a 100-user load; exit 1 naming a failure.

    Exit 0 when every check passes; 1 with "deploy verify FAILED: <checks>" otherwise, so a
    pipeline rolls back.
    """
    config = VerifyConfig(
        canary=canary, min_confidence=min_confidence, users=users, duration_s=duration_s,
        think_s=think_s, max_p95_ms=max_p95_ms,
    )  # fmt: skip
    results = verify(url, _api_key(key_file), config, progress=_show)
    failed = [r.name for r in results if not r.ok]
    if failed:
        typer.echo(f"deploy verify FAILED: {', '.join(failed)}", err=True)
        raise typer.Exit(1)
    console.print(f"deploy verify passed: {', '.join(r.name for r in results)}")
