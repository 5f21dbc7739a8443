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
    """Console entry point: every expected failure is one line on stderr and an exit code."""
    try:
        result = app(standalone_mode=False)
    except AsimError as exc:
        typer.echo(f"asim: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except typer.exceptions.TyperException as exc:  # usage errors: unknown option, bad value
        if getattr(exc, "exit_code", 1) == 2 and "NoArgsIsHelp" in type(exc).__name__:
            typer.echo(app_help_text(), err=False)
            sys.exit(0)
        typer.echo(f"asim: error: {exc.format_message()}", err=True)
        sys.exit(getattr(exc, "exit_code", 2))
    except (KeyboardInterrupt, typer.Abort):
        typer.echo("asim: interrupted", err=True)
        sys.exit(130)
    sys.exit(result if isinstance(result, int) else 0)


def app_help_text() -> str:
    """The top-level --help text (shown when asim runs with no arguments)."""
    from typer.testing import CliRunner

    return CliRunner().invoke(app, ["--help"]).output


@app.command()
def version() -> None:
    """Print asim's version."""
    from asim import __version__

    typer.echo(__version__)
