"""What the mapper is given: application vertices and live-output requests (frozen records).

Rules: every record validates on construction and raises
:class:`~spinnlive.errors.ConfigurationError` naming the vertex, so the mapper only meets
requests that make sense one by one (what cannot fit together is the mapper's to report).
Defaults are sPyNNaker 7.4.1's (protocol sheet §5.3-§5.5).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from spinnlive.database.records import SPIKE_PARTITION
from spinnlive.errors import ConfigurationError
from spinnlive.protocol.eieio_types import EIEIOType, PrefixType

__all__ = [
    "DEFAULT_ATOMS_PER_CORE", "DEFAULT_COLOUR_BITS", "AppVertex", "LiveOutputParameters",
    "LiveOutputRequest", "VertexKind",
]

DEFAULT_ATOMS_PER_CORE = 256  #: neurons and spike sources
DEFAULT_COLOUR_BITS = 4  #: ``[Simulation] n_colour_bits``
_MAX_KEY = 0xFFFF_FFFF


class VertexKind(str, enum.Enum):
    """What a vertex is; decides its defaults for atoms per core and colour bits."""

    NEURON = "neuron"
    POISSON = "poisson"
    SPIKE_ARRAY = "spike_array"
    INJECTOR = "injector"  #: SpikeInjector: live input, one core, keys step by 1
    POISSON_CONTROL = "poisson_control"  #: ``<poisson>_control``: live rates, keys step by 1

    @property
    def injection_mode(self) -> bool:
        """Fed from the host over the live connection (its events go into the database)."""
        return self in (VertexKind.INJECTOR, VertexKind.POISSON_CONTROL)


@dataclass(frozen=True, slots=True)
class AppVertex:
    """A population or live-input device. ``None`` fields take sPyNNaker's default for the kind.

    ``virtual_key`` (injectors and Poisson control only) fixes the keys to
    ``virtual_key + atom``; it must be aligned to the mask
    ``0xFFFFFFFF - (2**n_atoms.bit_length() - 1)`` and the vertex must fit on one core.
    """

    label: str
    n_atoms: int
    kind: VertexKind
    max_atoms_per_core: int | None = None
    virtual_key: int | None = None
    n_colour_bits: int | None = None

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "kind", VertexKind(self.kind))
        except ValueError:
            raise ConfigurationError(
                f"population {self.label!r}: unknown vertex kind {self.kind!r}; one of"
                f" {[k.value for k in VertexKind]}") from None
        if not self.label:
            raise ConfigurationError("a population needs a non-empty label")
        if not isinstance(self.n_atoms, int) or self.n_atoms < 1:
            raise ConfigurationError(f"population {self.label!r}: n_atoms must be >= 1,"
                                     f" got {self.n_atoms!r}")
        if self.max_atoms_per_core is not None and self.max_atoms_per_core < 1:
            raise ConfigurationError(f"population {self.label!r}: max_atoms_per_core must be"
                                     f" >= 1, got {self.max_atoms_per_core}")
        if self.n_colour_bits is not None and not 0 <= self.n_colour_bits <= 8:
            raise ConfigurationError(f"population {self.label!r}: n_colour_bits must be 0..8,"
                                     f" got {self.n_colour_bits}")
        if self.virtual_key is not None:
            self._check_virtual_key(self.virtual_key)

    def _check_virtual_key(self, key: int) -> None:
        if not self.kind.injection_mode:
            raise ConfigurationError(
                f"population {self.label!r}: virtual_key applies to spike injectors and Poisson"
                f" control sources, not to a {self.kind.value} vertex")
        if self.colour_bits:
            raise ConfigurationError(
                f"population {self.label!r}: a virtual_key needs n_colour_bits 0")
        if len(self.slices()) > 1:
            raise ConfigurationError(
                f"population {self.label!r}: a virtual_key needs one core, but"
                f" {self.n_atoms} atoms at {self.atoms_per_core} per core need"
                f" {len(self.slices())}")
        if not 0 <= key <= _MAX_KEY or key & self.virtual_mask != key:
            raise ConfigurationError(
                f"population {self.label!r}: virtual_key {key:#x} is not aligned to its mask"
                f" {self.virtual_mask:#010x} ({self.n_atoms} atoms); use a multiple of"
                f" {1 << self.n_atoms.bit_length()}")

    @property
    def virtual_mask(self) -> int:
        """The mask sPyNNaker gives a fixed-key injector (``calculate_mask``)."""
        return _MAX_KEY - ((1 << self.n_atoms.bit_length()) - 1)

    @property
    def injection_mode(self) -> bool:
        return self.kind.injection_mode

    @property
    def colour_bits(self) -> int:
        if self.n_colour_bits is not None:
            return self.n_colour_bits
        return 0 if self.kind.injection_mode else DEFAULT_COLOUR_BITS

    @property
    def atoms_per_core(self) -> int:
        if self.max_atoms_per_core is not None:
            return self.max_atoms_per_core
        return self.n_atoms if self.kind.injection_mode else DEFAULT_ATOMS_PER_CORE

    def slices(self) -> list[tuple[int, int]]:
        """(lo_atom, hi_atom) of each core, inclusive, in atom order."""
        step = self.atoms_per_core
        return [(lo, min(lo + step, self.n_atoms) - 1) for lo in range(0, self.n_atoms, step)]


@dataclass(frozen=True, slots=True, kw_only=True)
class LiveOutputParameters:
    """``activate_live_output_for``'s LPG parameters; equal sets share one LPG and IP tag."""

    host: str = "0.0.0.0"  # stored in the database as written, not resolved
    port: int = 17895
    tag: int | None = None
    strip_sdp: bool = True
    use_prefix: bool = False
    key_prefix: int | None = None
    prefix_type: PrefixType | None = None
    message_type: EIEIOType = EIEIOType.KEY_32_BIT
    right_shift: int = 0
    payload_as_time_stamps: bool = True
    use_payload_prefix: bool = True
    payload_prefix: int | None = None
    payload_right_shift: int = 0
    number_of_packets_sent_per_time_step: int = 0
    translate_keys: bool = False
    partition_ids: tuple[str, ...] = (SPIKE_PARTITION,)

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 0xFFFF:
            raise ConfigurationError(f"live output port {self.port} is not a UDP port")
        if not 0 <= self.right_shift < 32 or not 0 <= self.payload_right_shift < 32:
            raise ConfigurationError("live output right shifts must be 0..31")
        if self.number_of_packets_sent_per_time_step < 0:
            raise ConfigurationError("number_of_packets_sent_per_time_step must be >= 0")
        object.__setattr__(self, "message_type", EIEIOType(self.message_type))
        object.__setattr__(self, "partition_ids", tuple(self.partition_ids))
        if not self.partition_ids:
            raise ConfigurationError("live output needs at least one partition id")


@dataclass(frozen=True, slots=True)
class LiveOutputRequest:
    """``activate_live_output_for(population, **parameters)``."""

    label: str
    parameters: LiveOutputParameters = LiveOutputParameters()
