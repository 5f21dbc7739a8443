"""The `asim` command line: parse, call the library, render. Nothing else lives here."""

from __future__ import annotations

import sys

import typer

from asim.errors import AsimError

app = typer.Typer(
    name="asim",
    help="Predict, then prove, what ApacheBench prints for aiohttp and Django/gunicorn servers.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print one line to stderr and return the Exit to raise."""
    typer.echo(f"asim: error: {message}", err=True)
    return typer.Exit(code)


def main() -> None:
    """Console entry point: AsimError becomes one line and its exit code, never a traceback."""
    try:
        app(standalone_mode=False)
    except AsimError as exc:
        typer.echo(f"asim: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        typer.echo("asim: interrupted", err=True)
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as exc:  # click usage errors arrive here with standalone_mode=False
        import click

        if isinstance(exc, click.exceptions.ClickException):
            typer.echo(f"asim: error: {exc.format_message()}", err=True)
            sys.exit(exc.exit_code)
        if isinstance(exc, click.exceptions.Abort):
            typer.echo("asim: interrupted", err=True)
            sys.exit(130)
        raise
