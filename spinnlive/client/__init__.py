"""The bridge's client: ``async with spinnlive.connect() as client`` or ``SyncClient()``.

:mod:`.aio` is the asyncio client; :mod:`.blocking` gives plain scripts and loops that own
their thread the same verbs. Both only move frames through :mod:`spinnlive.wire`; neither
imports the bridge.
"""

from spinnlive.client.aio import (
    Client,
    SpikeStream,
    Subscription,
    VariableRead,
    WeightsRead,
    connect,
)
from spinnlive.client.blocking import SyncClient, SyncSpikeStream, SyncSubscription
from spinnlive.wire.ledger import SpikeStreamStatistics

__all__ = ["Client", "SpikeStream", "SpikeStreamStatistics", "Subscription", "SyncClient",
           "SyncSpikeStream", "SyncSubscription", "VariableRead", "WeightsRead", "connect"]
