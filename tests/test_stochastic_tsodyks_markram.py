"""StochasticTsodyksMarkramSynapse (pyNN.nest's ``stochastic_stp_synapse`` extension, which
this NEST cannot build: no nest-config), against the extension's equations: one release site
per connection, u = U + u (1 - U) after decay with tau_facil, recovery a Poisson event with
rate 1/tau_rec. Release fractions over many connections are compared with the probabilities
the equations give, within the sampling error."""

from __future__ import annotations

import numpy as np
from test_quantal_synapse import N_TARGETS, SPIKES, run_spinnlive

SYN = "StochasticTsodyksMarkramSynapse"


def _within(fraction: np.ndarray, p: np.ndarray) -> bool:
    return bool(np.all(np.abs(fraction - p) < 5 * np.sqrt(p * (1 - p) / N_TARGETS) + 1e-12))


def test_recovery_follows_tau_rec() -> None:
    """U = 1: every recovered site releases, so a spike releases where the site recovered
    since the last release: probability 1 - exp(-dt / tau_rec) after a release."""
    tau_rec = 20.0
    released = run_spinnlive({"U": 1.0, "tau_rec": tau_rec, "tau_facil": 0.0}, synapse=SYN,
                             spikes=SPIKES.size)
    assert set(np.unique(released)) <= {0, 1} and np.all(released[0] == 1)
    for m in range(1, SPIKES.size):  # given a release at spike m - 1 ...
        was = released[m - 1] == 1
        p = 1.0 - np.exp(-(SPIKES[m] - SPIKES[m - 1]) / tau_rec)
        lo = p - 5 * np.sqrt(p * (1 - p) / max(1, was.sum())) - 1e-12
        hi = p + 5 * np.sqrt(p * (1 - p) / max(1, was.sum())) + 1e-12
        assert lo < released[m][was].mean() < hi, (m, released[m][was].mean(), p)


def test_facilitation_follows_u_with_instant_recovery() -> None:
    """tau_rec tiny: the site is always recovered, so each spike releases with probability u,
    the recurrence u = U + u e^(-dt/tau_f) (1 - U) from u = 0."""
    big_u, tau_fac = 0.15, 60.0
    released = run_spinnlive({"U": big_u, "tau_rec": 1e-6, "tau_facil": tau_fac}, synapse=SYN)
    u, expected, t_last = 0.0, [], 0.0
    for t in SPIKES:
        u *= np.exp(-(t - t_last) / tau_fac)
        u += big_u * (1 - u)
        expected.append(u)
        t_last = t
    assert _within(released.mean(axis=1), np.array(expected))
    assert expected[3] > 2 * big_u  # facilitation is visible in what is checked
