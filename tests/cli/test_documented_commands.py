"""Every ``levante …`` command the README and docs/ name exists (a renamed or imagined
command in the docs fails here, not in a reader's terminal), and every command there is is
named in them."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import typer

from levante.cli import app

ROOT = Path(__file__).parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
MENTION = re.compile(
    r"(?:(?<=\.venv/bin/)|(?<![/@\w.-]))levante ((?:[a-z][a-z-]*)(?: [a-z][a-z-]*){0,2})"
)


def test_every_documented_command_exists() -> None:
    root: Any = typer.main.get_command(app)
    assert hasattr(root, "commands")
    missing = []
    for document in DOCUMENTS:
        for words in MENTION.findall(document.read_text()):
            command = root
            for word in words.split():
                if not hasattr(command, "commands"):
                    break  # the rest are arguments
                found = command.commands.get(word)
                if found is None:
                    missing.append(f"{document.name}: levante {words}")
                    break
                command = found
    assert not missing, "\n".join(sorted(set(missing)))


def _leaves(command: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    if not hasattr(command, "commands"):
        return [prefix]
    return [
        leaf
        for name, sub in sorted(command.commands.items())
        for leaf in _leaves(sub, (*prefix, name))
    ]


def test_every_command_is_documented() -> None:
    root: Any = typer.main.get_command(app)
    mentioned = {
        tuple(words.split())
        for document in DOCUMENTS
        for words in MENTION.findall(document.read_text())
    }
    undocumented = [
        "levante " + " ".join(leaf)
        for leaf in _leaves(root)
        if not any(said[: len(leaf)] == leaf for said in mentioned)
    ]
    assert len(_leaves(root)) > 50
    assert not undocumented, "commands no document names:\n" + "\n".join(undocumented)
