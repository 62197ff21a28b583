"""Record a bridge's run (outputs and inputs) to a file, and replay its inputs into a new run.

Theory of operation
-------------------
**Record.** The bridge does not republish the inputs it accepts, so the recorder is the
clients' *proxy*: it binds its own discovery (REP) and input (PULL) endpoints, answers
discovery with the bridge's description whose ``input``/``discovery`` endpoints name the proxy,
and forwards every input message unchanged to the bridge's PULL, writing it down first. A client
therefore points at the recorder's discovery endpoint instead of the bridge's and changes
nothing else. Outputs are read on one SUB socket subscribed to everything (``spikes/*``,
``lifecycle``, ``stats``), in publish order, and written with their 20-byte bridge header (run
epoch, tick, sequence). Each input is stamped with the newest output tick seen when it passed.

**File format** (``.slrec``): one JSON line ``{"format": "spinnlive-record", "version": 1,
"description": <discovery reply>}``, then frames, each ``<I size>`` followed by ``size`` bytes:
``<B kind><d seconds since start><I tick><I epoch><H topic length><B parts>``, the topic, and
``parts`` times ``<I length>`` + bytes. ``kind`` 0 is an output (parts: header, payload), 1 an
input (parts: the frames after the topic: ids, and rates for ``rates/``). Spike payloads are raw
``uint32`` arrays, loaded with ``np.frombuffer``.

**Replay** sends the recorded inputs to a bridge, paced in one of three ways:

* ``ticks`` (default): input meant for tick ``T`` goes out as soon as a message of tick
  ``>= T`` arrives from the new run (one SUB socket: in-order proof of progress), so it reaches
  the engine while tick ``T`` is in progress. The tick ``T`` of an ``inject/<label>`` is exact
  when the recording holds ``spikes/<label>`` (an injector with live output: the bridge must
  list it in ``inject_labels``), because those are the injected spikes as the engine applied
  them: the injector emits nothing else. Otherwise it is the stamped tick (what a live client
  achieves when it reacts within a tick). The engine emits an injected spike in the tick in
  progress when it arrives, as a board does, and applies a rate change from the next one, so
  each replayed input lands on its recorded tick whenever (a) the new run has a population that
  fires every tick with live output (a pacer) and (b) the replayer's round trip is shorter than
  what is left of tick ``T``. A real-time engine with a ``time_scale_factor`` gives (b) a
  margin.
* ``lockstep``: exact whatever the engine's speed, for ``inject/`` inputs. A lock-step engine
  never waits for a client, so nothing can be paced; instead every input carries its tick. The
  bridge must run with ``--hold-confirmation``: it publishes ``database-ready`` (with
  ``awaiting_ready``) and holds the toolchain's confirmation. The replayer then sends every
  recorded injection with its landing tick ``T`` (+ ``tick_offset``) as the tick frame
  (wire-format.md §4), which the bridge sends as timestamped EIEIO and the engine holds until
  tick ``T``, and finally ``ready`` for that epoch; the bridge confirms, the engine starts, and
  each injector spike lands exactly on its recorded tick. Rate changes cannot be stamped (their
  payload is the rate): a recording with ``rates/`` inputs is refused in this mode.
* ``wall``: every input at its recorded offset from the first recorded ``spikes/`` message.
"""

from __future__ import annotations

import argparse
import json
import logging
import struct
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt
import zmq

from spinnlive.client import SyncClient, SyncSubscription
from spinnlive.clock import PerfCounterClock, ThreadClock
from spinnlive.errors import ConfigurationError
from spinnlive.wire import (
    INJECT,
    LIFECYCLE,
    SPIKES,
    Inject,
    InputRejected,
    Notice,
    Ready,
    decode_input,
)

__all__ = ["Frame", "Recording", "add_record_arguments", "add_replay_arguments", "record",
           "record_command", "replay", "replay_command"]

logger = logging.getLogger(__name__)

FORMAT = "spinnlive-record"
_FRAME = struct.Struct("<BdIIHB")
_SIZE = struct.Struct("<I")
_U32 = struct.Struct("<I")  #: the tick frame of ``inject/`` and the epoch frame of ``ready``
PACES = ("ticks", "wall", "lockstep")
OUTPUT, INPUT = 0, 1


@dataclass(frozen=True, slots=True)
class Frame:
    kind: int
    seconds: float
    tick: int
    epoch: int
    topic: str
    parts: tuple[bytes, ...]


def _write(out: BinaryIO, frame: Frame) -> None:
    topic = frame.topic.encode()
    body = [_FRAME.pack(frame.kind, frame.seconds, frame.tick & 0xFFFF_FFFF, frame.epoch,
                        len(topic), len(frame.parts)), topic]
    for part in frame.parts:
        body += [_SIZE.pack(len(part)), part]
    data = b"".join(body)
    out.write(_SIZE.pack(len(data)) + data)


class Recording:
    """A recorded run, read whole: the description and the frames in recorded order."""

    def __init__(self, path: str | Path) -> None:
        with open(path, "rb") as f:
            head = json.loads(f.readline())
            if head.get("format") != FORMAT:
                raise ConfigurationError(f"{path} is not a spinnlive recording")
            self.description: dict[str, Any] = head["description"]
            self.frames = list(self._frames(f.read()))

    @staticmethod
    def _frames(data: bytes) -> Iterator[Frame]:
        at = 0
        while at < len(data):
            (size,) = _SIZE.unpack_from(data, at)
            at += 4
            kind, seconds, tick, epoch, tlen, nparts = _FRAME.unpack_from(data, at)
            pos = at + _FRAME.size
            topic = data[pos:pos + tlen].decode()
            pos += tlen
            parts = []
            for _ in range(nparts):
                (n,) = _SIZE.unpack_from(data, pos)
                parts.append(data[pos + 4:pos + 4 + n])
                pos += 4 + n
            yield Frame(kind, seconds, tick, epoch, topic, tuple(parts))
            at += size

    def spikes(self, label: str) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32]]:
        """(ticks, ids) of every recorded spike of ``label``, one entry per spike."""
        topic = f"spikes/{label}"
        chunks = [(f.tick, np.frombuffer(f.parts[1], "<u4")) for f in self.frames
                  if f.kind == OUTPUT and f.topic == topic]
        if not chunks:
            return np.zeros(0, np.uint32), np.zeros(0, np.uint32)
        ticks = np.concatenate([np.full(ids.size, t, np.uint32) for t, ids in chunks])
        return ticks, np.concatenate([ids for _, ids in chunks]).astype(np.uint32)

    def inputs(self) -> list[tuple[int, Frame]]:
        """(target tick, input frame) to replay, in order: see the module docstring."""
        exact = {f.topic[len("spikes/"):] for f in self.frames
                 if f.kind == OUTPUT and f.topic.startswith("spikes/")}
        injected = {f.topic[len("inject/"):] for f in self.frames
                    if f.kind == INPUT and f.topic.startswith("inject/")}
        out: list[tuple[int, Frame]] = []
        for f in self.frames:
            label = f.topic.split("/", 1)[-1]
            if f.kind == INPUT and not (f.topic.startswith("inject/") and label in exact):
                out.append((f.tick, f))
            elif f.kind == OUTPUT and f.topic.startswith("spikes/") and label in injected:
                out.append((f.tick, Frame(INPUT, f.seconds, f.tick, f.epoch,
                                          f"inject/{label}", (f.parts[1],))))
        return sorted(out, key=lambda item: item[0])


def record(discovery: str, path: str | Path, *, proxy_discovery: str = "tcp://127.0.0.1:0",
           proxy_input: str = "tcp://127.0.0.1:0", duration: float | None = None,
           until: str | None = "paused", idle_timeout: float | None = None,
           on_bound: Any = None, clock: ThreadClock | None = None) -> int:
    """Record until the lifecycle event ``until`` (``paused``/``closing``), ``duration`` s, or
    ``idle_timeout`` s of silence (both on ``clock``); returns the number of frames written."""
    client = SyncClient(discovery)
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    try:
        link = client.subscribe("")
        rep, pull = ctx.socket(zmq.REP), ctx.socket(zmq.PULL)
        rep.bind(proxy_discovery)
        pull.bind(proxy_input)
        mine = {"discovery": rep.getsockopt_string(zmq.LAST_ENDPOINT),
                "input": pull.getsockopt_string(zmq.LAST_ENDPOINT)}
        if on_bound is not None:
            on_bound(mine)
        written = _record(client, link, rep, pull, mine, path, duration, until, idle_timeout,
                          clock or PerfCounterClock())
    finally:
        client.close()
        ctx.destroy(linger=0)
    logger.info("recorded %d frames to %s", written, path)
    return written


def _record(client: SyncClient, link: SyncSubscription, rep: zmq.Socket[bytes],
            pull: zmq.Socket[bytes], mine: dict[str, str], path: str | Path,
            duration: float | None, until: str | None, idle_timeout: float | None,
            clock: ThreadClock) -> int:
    poller = zmq.Poller()
    for sock in (link.socket, rep, pull):
        poller.register(sock, zmq.POLLIN)
    start = clock.now()
    tick, epoch, written, silent = 0, 0, 0, clock.now()
    with open(path, "wb") as out:
        head = {"format": FORMAT, "version": 1, "description": client.description}
        out.write(json.dumps(head).encode() + b"\n")
        while duration is None or clock.now() - start < duration:
            ready = dict(poller.poll(0 if link.buffered else 100))
            now = clock.now()
            if not (ready or link.buffered):
                if idle_timeout is not None and now - silent > idle_timeout:
                    break
                continue
            silent = now
            if rep in ready:
                rep.recv_multipart()
                reply = dict(client.describe())
                reply["endpoints"] = {**reply["endpoints"], **mine}
                rep.send_json(reply)
            if pull in ready:
                frames = pull.recv_multipart()
                try:
                    client.send(decode_input(frames))
                except InputRejected as exc:  # the bridge would reject it the same way
                    logger.warning("input not forwarded (%s): %s", exc.reason, exc)
                else:
                    _write(out, Frame(INPUT, now - start, tick, epoch, frames[0].decode(),
                                      tuple(frames[1:])))
                    written += 1
            if link.socket in ready or link.buffered:
                while (message := link.receive(0)) is not None:
                    header = message.header
                    epoch = header.epoch
                    if not isinstance(message, Notice):
                        tick = max(tick, header.tick)
                    _write(out, Frame(OUTPUT, now - start, header.tick, header.epoch,
                                      message.topic.decode(), message.frames()[1:]))
                    written += 1
                    if message.topic == LIFECYCLE and message.event == until:
                        return written
    return written


def replay(path: str | Path, discovery: str, *, pace: str = "ticks", tick_offset: int = 0,
           timeout: float = 30.0, on_ready: Callable[[], object] | None = None,
           clock: ThreadClock | None = None) -> int:
    """Send the recording's inputs to the bridge at ``discovery``; returns messages sent
    (for ``lockstep``: the stamped inputs, not counting ``ready``). ``on_ready`` is called
    once the replayer's subscription is live at the bridge: a run started after it is
    followed from its first tick."""
    recording = Recording(path)
    plan = recording.inputs()
    clock = clock or PerfCounterClock()  # the wall pace and the waits
    if pace not in PACES:
        raise ConfigurationError(f"pace must be one of {PACES}, got {pace!r}")
    with SyncClient(discovery) as client:
        link = client.subscribe(LIFECYCLE if pace == "lockstep" else SPIKES)
        if on_ready is not None:
            on_ready()
        if pace == "lockstep":
            sent = _replay_lockstep(client, link, plan, tick_offset, timeout, clock)
            logger.info("replayed %d stamped input messages from %s", sent, path)
            return sent
        sent = _replay_paced(client, link, recording, plan, pace, tick_offset, timeout, clock)
    logger.info("replayed %d input messages from %s", sent, path)
    return sent


def _replay_paced(client: SyncClient, link: SyncSubscription, recording: Recording,
                  plan: list[tuple[int, Frame]], pace: str, tick_offset: int,
                  timeout: float, clock: ThreadClock) -> int:
    """Each input when the run reaches its tick (``ticks``) or its time (``wall``)."""
    first = next((f.seconds for f in recording.frames
                  if f.kind == OUTPUT and f.topic.startswith(SPIKES)), 0.0)
    seen, started, sent = -1, None, 0
    for target, frame in plan:
        target += tick_offset
        if pace == "ticks":
            while seen < target:
                message = link.receive(timeout)
                if message is None:
                    raise ConfigurationError(f"no tick from {client.discovery} for "
                                             f"{timeout:g} s; waiting for tick {target}")
                seen = max(seen, message.header.tick)
        else:
            if started is None:
                link.receive(timeout)
                started = clock.now()
            clock.sleep(started + frame.seconds - first - clock.now())
        try:
            client.send(decode_input([frame.topic.encode(), *frame.parts]))
        except InputRejected as exc:
            logger.warning("recorded input not replayed (%s): %s", exc.reason, exc)
            continue
        sent += 1
    return sent


def _replay_lockstep(client: SyncClient, link: SyncSubscription, plan: list[tuple[int, Frame]],
                     tick_offset: int, timeout: float, clock: ThreadClock) -> int:
    """Every injection stamped with its tick, then ``ready``: see the module docstring."""
    unstampable = sorted({f.topic for _, f in plan if not f.topic.startswith(INJECT)})
    if unstampable:
        raise ConfigurationError(f"lock-step replay can only stamp inject/ inputs; the "
                                 f"recording also has {unstampable}: replay it with --pace ticks")
    epoch = _held_epoch(client, link, timeout, clock)
    for target, frame in plan:
        recorded = decode_input([frame.topic.encode(), *frame.parts])
        assert isinstance(recorded, Inject)
        client.send(Inject(recorded.label, recorded.ids, target + tick_offset))
    client.send(Ready(epoch))
    return len(plan)


def _held_epoch(client: SyncClient, link: SyncSubscription, timeout: float,
                clock: ThreadClock) -> int:
    """The epoch whose confirmation the bridge holds for us (now, or the next one)."""
    description = client.describe()  # after the subscription is live: nothing falls between
    if description.get("awaiting_ready"):
        return int(description["epoch"])
    deadline = clock.now() + timeout
    while (left := deadline - clock.now()) > 0:
        message = link.receive(left)
        if message is None:
            break
        if isinstance(message, Notice) and message.event == "database-ready" \
                and message.body.get("awaiting_ready"):
            return int(message.body["epoch"])
    raise ConfigurationError(f"the bridge at {client.discovery} announced no database held "
                             f"for confirmation within {timeout:g} s: run it with "
                             "--hold-confirmation and start the network")


# -- command line: ``spinnlive record`` and ``spinnlive replay`` (spinnlive/cli/) ----------

def add_record_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("output", help="the recording file to write (.slrec)")
    parser.add_argument("--discovery", default="tcp://127.0.0.1:5570", help="the bridge")
    parser.add_argument("--proxy-discovery", default="tcp://127.0.0.1:5580",
                        help="where clients connect instead of the bridge, to be recorded")
    parser.add_argument("--proxy-input", default="tcp://127.0.0.1:5582")
    parser.add_argument("--duration", type=float, default=None, help="seconds, default: until")
    parser.add_argument("--until", default="paused", choices=["paused", "closing", "never"])


def record_command(args: argparse.Namespace) -> int:
    record(args.discovery, args.output, proxy_discovery=args.proxy_discovery,
           proxy_input=args.proxy_input, duration=args.duration,
           until=None if args.until == "never" else args.until,
           on_bound=lambda ends: print(json.dumps(ends), flush=True))
    return 0


def add_replay_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recording", help="a file written by 'record'")
    parser.add_argument("--discovery", default="tcp://127.0.0.1:5570", help="the bridge")
    parser.add_argument("--pace", default="ticks", choices=list(PACES),
                        help="lockstep: stamp inputs with their ticks (bridge with "
                             "--hold-confirmation, engine in lock-step)")
    parser.add_argument("--tick-offset", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=30.0)


def replay_command(args: argparse.Namespace) -> int:
    replay(args.recording, args.discovery, pace=args.pace, tick_offset=args.tick_offset,
           timeout=args.timeout)
    return 0


if __name__ == "__main__":  # the same as `spinnlive record|replay ...`
    from spinnlive.cli import main

    sys.exit(main())
