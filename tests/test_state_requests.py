"""The state plane's replies: every kind of bad request is refused naming what was wrong and
changes nothing; a run on a SpiNNaker board (no state service) is refused at once, saying what
is possible there; streams publish snapshots every N ticks.

The network runs in this process (in a thread, real time), its bridge in this event loop, and
the client talks to the bridge over real ZeroMQ and TCP sockets.
"""

from __future__ import annotations

import asyncio
import sys
import threading

import numpy as np
import pytest
import zmq
from bridge_helpers import FakeBoard, announce, quick_config, write_bridge_database
from waiting import until

from spinnlive.bridge import Bridge
from spinnlive.client import connect
from spinnlive.protocol.state import (
    Code,
    MessageReader,
    Op,
    StateError,
    StateReply,
    StateRequest,
    decode_reply,
    decode_request,
    encode_reply,
    encode_request,
    pack_message,
    pack_routed,
    split_routed,
)
from spinnlive.wire.output import StateSnapshot, decode_output


def test_a_routed_message_splits_back_into_its_route_and_frames():
    """Both ends of the engine link route one way: the route comes back whole, and a message
    whose frame 0 is no 8-byte route (or that has no frames) is refused as None."""
    frames = encode_request(StateRequest(op=Op.DESCRIBE, id=4))
    stream = b"".join(bytes(b) for b in pack_routed(2**40 + 3, frames))
    [message] = MessageReader().feed(stream)
    assert split_routed(message) == (2**40 + 3, [bytes(f) for f in frames])
    assert split_routed([b"\x01" * 7, *message[1:]]) is None
    assert split_routed([]) is None


def test_records_round_trip_through_the_stream_framing():
    request = StateRequest(op=Op.SET_WEIGHTS, id=9, projection="a→b", tick=12,
                           pre=np.array([1, 2], np.uint32), post=np.array([3, 4], np.uint32),
                           values=np.array([0.5, 1.5]))
    stream = b"".join(bytes(b) for b in pack_message(encode_request(request)))
    reader = MessageReader()
    messages = [m for i in range(len(stream)) for m in reader.feed(stream[i:i + 1])]
    assert len(messages) == 1
    back = decode_request(messages[0])
    assert (back.op, back.id, back.projection, back.tick) == (Op.SET_WEIGHTS, 9, "a→b", 12)
    assert back.pre.tolist() == [1, 2] and back.values.tolist() == [0.5, 1.5]
    reply = decode_reply(encode_reply(StateReply(op=Op.GET, id=3, tick=7,
                                                 ids=np.array([0], np.uint32),
                                                 values=np.array([-65.0]))))
    assert (reply.ok, reply.tick, reply.values.tolist()) == (True, 7, [-65.0])


@pytest.mark.parametrize("frames, fragment", [
    ([b"not json"], "not JSON"),
    ([b'{"op": "explode"}'], "unknown op"),
    ([b'{"op": "get", "tick": "soon"}'], "'tick' must be int"),
    ([b'{"op": "get", "arrays": ["ids"]}'], "array frames"),
    ([b'{"op": "get", "arrays": ["ids"]}', b"abc"], "whole number"),
    ([b'{"op": "get", "arrays": ["bogus"]}', b""], "arrays are"),
])
def test_malformed_requests_are_bad_request(frames, fragment):
    with pytest.raises(StateError) as caught:
        decode_request(frames)
    assert caught.value.code is Code.BAD_REQUEST and fragment in str(caught.value)


def test_a_broken_stream_is_refused_not_buffered_without_bound():
    with pytest.raises(StateError, match="frames"):
        MessageReader(max_frames=4).feed((99).to_bytes(4, "little"))
    with pytest.raises(StateError, match="bytes"):
        MessageReader(max_frame=16).feed((1).to_bytes(4, "little") + (17).to_bytes(4, "little"))


async def test_a_run_without_a_state_service_is_refused_at_once(tmp_path):
    board = FakeBoard()  # UDP only, as SCAMP: nothing listens on TCP 17893
    try:
        async with Bridge(quick_config()) as bridge:
            notifier, _ = await announce(bridge, write_bridge_database(tmp_path, board.ip), board)
            async with connect(bridge.endpoints["discovery"], timeout=10) as client:
                for _attempt in range(2):  # the second is refused without a new connect
                    with pytest.raises(StateError) as caught:
                        await client.weights("exc→inh")
                    assert caught.value.code is Code.UNAVAILABLE
                    message = str(caught.value)
                    assert "SpiNNaker" in message and "Projection.set" in message
                    assert "between run() steps" in message
                described = (await client.describe())["state_plane"]
                assert described["available"] is False and described["refused"] == 2
            notifier.close()
    finally:
        board.close()


@pytest.fixture
def network():
    """A real-time network in a thread, held at its confirmation until the test says ready."""
    import spinnlive.pynn as sim

    box: dict[str, object] = {}

    def run(notify: int) -> None:
        sim.setup(timestep=1.0, realtime=True, time_scale_factor=1.0,
                  wait_on_confirmation_timeout=60.0)
        ext = sim.external_devices
        stim = sim.Population(4, ext.SpikeInjector(), label="stim")
        pop = sim.Population(6, sim.IF_curr_exp(), label="pop")
        inh = sim.Population(3, sim.IF_curr_exp(), label="inh")
        sim.Projection(stim, pop, sim.AllToAllConnector(), sim.StaticSynapse(weight=0.5))
        box["neg"] = sim.Projection(pop, inh, sim.FixedNumberPreConnector(2, rng=sim.NumpyRNG(seed=1)),
                                    sim.StaticSynapse(weight=-0.25),
                                    receptor_type="inhibitory", label="pop-inh")
        ext.activate_live_output_for(pop, database_notify_port_num=notify)
        box["pop"] = pop
        try:
            ext.run_forever()
            box["i_offset"] = pop.get("i_offset")
        finally:
            sim.end()

    def start(notify: int) -> threading.Thread:
        thread = threading.Thread(target=run, args=(notify,), daemon=True)
        thread.start()
        return thread

    yield start, box, sim
    sim.external_devices.request_stop()


async def test_bad_requests_name_what_is_wrong_and_change_nothing(network):
    start, box, sim = network
    async with Bridge(quick_config(hold_confirmation=True, hold_timeout_s=50.0)) as bridge:
        thread = start(bridge.notify_address[1])
        async with connect(bridge.endpoints["discovery"], timeout=20) as client:
            await until(lambda: _held(client), "the held confirmation", 60)
            described = await client.describe_state()
            labels = [p["label"] for p in described["projections"]]
            assert labels == ["stim→pop", "pop-inh"]  # PyNN's default label, and the script's
            cases = [
                (client.weights("nope"), Code.UNKNOWN_PROJECTION, "'nope'"),
                (client.get("nobody", "v"), Code.UNKNOWN_POPULATION, "'nobody'"),
                (client.get("pop", "colour"), Code.UNKNOWN_PARAMETER, "'colour'"),
                (client.set("pop", "v", -60.0), Code.READ_ONLY, "'v'"),
                (client.set("pop", "i_offset", [1.0, 2.0], [0, 1, 2]), Code.WRONG_SHAPE,
                 "2 values for 3"),
                (client.set("pop", "i_offset", 1.0, [6]), Code.OUT_OF_RANGE, "6 out of range"),
                (client.set("pop", "tau_m", -1.0), Code.REFUSED_VALUE, "tau_m"),
                (client.set("pop", "i_offset", float("nan")), Code.REFUSED_VALUE, "finite"),
                (client.set_weights("stim→pop", [0.1, 0.2]), Code.WRONG_SHAPE,
                 "2 values for 24"),
                (client.set_weights("stim→pop", 0.3, [0], [7]), Code.OUT_OF_RANGE,
                 "7 out of range"),
                (client.set_weights("stim→pop", -0.3), Code.REFUSED_VALUE, "-0.3"),
                (client.set_weights("pop-inh", 0.5), Code.REFUSED_VALUE, "inhibitory"),
                (client.set("stim", "rate", 3.0), Code.UNKNOWN_PARAMETER, "SpikeInjector"),
            ]
            for call, code, fragment in cases:
                with pytest.raises(StateError) as caught:
                    await call
                assert caught.value.code is code, (code, caught.value)
                assert fragment in str(caught.value), (fragment, caught.value)
            pairs = np.array([(i, j) for i, j in zip(*_connections(box["neg"]))])
            missing = next((i, j) for i in range(6) for j in range(3)
                           if (i, j) not in set(map(tuple, pairs.tolist())))
            with pytest.raises(StateError) as caught:
                await client.set_weights("pop-inh", -1.0, [missing[0]], [missing[1]])
            assert caught.value.code is Code.NO_CONNECTION
            assert f"{missing[0]} -> {missing[1]}" in str(caught.value)
            assert (await client.describe_state())["statistics"]["queued"] == 0
            await client.ready((await client.describe())["epoch"])
            # nothing changed; good requests work, stamped with their ticks
            read = await client.weights("pop-inh")
            assert np.all(read.values == -0.25) and read.values.size == 6
            offsets = await client.get("pop", "i_offset")
            assert offsets.values.tolist() == [0.0] * 6
            applied = await client.set("pop", "i_offset", 0.1, [1, 4])
            later = await client.get("pop", "i_offset", [1, 4])
            assert later.tick >= applied > read.tick - 1 and later.values.tolist() == [0.1, 0.1]
            with pytest.raises(StateError) as caught:  # a tick already begun
                await client.set("pop", "i_offset", 5.0, tick=max(0, later.tick - 1))
            assert caught.value.code is Code.LATE
            assert (await client.get("pop", "i_offset", [0])).values.tolist() == [0.0]
            # a stream: one snapshot every 5 ticks, each stamped, on state/<n>
            sub = client._ctx.socket(zmq.SUB)
            sub.connect(client.endpoints["publish"])
            opened = await client.stream_state(5, population="pop", name="v")
            sub.setsockopt(zmq.SUBSCRIBE, opened["topic"].encode())
            ticks = []
            async with asyncio.timeout(30):
                while len(ticks) < 4:
                    message = decode_output(await sub.recv_multipart())
                    assert isinstance(message, StateSnapshot) and message.values.size == 6
                    ticks.append(message.header.tick)
            assert all((t - opened["tick"]) % 5 == 0 for t in ticks)
            assert np.all(np.diff(ticks) >= 5)
            closed = await client.unstream_state(opened["stream"])
            assert closed["sent"] >= 4
            sub.close(linger=0)
            sim.external_devices.request_stop()
        await asyncio.get_running_loop().run_in_executor(None, thread.join, 30)
    assert list(box["i_offset"]) == [0.0, 0.1, 0.0, 0.0, 0.1, 0.0]  # Population.get after it


async def _held(client) -> bool:  # type: ignore[no-untyped-def]
    return bool((await client.describe())["awaiting_ready"])


def _connections(projection):  # type: ignore[no-untyped-def]
    rows = projection.get([], format="list", with_address=True)
    return [int(r[0]) for r in rows], [int(r[1]) for r in rows]


async def _cli(*args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "from spinnlive.cli import main; raise SystemExit(main())", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    async with asyncio.timeout(60):
        out, _ = await proc.communicate()
    return int(proc.returncode or 0), out.decode()


async def test_command_line_verbs(network):
    start, box, sim = network
    async with Bridge(quick_config()) as bridge:
        thread = start(bridge.notify_address[1])
        where = ("--discovery", bridge.endpoints["discovery"], "--timeout", "20")
        async with connect(bridge.endpoints["discovery"], timeout=20) as client:
            await client.started(60)
            code, out = await _cli("state", *where)
            assert code == 0 and '"label": "pop-inh"' in out, out
            code, out = await _cli("set-weights", "stim→pop", "0.75", "--pre", "1", "--post",
                                   "2", *where)
            assert code == 0 and "apply from tick" in out, out
            code, out = await _cli("weights", "stim→pop", "--pre", "1", *where)
            assert code == 0 and out.splitlines()[0].startswith("tick "), out
            rows = [line.split() for line in out.splitlines()[1:]]
            assert {(r[0], r[1]): float(r[2]) for r in rows} == {
                ("1", str(j)): (0.75 if j == 2 else 0.5) for j in range(6)}
            code, out = await _cli("set", "pop", "v_thresh=-52.5", "3", *where)
            assert code == 0 and "applies from tick" in out, out
            code, out = await _cli("get", "pop", "v_thresh", "3", "4", *where)
            assert code == 0 and out.splitlines()[1:] == ["3 -52.5", "4 -50"], out
            code, out = await _cli("set", "pop", "v=-60", *where)
            assert code == 1 and "refused (read_only)" in out, out
            sim.external_devices.request_stop()
        await asyncio.get_running_loop().run_in_executor(None, thread.join, 30)
