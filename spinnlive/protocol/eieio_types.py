"""The EIEIO data header's enumerations, apart from the frame layouts in :mod:`.eieio`.

The engine describes each population's live output with them when it maps a network; kept in a
module without ``construct`` so a run without live I/O does not build the frame layouts
(:mod:`.eieio` re-exports them, the one place that encodes and decodes the bytes).
"""

from __future__ import annotations

from enum import Enum, IntEnum

__all__ = ["EIEIOType", "PrefixSemantics", "PrefixType"]


class EIEIOType(IntEnum):
    """The 2-bit type field; key and payload have the same width (2 or 4 bytes)."""

    KEY_16_BIT = 0
    KEY_PAYLOAD_16_BIT = 1
    KEY_32_BIT = 2
    KEY_PAYLOAD_32_BIT = 3

    @property
    def key_bytes(self) -> int:
        return 4 if self >= EIEIOType.KEY_32_BIT else 2

    @property
    def has_payload(self) -> bool:
        return self in (EIEIOType.KEY_PAYLOAD_16_BIT, EIEIOType.KEY_PAYLOAD_32_BIT)

    @property
    def element_bytes(self) -> int:
        return self.key_bytes * (2 if self.has_payload else 1)


class PrefixType(IntEnum):
    """The F bit: which half-word of the key the 16-bit prefix fills."""

    LOWER_HALF_WORD = 0
    UPPER_HALF_WORD = 1


class PrefixSemantics(Enum):
    """Whose reading of a LOWER prefix on 16-bit keys to apply (see the module docstring)."""

    ON_CHIP = "on_chip"  # (key << 16) | prefix
    SPINNMAN = "spinnman"  # key | prefix
