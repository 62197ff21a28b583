"""``pyNN.spiNNaker.external_devices`` for spinnlive: live input, live output, run control.

The names, signatures and defaults are sPyNNaker 7.4.1's (protocol sheet §3.1, §5.3-§5.5), so a
live script runs unchanged and sPyNNaker's own client classes talk to the embedded engine:

* :func:`SpikeInjector` is a cell type: a population of it takes spikes over EIEIO (its keys
  step by 1; ``additional_parameters={"virtual_key": k}`` fixes them).
* :func:`activate_live_output_for` streams a population's spikes through a live packet gatherer
  (every LPG parameter, same defaults); :func:`add_poisson_live_rate_control` adds the
  ``<label>_control`` source whose events set a Poisson population's rates.
* Each of them registers a notification listener when ``notify`` (``database_notify_host``
  None -> localhost, ``database_notify_port_num`` None -> 19999, ``database_ack_port_num`` None
  -> any local port), as do :func:`add_database_socket_address` and
  :func:`register_database_notification_request`; equal addresses are one listener.
* :func:`run_forever` runs until :func:`request_stop` (from a live callback or another thread);
  :func:`run_sync` pauses every ``sync_time`` ms until :func:`continue_simulation`.

* ``SpynnakerLiveSpikesConnection`` / ``SpynnakerPoissonControlConnection`` are sPyNNaker's own
  classes when sPyNNaker is importable (so a script's ``isinstance`` checks and callbacks meet
  the classes it imported from ``spynnaker``), otherwise spinnlive's wire-compatible ones
  (:mod:`spinnlive.connections`); sPyNNaker is imported only when a script asks for them.
* Every hardware device name (PushBot, retinas, motors, SPIF, Ethernet control) exists and
  refuses construction: it needs a board.

What the engine does with these per run step is in :mod:`spinnlive.engine.live_io`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from pyNN.standardmodels import StandardCellType, build_translations

from .. import connections as _own_connections
from ..engine.vertices import LiveOutputParameters
from ..errors import ConfigurationError
from ..protocol.commands import NOTIFY_PORT
from ..protocol.eieio import EIEIOType
from ..protocol.eieio import PrefixType as EIEIOPrefix
from ..transport.notifier import ListenerAddress
from . import simulator
from . import unavailable as _unavailable

__all__ = [
    "activate_live_output_for", "activate_live_output_to", "add_poisson_live_rate_control",
    "register_database_notification_request", "run_forever", "run_sync", "request_stop",
    "continue_simulation", "add_database_socket_address", "SpikeInjector",
    "SpynnakerLiveSpikesConnection", "SpynnakerPoissonControlConnection", "EIEIOType",  # noqa: F822
    "EIEIOPrefix", "ExternalDeviceSpikeInjector", "protocols", *_unavailable.DEVICES,
]

#: names resolved on first use: sPyNNaker's class if it imports, else spinnlive's
_LIVE_CONNECTIONS = ("SpynnakerLiveSpikesConnection", "SpynnakerPoissonControlConnection")


def live_connection_class(name: str) -> type:
    """sPyNNaker's live connection class ``name`` when sPyNNaker imports, else spinnlive's."""
    try:
        from spynnaker.pyNN import connections as theirs
    except ImportError:
        return getattr(_own_connections, name)  # type: ignore[no-any-return]
    return getattr(theirs, name)  # type: ignore[no-any-return]


def __getattr__(name: str) -> Any:
    if name in _LIVE_CONNECTIONS:
        cls = live_connection_class(name)
        globals()[name] = cls
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

NOTIFY_HOST = "localhost"  #: ``[Database] notify_hostname``
LIVE_SPIKE_PORT = 17895  #: ``[Recording] live_spike_port``
LIVE_SPIKE_HOST = "0.0.0.0"  #: ``[Recording] live_spike_host``


def add_database_socket_address(database_notify_host: str | None,
                                database_notify_port_num: int | None,
                                database_ack_port_num: int | None) -> None:
    """Register a notification listener (sPyNNaker's defaults fill the Nones)."""
    simulator.state.engine.add_listener(ListenerAddress(
        database_notify_host or NOTIFY_HOST,
        NOTIFY_PORT if database_notify_port_num is None else int(database_notify_port_num),
        None if database_ack_port_num is None else int(database_ack_port_num)))


def register_database_notification_request(hostname: str, notify_port: int,
                                           ack_port: int) -> None:
    """Register a notification listener."""
    add_database_socket_address(hostname, notify_port, ack_port)


class SpikeInjectorType(StandardCellType):
    """A population that emits only the spikes injected into it live (sPyNNaker's injector)."""

    default_parameters: ClassVar[dict[str, Any]] = {}
    default_initial_values: ClassVar[dict[str, Any]] = {}
    recordable: ClassVar[list[str]] = ["spikes"]
    units: ClassVar[dict[str, str]] = {}
    translations = build_translations()
    kernel_model = "SpikeInjector"
    variable_map: ClassVar[dict[str, str]] = {}


def SpikeInjector(notify: bool = True, database_notify_host: str | None = None,  # noqa: N802
                  database_notify_port_num: int | None = None,
                  database_ack_port_num: int | None = None) -> SpikeInjectorType:
    """The spike injector cell type; registers a listener when ``notify``."""
    if notify:
        add_database_socket_address(database_notify_host, database_notify_port_num,
                                    database_ack_port_num)
    return SpikeInjectorType()


ExternalDeviceSpikeInjector = SpikeInjector  #: sPyNNaker's other name for it


class protocols:  # noqa: N801 - sPyNNaker's module name
    """sPyNNaker's SpiNNaker-link device protocols: only boards have the links."""

    def __getattr__(self, name: str) -> Any:
        _unavailable.refuse(f"external_devices.protocols.{name}", _unavailable.HARDWARE)


protocols = protocols()  # type: ignore[assignment,misc]
_unavailable.install(globals(), _unavailable.DEVICES)


def _code(member: Any) -> int:
    """An EIEIO enum's wire code, whether it is spinnlive's or spinnman's enum."""
    return int(getattr(member, "encoded_value", getattr(member, "value", member)))


def _root(population: Any) -> Any:
    key = getattr(population, "_key", None)
    if key is None:
        raise ConfigurationError(
            f"expected a spinnlive Population, got {type(population).__name__}; views and "
            "assemblies cannot be live devices (sPyNNaker refuses them too)")
    return population


def activate_live_output_for(
        population: Any, *, database_notify_host: str | None = None,
        database_notify_port_num: int | None = None, database_ack_port_num: int | None = None,
        port: int | None = None, host: str | None = None, tag: int | None = None,
        strip_sdp: bool = True, use_prefix: bool = False, key_prefix: int | None = None,
        prefix_type: EIEIOPrefix | None = None,
        message_type: EIEIOType = EIEIOType.KEY_32_BIT, right_shift: int = 0,
        payload_as_time_stamps: bool = True, notify: bool = True,
        use_payload_prefix: bool = True, payload_prefix: int | None = None,
        payload_right_shift: int = 0, number_of_packets_sent_per_time_step: int = 0,
        translate_keys: bool = False, partition_ids: Iterable[str] | None = None) -> None:
    """Stream ``population``'s spikes live, as an LPG sends them (protocol sheet §5.4)."""
    pop = _root(population)
    kwargs: dict[str, Any] = {}
    if partition_ids is not None:
        kwargs["partition_ids"] = tuple(partition_ids)
    parameters = LiveOutputParameters(
        host=LIVE_SPIKE_HOST if host is None else host,
        port=LIVE_SPIKE_PORT if port is None else int(port), tag=tag, strip_sdp=strip_sdp,
        use_prefix=use_prefix, key_prefix=key_prefix,
        prefix_type=None if prefix_type is None else EIEIOPrefix(_code(prefix_type)),
        message_type=EIEIOType(_code(message_type)), right_shift=right_shift,
        payload_as_time_stamps=payload_as_time_stamps, use_payload_prefix=use_payload_prefix,
        payload_prefix=payload_prefix, payload_right_shift=payload_right_shift,
        number_of_packets_sent_per_time_step=number_of_packets_sent_per_time_step,
        translate_keys=translate_keys, **kwargs)
    simulator.state.engine.add_live_output(pop._key, parameters)
    if notify:
        add_database_socket_address(database_notify_host, database_notify_port_num,
                                    database_ack_port_num)


def activate_live_output_to(population: Any, device: Any, partition_id: str = "SPIKE") -> None:
    """Send spikes to another vertex or hardware device: no such devices on the engine."""
    raise ConfigurationError(
        "activate_live_output_to connects to SpiNNaker hardware devices (SpiNNaker links,"
        " FPGAs), which the embedded engine has none of; use activate_live_output_for to a host"
        " or a Projection to a population")


def add_poisson_live_rate_control(
        poisson_population: Any, *, control_label_extension: str = "_control",
        receive_port: int | None = None, database_notify_host: str | None = None,
        database_notify_port_num: int | None = None, database_ack_port_num: int | None = None,
        notify: bool = True, reserve_reverse_ip_tag: bool = False) -> None:
    """Let a SpikeSourcePoisson's rates be set live through ``<label><extension>``."""
    pop = _root(poisson_population)
    if receive_port is not None or reserve_reverse_ip_tag:
        raise ConfigurationError(
            "reverse IP tags (receive_port, reserve_reverse_ip_tag) are not emulated: clients "
            "send rate changes as SDP to the board, which sPyNNaker's connection always does")
    simulator.state.engine.add_rate_control(pop._key, control_label_extension)
    if notify:
        add_database_socket_address(database_notify_host, database_notify_port_num,
                                    database_ack_port_num)


def run_forever(sync_time: float = 0.0) -> None:
    """Run until :func:`request_stop`; with ``sync_time`` pause every that many ms."""
    simulator.state.run_forever(sync_time)


def run_sync(run_time: float, sync_time: float) -> None:
    """Run ``run_time`` ms, pausing every ``sync_time`` ms until :func:`continue_simulation`."""
    simulator.state.run_sync(run_time, sync_time)


def request_stop() -> None:
    """Stop a run after the tick in progress (from any thread, e.g. a live callback)."""
    simulator.state.engine.request_stop()


def continue_simulation() -> None:
    """Resume a run paused at a sync point."""
    simulator.state.engine.continue_simulation()
