"""Names that sPyNNaker's ``pyNN.spiNNaker`` exports and spinnlive cannot honour (yet or ever).

A script that names one of them fails at that line with :class:`~spinnlive.errors.
ConfigurationError` saying which feature it is and why it is missing, never with an
``AttributeError`` later. :func:`refused` builds a stand-in class or function; the tables below
list every refused name by reason, and :func:`fallbacks` gives the stand-ins that a module
(``spinnlive.pynn``, ``extra_models``, ``external_devices``) installs only where no real
implementation of that name exists (a model or rule that lands later simply wins).
"""

from __future__ import annotations

from typing import Any, NoReturn

from ..errors import ConfigurationError

#: a reason per kind of missing feature (the end of each refusal's message)
HARDWARE = ("needs a SpiNNaker board: the embedded engine has no SpiNNaker links, FPGAs or "
            "Ethernet-attached robots; run it on sPyNNaker (spinnlive run --backend spinnaker)")
STRUCTURAL = ("structural plasticity (synaptogenesis) is not supported by spinnlive; remove it "
              "or run on sPyNNaker")
MODEL = ("this neuron or source model has no spinnlive kernel yet; supported models are listed "
         "by spinnlive.pynn.list_standard_models()")
PLASTICITY = ("this synapse dynamics has no spinnlive kernel yet; only StaticSynapse (and the "
              "plasticity spinnlive.pynn exports as classes that construct) is available")


def _message(name: str, reason: str) -> str:
    return f"{name} is not available on spinnlive: {reason}"


def refused(name: str, reason: str, base: type = object) -> type:
    """A class named ``name`` (subclassing ``base``) whose construction raises."""

    def __init__(self: object, *args: Any, **kwargs: Any) -> NoReturn:
        raise ConfigurationError(_message(name, reason))

    return type(name, (base,), {"__init__": __init__, "__doc__": _message(name, reason),
                                "__module__": __name__})


def refused_function(name: str, reason: str) -> Any:
    """A function named ``name`` that raises the refusal when called."""

    def refusal(*args: Any, **kwargs: Any) -> NoReturn:
        refuse(name, reason)

    refusal.__name__ = refusal.__qualname__ = name
    refusal.__doc__ = _message(name, reason)
    return refusal


def refuse(name: str, reason: str) -> NoReturn:
    """Raise the refusal for ``name`` (for functions that exist but cannot act)."""
    raise ConfigurationError(_message(name, reason))


#: top level of pyNN.spiNNaker
TOP_LEVEL = {
    "StructuralMechanismStatic": STRUCTURAL, "StructuralMechanismSTDP": STRUCTURAL,
    "LastNeuronSelection": STRUCTURAL, "RandomSelection": STRUCTURAL,
    "DistanceDependentFormation": STRUCTURAL, "RandomByWeightElimination": STRUCTURAL,
}

#: PyNN's own model names that pyNN.nest exports and spinnlive has no kernel for
PYNN_MODELS = {
    **dict.fromkeys(("BetaPSR", "CondBetaPostSynapticResponse", "SpikeSourceInhGamma"),
                    MODEL),
    **dict.fromkeys(("native_cell_type", "native_synapse_type", "native_electrode_type"),
                    "NEST-native models exist on pyNN.nest only; use PyNN's standard models"),
}

#: sPyNNaker 7.4.1's extra_models: the 24 names that are models or rules (not connectors)
EXTRA_MODELS = {
    **dict.fromkeys(("IFCurrExpCa2Adaptive", "IFCondExpStoc", "Izhikevich_cond",
                     "IF_curr_dual_exp", "IF_curr_exp_sEMD", "Izhikevich_cond_dual",
                     "IFCurrDeltaCa2Adaptive", "SpikeSourcePoissonVariable", "StocExp",
                     "StocExpStable", "StocSigma", "IFCurrDeltaFixedProb", "IFTruncDelta"),
                    MODEL),
    **dict.fromkeys(("Neuromodulation", "WeightDependenceAdditiveTriplet",
                     "PfisterSpikeTriplet", "SpikeNearestPairRule", "RecurrentRule",
                     "Vogels2011Rule", "WeightChangeable", "WeightChanger"), PLASTICITY),
}

#: external_devices: hardware devices and their parameter enums
DEVICES = dict.fromkeys((
    "ExternalFPGARetinaDevice", "MunichRetinaDevice", "MunichMotorDevice",
    "ArbitraryFPGADevice", "PushBotRetinaViewer", "ExternalDeviceLifControl",
    "SPIFRetinaDevice", "ICUBRetinaDevice", "SPIFOutputDevice", "SPIFInputDevice",
    "MunichIoSpiNNakerLinkProtocol", "PushBotLaser", "PushBotLED", "PushBotMotor",
    "PushBotSpeaker", "PushBotRetinaResolution", "PushBotLifEthernet",
    "PushBotEthernetLaserDevice", "PushBotEthernetLEDDevice", "PushBotEthernetMotorDevice",
    "PushBotEthernetSpeakerDevice", "PushBotEthernetRetinaDevice", "PushBotLifSpinnakerLink",
    "PushBotSpiNNakerLinkLaserDevice", "PushBotSpiNNakerLinkLEDDevice",
    "PushBotSpiNNakerLinkMotorDevice", "PushBotSpiNNakerLinkSpeakerDevice",
    "PushBotSpiNNakerLinkRetinaDevice", "SPIFLiveSpikesConnection",
    "EthernetControlConnection", "EthernetCommandConnection", "EthernetControlPopulation",
    "EthernetSensorPopulation", "AbstractEthernetController", "AbstractEthernetSensor",
), HARDWARE)


def fallbacks(table: dict[str, str], bases: dict[str, type] | None = None) -> dict[str, type]:
    """Stand-in classes for every name of ``table`` (with an optional base class per name)."""
    return {name: refused_function(name, reason) if name[0].islower()
            else refused(name, reason, (bases or {}).get(name, object))
            for name, reason in table.items()}


def install(namespace: dict[str, Any], table: dict[str, str]) -> list[str]:
    """Put the stand-ins of ``table`` into a module namespace where the name is still free;
    returns the names installed."""
    free = {name: reason for name, reason in table.items() if name not in namespace}
    namespace.update(fallbacks(free))
    return sorted(free)
