"""The bridge inside ``spinnlive run``: the run hooks that register it, and its summary.

The bridge runs on a :class:`~spinnlive.bridge.runner.BridgeThread` beside the script (why a
thread and not a subprocess: the command reads the bridge's final statistics for its summary
and must be sure the bridge is listening before the script's first run step notifies it; in one
process both are a function call, and a script run is one command the user can Ctrl-C). The
bridge's own rule still holds: its loop never waits on the engine, and the engine's tick thread
only enqueues; the bridge sees the engine exactly as it sees a board (UDP notifications,
EIEIO), so the same code serves ``--backend spinnaker``.

The run hooks (:func:`attach_embedded`) are the CLI's only contact with the engine: after every
``setup()`` the bridge is registered as a notification listener (what
``add_database_socket_address`` does), and before the first run step, when the script asked for
no live output itself, every population except the injectors gets one (``--stream``), so the
bridge has spikes to publish. Injectors stay inputs: a label with live output is an ``out``
population to the bridge (docs/wire-format.md §5).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from typing import Any

from ..bridge.stats import BridgeStatistics

__all__ = ["attach_embedded", "attach_spynnaker", "format_bridge_summary"]

logger = logging.getLogger(__name__)

_START_TIMEOUT_S = 10.0
_CALL_TIMEOUT_S = 5.0


def format_bridge_summary(stats: BridgeStatistics | None) -> str:
    """Stream counters for the end-of-run summary."""
    if stats is None:
        return "bridge: no statistics"
    udp = stats.udp
    lines = [f"bridge epoch {stats.epoch} ({stats.state}): {udp.received} datagrams in, "
             f"{udp.injected_packets} packets to the board, late ticks {udp.late_ticks}, "
             f"unknown keys {udp.unknown_keys}, kernel drops {udp.kernel_drops}"]
    for name, s in sorted(stats.streams.items()):
        dropped = ", ".join(f"{k} {v}" for k, v in sorted(s.dropped.items()) if v) or "none"
        lines.append(f"  {name:<24} {s.messages:>7} messages {s.events:>9} events "
                     f"{s.forwarded_events:>7} forwarded  dropped: {dropped}")
    if len(stats.boards) > 1:
        lines.append(f"  {len(stats.boards)} boards:")
        lines += [f"    {b.address:<16} {b.state:<10} {b.packets:>7} packets in, last tick"
                  f" {b.last_tick}, {b.injected_packets} packets to it;"
                  f" {' '.join(b.topics) or 'no topics'}" for b in stats.boards.values()]
    return "\n".join(lines)


# -- run hooks ------------------------------------------------------------------------------

@contextlib.contextmanager
def attach_embedded(notify: tuple[str, int] | None, stream: Sequence[str],
                    n_boards_required: int | None = None) -> Iterator[None]:
    """While active, every ``setup()`` of spinnlive.pynn registers the bridge (``notify``; None:
    no bridge) as a listener, streams the ``--stream`` populations and maps on at least
    ``n_boards_required`` boards (:class:`spinnlive.pynn.simulator.HostHooks`)."""
    from ..pynn import simulator
    from ..pynn.simulator import HostHooks
    from ..transport.notifier import ListenerAddress

    state = simulator.state
    saved = state.host_hooks
    listeners = () if notify is None else (ListenerAddress(notify[0], notify[1], None),)
    state.host_hooks = HostHooks(listeners=listeners, stream=tuple(stream),
                                 n_boards_required=n_boards_required)
    try:
        yield
    finally:
        state.host_hooks = saved


@contextlib.contextmanager
def attach_spynnaker(notify: tuple[str, int]) -> Iterator[None]:
    """While active, sPyNNaker's ``setup()`` also registers the bridge as a listener."""
    import pyNN.spiNNaker as sim

    setup = sim.setup

    def setup_with_bridge(*args: Any, **kwargs: Any) -> Any:
        rank = setup(*args, **kwargs)
        sim.external_devices.add_database_socket_address(notify[0], notify[1], None)
        return rank

    sim.setup = setup_with_bridge
    try:
        yield
    finally:
        sim.setup = setup
