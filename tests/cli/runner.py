"""Running ``levante`` commands in-process, as the CLI tests do."""

from __future__ import annotations

from typer.testing import CliRunner

from levante.cli import app

runner = CliRunner()


def ok(*args: str) -> str:
    """Run a command that must succeed; its output."""
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def fails(*args: str, message: str) -> str:
    """Run a command that must fail with one line naming ``message``, never a traceback."""
    result = runner.invoke(app, list(args))
    assert result.exit_code == 1, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    return result.output
