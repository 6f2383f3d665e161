"""MIMO link abstraction: eigenmode profiles, rank adaptation and zero-forcing MU pairing."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ranopt.twin.mimo import (
    DMRS_MAX_PORTS,
    EIGENVALUE_RATIOS,
    active_users_to_pair,
    cell_rates_mbps,
    effective_spectral_efficiency,
    mu_mimo_max_users,
    mu_mimo_spectral_efficiency,
    su_mimo_spectral_efficiency,
)
from ranopt.twin.model import Twin
from ranopt.twin.units import db_to_lin


def se1(sinr: float) -> float:
    """TR 36.942 Annex A.2 with the TS 38.214 cap, as a scalar."""
    return 0.0 if sinr < 0.1 else min(0.6 * math.log2(1.0 + sinr), 7.4063)


@pytest.mark.parametrize("n", [2, 3, 4])
def test_eigenvalue_profile_reproduces_by_monte_carlo(n: int) -> None:
    """Mean ordered eigenvalues of H H^H for i.i.d. CN(0, 1) n x n entries, relative to the
    largest (Telatar 1999 channel); 2 x 2 exactly (3.5, 0.5) / 3.5; 1 % on 40 000 draws."""
    rng = np.random.default_rng(11)
    h = (rng.standard_normal((40_000, n, n)) + 1j * rng.standard_normal((40_000, n, n))) / np.sqrt(
        2
    )
    eig = np.linalg.eigvalsh(h @ np.conj(np.transpose(h, (0, 2, 1))))[:, ::-1].mean(axis=0)
    assert eig.sum() == pytest.approx(n * n, rel=0.01)  # E tr(H H^H) = n^2
    np.testing.assert_allclose(eig / eig[0], EIGENVALUE_RATIOS[n], atol=0.01)
    if n == 2:
        np.testing.assert_allclose(eig, [3.5, 0.5], rtol=0.02)


def test_rank_adaptation_worked_values() -> None:
    """4 x 4 at 30 dB: rank 4, sum of SE(1000 lambda_i / 4); at 0 dB rank 1 (0.6 bit/s/Hz)."""
    profile = EIGENVALUE_RATIOS[4]
    se, rank = su_mimo_spectral_efficiency(db_to_lin(30.0), 4)
    assert int(rank) == 4
    assert float(se) == pytest.approx(sum(se1(1000.0 * p / 4) for p in profile), rel=1e-12)
    se, rank = su_mimo_spectral_efficiency(1.0, 4)
    assert (float(se), int(rank)) == (pytest.approx(0.6), 1)
    # 2 x 2 at 20 dB: rank 2, SE(50) + SE(50 / 7) = 3.4 + 1.8
    se, rank = su_mimo_spectral_efficiency(100.0, 2)
    assert int(rank) == 2
    assert float(se) == pytest.approx(se1(50.0) + se1(50.0 / 7.0), rel=1e-12)


@settings(max_examples=60, deadline=None)
@given(
    sinr_db=st.lists(st.floats(-15.0, 60.0), min_size=1, max_size=30),
    layers=st.integers(1, 4),
)
def test_su_mimo_matches_a_loop_and_grows_with_sinr_and_layers(sinr_db: list[float], layers: int):
    sinr = db_to_lin(np.sort(np.array(sinr_db)))
    se, rank = su_mimo_spectral_efficiency(sinr, layers)
    profile = EIGENVALUE_RATIOS[layers]
    for s, got, r in zip(sinr, se, rank, strict=True):
        options = [sum(se1(s * profile[i] / k) for i in range(k)) for k in range(1, layers + 1)]
        assert got == pytest.approx(max(options), rel=1e-12)
        assert options[r - 1] == pytest.approx(max(options), rel=1e-12)
    assert np.all(np.diff(se) >= -1e-12)
    if layers > 1:
        fewer, _ = su_mimo_spectral_efficiency(sinr, layers - 1)
        assert np.all(se >= fewer - 1e-12)
    assert np.all(se <= layers * 7.4063 + 1e-9)


def test_mu_mimo_worked_value() -> None:
    """64 chains, 12 zero-forced UEs at 20 dB: each SE(100 (64 - 12) / (64 12)), times 12."""
    expected = max(k * se1(100.0 * (64 - k) / (64 * k)) for k in range(2, 13))
    assert float(mu_mimo_spectral_efficiency(100.0, 64, 12)) == pytest.approx(expected, rel=1e-12)
    assert float(mu_mimo_spectral_efficiency(100.0, 64, 1)) == 0.0
    # fewer chains pair worse at equal SINR
    assert mu_mimo_spectral_efficiency(100.0, 16, 4) < mu_mimo_spectral_efficiency(100.0, 64, 4)


@settings(max_examples=60, deadline=None)
@given(
    sinr_db=st.floats(-10.0, 50.0), users=st.floats(1.0, 12.0), chains=st.sampled_from([16, 32, 64])
)
def test_mu_mimo_interpolates_between_whole_user_counts(sinr_db: float, users: float, chains: int):
    sinr = float(db_to_lin(sinr_db))

    def best_upto(k: int) -> float:
        return max([0.0] + [j * se1(sinr * (chains - j) / (chains * j)) for j in range(2, k + 1)])

    lo, frac = math.floor(users), users - math.floor(users)
    expected = best_upto(lo) + frac * (best_upto(lo + 1) - best_upto(lo))
    got = float(mu_mimo_spectral_efficiency(sinr, chains, users))
    assert got == pytest.approx(expected, rel=1e-9, abs=1e-12)
    # continuity in the number of users to pair
    assert float(mu_mimo_spectral_efficiency(sinr, chains, users + 1e-9)) == pytest.approx(
        got, abs=1e-6
    )


def test_pairing_limits_and_active_users() -> None:
    # 12 DM-RS ports (TS 38.211) and 4 chains per co-scheduled UE
    np.testing.assert_array_equal(mu_mimo_max_users([64, 32, 16, 2], 12), [12, 8, 4, 1])
    assert DMRS_MAX_PORTS == 12
    # processor sharing: 1 / (1 - rho) UEs while busy; rho = 0.5 -> 2, 0.8 -> 5, capped at 0.95
    np.testing.assert_allclose(active_users_to_pair([0.0, 0.5, 0.8, 1.0]), [1.0, 2.0, 5.0, 20.0])
    se, su = effective_spectral_efficiency(1000.0, 4, 64, 1.0)
    assert float(se) == float(su)  # nobody to pair: SU only
    se, su = effective_spectral_efficiency(1000.0, 4, 64, 12.0)
    assert float(se) > float(su)


@settings(max_examples=40, deadline=None)
@given(sinr_db=st.floats(-5.0, 40.0), load=st.floats(0.0, 1.0), trx=st.sampled_from([16, 32, 64]))
def test_snapshot_rates_pair_as_the_shortcut_does(
    seven_site_twin: Twin, sinr_db: float, load: float, trx: int
):
    """The snapshot kernel's rate of a capacity-cell UE is the effective SE at the pairing load.

    Regression (issue 12, known limits): the kernel paired only from 2 UEs (load 0.5) on,
    while the effective SE interpolates toward K = 2 from one UE: PRB demand came out up to
    2 % off the reference loop, and the jump at load 0.5 left some states without a fixed
    point (the iteration cycled across it).
    """
    arrays = seven_site_twin.arrays
    cell = int(np.flatnonzero(arrays.layer == 1)[0])
    share = trx / float(arrays.num_trx[cell])
    sinr = float(db_to_lin(sinr_db))
    rate, su_rate = cell_rates_mbps(arrays, np.array([cell]), np.array([sinr]), share, load)
    limit = mu_mimo_max_users(trx, arrays.mu_mimo_max_users[cell])
    users = np.minimum(active_users_to_pair(load), limit)
    se, su = effective_spectral_efficiency(sinr, min(int(arrays.max_layers[cell]), trx), trx, users)
    bandwidth_mhz = arrays.dl_bandwidth_hz[cell] / 1e6
    assert float(rate[0]) == pytest.approx(float(se) * bandwidth_mhz, rel=1e-12)
    assert float(su_rate[0]) == pytest.approx(float(su) * bandwidth_mhz, rel=1e-12)
    # continuous in the load: no jump where a second UE becomes available to pair
    above, _ = cell_rates_mbps(arrays, np.array([cell]), np.array([sinr]), share, load + 1e-9)
    assert float(above[0]) == pytest.approx(float(rate[0]), rel=1e-6)
