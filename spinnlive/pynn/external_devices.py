"""``pyNN.spiNNaker.external_devices`` for spinnlive: live I/O entry points, not yet wired.

Every name a sPyNNaker script uses for live input/output exists here so that the script imports
cleanly, but each one raises :class:`~spinnlive.errors.ConfigurationError` when it is called (or
instantiated) until the embedded engine's board endpoint, notification handshake and live
connections are joined to the PyNN front end. Failing loudly is the point: a live-I/O script
that ran silently without its I/O would report nonsense.
"""

from __future__ import annotations

from typing import Any, NoReturn

from ..errors import ConfigurationError

_NOT_YET = ("{name} is not yet supported by spinnlive's PyNN front end: live I/O (the board "
            "endpoint and notification protocol) is not connected to it yet")

__all__ = [
    "activate_live_output_for", "activate_live_output_to", "add_poisson_live_rate_control",
    "register_database_notification_request", "run_forever", "run_sync", "request_stop",
    "continue_simulation", "add_database_socket_address", "SpikeInjector",
    "SpynnakerLiveSpikesConnection", "SpynnakerPoissonControlConnection", "EIEIOType",
]


def _refuse(name: str) -> NoReturn:
    raise ConfigurationError(_NOT_YET.format(name=name))


def activate_live_output_for(population: Any, *args: Any, **kwargs: Any) -> NoReturn:
    """Stream a population's spikes to a host as EIEIO (not yet supported)."""
    _refuse("activate_live_output_for")


def activate_live_output_to(population: Any, device: Any, *args: Any, **kwargs: Any) -> NoReturn:
    """Send a population's spikes to another vertex or device (not yet supported)."""
    _refuse("activate_live_output_to")


def add_poisson_live_rate_control(poisson_population: Any, *args: Any,
                                  **kwargs: Any) -> NoReturn:
    """Allow a Poisson source's rates to be set live (not yet supported)."""
    _refuse("add_poisson_live_rate_control")


def register_database_notification_request(hostname: str, notify_port: int,
                                           ack_port: int) -> NoReturn:
    """Add a listener to the notification protocol (not yet supported)."""
    _refuse("register_database_notification_request")


def add_database_socket_address(*args: Any, **kwargs: Any) -> NoReturn:
    """Add a notification listener address (not yet supported)."""
    _refuse("add_database_socket_address")


def run_forever(sync_time: float = 0.0) -> NoReturn:
    """Run until request_stop() (not yet supported)."""
    _refuse("run_forever")


def run_sync(run_time: float, sync_time: float) -> NoReturn:
    """Run in synchronised chunks (not yet supported)."""
    _refuse("run_sync")


def request_stop() -> NoReturn:
    """Stop a run_forever() (not yet supported)."""
    _refuse("request_stop")


def continue_simulation() -> NoReturn:
    """Resume a run_sync() (not yet supported)."""
    _refuse("continue_simulation")


class _RefusingMeta(type):
    """Class attribute access (``EIEIOType.KEY_32``) refuses too."""

    def __getattr__(cls, attr: str) -> NoReturn:
        _refuse(f"{cls.__name__}.{attr}")


class _Refusing(metaclass=_RefusingMeta):
    """Base of the classes that cannot be instantiated yet."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        _refuse(type(self).__name__)


class SpikeInjector(_Refusing):
    """Cell type that takes spikes injected live over EIEIO (not yet supported)."""


class SpynnakerLiveSpikesConnection(_Refusing):
    """Host-side live spike sender/receiver (not yet supported here)."""


class SpynnakerPoissonControlConnection(_Refusing):
    """Host-side Poisson rate controller (not yet supported here)."""


class EIEIOType(_Refusing):
    """EIEIO packet type selector (not yet supported here)."""
