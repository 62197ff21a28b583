"""``python -m spinnlive.monitor`` is ``spinnlive monitor`` (the one way to start a monitor)."""

from __future__ import annotations

import sys

from spinnlive.monitor.command import main

if __name__ == "__main__":
    sys.exit(main())
