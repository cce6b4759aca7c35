"""``python -m levante``: the same as the ``levante`` command."""

from levante.cli import main

main()
