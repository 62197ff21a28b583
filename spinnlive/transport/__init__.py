"""Thin asyncio adapters that move datagrams between sockets and the sans-IO protocol objects.

``udp`` is the bounded, counted UDP endpoint; ``notifier`` and ``listener`` drive the two roles of
:mod:`spinnlive.protocol.handshake` over it. ``live_socket`` (the batch-draining live-output
socket) and ``iptags`` (the tag programmer) are the SpiNNaker side shared by the bridge and
sPyNNaker's connections; ``loop_thread`` runs an event loop for synchronous callers,
``tick_gate`` keeps I/O loops out of a real-time tick's way, ``curve`` holds ZeroMQ CURVE keys.
No parsing and no policy beyond drops and counters lives here.
"""

from typing import TYPE_CHECKING

from spinnlive.lazy import exports

if TYPE_CHECKING:
    from spinnlive.transport.listener import Listener, ListenerStatistics
    from spinnlive.transport.notifier import (
        ListenerAddress,
        Notifier,
        NotifierPeerStatistics,
    )
    from spinnlive.transport.udp import EndpointStatistics, UdpEndpoint, open_endpoint

#: imported on first use: the engine's scheduler imports only ``tick_gate`` (spinnlive.lazy)
__getattr__ = exports(__name__, {
    "listener": ("Listener", "ListenerStatistics"),
    "notifier": ("ListenerAddress", "Notifier", "NotifierPeerStatistics"),
    "udp": ("EndpointStatistics", "UdpEndpoint", "open_endpoint"),
})

__all__ = [
    "EndpointStatistics",
    "Listener",
    "ListenerAddress",
    "ListenerStatistics",
    "Notifier",
    "NotifierPeerStatistics",
    "UdpEndpoint",
    "open_endpoint",
]
