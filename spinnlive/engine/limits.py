"""What one board's live I/O can carry, checked before a run instead of found on the machine.

Theory of operation
-------------------
On SpiNNaker every live-output event leaves through the Ethernet of the board its LPG sits on
(the board of the population's first core, :mod:`spinnlive.engine.mapping`), and a SpiNN-5
board's Ethernet carries about 0.7 M events/s in and out (:data:`BOARD_ETHERNET_EVENTS_S`).
The IP tags are the other per-board limit (7 per board, one per LPG parameter set); the mapping
refuses an eighth parameter set naming the population that needs it.

:func:`check_live_output_rate` adds up, per board, the expected rates of the populations whose
live output leaves through it, in events per wall-clock second (biological rate / time scale
factor), and refuses a board over the limit with an error that names the board, its
populations and what to change. Expected rates are known for Poisson sources (their rates);
neuron populations have none before they run, so they are not counted here.
"""

from __future__ import annotations

from collections.abc import Mapping

from spinnlive.engine.mapping import Mapping as EngineMapping
from spinnlive.errors import ConfigurationError

__all__ = ["BOARD_ETHERNET_EVENTS_S", "check_live_output_rate"]

#: Live-output events per second one SpiNN-5 board's Ethernet carries (in and out).
BOARD_ETHERNET_EVENTS_S = 0.7e6


def check_live_output_rate(mapping: EngineMapping, expected_hz: Mapping[str, float],
                           time_scale_factor: float = 1.0,
                           limit: float = BOARD_ETHERNET_EVENTS_S) -> None:
    """Raise :class:`ConfigurationError` when a board's live output would pass ``limit``.

    ``expected_hz`` is each population's total expected spike rate (Hz, biological time);
    populations it does not name count as 0.
    """
    per_board: dict[int, dict[str, float]] = {}
    for lpg in mapping.lpgs:
        for source in lpg.sources:
            rate = expected_hz.get(source, 0.0) / time_scale_factor
            if rate > 0:
                rates = per_board.setdefault(lpg.board, {})
                rates[source] = rates.get(source, 0.0) + rate
    for board, rates in per_board.items():
        total = sum(rates.values())
        if total <= limit:
            continue
        top = max(rates, key=lambda label: rates[label])
        listed = ", ".join(f"{label} {rate / 1e6:.2f} M" for label, rate in
                           sorted(rates.items(), key=lambda item: -item[1]))
        spread = (" or give the network more boards (n_boards_required) so that it starts"
                  " on another board") if mapping.n_boards > 1 or len(rates) > 1 else ""
        raise ConfigurationError(
            f"live output through board {mapping.boards[board].address} would carry"
            f" {total / 1e6:.2f} M events/s ({listed}), more than the"
            f" {limit / 1e6:.1f} M events/s one SpiNN-5 board's Ethernet carries: lower the"
            f" rate of population {top!r}, stream fewer of its neurons or fewer populations,"
            f" raise time_scale_factor{spread}")
