"""Run a Python script in a child process, bounded: the tests' one way to do it.

The script runs in ``cwd`` with ``HOME=cwd`` and no ``XDG_CONFIG*`` (so no user configuration,
sPyNNaker's included, is read or written); a child that outlives ``timeout`` is killed, never
left behind.
"""

from __future__ import annotations

import asyncio
import os
import sys
import textwrap
from pathlib import Path


async def run_python(script: str, args: list[object], cwd: Path, timeout: float = 90.0,
                     env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """``(returncode, stdout, stderr)`` of ``python script.py ARGS`` written into ``cwd``;
    ``env`` adds to (or overrides) the inherited environment."""
    (cwd / "script.py").write_text(textwrap.dedent(script), encoding="utf-8")
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("XDG_CONFIG")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "script.py", *map(str, args), cwd=cwd,
        env={**inherited, "HOME": str(cwd), **(env or {})},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        async with asyncio.timeout(timeout):
            out, err = await proc.communicate()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return proc.returncode, out.decode(errors="replace"), err.decode(errors="replace")
