"""``python -m watchkeeper`` is the ``watchkeeper`` command."""

from watchkeeper.cli.app import main

main()
