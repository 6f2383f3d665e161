"""The fixed point's fast kernels give the bits of the plain array forms they replaced.

``spectral_efficiency`` in one buffer, the SU rank sums column by column, MU-MIMO pairing
evaluated only up to each UE's own user count, and the chunked nearest-site search: each is
compared bit for bit with the straightforward form (the code before issue 16k) on random
inputs that cover the edges (below SINR_MIN, at the cap, whole and fractional user counts,
counts above the largest, no pairing).
"""

import numpy as np
import numpy.typing as npt

from ranopt.twin import ues
from ranopt.twin.link import SINR_MIN_DB, SPECTRAL_EFFICIENCY_MAX, spectral_efficiency
from ranopt.twin.mimo import (
    _RANK_FACTORS,
    link_config,
    mu_mimo_spectral_efficiency,
    su_mimo_spectral_efficiency,
)
from ranopt.twin.model import Twin
from ranopt.twin.units import db_to_lin

FloatArray = npt.NDArray[np.float64]


def plain_se(sinr: FloatArray) -> FloatArray:
    """TR 36.942 Annex A.2, capped, in the array form of before."""
    se = np.minimum(0.6 * np.log2(1.0 + sinr), SPECTRAL_EFFICIENCY_MAX)
    return np.asarray(np.where(sinr >= db_to_lin(SINR_MIN_DB), se, 0.0))


def plain_mu(sinr: FloatArray, m: FloatArray, users: FloatArray) -> FloatArray:
    """MU-MIMO SE with the whole [n, K] table up to the largest count (the form of before)."""
    result = np.zeros(sinr.shape)
    pair = users >= 1.0
    top = int(np.ceil(users.max(initial=1.0)))
    if top < 2 or not pair.any():
        return result
    k = np.arange(2, top + 1, dtype=np.float64)
    s, mm, uu = sinr[pair], m[pair], users[pair]
    per_user = np.maximum(mm[:, None] - k[None, :], 0.0) / (mm[:, None] * k[None, :])
    se = k[None, :] * plain_se(s[:, None] * per_user)
    running = np.concatenate((np.zeros((s.size, 2)), np.maximum.accumulate(se, axis=1)), axis=1)
    floor = np.minimum(np.floor(uu).astype(np.int64), top)
    ceil = np.minimum(floor + 1, top)
    rows = np.arange(s.size)
    low, high = running[rows, floor], running[rows, ceil]
    result[pair] = low + (uu - floor) * (high - low)
    return result


def sinrs(rng: np.random.Generator, n: int) -> FloatArray:
    sinr = db_to_lin(rng.uniform(-20.0, 45.0, n))
    sinr[:4] = [0.0, db_to_lin(SINR_MIN_DB), 1e6, 0.0999]  # zero, at SINR_MIN, capped, below
    return np.asarray(sinr)


def test_spectral_efficiency_bits() -> None:
    sinr = sinrs(np.random.default_rng(1), 50_001)
    assert np.array_equal(spectral_efficiency(sinr), plain_se(sinr))
    table = sinr[:50_000].reshape(-1, 10)[:, ::3]  # strided input
    assert np.array_equal(spectral_efficiency(table), plain_se(table))
    assert spectral_efficiency(2.0) == plain_se(np.float64(2.0))


def test_mu_mimo_bits_against_the_whole_table() -> None:
    rng = np.random.default_rng(2)
    n = 20_000
    sinr = sinrs(rng, n)
    chains = rng.choice([4.0, 8.0, 16.0, 32.0, 64.0], n)
    users = rng.uniform(0.5, 12.0, n)
    users[:200] = np.floor(users[:200])  # whole counts: floor == ceil - 1
    users[200:300] = 12.0  # the largest count: ceil capped at top
    users[300:400] = 0.9  # no pairing
    assert np.array_equal(
        mu_mimo_spectral_efficiency(sinr, chains, users), plain_mu(sinr, chains, users)
    )
    low = np.minimum(users, 2.5)  # a small largest count
    assert np.array_equal(
        mu_mimo_spectral_efficiency(sinr, chains, low), plain_mu(sinr, chains, low)
    )


def test_su_rank_sums_bits_against_reduceat() -> None:
    """``LinkConfig.rates_mbps``'s SU rate: ``su_mimo_spectral_efficiency``'s table, bit for bit."""
    rng = np.random.default_rng(3)
    sinr = sinrs(rng, 30_000)
    for n in _RANK_FACTORS:
        factors, starts = _RANK_FACTORS[n]
        per_rank = np.add.reduceat(plain_se(sinr[:, None] * factors[None, :]), starts, axis=1)
        expected = np.maximum(plain_se(sinr), per_rank.max(axis=1))
        assert np.array_equal(su_mimo_spectral_efficiency(sinr, n)[0], expected)


def test_snapshot_rates_bits(default_twin: Twin) -> None:
    """The fixed point's rates equal the per-UE SU / MU forms on a twin's cells."""
    twin = default_twin
    rng = np.random.default_rng(4)
    cells = rng.integers(0, twin.num_cells, 5_000)
    config = link_config(twin.arrays, cells, rng.choice([0.5, 1.0], cells.size))
    sinr = sinrs(rng, cells.size)
    load = rng.uniform(0.0, 1.0, cells.size)
    rate, su_rate = config.rates_mbps(sinr, load)
    layers = np.clip(
        np.minimum(twin.arrays.max_layers[cells], config.chains.astype(np.int64)), 1, None
    )
    su = su_mimo_spectral_efficiency(sinr, layers)[0]
    assert np.array_equal(su_rate, su * config.bandwidth_mhz)
    users = np.minimum(1.0 / (1.0 - np.clip(load, 0.0, 0.95)), config.pairing_limit)
    pair = (config.pairing_limit >= 2) & (users > 1.0)
    se = su.copy()
    se[pair] = np.maximum(su[pair], plain_mu(sinr[pair], config.chains[pair], users[pair]))
    assert np.array_equal(rate, se * config.bandwidth_mhz)


def test_nearest_site_chunks_bits() -> None:
    rng = np.random.default_rng(5)
    sites = rng.uniform(-5_000.0, 5_000.0, (271, 2))
    x, y = rng.uniform(-6_000.0, 6_000.0, (2, 3 * ues.NEAREST_CHUNK + 17))
    d2 = (x[:, None] - sites[None, :, 0]) ** 2 + (y[:, None] - sites[None, :, 1]) ** 2
    assert np.array_equal(ues._nearest_site(x, y, sites), np.argmin(d2, axis=1))
