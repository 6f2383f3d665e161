"""MIMO link abstraction: rank adaptation (SU-MIMO) and multi-user co-scheduling (MU-MIMO).

The single-layer mapping is ``ranopt.twin.link.spectral_efficiency`` (TR 36.942 attenuated
Shannon, capped per layer at TS 38.214's 256QAM efficiency). On top of it:

- SU-MIMO: ``r`` layers go out on the ``r`` strongest eigenmodes of an i.i.d. Rayleigh
  ``n x n`` channel (``n`` = the cell's layer limit, min(ports, UE receive antennas)) with the
  power split equally (Telatar 1999, "Capacity of multi-antenna Gaussian channels", Eur.
  Trans. Telecommun. 10(6), sec. 3-4); layer ``i`` sees ``SINR (lambda_i / lambda_1) / r``,
  where ``lambda_i`` are the mean ordered eigenvalues and the twin's SINR is that of rank 1 on
  the strongest mode. The UE reports the rank maximising the sum (TS 38.214 cl. 5.2.2.2 rank
  indicator): rank 1 at low SINR, more layers as the SINR grows.
- MU-MIMO: ``K`` single-layer UEs share one PRB under zero-forcing precoding over ``M``
  transceiver chains with the power split equally; each keeps ``(M - K) / M`` of the array
  gain and ``1 / K`` of the power, so its SINR is ``SINR (M - K) / (M K)`` (Marzetta, Larsson,
  Yang & Ngo, "Fundamentals of Massive MIMO", 2016, ch. 3, zero-forcing downlink); a PRB then
  carries ``K SE(SINR (M - K) / (M K))``. ``K`` is limited by the orthogonal DM-RS ports
  (12, TS 38.211 Table 7.4.1.1.2-2, configuration type 2) and by ``M / 4`` chains per user.

A UE's PRB cost follows the better of the two (the scheduler pairs it when pairing pays); its
throughput while active is its SU rate (the rate it gets when scheduled alone).
"""

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from ranopt.twin.link import spectral_efficiency
from ranopt.twin.units import FloatArray

if TYPE_CHECKING:
    from ranopt.twin.network import CellArrays

# mean ordered eigenvalues of H H^H, H an n x n matrix of i.i.d. CN(0, 1) entries, relative to
# the largest: for n = 2 exactly (3.5, 0.5) / 3.5; for n = 3, 4 by Monte Carlo (4e5 draws,
# tests/twin/test_mimo.py reproduces them to 1 %)
EIGENVALUE_RATIOS: dict[int, tuple[float, ...]] = {
    1: (1.0,),
    2: (1.0, 1.0 / 7.0),
    3: (1.0, 0.3294, 0.0511),
    4: (1.0, 0.4517, 0.1608, 0.0256),
}
MAX_SU_LAYERS = 4
# for each layer count n: SINR factors lambda_i / (lambda_1 r) of every (rank r >= 2, layer
# i < r) pair, ranks in order, and where each rank's pairs start
_RANK_FACTORS: dict[int, tuple[FloatArray, npt.NDArray[np.int64]]] = {
    n: (
        np.array([EIGENVALUE_RATIOS[n][i] / r for r in range(2, n + 1) for i in range(r)]),
        np.cumsum([0, *range(2, n)]).astype(np.int64),
    )
    for n in range(2, MAX_SU_LAYERS + 1)
}
DMRS_MAX_PORTS = 12  # TS 38.211 Table 7.4.1.1.2-2: DM-RS configuration type 2, 2 symbols
CHAINS_PER_MU_USER = 4  # zero forcing keeps (M - K) / M of the gain: at least 4 chains a user


def mu_mimo_max_users(num_trx: npt.ArrayLike, max_users: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """Co-scheduled UEs a cell can pair with ``num_trx`` chains in use, at most ``max_users``."""
    by_chains = np.asarray(num_trx, dtype=np.int64) // CHAINS_PER_MU_USER
    limit = np.minimum(np.asarray(max_users, dtype=np.int64), DMRS_MAX_PORTS)
    return np.asarray(np.maximum(1, np.minimum(by_chains, limit)), dtype=np.int64)


def su_mimo_spectral_efficiency(
    sinr_lin: npt.ArrayLike, max_layers: npt.ArrayLike
) -> tuple[FloatArray, npt.NDArray[np.int64]]:
    """Return the rank-adapted SE (bit/s/Hz) and the chosen rank, per element.

    ``max_r sum_{i <= r} SE(SINR (lambda_i / lambda_1) / r)`` over ``r = 1 .. max_layers``
    (at most ``MAX_SU_LAYERS``), with the eigenvalue profile of the ``max_layers x
    max_layers`` channel (``EIGENVALUE_RATIOS``); the arguments broadcast.
    """
    sinr, layers = np.broadcast_arrays(
        np.asarray(sinr_lin, dtype=np.float64), np.asarray(max_layers, dtype=np.int64)
    )
    best = spectral_efficiency(sinr)
    rank = np.ones(sinr.shape, dtype=np.int64)
    for n in range(2, min(int(layers.max(initial=1)), MAX_SU_LAYERS) + 1):
        on = layers == n
        if not on.any():
            continue
        # every (rank r >= 2, layer i < r) pair at once: [m, pairs], summed per rank
        factors, starts = _RANK_FACTORS[n]
        # Telatar 1999: r eigenmodes, power split equally, SINR lambda_i / (lambda_1 r)
        per_layer = spectral_efficiency(sinr[on][:, None] * factors[None, :])
        per_rank = np.add.reduceat(per_layer, starts, axis=1)  # [m, n - 1]: ranks 2..n
        top = np.argmax(per_rank, axis=1)
        top_se = per_rank[np.arange(top.size), top]
        better = top_se > best[on]
        best[on] = np.where(better, top_se, best[on])
        rank[on] = np.where(better, top + 2, rank[on])
    return best, rank


def _leading_max(
    values: FloatArray, first: npt.NDArray[np.int64], count: npt.NDArray[np.int64]
) -> FloatArray:
    """Max of ``values[first[i] : first[i] + count[i]]`` per segment ``i``, 0 where empty.

    Segments lie in order and do not overlap; the max is exact, so any order gives its bits.
    """
    out = np.zeros(first.size)
    some = np.flatnonzero(count > 0)
    if some.size == 0:
        return out
    # reduceat over (start, end) pairs: the slices from an end to the next start are dropped
    bounds = np.empty(2 * some.size, dtype=np.int64)
    bounds[0::2] = first[some]
    bounds[1::2] = first[some] + count[some]
    if bounds[-1] == values.size:
        bounds = bounds[:-1]  # the last segment runs to the end anyway
    out[some] = np.maximum.reduceat(values, bounds)[0::2]
    return out


def mu_mimo_spectral_efficiency(
    sinr_lin: npt.ArrayLike, num_trx: npt.ArrayLike, max_users: npt.ArrayLike
) -> FloatArray:
    """Return the SE a PRB carries per UE share with up to ``max_users`` zero-forced UEs.

    ``max(K SE(SINR (M - K) / (M K)))`` over integer ``K = 2 .. max_users`` (``M = num_trx``),
    bit/s/Hz; 0 where no pairing is possible (``max_users < 2``). A fractional
    ``max_users`` (the mean number of UEs to pair, ``active_users_to_pair``) interpolates
    linearly between its floor and ceiling, so the result is continuous in it.
    """
    sinr, m, users = np.broadcast_arrays(
        np.asarray(sinr_lin, dtype=np.float64),
        np.asarray(num_trx, dtype=np.float64),
        np.asarray(max_users, dtype=np.float64),
    )
    shape = sinr.shape
    sinr, m, users = sinr.ravel(), m.ravel(), users.ravel()
    result = np.zeros(sinr.shape)
    pair = users >= 1.0
    top = int(np.ceil(users.max(initial=1.0)))
    if top < 2 or not pair.any():
        return result.reshape(shape)
    s, mm, uu = sinr[pair], m[pair], users[pair]
    floor = np.minimum(np.floor(uu).astype(np.int64), top)
    ceil = np.minimum(floor + 1, top)
    # each UE needs K = 2 .. its own ceil only: flat (UE, K) pairs, UE by UE, K ascending
    width = np.maximum(ceil - 1, 0)
    first = np.cumsum(width) - width
    ue = np.repeat(np.arange(s.size), width)
    k = (np.arange(ue.size) - first[ue] + 2).astype(np.float64)
    m_k = mm[ue]
    # Marzetta et al. 2016 ch. 3: zero forcing, equal power, SINR (M - K) / (M K) per UE
    per_user = np.maximum(m_k - k, 0.0) / (m_k * k)
    se = k * spectral_efficiency(s[ue] * per_user)
    # best over K <= j (0 for "no pairing", j = 0, 1): the max of a UE's first j - 1 entries;
    # over K <= ceil that is one more entry (its last) where ceil > floor
    low = _leading_max(se, first, floor - 1)
    high = np.where(ceil > floor, np.maximum(low, se[first + width - 1]), low)
    result[pair] = low + (uu - floor) * (high - low)
    return result.reshape(shape)


def active_users_to_pair(prb_load: npt.ArrayLike) -> FloatArray:
    """Mean number of UEs with data while a cell transmits, ``1 / (1 - rho)``.

    Processor sharing (Bonald & Proutiere 2003): the number of active flows is geometric with
    mean ``rho / (1 - rho)``; given the cell is busy (probability ``rho``) it is ``1 / (1 -
    rho)``: the UEs a scheduler can pair. The load is capped at 0.95 (20 UEs, above any
    cell's pairing limit).
    """
    rho = np.clip(np.asarray(prb_load, dtype=np.float64), 0.0, 0.95)
    return np.asarray(1.0 / (1.0 - rho), dtype=np.float64)


def effective_spectral_efficiency(
    sinr_lin: npt.ArrayLike,
    max_layers: npt.ArrayLike,
    num_trx: npt.ArrayLike,
    max_users: npt.ArrayLike,
) -> tuple[FloatArray, FloatArray]:
    """Return (SE per PRB share for the load, SU SE for the UE's throughput), bit/s/Hz.

    Arguments broadcast; ``max_users`` may be fractional (see ``mu_mimo_spectral_efficiency``).
    """
    su, _ = su_mimo_spectral_efficiency(sinr_lin, max_layers)
    users = np.asarray(max_users, dtype=np.float64)
    # pairing gains from any fractional count above one (interpolated toward K = 2): the
    # shortcut must agree with that, or a UE's SE would depend on the other cells evaluated
    # beside it
    if not (users > 1.0).any():
        return su, su
    mu = mu_mimo_spectral_efficiency(sinr_lin, num_trx, users)
    return np.maximum(su, mu), su


def _best_rank_se(sinr: FloatArray, rank_one: FloatArray, n: int) -> FloatArray:
    """``su_mimo_spectral_efficiency``'s SE of UEs with layer limit ``n``, rank 1 given.

    The same terms, column by column (one contiguous array per layer, no ``[m, pairs]``
    table): each rank's sum in ``np.add.reduceat``'s order, ``a + ((b + c) + d)``, so the
    result is bit for bit the table's.
    """
    factors, starts = _RANK_FACTORS[n]
    best = rank_one
    for rank, start in zip(range(2, n + 1), starts, strict=True):
        # Telatar 1999: r eigenmodes, power split equally, SINR lambda_i / (lambda_1 r)
        layers = [spectral_efficiency(sinr * f) for f in factors[start : start + rank]]
        rest = layers[1]
        for layer in layers[2:]:
            rest = rest + layer
        best = np.maximum(best, layers[0] + rest)
    return best


@dataclass(frozen=True, eq=False)
class LinkConfig:
    """What sets each UE's link on its cell, fixed for one evaluation (shapes ``[n]``)."""

    groups: tuple[tuple[int, npt.NDArray[np.int64]], ...]  # (layer limit, UEs) for limits >= 2
    chains: FloatArray  # transceiver chains the cell runs
    pairing_limit: npt.NDArray[np.int64]  # most UEs the cell can pair
    bandwidth_mhz: FloatArray  # DL resources per second, MHz

    def rates_mbps(
        self, sinr_lin: FloatArray, pairing_load: npt.ArrayLike
    ) -> tuple[FloatArray, FloatArray]:
        """(rate per PRB share, SU rate) at ``sinr_lin``, Mbit/s: ``cell_rates_mbps``."""
        su = spectral_efficiency(sinr_lin)
        for n, rows in self.groups:
            su[rows] = _best_rank_se(sinr_lin[rows], su[rows], n)
        se = su
        users = np.minimum(active_users_to_pair(pairing_load), self.pairing_limit)
        # pair from any fractional count above one, as effective_spectral_efficiency does: a
        # threshold at 2 UEs put a jump in the rate at load 0.5 (no fixed point near it)
        pair = (self.pairing_limit >= 2) & (users > 1.0)
        if pair.any():
            se = su.copy()
            mu = mu_mimo_spectral_efficiency(sinr_lin[pair], self.chains[pair], users[pair])
            se[pair] = np.maximum(su[pair], mu)
        return se * self.bandwidth_mhz, su * self.bandwidth_mhz


def link_config(
    arrays: "CellArrays", cells: npt.NDArray[np.int64], trx_fraction: npt.ArrayLike = 1.0
) -> LinkConfig:
    """Return the link configuration of UEs served by ``cells`` (``[n]``), some muted."""
    share = np.broadcast_to(np.asarray(trx_fraction, dtype=np.float64), cells.shape)
    chains = share * arrays.num_trx[cells]
    layers = np.clip(np.minimum(arrays.max_layers[cells], chains.astype(np.int64)), 1, None)
    groups = tuple(
        (n, np.flatnonzero(layers == n)) for n in range(2, MAX_SU_LAYERS + 1) if (layers == n).any()
    )
    return LinkConfig(
        groups=groups,
        chains=chains,
        pairing_limit=mu_mimo_max_users(chains, arrays.mu_mimo_max_users[cells]),
        bandwidth_mhz=arrays.dl_bandwidth_hz[cells] / 1e6,
    )


def cell_rates_mbps(
    arrays: "CellArrays",
    cells: npt.NDArray[np.int64],
    sinr_lin: FloatArray,
    trx_fraction: npt.ArrayLike = 1.0,
    pairing_load: npt.ArrayLike = 0.0,
) -> tuple[FloatArray, FloatArray]:
    """Rates of UEs on ``cells`` (any shape) at ``sinr_lin``, Mbit/s: (per PRB share, SU).

    ``trx_fraction`` is the share of each entry's cell's chains in use (MIMO muting: fewer
    layers and pairs), ``pairing_load`` the PRB load that sets how many UEs the cell can pair
    (``active_users_to_pair``); both broadcast with ``cells``. The SINR already carries the
    muting's loss of power and beam gain.
    """
    shape = cells.shape
    flat = cells.ravel()
    config = link_config(arrays, flat, np.broadcast_to(np.asarray(trx_fraction), shape).ravel())
    load = np.broadcast_to(np.asarray(pairing_load, dtype=np.float64), shape).ravel()
    rate, su = config.rates_mbps(np.asarray(sinr_lin, dtype=np.float64).ravel(), load)
    return rate.reshape(shape), su.reshape(shape)
