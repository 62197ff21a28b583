"""Conductance models with alpha synapses and adaptive exponential models (RK4 on sub-steps);
sPyNNaker's Izhikevich_cond (``IzhikevichCond``, its own small kernel) at the end.

IF_cond_alpha is NEST's iaf_cond_alpha; EIF_cond_exp_isfa_ista and EIF_cond_alpha_isfa_ista
(AdEx, Brette & Gerstner 2005) are aeif_cond_exp and aeif_cond_alpha. One kernel serves all
three: the conductances follow ``g(t) = (g0 + dg0 t) exp(-t / tau)``, ``dg(t) = dg0 exp(-t /
tau)`` exactly (an exponential synapse is the case ``dg = 0``: its input is added to ``g``, an
alpha synapse's to ``dg`` times ``e / tau``, so a weight is the peak conductance), and the
membrane (and the adaptation current ``w``) are integrated with classical RK4 on fixed
sub-steps, where NEST uses GSL's adaptive RKF45 (absolute tolerance 1e-3): the two agree to
that solver's accuracy, not bit for bit (``tests/test_kernels_cond.py`` states the bounds).

Everything around the solver is NEST's:

* the right-hand side sees ``min(v, bound)`` (``v_thresh`` for iaf_cond_alpha, ``v_spike`` for
  AdEx) and is frozen at ``v_reset`` while refractory (``w`` keeps relaxing towards
  ``a (v_reset - v_rest)``);
* iaf_cond_alpha tests the threshold once, after the tick's solve (a refractory neuron counts
  down and is clamped instead); AdEx tests ``v >= v_peak`` after every sub-step, as NEST tests
  after every adaptive step (spike-driven adaptation ``w += b`` happens there), where ``v_peak``
  is ``v_spike``, or ``v_thresh`` when ``delta_T`` is 0; a neuron emits at most one spike per
  tick (NEST could emit two in one tick only with ``tau_refrac`` < dt and inputs far beyond
  the physiological range);
* the tick's synaptic input is added after the solve and the refractory count down.

Units are PyNN's (nF, uS, nA, mV, ms): AdEx ``a`` is given in nS (PyNN's unit) and used as
``a / 1000`` uS; ``w`` is in nA.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numba
import numpy as np

from .grid import refractory_ticks
from .neuron_base import NeuronGroup
from .neurons_psc import IF_CURR_PARAMETERS

#: RK4 sub-step for the conductance-based integrate-and-fire membrane (as IF_cond_exp)
SUBSTEP_MS = 0.05
#: AdEx's exponential term is stiff near the peak: a finer sub-step
ADEX_SUBSTEP_MS = 0.01


def _n_sub(h: float, substep: float) -> int:
    return max(1, math.ceil(h / substep - 1e-9))


class _CondGroup(NeuronGroup):
    """Shared constants of the three models: the kernel reads the same table for each."""

    WEIGHT_UNIT: ClassVar[str] = "uS"
    CONDUCTANCE_BASED: ClassVar[bool] = True
    CONSTANTS: ClassVar[tuple[str, ...]] = (
        "cm", "g_l", "v_rest", "e_rev_E", "e_rev_I", "tau_syn_E", "tau_syn_I", "v_bound",
        "v_reset", "i_offset", "refc", "h", "n_sub", "v_thresh", "delta_T", "a_uS", "b",
        "tau_w", "v_peak", "alpha", "adex")
    ALPHA: ClassVar[bool] = True
    ADEX: ClassVar[bool] = False
    SUBSTEP: ClassVar[float] = SUBSTEP_MS

    def _constants(self) -> list[Any]:
        p, h, n = self.params, self.dt, self.n
        if self.ADEX:
            bound = p["v_spike"]
            peak = np.where(p["delta_T"] > 0, p["v_spike"], p["v_thresh"])
            adaptation = [p["delta_T"], p["a"] / 1000.0, p["b"], p["tau_w"]]
        else:
            bound = peak = p["v_thresh"]
            adaptation = [np.zeros(n), np.zeros(n), np.zeros(n), np.ones(n)]
        return [p["cm"], p["cm"] / p["tau_m"], p["v_rest"], p["e_rev_E"], p["e_rev_I"],
                p["tau_syn_E"], p["tau_syn_I"], bound, p["v_reset"], p["i_offset"],
                refractory_ticks(p["tau_refrac"], h), h, _n_sub(h, self.SUBSTEP),
                p["v_thresh"], *adaptation, peak, float(self.ALPHA), float(self.ADEX)]


@numba.njit(cache=True, inline="always")
def _dv(v, w, ge, gi, g_l, e_l, e_e, e_i, i0, cm, v_th, delta_t):  # pragma: no cover
    """Membrane derivative (mV/ms) at ``v`` (already bounded)."""
    spike = g_l * delta_t * math.exp((v - v_th) / delta_t) if delta_t > 0.0 else 0.0
    return (-g_l * (v - e_l) + spike - ge * (v - e_e) - gi * (v - e_i) - w + i0) / cm


@numba.njit(cache=True)
def _cond_kernel(s, k, exc, inh, iext, has_iext, out):  # pragma: no cover - compiled
    v, ge, gi, w, dge, dgi, r = s[0], s[1], s[2], s[3], s[4], s[5], s[6]
    het = k.shape[1] > 1
    h, n_sub = k[11, 0], int(k[12, 0])
    alpha, adex = k[19, 0] != 0.0, k[20, 0] != 0.0
    hs = h / n_sub
    n_out = 0
    for j in range(v.shape[0]):
        c = j if het else 0
        cm, g_l, e_l, e_e, e_i = k[0, c], k[1, c], k[2, c], k[3, c], k[4, c]
        tau_e, tau_i, bound, v_reset = k[5, c], k[6, c], k[7, c], k[8, c]
        v_th, delta_t, a, b, tau_w, v_peak = (k[13, c], k[14, c], k[15, c], k[16, c],
                                               k[17, c], k[18, c])
        i0 = (iext[j] if has_iext else 0.0) + k[9, c]
        de, di = math.exp(-hs / tau_e), math.exp(-hs / tau_i)
        dhe, dhi = math.exp(-0.5 * hs / tau_e), math.exp(-0.5 * hs / tau_i)
        y, ww = v[j], w[j]
        g_e, g_i, d_e, d_i = ge[j], gi[j], dge[j], dgi[j]
        fired = False
        if adex or r[j] == 0.0:
            for _ in range(n_sub):
                # conductances at the sub-step's start, middle and end (exact)
                gem, gim = (g_e + d_e * 0.5 * hs) * dhe, (g_i + d_i * 0.5 * hs) * dhi
                ge1, gi1 = (g_e + d_e * hs) * de, (g_i + d_i * hs) * di
                refr = r[j] > 0.0
                if refr:
                    k1 = k2 = k3 = k4 = 0.0
                    vv = v_reset
                    q1 = (a * (vv - e_l) - ww) / tau_w
                    q2 = (a * (vv - e_l) - (ww + 0.5 * hs * q1)) / tau_w
                    q3 = (a * (vv - e_l) - (ww + 0.5 * hs * q2)) / tau_w
                    q4 = (a * (vv - e_l) - (ww + hs * q3)) / tau_w
                else:
                    vv = min(y, bound)
                    k1 = _dv(vv, ww, g_e, g_i, g_l, e_l, e_e, e_i, i0, cm, v_th, delta_t)
                    q1 = (a * (vv - e_l) - ww) / tau_w
                    vv = min(y + 0.5 * hs * k1, bound)
                    w2 = ww + 0.5 * hs * q1
                    k2 = _dv(vv, w2, gem, gim, g_l, e_l, e_e, e_i, i0, cm, v_th, delta_t)
                    q2 = (a * (vv - e_l) - w2) / tau_w
                    vv = min(y + 0.5 * hs * k2, bound)
                    w3 = ww + 0.5 * hs * q2
                    k3 = _dv(vv, w3, gem, gim, g_l, e_l, e_e, e_i, i0, cm, v_th, delta_t)
                    q3 = (a * (vv - e_l) - w3) / tau_w
                    vv = min(y + hs * k3, bound)
                    w4 = ww + hs * q3
                    k4 = _dv(vv, w4, ge1, gi1, g_l, e_l, e_e, e_i, i0, cm, v_th, delta_t)
                    q4 = (a * (vv - e_l) - w4) / tau_w
                y += hs / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
                if adex:
                    ww += hs / 6.0 * (q1 + 2.0 * q2 + 2.0 * q3 + q4)
                d_e *= de
                d_i *= di
                g_e, g_i = ge1, gi1
                if adex:  # NEST's aeif tests after every integration step
                    if r[j] > 0.0:
                        y = v_reset
                    elif y >= v_peak:
                        y = v_reset
                        ww += b
                        r[j] = k[10, c] + 1.0 if k[10, c] > 0.0 else 0.0
                        fired = True
        else:  # refractory iaf_cond_alpha: only the conductances move
            g_e = (g_e + d_e * h) * math.exp(-h / tau_e)
            g_i = (g_i + d_i * h) * math.exp(-h / tau_i)
            d_e *= math.exp(-h / tau_e)
            d_i *= math.exp(-h / tau_i)
        if adex:
            if r[j] > 0.0:
                r[j] -= 1.0
        elif r[j] > 0.0:
            r[j] -= 1.0
            y = v_reset
        elif y >= v_th:
            r[j] = k[10, c]
            y = v_reset
            fired = True
        if alpha:
            d_e += exc[j] * math.e / tau_e
            d_i += inh[j] * math.e / tau_i
        else:
            g_e += exc[j]
            g_i += inh[j]
        v[j], w[j], ge[j], gi[j], dge[j], dgi[j] = y, ww, g_e, g_i, d_e, d_i
        if fired:
            out[n_out] = j
            n_out += 1
    return n_out


class IFCondAlpha(_CondGroup):
    """PyNN IF_cond_alpha = NEST iaf_cond_alpha (weights in uS, the peak conductance)."""

    PARAMETERS: ClassVar[dict[str, float]] = {
        **IF_CURR_PARAMETERS, "tau_syn_E": 0.3, "tau_syn_I": 0.5, "e_rev_E": 0.0,
        "e_rev_I": -70.0}
    STATE: ClassVar[dict[str, float]] = {"v": -65.0, "gsyn_exc": 0.0, "gsyn_inh": 0.0}
    #: the kernel's row 3 is AdEx's ``w``, unused (0) here
    HIDDEN: ClassVar[tuple[str, ...]] = ("w", "dg_exc", "dg_inh")
    KIND: ClassVar[int] = 15


_ADEX_PARAMETERS = {
    "cm": 0.281, "tau_refrac": 0.1, "v_spike": -40.0, "v_reset": -70.6, "v_rest": -70.6,
    "tau_m": 9.3667, "i_offset": 0.0, "a": 4.0, "b": 0.0805, "delta_T": 2.0, "tau_w": 144.0,
    "v_thresh": -50.4, "e_rev_E": 0.0, "tau_syn_E": 5.0, "e_rev_I": -80.0, "tau_syn_I": 5.0}


class EIFCondExpIsfaIsta(_CondGroup):
    """PyNN EIF_cond_exp_isfa_ista = NEST aeif_cond_exp (AdEx, exponential conductances)."""

    HIDDEN: ClassVar[tuple[str, ...]] = ("dg_exc", "dg_inh")
    PARAMETERS: ClassVar[dict[str, float]] = dict(_ADEX_PARAMETERS)
    STATE: ClassVar[dict[str, float]] = {"v": -70.6, "gsyn_exc": 0.0, "gsyn_inh": 0.0,
                                         "w": 0.0}
    KIND: ClassVar[int] = 16
    ALPHA: ClassVar[bool] = False
    ADEX: ClassVar[bool] = True
    SUBSTEP: ClassVar[float] = ADEX_SUBSTEP_MS


class EIFCondAlphaIsfaIsta(EIFCondExpIsfaIsta):
    """PyNN EIF_cond_alpha_isfa_ista = NEST aeif_cond_alpha (AdEx, alpha conductances)."""

    ALPHA: ClassVar[bool] = True
    KIND: ClassVar[int] = 17


for _cls in (IFCondAlpha, EIFCondExpIsfaIsta, EIFCondAlphaIsfaIsta):
    _cls.KERNEL = staticmethod(_cond_kernel)


class IzhikevichCond(NeuronGroup):
    """sPyNNaker's Izhikevich_cond: the Izhikevich (2003) neuron, ``dv/dt = 0.04 v^2 + 5 v +
    140 - u + I``, ``du/dt = a (b v - u)``, reset ``v = c``, ``u += d`` at ``v >= 30`` mV, with
    exponential conductance synapses, ``I = i_offset + g_e (e_rev_E - v) + g_i (e_rev_I - v)``
    in sPyNNaker's units (1 nA moves ``v`` by 1 mV/ms). Integrated like the other conductance
    models here: exact conductances, RK4 on ``ADEX_SUBSTEP_MS`` sub-steps, the threshold tested
    after each sub-step (at most one spike a tick), the tick's input added after the solve.
    No NEST counterpart: tested against a tight-tolerance ODE solve of the same equations."""

    PARAMETERS: ClassVar[dict[str, float]] = {
        "a": 0.02, "b": 0.2, "c": -65.0, "d": 2.0, "i_offset": 0.0, "tau_syn_E": 5.0,
        "tau_syn_I": 5.0, "e_rev_E": 0.0, "e_rev_I": -70.0}
    STATE: ClassVar[dict[str, float]] = {"v": -70.0, "u": -14.0, "gsyn_exc": 0.0,
                                         "gsyn_inh": 0.0}
    WEIGHT_UNIT: ClassVar[str] = "uS"
    CONDUCTANCE_BASED: ClassVar[bool] = True
    V_PEAK: ClassVar[float] = 30.0
    CONSTANTS: ClassVar[tuple[str, ...]] = (
        "a", "b", "c", "d", "i_offset", "tau_syn_E", "tau_syn_I", "e_rev_E", "e_rev_I", "h",
        "n_sub", "v_peak", "conductance")
    KIND: ClassVar[int] = 20

    def _constants(self) -> list[Any]:
        p, h = self.params, self.dt
        return [*(p.get(name, 0.0) for name in self.CONSTANTS[:9]), h,
                _n_sub(h, ADEX_SUBSTEP_MS), self.V_PEAK, float(self.CONDUCTANCE_BASED)]


class IzhikevichCurrExp(IzhikevichCond):
    """sPyNNaker's Izhikevich (``IzkCurrExpBase``, what ``pyNN.spiNNaker.Izhikevich`` is): the
    same neuron with exponential current synapses, ``I = i_offset + i_exc + i_inh`` (``i_inh``
    held negative, as the other current models report it; a weight of 1 nA is 1 mV/ms, sPyNNaker's
    units, where PyNN's standard Izhikevich takes NEST's pA). Same kernel and integration."""

    PARAMETERS: ClassVar[dict[str, float]] = {
        "a": 0.02, "b": 0.2, "c": -65.0, "d": 2.0, "i_offset": 0.0, "tau_syn_E": 5.0,
        "tau_syn_I": 5.0}
    STATE: ClassVar[dict[str, float]] = {"v": -70.0, "u": -14.0, "isyn_exc": 0.0,
                                         "isyn_inh": 0.0}
    WEIGHT_UNIT: ClassVar[str] = "nA"
    CONDUCTANCE_BASED: ClassVar[bool] = False
    KIND: ClassVar[int] = 21


@numba.njit(cache=True, inline="always")
def _izh(v, u, ge, gi, i0, a, b, e_e, e_i, cond):  # pragma: no cover - compiled
    """(dv/dt, du/dt) of the Izhikevich neuron, conductance- or current-driven (``cond``)."""
    i = i0 + (ge * (e_e - v) + gi * (e_i - v) if cond else ge + gi)
    return 0.04 * v * v + 5.0 * v + 140.0 - u + i, a * (b * v - u)


@numba.njit(cache=True)
def _izh_cond_kernel(s, k, exc, inh, iext, has_iext, out):  # pragma: no cover - compiled
    v, u, ge, gi = s[0], s[1], s[2], s[3]
    het = k.shape[1] > 1
    h, n_sub, v_peak = k[9, 0], int(k[10, 0]), k[11, 0]
    cond = k[12, 0] > 0.5
    sign_i = 1.0 if cond else -1.0  # a current model holds its inhibitory current negative
    hs = h / n_sub
    n_out = 0
    for j in range(v.shape[0]):
        c = j if het else 0
        a, b, e_e, e_i = k[0, c], k[1, c], k[7, c], k[8, c]
        de, di = math.exp(-hs / k[5, c]), math.exp(-hs / k[6, c])
        dhe, dhi = math.exp(-0.5 * hs / k[5, c]), math.exp(-0.5 * hs / k[6, c])
        i0 = (iext[j] if has_iext else 0.0) + k[4, c]
        y, w, g_e, g_i = v[j], u[j], ge[j], gi[j]
        fired = False
        for _ in range(n_sub):
            gem, gim, ge1, gi1 = g_e * dhe, g_i * dhi, g_e * de, g_i * di
            k1, q1 = _izh(y, w, g_e, g_i, i0, a, b, e_e, e_i, cond)
            k2, q2 = _izh(y + 0.5 * hs * k1, w + 0.5 * hs * q1, gem, gim, i0, a, b, e_e, e_i,
                          cond)
            k3, q3 = _izh(y + 0.5 * hs * k2, w + 0.5 * hs * q2, gem, gim, i0, a, b, e_e, e_i,
                          cond)
            k4, q4 = _izh(y + hs * k3, w + hs * q3, ge1, gi1, i0, a, b, e_e, e_i, cond)
            y += hs / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
            w += hs / 6.0 * (q1 + 2.0 * q2 + 2.0 * q3 + q4)
            g_e, g_i = ge1, gi1
            if y >= v_peak:
                y = k[2, c]
                w += k[3, c]
                fired = True
        v[j], u[j] = y, w
        ge[j] = g_e + exc[j]
        gi[j] = g_i + sign_i * inh[j]
        if fired:
            out[n_out] = j
            n_out += 1
    return n_out


IzhikevichCond.KERNEL = staticmethod(_izh_cond_kernel)
IzhikevichCurrExp.KERNEL = staticmethod(_izh_cond_kernel)
