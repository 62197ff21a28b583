"""spinnlive: SpiNNaker live I/O as a streaming middleware.

Layers, each importing only from the ones before it in this list (docs/architecture.md,
tests/test_layers.py): ``protocol`` and ``wire`` (sans-IO: SpiNNaker's bytes, the bridge's
ZeroMQ frames), ``database`` (the input/output database), ``transport`` (sockets and the
handshake over them), ``engine`` (the embedded real-time engine, numerics in
``spinnlive.kernels``), ``bridge`` / ``client`` / ``connections`` (side by side), ``pynn`` (the
PyNN front end), ``adapters`` and ``monitor``, and ``cli``. ``errors``, ``clock``, ``drops`` and
``progress`` serve them all.
"""

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    """``spinnlive.connect`` without importing ZeroMQ for users who never call it."""
    if name == "connect":
        from spinnlive.client import connect

        return connect
    raise AttributeError(f"module 'spinnlive' has no attribute {name!r}")
