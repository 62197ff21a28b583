"""Where a run's files go: ``reports/<timestamp>/run_<n>/`` under the working directory.

This follows sPyNNaker (spinn_utilities' data writer) loosely:

* the ``reports`` folder is under the working directory the simulation was set up in, the
  ``<timestamp>`` folder (``YYYY-MM-DD-hh-mm-ss-micro``) is one per ``setup()``, and
  ``run_<n>`` is numbered by the run step that wrote into it (``run_1`` for the first run; a
  remap before the third run writes into ``run_3``);
* nothing is created until a file needs a home (an offline run leaves no folders behind);
* :meth:`RunFolders.discard` deletes a file and then every folder it leaves empty, up to and
  including ``reports``; folders holding anything else are left alone. sPyNNaker deletes the
  database at ``end()`` unless ``[Reports] keep_input_output_database`` (which its Production
  mode turns off); spinnlive's Simulation does the same, with ``keep_input_output_database``
  given to ``setup()`` instead of a config file.
"""

from __future__ import annotations

import datetime
import logging
from pathlib import Path

from spinnlive.database.writer import DATABASE_FILENAME

__all__ = ["REPORTS_DIRNAME", "RunFolders"]

logger = logging.getLogger(__name__)

REPORTS_DIRNAME = "reports"


def _timestamp() -> str:
    now = datetime.datetime.now()
    return (f"{now.year:04}-{now.month:02}-{now.day:02}-{now.hour:02}-{now.minute:02}"
            f"-{now.second:02}-{now.microsecond:06}")


class RunFolders:
    """The report folders of one simulation (one ``setup()``)."""

    def __init__(self, base: Path | None = None) -> None:
        self.reports = (base if base is not None else Path.cwd()).resolve() / REPORTS_DIRNAME
        self._stamp = _timestamp()

    @property
    def timestamp_dir(self) -> Path:
        return self.reports / self._stamp

    def database_path(self, run_number: int) -> Path:
        """``.../run_<n>/input_output_database.sqlite3``, its folder created."""
        folder = self.timestamp_dir / f"run_{run_number}"
        folder.mkdir(parents=True, exist_ok=True)
        return folder / DATABASE_FILENAME

    def discard(self, path: Path) -> None:
        """Delete ``path`` and the report folders it leaves empty."""
        path.unlink(missing_ok=True)
        folder = path.parent
        while folder != self.reports.parent and self.reports in (folder, *folder.parents):
            try:
                folder.rmdir()
            except OSError:  # not empty (other reports) or already gone
                break
            folder = folder.parent
        logger.debug("deleted %s", path)
