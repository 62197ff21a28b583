"""Current-based integrate-and-fire models with NEST's exact-integration propagators.

IF_curr_exp, IF_curr_alpha and IF_curr_delta are iaf_psc_exp, iaf_psc_alpha and iaf_psc_delta
(Rotter & Diesmann 1999): the subthreshold dynamics are linear, so one tick is a matrix multiply
with propagators computed once per parameter change. ``_propagator_32``/``_propagator_31`` follow
NEST's ``IAFPropagator``: where ``tau_m`` equals (or nearly equals) ``tau_syn`` the regular
formula loses all precision and the singular limit is used instead, under the same tests NEST
applies (``P32`` not a positive normal number; ``h <= 1e-7 tau_m^2 / |tau_m - tau_syn|``).

The membrane is propagated relative to ``v_rest`` as NEST does; ``state['v']`` holds absolute
mV. ``isyn_inh`` is signed (negative), as pyNN.nest reports NEST's ``I_syn_in``.
Each kernel is compiled once with ``numba.njit(cache=True)`` and loops over neurons in the order
of NEST's ``update()``; it reads its constants from column ``c`` of ``k`` (``c = 0`` when the
group's constants are collapsed to one column, see ``neuron_base``). The arithmetic is kept
term for term as NEST writes it, so spike ticks match NEST's exactly.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numba
import numpy as np

from .grid import refractory_ticks
from .neuron_base import FloatArray, NeuronGroup

IF_CURR_PARAMETERS = {
    "tau_m": 20.0, "cm": 1.0, "v_rest": -65.0, "v_reset": -65.0, "v_thresh": -50.0,
    "tau_refrac": 0.1, "i_offset": 0.0,
}


def _propagator_32(tau_syn: FloatArray, tau_m: FloatArray, c_m: FloatArray, h: float
                   ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """NEST ``IAFPropagator::evaluate_P32_`` (+ beta, gamma) for arrays of neurons."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        beta = tau_syn * tau_m / (tau_m - tau_syn)
        gamma = beta / c_m
        inv_beta = (tau_m - tau_syn) / (tau_syn * tau_m)
        exp_h_tau_syn = np.exp(-h / tau_syn)
        expm1_h_tau = np.expm1(h * inv_beta)
        p32 = gamma * exp_h_tau_syn * expm1_h_tau
        regular = np.isfinite(p32) & (p32 >= np.finfo(np.float64).tiny)
        p32 = np.where(regular, p32, h / c_m * np.exp(-h / tau_m))
    return p32, beta, gamma, exp_h_tau_syn, expm1_h_tau


def _propagator_31(tau_syn: FloatArray, tau_m: FloatArray, c_m: FloatArray, h: float
                   ) -> tuple[FloatArray, FloatArray]:
    """NEST ``IAFPropagatorAlpha::evaluate``: (P31, P32)."""
    p32, beta, gamma, exp_h_tau_syn, expm1_h_tau = _propagator_32(tau_syn, tau_m, c_m, h)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        h_min_regular = 1e-7 * tau_m * tau_m / np.abs(tau_m - tau_syn)
        p31 = np.where(h > h_min_regular, gamma * exp_h_tau_syn * (beta * expm1_h_tau - h),
                       0.5 * h * h / c_m * np.exp(-h / tau_m))
    return p31, p32


@numba.njit(cache=True, inline="always")
def _above_rest(j, c, k, v):  # pragma: no cover - compiled
    """``e_l`` (row 0 of the constants) and ``v - e_l``: every kernel here integrates the
    membrane's offset from rest, exactly as NEST's iaf_psc_* do (inlined by numba)."""
    e_l = k[0, c]
    return e_l, v[j] - e_l


@numba.njit(cache=True, inline="always")
def _fire_or_settle(j, y, e_l, v_thresh, v_reset, refc, v, r, out, n_out):  # pragma: no cover
    """The end of an IF_curr tick, one rule for every kernel here: ``y`` (v - e_l after the
    tick) at or above threshold resets ``v``, starts the refractory count and appends ``j`` to
    ``out``; otherwise ``v`` takes ``y``. Returns the new spike count (inlined by numba)."""
    if y >= v_thresh - e_l:
        r[j] = refc
        v[j] = v_reset
        out[n_out] = j
        return n_out + 1
    v[j] = y + e_l
    return n_out


class IFCurrExp(NeuronGroup):
    """PyNN IF_curr_exp = NEST iaf_psc_exp."""

    PARAMETERS: ClassVar[dict[str, float]] = {
        **IF_CURR_PARAMETERS, "tau_syn_E": 5.0, "tau_syn_I": 5.0}
    STATE: ClassVar[dict[str, float]] = {"v": -65.0, "isyn_exc": 0.0, "isyn_inh": 0.0}
    CONSTANTS: ClassVar[tuple[str, ...]] = (
        "v_rest", "v_reset", "v_thresh", "i_offset", "p22", "p21e", "p21i", "p20", "p11e",
        "p11i", "refc")
    KIND: ClassVar[int] = 10

    def _constants(self) -> list[Any]:
        p, h = self.params, self.dt
        p22 = np.exp(-h / p["tau_m"])
        return [p["v_rest"], p["v_reset"], p["v_thresh"], p["i_offset"], p22,
                _propagator_32(p["tau_syn_E"], p["tau_m"], p["cm"], h)[0],
                _propagator_32(p["tau_syn_I"], p["tau_m"], p["cm"], h)[0],
                p["tau_m"] / p["cm"] * (1.0 - p22), np.exp(-h / p["tau_syn_E"]),
                np.exp(-h / p["tau_syn_I"]), refractory_ticks(p["tau_refrac"], h)]


@numba.njit(cache=True)
def _psc_exp_kernel(s, k, exc, inh, iext, has_iext, out):  # pragma: no cover - compiled
    v, iex, iin, r = s[0], s[1], s[2], s[s.shape[0] - 1]
    ca2 = k.shape[0] == 13  # IFCurrExpCa2Adaptive: row 3 of s is i_ca2, k rows 11, 12 its own
    dual = k.shape[0] == 14  # IF_curr_dual_exp: row 3 is isyn_exc2 (lane 2), k rows 11, 12
    x3 = s[3]
    n = v.shape[0]
    het = k.shape[1] > 1
    n_out = 0
    for j in range(n):
        c = j if het else 0
        e_l, y = _above_rest(j, c, k, v)
        ie = iext[j] if has_iext else 0.0
        if ca2:  # sPyNNaker's order: the trace decays, then flows (outward) during the tick
            x3[j] *= k[11, c]
            ie -= x3[j]
        if r[j] == 0.0:
            if dual:  # NEST iaf_psc_exp_multisynapse's order, receptors 1, 2, 3 = E, E2, I
                y = k[7, c] * (k[3, c] + ie) + k[4, c] * y
                y += k[5, c] * iex[j]
                y += k[11, c] * x3[j]
                y += k[6, c] * iin[j]
            else:
                y = (y * k[4, c] + iex[j] * k[5, c] + iin[j] * k[6, c]
                     + (k[3, c] + ie) * k[7, c])
        else:
            r[j] -= 1.0
        iex[j] = iex[j] * k[8, c] + exc[j]
        if dual:
            x3[j] = x3[j] * k[12, c] + exc[n + j]
        iin[j] = iin[j] * k[9, c] - inh[j]
        fired = _fire_or_settle(j, y, e_l, k[2, c], k[1, c], k[10, c], v, r, out, n_out)
        if ca2 and fired > n_out:
            x3[j] += k[12, c]
        n_out = fired
    return n_out


IFCurrExp.KERNEL = staticmethod(_psc_exp_kernel)


class IFCurrExpCa2Adaptive(IFCurrExp):
    """sPyNNaker's IFCurrExpCa2Adaptive (Liu & Wang 2001): IF_curr_exp plus a calcium-activated
    outward current ``i_ca2`` that decays with ``tau_ca2`` and grows by ``i_alpha`` nA at each
    spike (spike-frequency adaptation). As sPyNNaker computes it, each tick the trace decays
    by ``exp(-dt / tau_ca2)`` and then flows, constant, through the tick (``-i_ca2`` joins
    ``i_offset`` in the exact propagator); with ``i_alpha = 0`` it is IF_curr_exp exactly."""

    PARAMETERS: ClassVar[dict[str, float]] = {
        **IFCurrExp.PARAMETERS, "tau_ca2": 50.0, "i_alpha": 0.1}
    STATE: ClassVar[dict[str, float]] = {**IFCurrExp.STATE, "i_ca2": 0.0}
    CONSTANTS: ClassVar[tuple[str, ...]] = (*IFCurrExp.CONSTANTS, "p_ca2", "i_alpha")
    KIND: ClassVar[int] = 19

    def _constants(self) -> list[Any]:
        p = self.params
        return [*super()._constants(), np.exp(-self.dt / p["tau_ca2"]), p["i_alpha"]]


IFCurrExpCa2Adaptive.KERNEL = staticmethod(_psc_exp_kernel)


class IFCurrDualExp(IFCurrExp):
    """sPyNNaker's IF_curr_dual_exp: IF_curr_exp with a second excitatory receptor
    ``excitatory2`` of its own time constant ``tau_syn_E2``. NEST's counterpart is
    iaf_psc_exp_multisynapse with receptors (E, E2, I): its propagators and its order of the
    membrane update, so the numbers are NEST's."""

    PARAMETERS: ClassVar[dict[str, float]] = {**IFCurrExp.PARAMETERS, "tau_syn_E2": 5.0}
    STATE: ClassVar[dict[str, float]] = {**IFCurrExp.STATE, "isyn_exc2": 0.0}
    CONSTANTS: ClassVar[tuple[str, ...]] = (
        *IFCurrExp.CONSTANTS, "p21e2", "p11e2", "lanes")
    RECEPTORS: ClassVar[tuple[str, ...]] = ("excitatory", "inhibitory", "excitatory2")
    KIND: ClassVar[int] = 22

    def _constants(self) -> list[Any]:
        p, h = self.params, self.dt
        values = super()._constants()
        values[7] = -p["tau_m"] / p["cm"] * np.expm1(-h / p["tau_m"])  # multisynapse's P30
        return [*values, _propagator_32(p["tau_syn_E2"], p["tau_m"], p["cm"], h)[0],
                np.exp(-h / p["tau_syn_E2"]), 2.0]


IFCurrDualExp.KERNEL = staticmethod(_psc_exp_kernel)


class IFCurrAlpha(NeuronGroup):
    """PyNN IF_curr_alpha = NEST iaf_psc_alpha (a weight is the peak current of the PSC)."""

    PARAMETERS: ClassVar[dict[str, float]] = {
        **IF_CURR_PARAMETERS, "tau_syn_E": 0.5, "tau_syn_I": 0.5}
    STATE: ClassVar[dict[str, float]] = {"v": -65.0, "isyn_exc": 0.0, "isyn_inh": 0.0}
    HIDDEN: ClassVar[tuple[str, ...]] = ("dI_exc", "dI_inh")
    CONSTANTS: ClassVar[tuple[str, ...]] = (
        "v_rest", "v_reset", "v_thresh", "i_offset", "p30", "expm1_tau_m", "p31e", "p32e",
        "p31i", "p32i", "p11e", "p21e", "p11i", "p21i", "psc0e", "psc0i", "refc")
    KIND: ClassVar[int] = 11

    def _constants(self) -> list[Any]:
        p, h = self.params, self.dt
        p11e, p11i = np.exp(-h / p["tau_syn_E"]), np.exp(-h / p["tau_syn_I"])
        expm1_tau_m = np.expm1(-h / p["tau_m"])
        p31e, p32e = _propagator_31(p["tau_syn_E"], p["tau_m"], p["cm"], h)
        p31i, p32i = _propagator_31(p["tau_syn_I"], p["tau_m"], p["cm"], h)
        return [p["v_rest"], p["v_reset"], p["v_thresh"], p["i_offset"],
                -p["tau_m"] / p["cm"] * expm1_tau_m, expm1_tau_m, p31e, p32e, p31i, p32i,
                p11e, h * p11e, p11i, h * p11i, np.e / p["tau_syn_E"], np.e / p["tau_syn_I"],
                refractory_ticks(p["tau_refrac"], h)]


@numba.njit(cache=True)
def _psc_alpha_kernel(s, k, exc, inh, iext, has_iext, out):  # pragma: no cover - compiled
    v, iex, iin, die, dii, r = s[0], s[1], s[2], s[3], s[4], s[5]
    het = k.shape[1] > 1
    n_out = 0
    for j in range(v.shape[0]):
        c = j if het else 0
        e_l, y = _above_rest(j, c, k, v)
        if r[j] == 0.0:
            ie = iext[j] if has_iext else 0.0
            y = (k[4, c] * (ie + k[3, c]) + k[6, c] * die[j] + k[7, c] * iex[j]
                 + k[8, c] * dii[j] + k[9, c] * iin[j] + k[5, c] * y + y)
        else:
            r[j] -= 1.0
        iex[j] = k[11, c] * die[j] + k[10, c] * iex[j]
        die[j] = die[j] * k[10, c] + k[14, c] * exc[j]
        iin[j] = k[13, c] * dii[j] + k[12, c] * iin[j]
        dii[j] = dii[j] * k[12, c] - k[15, c] * inh[j]
        n_out = _fire_or_settle(j, y, e_l, k[2, c], k[1, c], k[16, c], v, r, out, n_out)
    return n_out


IFCurrAlpha.KERNEL = staticmethod(_psc_alpha_kernel)


class IFCurrDelta(NeuronGroup):
    """PyNN IF_curr_delta = NEST iaf_psc_delta: a weight is a jump of ``v`` in mV.

    Input arriving while refractory is dropped (NEST's ``refractory_input = False``).
    """

    PARAMETERS: ClassVar[dict[str, float]] = dict(IF_CURR_PARAMETERS)
    STATE: ClassVar[dict[str, float]] = {"v": -65.0}
    WEIGHT_UNIT: ClassVar[str] = "mV"
    CONSTANTS: ClassVar[tuple[str, ...]] = (
        "v_rest", "v_reset", "v_thresh", "i_offset", "p33", "p30", "refc")
    KIND: ClassVar[int] = 12

    def _constants(self) -> list[Any]:
        p, h = self.params, self.dt
        p33 = np.exp(-h / p["tau_m"])
        return [p["v_rest"], p["v_reset"], p["v_thresh"], p["i_offset"], p33,
                1.0 / p["cm"] * (1.0 - p33) * p["tau_m"], refractory_ticks(p["tau_refrac"], h)]


@numba.njit(cache=True)
def _psc_delta_kernel(s, k, exc, inh, iext, has_iext, out):  # pragma: no cover - compiled
    v, r = s[0], s[1]
    het = k.shape[1] > 1
    n_out = 0
    for j in range(v.shape[0]):
        c = j if het else 0
        e_l, y = _above_rest(j, c, k, v)
        if r[j] != 0.0:  # refractory: input is dropped (the branch of the others, mirrored)
            r[j] -= 1.0
        else:
            ie = iext[j] if has_iext else 0.0
            y = k[5, c] * (ie + k[3, c]) + k[4, c] * y + (exc[j] - inh[j])
        n_out = _fire_or_settle(j, y, e_l, k[2, c], k[1, c], k[6, c], v, r, out, n_out)
    return n_out


IFCurrDelta.KERNEL = staticmethod(_psc_delta_kernel)
