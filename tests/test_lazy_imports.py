"""A run without live I/O imports none of the live-I/O machinery (spinnlive.lazy).

Each check runs in a fresh interpreter (a real subprocess): ``sys.modules`` of the test
process already holds whatever other tests imported.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

#: what a network without live I/O never needs: the frame layouts, the sockets, the handshake
LIVE_ONLY = ("construct", "spinnlive.protocol.commands", "spinnlive.protocol.eieio",
             "spinnlive.protocol.sdp", "spinnlive.transport.listener",
             "spinnlive.transport.notifier", "spinnlive.transport.udp")


def _modules_after(code: str) -> set[str]:
    probe = textwrap.dedent(code) + "\nimport sys\nprint('\\n'.join(sys.modules))\n"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=300, check=True)
    return set(done.stdout.split())


def test_a_run_without_live_io_loads_no_frame_layout():
    loaded = _modules_after("""
        import spinnlive.pynn as sim
        sim.setup(timestep=1.0)
        cells = sim.Population(3, sim.IF_curr_exp())
        cells.record("spikes")
        sim.run(2.0)
        assert len(cells.get_data("spikes").segments[0].spiketrains) == 3
        sim.end()
    """)
    assert "spinnlive.engine.scheduler" in loaded  # the probe ran the engine
    assert not loaded & set(LIVE_ONLY), sorted(loaded & set(LIVE_ONLY))


@pytest.mark.parametrize(("package", "name", "module"), [
    ("spinnlive.protocol", "decode_command", "spinnlive.protocol.commands"),
    ("spinnlive.protocol", "max_events", "spinnlive.protocol.eieio"),
    ("spinnlive.protocol", "wrap_sdp", "spinnlive.protocol.sdp"),
    ("spinnlive.transport", "UdpEndpoint", "spinnlive.transport.udp"),
    ("spinnlive.transport", "Notifier", "spinnlive.transport.notifier"),
])
def test_a_package_name_loads_its_module_on_first_use(package, name, module):
    loaded = _modules_after(f"""
        import sys
        import {package}
        assert {module!r} not in sys.modules
        from {package} import {name}
        assert {name} is getattr(sys.modules[{module!r}], {name!r})
    """)
    assert module in loaded


def test_an_unknown_package_name_is_an_attribute_error():
    import spinnlive.protocol

    with pytest.raises(AttributeError, match="spinnlive.protocol.*no_such_name"):
        spinnlive.protocol.no_such_name  # noqa: B018
    with pytest.raises(ImportError):
        from spinnlive.transport import no_such_name  # noqa: F401
