"""The board side's two hot paths against the same work done with spinnman's message classes.

1. **Live output, per tick** (the tick thread): a tick's spiking atoms of a 10 000-neuron
   population -> full LPG packets (KEY_32_BIT, D + T, 64 keys, 262 bytes). spinnlive's gatherer
   (one numpy key lookup and slicing) against ``EIEIODataMessage.create`` + ``add_key`` per key
   + ``bytestring``, after a dict lookup per atom (a straightforward Python emulation).
2. **Injection, per datagram** (the receive side): SDP-wrapped 127-id KEY_16_BIT packets ->
   atom arrays. spinnlive's ``unwrap_sdp`` + ``InjectionDecoder`` against spinnman's
   ``SDPMessage.from_bytestring`` + ``read_eieio_data_message`` + ``next_element`` per event +
   a dict lookup per key.

Outputs are checked equal before timing counts; the best of several repeats is reported, with
the ratio to the spinnman path measured in the same run.

    .venv/bin/python bench/bench_board.py [--spikes 2000] [--packets 2000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

from spinnlive.engine.injection import InjectionBatch, InjectionDecoder, targets_from_mapping
from spinnlive.engine.live_output import _Gatherer
from spinnlive.engine.mapping import map_network
from spinnlive.engine.vertices import AppVertex, LiveOutputRequest
from spinnlive.protocol.eieio import EIEIOType, encode_events
from spinnlive.protocol.sdp import injection_datagram, unwrap_sdp


def best(fn: Callable[[], object], repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--spikes", type=int, default=2000, help="spikes in the tick")
    parser.add_argument("--packets", type=int, default=2000, help="injected datagrams")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    from spinnman.messages.eieio import EIEIOType as SType
    from spinnman.messages.eieio import read_eieio_data_message
    from spinnman.messages.eieio.data_messages import EIEIODataMessage
    from spinnman.messages.sdp import SDPMessage

    mapping = map_network([AppVertex("inj", 127, "injector"), AppVertex("pop", 10000, "neuron")],
                          board_address="127.0.0.2", live_outputs=[LiveOutputRequest("pop")])
    rng = np.random.default_rng(1)
    atoms = np.sort(rng.choice(10000, args.spikes, replace=False))
    tick = 123456

    gatherer = _Gatherer(mapping.lpgs[0], mapping)
    key_of = dict(enumerate(mapping.keys("pop").tolist()))

    def ours_out() -> list[bytes]:
        return gatherer.packets(gatherer.values["pop"][atoms], tick)

    def spinnman_out() -> list[bytes]:
        keys = [key_of[a] for a in atoms.tolist()]
        packets = []
        for start in range(0, len(keys), 64):
            message = EIEIODataMessage.create(SType.KEY_32_BIT, timestamp=tick)
            for key in keys[start:start + 64]:
                message.add_key(key)
            packets.append(message.bytestring)
        return packets

    t_ours, a = best(ours_out, args.repeats)
    t_ref, b = best(spinnman_out, args.repeats)
    assert a == b, "live-output packets differ"
    print(f"live output: {args.spikes} spikes -> {len(a)} packets of up to {max(map(len, a))} B:"
          f" spinnlive {t_ours * 1e6:.0f} us, spinnman {t_ref * 1e6:.0f} us,"
          f" ratio {t_ref / t_ours:.1f}x")

    decoder = InjectionDecoder(targets_from_mapping(mapping))
    place = mapping.vertex("inj").cores[0].placement
    core = (place.x, place.y, place.p)
    ids = rng.integers(0, 127, (args.packets, 127))
    datagrams = [injection_datagram(*core, encode_events(row, eieio_type=EIEIOType.KEY_16_BIT)[0])
                 for row in ids]
    base = mapping.vertex("inj").cores[0].base_key
    atom_of = {int(k): i for i, k in enumerate(mapping.keys("inj").tolist())}

    def ours_in() -> list[np.ndarray]:
        out = []
        for data in datagrams:
            header, body = unwrap_sdp(data)
            batch = decoder.decode((header.dest_x, header.dest_y, header.dest_cpu), body, 0)
            assert isinstance(batch, InjectionBatch)
            out.append(batch.atoms)
        return out

    def spinnman_in() -> list[np.ndarray]:
        out = []
        for data in datagrams:
            sdp = SDPMessage.from_bytestring(data, 2)
            message = read_eieio_data_message(sdp.data, sdp.offset)
            found = []
            while message.is_next_element:
                found.append(atom_of[message.next_element.key | base])
            out.append(np.array(found))
        return out

    t_ours, a = best(ours_in, args.repeats)
    t_ref, b = best(spinnman_in, args.repeats)
    assert all(np.array_equal(x, y) for x, y in zip(a, b)), "injected atoms differ"
    n = args.packets
    print(f"injection: {n} datagrams x 127 ids: spinnlive {n / t_ours:,.0f} datagrams/s"
          f" ({n * 127 / t_ours / 1e6:.1f} M events/s), spinnman {n / t_ref:,.0f} datagrams/s,"
          f" ratio {t_ref / t_ours:.1f}x")


if __name__ == "__main__":
    main()
