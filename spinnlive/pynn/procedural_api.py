"""PyNN's procedural API (create, connect, set, record, ...) over the spinnlive classes."""

from __future__ import annotations

from typing import Any

from pyNN import common
from pyNN.common.procedural_api import set  # noqa: A004 - PyNN's public name
from pyNN.connectors import FixedProbabilityConnector

from . import simulator
from .populations import Population
from .projections import Projection
from .standardmodels.synapses import StaticSynapse

__all__ = ["create", "connect", "set", "record", "record_v", "record_gsyn"]

create = common.build_create(Population)
connect = common.build_connect(Projection, FixedProbabilityConnector, StaticSynapse)
record = common.build_record(simulator)


def record_v(source: Any, filename: str) -> Any:
    return record(["v"], source, filename)


def record_gsyn(source: Any, filename: str) -> Any:
    return record(["gsyn_exc", "gsyn_inh"], source, filename)
