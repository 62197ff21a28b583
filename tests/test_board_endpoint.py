"""The board endpoint over real UDP: IP-tag set, injection, and everything it must drop."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading

import numpy as np
import pytest
from waiting import until

from spinnlive.drops import DropCounter
from spinnlive.engine.board import BoardEndpoint
from spinnlive.engine.mapping import Mapping, map_network
from spinnlive.engine.scheduler import TickMode, TickScheduler
from spinnlive.engine.vertices import AppVertex, LiveOutputRequest
from spinnlive.errors import TransportError
from spinnlive.protocol.commands import EventStop, encode_command
from spinnlive.protocol.eieio import EIEIOType, PrefixType, encode_events
from spinnlive.protocol.sdp import (
    IPTagSetRequest,
    SDPHeader,
    decode_scp_reply,
    encode_iptag_set,
    injection_datagram,
    wrap_sdp,
)

N_INJ, N_POISSON = 10, 20


def network(board_ip: str) -> Mapping:
    return map_network(
        [AppVertex("inj", N_INJ, "injector"), AppVertex("pop", 300, "neuron"),
         AppVertex("poisson", N_POISSON, "poisson"),
         AppVertex("poisson_control", N_POISSON, "poisson_control"),
         AppVertex("fixed", 3, "injector", virtual_key=0x70000)],
        board_address=board_ip, live_outputs=[LiveOutputRequest("pop")])


class Peer:
    """A raw UDP client socket on 127.0.0.1, read without blocking the event loop."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(5)
        self.address = self.sock.getsockname()

    async def recv(self) -> bytes:
        return (await asyncio.to_thread(self.sock.recvfrom, 2048))[0]


@pytest.fixture
async def board():  # type: ignore[no-untyped-def]
    endpoint = await BoardEndpoint.open(port=0)
    endpoint.load(network(endpoint.address[0]))
    peer = Peer()
    try:
        yield endpoint, peer
    finally:
        peer.sock.close()
        await endpoint.aclose()


async def deliver(board: BoardEndpoint, peer: Peer, datagrams: list[bytes]) -> None:
    """Send and wait (bounded) until the board has taken them all from its socket."""
    target = board.statistics().received + len(datagrams)
    for data in datagrams:
        peer.sock.sendto(data, board.address)
    await until(lambda: board.statistics().received >= target, f"{len(datagrams)} datagrams", 5)


def to_core(mapping: Mapping, label: str, events: list[bytes]) -> list[bytes]:
    p = mapping.vertex(label).cores[0].placement
    return [injection_datagram(p.x, p.y, p.p, e) for e in events]


async def test_loopback_addresses_are_distinct_per_board_and_start_at_127_0_0_2() -> None:
    a = await BoardEndpoint.open(port=0)
    b = await BoardEndpoint.open(port=a.address[1])  # same port: needs another address
    try:
        assert a.address[0] == "127.0.0.2" and b.address[0] != a.address[0]
        assert b.address[0].startswith("127.0.0.") and b.address[1] == a.address[1]
        with pytest.raises(TransportError, match="no board address free"):
            await BoardEndpoint.open(a.address[0], a.address[1])
    finally:
        await a.aclose()
        await b.aclose()


async def test_iptag_set_with_use_sender_points_the_tag_at_the_requester(board) -> None:  # type: ignore[no-untyped-def]
    endpoint, peer = board
    request = encode_iptag_set(IPTagSetRequest(x=0, y=0, tag=7, sequence=41))
    await deliver(endpoint, peer, [request])
    reply = await peer.recv()
    # what LiveEventConnection accepts: 18 bytes, flags 0x07, dest port/cpu 0xFF
    assert len(reply) == 18 and reply[2] == 0x07 and reply[4] == 0xFF
    parsed = decode_scp_reply(reply)
    assert (parsed.rc, parsed.sequence, parsed.payload) == (0x80, 41, (7).to_bytes(4, "little"))
    target = endpoint.tags.target(7)
    assert target is not None and target.address == peer.address and target.strip_sdp
    # without use_sender the request's own ip:port is the target
    other = IPTagSetRequest(x=0, y=0, tag=3, ip="127.0.0.9", port=4321, use_sender=False)
    await deliver(endpoint, peer, [encode_iptag_set(other)])
    assert decode_scp_reply(await peer.recv()).rc == 0x80
    assert endpoint.tags.target(3).address == ("127.0.0.9", 4321)  # type: ignore[union-attr]
    # SCAMP has 8 tags: a larger one is refused with RC_ARG and counted
    await deliver(endpoint, peer, [encode_iptag_set(IPTagSetRequest(x=0, y=0, tag=9))])
    assert decode_scp_reply(await peer.recv()).rc == 0x84
    stats = endpoint.statistics()
    assert stats.tag_sets == 2 and stats.dropped == {"bad_tag": 1}


async def test_injected_ids_full_keys_and_prefixed_packets_become_atoms(board) -> None:  # type: ignore[no-untyped-def]
    endpoint, peer = board
    mapping = network(endpoint.address[0])
    keys = mapping.keys("inj")
    fixed = mapping.keys("fixed")
    packets = (encode_events([0, 3, 9], eieio_type=EIEIOType.KEY_16_BIT)  # on-chip: id|base
               + encode_events(keys[[5, 6]], eieio_type=EIEIOType.KEY_32_BIT)  # full keys
               + encode_events([int(fixed[2])], eieio_type=EIEIOType.KEY_16_BIT,
                               prefix=int(fixed[2]) >> 16, prefix_type=PrefixType.UPPER_HALF_WORD))
    # a LOWER prefix on 16-bit keys is (key << 16) | prefix on chip (spinnman reads key | prefix)
    lower = encode_events([int(fixed[0])], eieio_type=EIEIOType.KEY_16_BIT,
                          prefix=int(fixed[0]) & 0xFFFF, prefix_type=PrefixType.LOWER_HALF_WORD)
    await deliver(endpoint, peer, to_core(mapping, "inj", packets[:2])
                  + to_core(mapping, "fixed", packets[2:] + lower)
                  + to_core(mapping, "fixed", encode_events([1], eieio_type=EIEIOType.KEY_16_BIT)))
    injected = endpoint.drain()
    np.testing.assert_array_equal(injected.spikes["inj"], [0, 3, 9, 5, 6])
    np.testing.assert_array_equal(injected.spikes["fixed"], [2, 0, 1])
    assert injected.rates == {} and endpoint.drain().empty  # drained once
    stats = endpoint.statistics()
    assert (stats.injected_packets, stats.injected_events, stats.dropped) == (5, 8, {})


async def test_rate_packets_are_16_16_hz_and_the_last_rate_per_neuron_wins(board) -> None:  # type: ignore[no-untyped-def]
    endpoint, peer = board
    mapping = network(endpoint.address[0])
    keys = mapping.keys("poisson_control")
    payloads = [10 << 16, 0x8000, 0xFFFF_FFFF, 7 << 16]
    packets = encode_events(keys[[1, 2, 3, 1]], payloads, eieio_type=EIEIOType.KEY_PAYLOAD_32_BIT)
    await deliver(endpoint, peer, to_core(mapping, "poisson_control", packets))
    atoms, rates = endpoint.drain().rates["poisson"]  # keyed by the controlled population
    np.testing.assert_array_equal(atoms, [1, 2, 3])
    np.testing.assert_array_equal(rates * 65536, [7 << 16, 0x8000, 0xFFFF_FFFF])


async def test_timestamped_packets_are_held_for_their_tick_or_dropped_late(board) -> None:  # type: ignore[no-untyped-def]
    endpoint, peer = board
    mapping = network(endpoint.address[0])
    endpoint.tick_source = lambda: 5
    keys = mapping.keys("inj")

    def timed(atom: int, stamp: int) -> bytes:
        (packet,) = encode_events(keys[[atom]], [stamp], eieio_type=EIEIOType.KEY_PAYLOAD_32_BIT,
                                  payload_prefix=stamp or None, is_time=True)
        return packet

    key_only_stamped = encode_events(keys[[8]], eieio_type=EIEIOType.KEY_32_BIT,
                                     payload_prefix=2, is_time=True)  # stamped 2: late
    untimed = encode_events(keys[[9]], eieio_type=EIEIOType.KEY_32_BIT)
    await deliver(endpoint, peer, to_core(mapping, "inj", [
        timed(1, 5), timed(2, 4), timed(3, 6), timed(4, 0), *key_only_stamped, *untimed]))
    np.testing.assert_array_equal(np.sort(endpoint.drain().spikes["inj"]), [1, 9])  # tick 5
    assert endpoint.statistics().dropped == {"late_timestamp": 3}
    assert endpoint.statistics().held_events == 1
    np.testing.assert_array_equal(endpoint.drain(6).spikes["inj"], [3])  # held until 6
    assert endpoint.statistics().held_events == 0 and endpoint.drain(7).empty


async def test_malformed_and_unusable_datagrams_are_counted_and_the_board_keeps_serving(board) -> None:  # type: ignore[no-untyped-def]
    endpoint, peer = board
    mapping = network(endpoint.address[0])
    inj = mapping.vertex("inj").cores[0].placement
    rng = np.random.default_rng(7)
    garbage = [b"", b"\x00", rng.integers(0, 256, 5, dtype=np.uint8).tobytes()]
    scp_header = SDPHeader(flags=0x87, tag=0xFF, dest_port=0, dest_cpu=0, src_port=7,
                           src_cpu=31, dest_x=0, dest_y=0, src_x=0, src_y=0)
    bad = {
        "bad_sdp": garbage,
        "bad_eieio": [injection_datagram(inj.x, inj.y, inj.p, b"\x05\x00\x01")],
        "command": [injection_datagram(inj.x, inj.y, inj.p, encode_command(EventStop()))],
        "unknown_core": [injection_datagram(3, 3, 3, b"\x01\x00\x01\x00")],
        "empty": [injection_datagram(inj.x, inj.y, inj.p, b"\x00\x00")],
        "unknown_keys": to_core(mapping, "inj", encode_events(
            [0xFFFF_FF00], eieio_type=EIEIOType.KEY_32_BIT)),
        "no_payload": to_core(mapping, "poisson_control", encode_events(
            mapping.keys("poisson_control")[:2], eieio_type=EIEIOType.KEY_32_BIT)),
        "sdp_port": [injection_datagram(inj.x, inj.y, inj.p, b"\x00\x00", port=5)],
        "scp_unsupported": [wrap_sdp(scp_header, b"\x00\x00\x01\x00")],  # CMD_VER
        "bad_scp": [wrap_sdp(scp_header, b"\x1a")],
    }
    datagrams = [d for ds in bad.values() for d in ds]
    datagrams += [bytes(rng.integers(0, 256, int(n), dtype=np.uint8))
                  for n in rng.integers(10, 300, 200)]  # random: counted whatever they are
    await deliver(endpoint, peer, datagrams)
    stats = endpoint.statistics()
    for reason, sent in bad.items():
        assert stats.dropped.get(reason, 0) >= len(sent), reason
    assert stats.received == len(datagrams)
    # a mixed packet: known events are used, unknown ones counted one by one
    mixed = encode_events([int(mapping.keys("inj")[4]), 0x1234_5678], eieio_type=EIEIOType.KEY_32_BIT)
    await deliver(endpoint, peer, to_core(mapping, "inj", mixed))
    assert 4 in endpoint.drain().spikes.get("inj", [])
    assert endpoint.statistics().dropped_events["unknown_key"] >= 1
    assert "internal_error" not in endpoint.statistics().dropped


async def test_a_flood_of_injections_is_bounded_counted_and_ticks_go_on() -> None:
    endpoint = await BoardEndpoint.open(port=0, max_queue=64, max_batches=32)
    mapping = network(endpoint.address[0])
    endpoint.load(mapping)
    (packet,) = encode_events(np.arange(N_INJ), eieio_type=EIEIOType.KEY_16_BIT)
    datagram = to_core(mapping, "inj", [packet])[0]
    drained: list[int] = []

    def step(tick: int) -> None:
        injected = endpoint.drain()
        drained.append(sum(a.size for a in injected.spikes.values()))

    scheduler = TickScheduler(step, 0.001, TickMode.REALTIME)
    endpoint.tick_source = lambda: scheduler.tick
    n_sent = 20000
    flooder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

    def flood() -> None:
        for _ in range(n_sent):
            flooder.sendto(datagram, endpoint.address)

    try:
        thread = threading.Thread(target=flood)
        ticks = asyncio.ensure_future(scheduler.run_async(300))
        thread.start()
        await asyncio.to_thread(thread.join, 60)
        async with asyncio.timeout(60):
            stats = await ticks
        assert stats.ticks == 300  # the tick loop kept its ticks

        def all_read() -> bool:  # every datagram sent was handled, or dropped by the kernel
            socket_side = endpoint.statistics().endpoint
            return socket_side.queue_depth == 0 \
                and socket_side.received + (socket_side.kernel_dropped or 0) == n_sent

        await until(all_read, "every datagram of the flood to be read or counted")
        board = endpoint.statistics()
        # Where the excess went depends on the machine's speed (the kernel buffer on a slow one,
        # the queues on a fast one), but not whether it is counted: 20000 datagrams cannot fit
        # in 300 ticks of 32 batches plus the queues, so some are dropped, and each is counted.
        assert board.endpoint.kernel_dropped is not None
        queued = board.injected_packets
        assert queued + board.dropped.get("queue_full", 0) == board.received
        assert board.received + board.endpoint.dropped.get("queue_full", 0) \
            + board.endpoint.kernel_dropped == n_sent
        assert board.datagrams_dropped == n_sent - queued > 0
        assert board.queue_peak <= 32
        assert board.injected_events == sum(drained) + board.queue_depth * N_INJ
    finally:
        flooder.close()
        await endpoint.aclose()


def test_drops_are_logged_at_powers_of_ten_only(caplog: pytest.LogCaptureFixture) -> None:
    counter = DropCounter(logging.getLogger("test.drops"), "board")
    with caplog.at_level(logging.WARNING, logger="test.drops"):
        for _ in range(1000):
            counter.add("bad_sdp")
        counter.add("queue_full", 25)  # a jump past 1 and 10 logs once
    assert counter["bad_sdp"] == 1000 and counter.total == 1025
    assert [r.getMessage().split("(")[1].split()[0] for r in caplog.records] == [
        "1", "10", "100", "1000", "25"]
    assert dict(counter.snapshot()) == {"bad_sdp": 1000, "queue_full": 25}
