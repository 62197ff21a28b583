"""The input/output database: SpiNNFrontEndCommon 7.x's SQLite schema, written and read.

``records`` describes a mapping as frozen dataclasses, ``writer`` turns one into a database file
(atomically, the reference's exact DDL and quirks), ``reader`` opens any such file read-only and
answers with numpy tables.
"""

from spinnlive.database.reader import IODatabase, required_schema
from spinnlive.database.records import (
    DEFAULT_APP_ID,
    DEFAULT_LPG_LABEL,
    SPIKE_PARTITION,
    ApplicationVertex,
    Chip,
    Configuration,
    IPTag,
    LiveOutputDetails,
    LpgEdge,
    Machine,
    MachineVertex,
    Mapping,
    Placement,
    slice_label,
)
from spinnlive.database.writer import DATABASE_FILENAME, schema_sql, write_database

__all__ = [
    "DATABASE_FILENAME", "DEFAULT_APP_ID", "DEFAULT_LPG_LABEL", "SPIKE_PARTITION",
    "ApplicationVertex", "Chip", "Configuration", "IODatabase", "IPTag", "LiveOutputDetails",
    "LpgEdge", "Machine", "MachineVertex", "Mapping", "Placement", "required_schema",
    "schema_sql", "slice_label", "write_database",
]
