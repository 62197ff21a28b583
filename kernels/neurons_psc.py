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
of NEST's ``update()``.
"""

from __future__ import annotations

from typing import ClassVar

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


class IFCurrExp(NeuronGroup):
    """PyNN IF_curr_exp = NEST iaf_psc_exp."""

    PARAMETERS: ClassVar[dict[str, float]] = {
        **IF_CURR_PARAMETERS, "tau_syn_E": 5.0, "tau_syn_I": 5.0}
    STATE: ClassVar[dict[str, float]] = {"v": -65.0, "isyn_exc": 0.0, "isyn_inh": 0.0}

    def _update_propagators(self) -> None:
        p, h = self.params, self.dt
        self._p22 = np.exp(-h / p["tau_m"])
        self._p11e = np.exp(-h / p["tau_syn_E"])
        self._p11i = np.exp(-h / p["tau_syn_I"])
        self._p21e = _propagator_32(p["tau_syn_E"], p["tau_m"], p["cm"], h)[0]
        self._p21i = _propagator_32(p["tau_syn_I"], p["tau_m"], p["cm"], h)[0]
        self._p20 = p["tau_m"] / p["cm"] * (1.0 - self._p22)
        self._refc = refractory_ticks(p["tau_refrac"], h)

    def _step(self, exc: FloatArray, inh: FloatArray, i_ext: FloatArray) -> int:
        p, s = self.params, self.state
        return _psc_exp_kernel(
            s["v"], s["isyn_exc"], s["isyn_inh"], self.refractory, exc, inh, i_ext,
            p["v_rest"], p["v_reset"], p["v_thresh"], p["i_offset"], self._p22, self._p21e,
            self._p21i, self._p20, self._p11e, self._p11i, self._refc, self._scratch)


@numba.njit(cache=True)
def _psc_exp_kernel(v, iex, iin, r, exc, inh, iext, e_l, v_reset, v_th, i_off, p22, p21e, p21i,
                    p20, p11e, p11i, refc, out):  # pragma: no cover - compiled
    k = 0
    for j in range(v.shape[0]):
        y = v[j] - e_l[j]
        if r[j] == 0:
            y = y * p22[j] + iex[j] * p21e[j] + iin[j] * p21i[j] + (i_off[j] + iext[j]) * p20[j]
        else:
            r[j] -= 1
        iex[j] = iex[j] * p11e[j] + exc[j]
        iin[j] = iin[j] * p11i[j] - inh[j]
        if y >= v_th[j] - e_l[j]:
            r[j] = refc[j]
            v[j] = v_reset[j]
            out[k] = j
            k += 1
        else:
            v[j] = y + e_l[j]
    return k


class IFCurrAlpha(NeuronGroup):
    """PyNN IF_curr_alpha = NEST iaf_psc_alpha (a weight is the peak current of the PSC)."""

    PARAMETERS: ClassVar[dict[str, float]] = {
        **IF_CURR_PARAMETERS, "tau_syn_E": 0.5, "tau_syn_I": 0.5}
    STATE: ClassVar[dict[str, float]] = {"v": -65.0, "isyn_exc": 0.0, "isyn_inh": 0.0}

    def _update_propagators(self) -> None:
        p, h = self.params, self.dt
        self._p11e = np.exp(-h / p["tau_syn_E"])
        self._p11i = np.exp(-h / p["tau_syn_I"])
        self._expm1_tau_m = np.expm1(-h / p["tau_m"])
        self._p30 = -p["tau_m"] / p["cm"] * self._expm1_tau_m
        self._p21e = h * self._p11e
        self._p21i = h * self._p11i
        self._p31e, self._p32e = _propagator_31(p["tau_syn_E"], p["tau_m"], p["cm"], h)
        self._p31i, self._p32i = _propagator_31(p["tau_syn_I"], p["tau_m"], p["cm"], h)
        self._psc0e = np.e / p["tau_syn_E"]
        self._psc0i = np.e / p["tau_syn_I"]
        self._refc = refractory_ticks(p["tau_refrac"], h)
        if not hasattr(self, "_die"):
            self._die = np.zeros(self.n)
            self._dii = np.zeros(self.n)

    def _reset_hidden(self) -> None:
        self._die[:] = 0.0
        self._dii[:] = 0.0

    def _step(self, exc: FloatArray, inh: FloatArray, i_ext: FloatArray) -> int:
        p, s = self.params, self.state
        return _psc_alpha_kernel(
            s["v"], s["isyn_exc"], s["isyn_inh"], self._die, self._dii, self.refractory, exc,
            inh, i_ext, p["v_rest"], p["v_reset"], p["v_thresh"], p["i_offset"], self._p30,
            self._expm1_tau_m, self._p31e, self._p32e, self._p31i, self._p32i, self._p11e,
            self._p21e, self._p11i, self._p21i, self._psc0e, self._psc0i, self._refc,
            self._scratch)


@numba.njit(cache=True)
def _psc_alpha_kernel(v, iex, iin, die, dii, r, exc, inh, iext, e_l, v_reset, v_th, i_off, p30,
                      em1, p31e, p32e, p31i, p32i, p11e, p21e, p11i, p21i, psc0e, psc0i, refc,
                      out):  # pragma: no cover - compiled
    k = 0
    for j in range(v.shape[0]):
        y = v[j] - e_l[j]
        if r[j] == 0:
            y = (p30[j] * (iext[j] + i_off[j]) + p31e[j] * die[j] + p32e[j] * iex[j]
                 + p31i[j] * dii[j] + p32i[j] * iin[j] + em1[j] * y + y)
        else:
            r[j] -= 1
        iex[j] = p21e[j] * die[j] + p11e[j] * iex[j]
        die[j] = die[j] * p11e[j] + psc0e[j] * exc[j]
        iin[j] = p21i[j] * dii[j] + p11i[j] * iin[j]
        dii[j] = dii[j] * p11i[j] - psc0i[j] * inh[j]
        if y >= v_th[j] - e_l[j]:
            r[j] = refc[j]
            v[j] = v_reset[j]
            out[k] = j
            k += 1
        else:
            v[j] = y + e_l[j]
    return k


class IFCurrDelta(NeuronGroup):
    """PyNN IF_curr_delta = NEST iaf_psc_delta: a weight is a jump of ``v`` in mV.

    Input arriving while refractory is dropped (NEST's ``refractory_input = False``).
    """

    PARAMETERS: ClassVar[dict[str, float]] = dict(IF_CURR_PARAMETERS)
    STATE: ClassVar[dict[str, float]] = {"v": -65.0}
    WEIGHT_UNIT: ClassVar[str] = "mV"

    def _update_propagators(self) -> None:
        p, h = self.params, self.dt
        self._p33 = np.exp(-h / p["tau_m"])
        self._p30 = 1.0 / p["cm"] * (1.0 - self._p33) * p["tau_m"]
        self._refc = refractory_ticks(p["tau_refrac"], h)

    def _step(self, exc: FloatArray, inh: FloatArray, i_ext: FloatArray) -> int:
        p = self.params
        return _psc_delta_kernel(
            self.state["v"], self.refractory, exc, inh, i_ext, p["v_rest"], p["v_reset"],
            p["v_thresh"], p["i_offset"], self._p33, self._p30, self._refc, self._scratch)


@numba.njit(cache=True)
def _psc_delta_kernel(v, r, exc, inh, iext, e_l, v_reset, v_th, i_off, p33, p30, refc,
                      out):  # pragma: no cover - compiled
    k = 0
    for j in range(v.shape[0]):
        y = v[j] - e_l[j]
        if r[j] == 0:
            y = p30[j] * (iext[j] + i_off[j]) + p33[j] * y + (exc[j] - inh[j])
        else:
            r[j] -= 1
        if y >= v_th[j] - e_l[j]:
            r[j] = refc[j]
            v[j] = v_reset[j]
            out[k] = j
            k += 1
        else:
            v[j] = y + e_l[j]
    return k
