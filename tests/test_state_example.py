"""``examples/stdp_live_pattern.py`` runs as a person would run it: four processes, STDP learning
the injected pattern, the weight matrix read live through a state stream, a PNG at the end."""

from __future__ import annotations

import re
from pathlib import Path

from subprocesses import run_python

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "stdp_live_pattern.py"


async def test_stdp_learns_the_injected_pattern_while_a_client_reads_the_weights(tmp_path):
    code, out, err = await run_python(EXAMPLE.read_text(), ["--seconds", "6", "--png",
                                                            "weights.png"], tmp_path,
                                      timeout=300, env={"MPLBACKEND": "Agg"})
    assert code == 0, err[-3000:]
    matrices = int(re.search(r"(\d+) weight matrices read live", out).group(1))
    assert matrices >= 6  # a stream every 250 ticks for 6 s (some may be skipped under load)
    pattern = [float(x) for x in re.search(r"pattern inputs .*?([\d.]+) -> ([\d.]+)",
                                           out).groups()]
    others = [float(x) for x in re.search(r"other inputs: .*?([\d.]+) -> ([\d.]+)",
                                          out).groups()]
    assert pattern[1] > pattern[0] + 0.1 and others[1] < others[0] - 0.05, out
    assert (tmp_path / "weights.png").stat().st_size > 10_000
