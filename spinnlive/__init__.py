"""spinnlive: SpiNNaker live I/O as a streaming middleware.

Layers, each importing only from the ones above it in this list:
``protocol`` (sans-IO bytes <-> events), ``database`` (the input/output database),
``engine`` (mapping and the embedded real-time engine, numerics in ``spinnlive.kernels``),
``pynn`` (the PyNN front end), ``adapters`` and the CLI.
"""

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    """``spinnlive.connect`` without importing ZeroMQ for users who never call it."""
    if name == "connect":
        from spinnlive.client import connect

        return connect
    raise AttributeError(f"module 'spinnlive' has no attribute {name!r}")
