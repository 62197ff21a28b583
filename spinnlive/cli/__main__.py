"""``python -m spinnlive.cli``: the ``spinnlive`` command."""

from spinnlive.cli.commands import main

raise SystemExit(main())
