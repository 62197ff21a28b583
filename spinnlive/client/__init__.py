"""The bridge's client: ``async with spinnlive.connect() as client`` or ``SyncClient()``.

:mod:`.aio` is the asyncio client; :mod:`.blocking` gives plain scripts the same verbs. Both
only move frames through :mod:`spinnlive.wire`; neither imports the bridge.
"""

from spinnlive.client.aio import Client, SpikeStream, SyncClient, SyncSpikeStream, connect
from spinnlive.wire.ledger import SpikeStreamStatistics

__all__ = ["Client", "SpikeStream", "SpikeStreamStatistics", "SyncClient", "SyncSpikeStream",
           "connect"]
