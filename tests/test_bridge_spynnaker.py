"""The bridge as the notification listener of sPyNNaker's own toolchain on a virtual board.

A PyNN script for ``pyNN.spiNNaker`` registers the bridge's port for a SpikeInjector, a live
output and a live Poisson rate control, and runs twice. The bridge must confirm both run steps
(the virtual board never answers the IP-tag request, so the deadline confirms it), resolve every
label, key, placement and tag exactly as sPyNNaker's DatabaseReader does, and describe the run.
"""

from __future__ import annotations

import numpy as np
import pytest
from bridge_helpers import quick_config
from spynnaker_virtual import SPYNNAKER_CFG
from subprocesses import run_python

from spinnlive.bridge import Bridge, Direction
from spinnlive.client import connect

pytest.importorskip("spynnaker")

SCRIPT = """\
import pyNN.spiNNaker as sim
sim.setup(timestep=1.0)
ext = sim.external_devices
inj = sim.Population(10, ext.SpikeInjector(database_notify_port_num={port}), label="inj")
pop = sim.Population(300, sim.IF_curr_exp(), label="pop")
ext.activate_live_output_for(pop, database_notify_port_num={port})
poisson = sim.Population(20, sim.SpikeSourcePoisson(rate=10.0), label="poisson")
ext.add_poisson_live_rate_control(poisson, database_notify_port_num={port})
sim.Projection(inj, pop, sim.OneToOneConnector(), sim.StaticSynapse(weight=5.0))
sim.Projection(poisson, pop, sim.AllToAllConnector(), sim.StaticSynapse(weight=0.1))
sim.run(10)
sim.run(10)
sim.end()
"""


async def _run_spynnaker(tmp_path, port: int) -> tuple[int, str]:
    (tmp_path / ".spynnaker.cfg").write_text(SPYNNAKER_CFG)
    (tmp_path / "spynnaker.cfg").write_text(SPYNNAKER_CFG)
    code, out, err = await run_python(SCRIPT.format(port=port), [], tmp_path, 100,
                                      env={"MPLBACKEND": "Agg", "PYTHONUNBUFFERED": "1"})
    return code, out + err


async def test_bridge_follows_spynnaker_virtual_board(tmp_path):
    from spinn_front_end_common.utilities.database import DatabaseReader

    async with Bridge(quick_config(tag_timeout_s=0.5, tag_resend_s=0.1)) as bridge:
        port = bridge.notify_address[1]
        rc, output = await _run_spynnaker(tmp_path, port)
        assert rc == 0, output[-3000:]
        assert output.count(f"Confirmation from 127.0.0.1:{port} received") == 2, output[-3000:]
        assert not [line for line in output.splitlines()
                    if "WARNING" in line and (str(port) in line or "onfirm" in line)]
        assert bridge.epoch == 2 and bridge.state == "ready"
        session = bridge.session
        assert session is not None
        assert {(p.label, p.direction) for p in session.populations} == {
            ("pop", Direction.OUT), ("inj", Direction.IN), ("poisson", Direction.RATES)}
        udp = bridge.statistics().udp
        assert udp.tag_timeouts == 1 and udp.tag_requests >= 1  # this epoch's, unanswered
        with DatabaseReader(session.database) as ref:
            k2a = ref.get_key_to_atom_id_mapping("pop")
            found = session.output_table.lookup(np.array(list(k2a), dtype=np.uint32))
            assert found.known.all() and found.atom.tolist() == list(k2a.values())
            _, _, _, board, tag, x, y = ref.get_live_output_details("pop", "LiveSpikeReceiver")
            assert [(t.board, t.tag, t.x, t.y) for t in session.tags] == [(board, tag, x, y)]
            for direction, label, source in ((Direction.IN, "inj", "inj"),
                                             (Direction.RATES, "poisson", "poisson_control")):
                target = session.targets[(direction, label)]
                tx, ty, tp = ref.get_placements(source)[0]
                assert (target.x, target.y, target.p) == (tx, ty, tp)
                assert target.board == ref.get_ip_address(tx, ty)
                a2k = ref.get_atom_id_to_key_mapping(source)
                assert dict(enumerate(target.keys.tolist())) == a2k
                assert target.size == len(a2k)
            assert session.timestep_ms == ref.get_configuration_parameter_value(
                "machine_time_step") / 1000.0
        async with connect(bridge.endpoints["discovery"]) as client:
            description = await client.describe()
        assert description["epoch"] == 2 and description["database"] == session.database
        assert sorted((p["label"], p["direction"], p["size"], p["topic"])
                      for p in description["populations"]) == [
            ("inj", "in", 10, "inject/inj"), ("poisson", "rates", 20, "rates/poisson"),
            ("pop", "out", 300, "spikes/pop")]
        assert (description["timestep_ms"], description["time_scale_factor"]) == (1.0, 1.0)
