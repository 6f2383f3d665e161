"""Fit the model's unseen quantities to the counters: where the UEs are and how demand splits.

What a network's counters show per cell and interval: PRB load, served volume, mean UE
throughput, connected UEs. What the model cannot see: where inside a cell's footprint the
UEs and their demand sit, which sets how many PRBs a megabit costs. The fit, on the training
days only:

1. **candidates**: drop many UEs uniformly over the topology's area (the twin's own drop and
   link budget, with the model's seed) and find each one's home cell (every cell on, TS 38.304
   reselection priorities on the SSB beams); the share of UEs that cannot use the n78 layer is
   fitted so that the candidates split between the layers as ``RRC.ConnMean`` does;
2. **how many UEs each cell has, when**: ``RRC.ConnMean`` with every cell on, per interval of
   the day (weekdays and weekends apart), gives each cell's UEs present over the day (people
   commute: office cells fill by day, residential ones by night); the cell gets as many model
   UEs as its busiest interval, and a presence order says which are there when;
3. **where in the cell the demand is**: the observed PRB-load per Mbit/s of home-cell demand
   (``cost``) is matched by tilting the cell's demand toward costly (edge) or cheap (centre)
   UEs: weights ``w_u ~ q_u ** beta`` where ``q_u`` is the UE's own PRB cost in the model.
   First the cell's UEs are drawn from its candidates with that tilt, then their demand
   shares are re-tilted over a few fixed-point rounds (neighbours' loads set the
   interference, so each round re-solves every training interval in the model);
4. **how much demand, when**: home-cell demand per interval comes from the counters
   (``home_demand``), including intervals where cells slept; its daily and weekly pattern is
   the forecaster's business (``ranopt.forecast``), fitted on these estimates.
"""

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from ranopt.calibrate.history import PmHistory
from ranopt.calibrate.home_demand import (
    OBSERVED,
    OVERLOAD_PRB_LOAD,
    SPLIT,
    HomeDemand,
    all_on_intervals,
    demand_share_profile,
    estimate_home_demand,
)
from ranopt.calibrate.model import (
    DAY_CLASSES,
    BoolArray,
    CalibratedModel,
    CellFit,
    IntArray,
    day_class,
    home_cells_of,
    present_shares,
    select_ues,
    time_bin,
    ue_loads,
)
from ranopt.errors import ValidationError
from ranopt.twin.model import Twin
from ranopt.twin.selection import N78, band_supported
from ranopt.twin.topology import TopologyLayout, build_topology_twin, topology_scenario
from ranopt.twin.units import FloatArray, group_sum

BISECTION_STEPS = 60
# which UEs are present at (weekday, interval of day), ``[U]``
PresentAt = Callable[[int, int], BoolArray]


@dataclass(frozen=True)
class FitConfig:
    """How the model's UEs are dropped and fitted."""

    candidates_per_ue: float = 4.0  # candidate UEs dropped per observed connected UE
    min_candidates_per_cell: int = 40  # ... and at least this many per cell on average
    max_candidates: int = 120_000
    default_ues_per_cell: int = 10  # UEs of a carrying cell when RRC.ConnMean is not reported
    fit_iterations: int = 3  # demand-share rounds after the UE draw
    fit_stride: int = 2  # every n-th interval of the training days enters the fit
    max_tilt: float = 8.0  # |beta| bound of the demand tilt
    time_bins: int = 1  # equal parts of the day, each with its own demand tilt per cell
    draw: str = "rate"  # how UEs are drawn: "rate" (DRB.UEThpDl) or "cost" (PRB per Mbit)
    seed: int = 0xCA11B  # the model's own drop (never the network's)

    def __post_init__(self) -> None:
        """Check ranges."""
        if self.candidates_per_ue < 1 or self.min_candidates_per_cell < 1:
            msg = "candidates_per_ue and min_candidates_per_cell must be >= 1"
            raise ValidationError(msg)
        if self.fit_iterations < 0 or self.fit_stride < 1 or self.max_tilt <= 0:
            msg = "fit_iterations >= 0, fit_stride >= 1 and max_tilt > 0 are required"
            raise ValidationError(msg)
        if self.time_bins < 1:
            msg = "time_bins must be >= 1"
            raise ValidationError(msg)


def presence_profile(history: PmHistory, config: FitConfig) -> IntArray:
    """UEs present per home cell by day class and interval of day, ``[2, T, C]``.

    The median ``RRC.ConnMean`` over the intervals with every cell on of the days of that
    class (``DAY_CLASSES``: weekdays, weekends) at that time of day; a class without such a
    day takes every day's, an interval without any sample the cell's median over the day. A
    cell without the counter gets ``default_ues_per_cell`` if it carried traffic, else 0; a
    cell that carried traffic has at least one UE at every interval.
    """
    ipd = history.intervals_per_day
    num_cells = history.num_cells
    all_on = all_on_intervals(history)[:, None] & history.reported
    conn = np.where(all_on & np.isfinite(history.conn_mean), history.conn_mean, np.nan)
    by_day = conn.reshape(history.num_days, ipd, num_cells)
    classes = np.array([day_class(int(w)) for w in history.weekdays], dtype=np.int64)
    with np.errstate(all="ignore"):
        overall = np.nanmedian(conn, axis=0) if conn.size else np.full(num_cells, np.nan)
        pooled = np.nanmedian(by_day, axis=0)  # [T, C]
        pooled = np.where(np.isfinite(pooled), pooled, overall[None, :])
        profiles = []
        for k in range(len(DAY_CLASSES)):
            days = by_day[classes == k]
            own = np.nanmedian(days, axis=0) if days.shape[0] else np.full(pooled.shape, np.nan)
            profiles.append(np.where(np.isfinite(own), own, pooled))
    profile = np.stack(profiles)  # [2, T, C]
    carried = np.nansum(np.where(all_on, history.volume_mbit, 0.0), axis=0) > 0
    fallback = np.where(carried, config.default_ues_per_cell, 0)[None, None, :]
    counted = np.where(np.isfinite(profile), np.rint(profile), fallback)
    counted = np.where(carried[None, None, :], np.maximum(counted, 1), counted)
    return np.asarray(counted, dtype=np.int64)


def ues_per_cell(history: PmHistory, config: FitConfig) -> IntArray:
    """Model UEs per home cell: its busiest interval's ``presence_profile``, ``[C]``."""
    return np.asarray(presence_profile(history, config).max(axis=(0, 1)), dtype=np.int64)


def tilted_weights(
    cell: IntArray, log_cost: FloatArray, base: FloatArray, beta: FloatArray, num_cells: int
) -> FloatArray:
    """Weights ``base * exp(beta[cell] * log_cost)``, normalised to sum 1 per cell, ``[U]``."""
    exponent = beta[cell] * log_cost
    # subtract each cell's largest exponent before exp (no overflow)
    top = np.full(num_cells, -np.inf)
    np.maximum.at(top, cell, exponent)
    raw = base * np.exp(exponent - top[cell])
    total = group_sum(cell, raw, num_cells)[cell]
    # a cell whose base weights are all zero keeps zero weights
    return np.asarray(np.divide(raw, total, out=np.zeros_like(raw), where=total > 0))


def solve_tilt(
    cell: IntArray,
    cost: FloatArray,
    base: FloatArray,
    target: FloatArray,
    num_cells: int,
    max_tilt: float,
) -> tuple[FloatArray, BoolArray]:
    """Find per cell the ``beta`` whose tilted mean cost ``sum_u w_u cost_u`` hits ``target``.

    The tilted mean grows monotonically with ``beta`` (its derivative is the tilted variance
    of ``log cost``), so a bisection per cell (vectorised over cells) finds it; a target
    beyond ``[-max_tilt, max_tilt]`` is clamped (returned True). ``cost`` must be > 0.
    """
    log_cost = np.log(cost)
    low = np.full(num_cells, -max_tilt)
    high = np.full(num_cells, max_tilt)

    def mean_at(beta: FloatArray) -> FloatArray:
        w = tilted_weights(cell, log_cost, base, beta, num_cells)
        return group_sum(cell, w * cost, num_cells)

    at_low, at_high = mean_at(low), mean_at(high)
    for _ in range(BISECTION_STEPS):
        mid = 0.5 * (low + high)
        above = mean_at(mid) > target
        high = np.where(above, mid, high)
        low = np.where(above, low, mid)
    beta = 0.5 * (low + high)
    clamped = (target < at_low) | (target > at_high)
    beta = np.where(target <= at_low, -max_tilt, np.where(target >= at_high, max_tilt, beta))
    return beta, clamped


@dataclass(frozen=True, eq=False)
class _Costs:
    """Per-UE cost over the fit intervals and per-cell targets, per time-of-day bin."""

    cost: FloatArray  # [B, U] sum_t D_home(t) / (W(t) r_u(t)) over the bin's fit intervals
    target: FloatArray  # [B, C] observed minus foreign model PRB load, summed likewise
    demand: FloatArray  # [B, C] home-cell demand summed over the fit intervals
    model_home_load: FloatArray  # [B, C] the model's home-UE load over the same intervals
    su_rate: FloatArray  # [U] mean SU rate at home over the fit intervals, Mbit/s (0: none)
    rate_target: FloatArray  # [C] mean of DRB.UEThpDl / (1 - PRB load) over the same, Mbit/s


def _fit_rows(history: PmHistory, stride: int) -> IntArray:
    return np.arange(0, history.num_intervals, stride, dtype=np.int64)


def _costs(
    twin: Twin,
    home: IntArray,
    weight: FloatArray,
    present_at: PresentAt,
    history: PmHistory,
    estimate: HomeDemand,
    rows: IntArray,
) -> _Costs:
    """Solve the model at each fit interval and gather per-UE costs and per-cell targets.

    ``weight`` ``[B, U]`` gives each time-of-day bin's weights; the UEs present at an interval
    share their cell's demand by the bin's weights renormalised over them
    (``present_shares``). A UE's cost is its PRB load per unit of its weight, so that a
    cell's model load summed over a bin's intervals is ``sum_u weight_u cost_u``.
    """
    num_cells = twin.num_cells
    num_bins = weight.shape[0]
    load_obs = history.prb_load
    usable = (
        history.reported
        & ~history.asleep
        & np.isfinite(load_obs)
        & (np.nan_to_num(load_obs) < OVERLOAD_PRB_LOAD)
        & np.isin(estimate.method, (OBSERVED, SPLIT))
        & (estimate.mbps > 0)
    )
    cost = np.zeros((num_bins, twin.num_ues))
    target = np.zeros((num_bins, num_cells))
    demand_sum = np.zeros((num_bins, num_cells))
    model_home = np.zeros((num_bins, num_cells))
    safe_home = np.maximum(home, 0)
    weekdays = history.row_weekdays
    ipd = history.intervals_per_day
    rate_sum = np.zeros(twin.num_ues)
    rate_num = np.zeros(twin.num_ues)
    thp_obs = history.ue_thp_mbps
    thp_usable = usable & np.isfinite(thp_obs) & (np.nan_to_num(thp_obs) > 0)
    # DRB.UEThpDl is a UE's rate alone times the idle share of the cell (processor sharing)
    alone = np.divide(
        np.nan_to_num(thp_obs), 1.0 - np.nan_to_num(load_obs),
        out=np.zeros(thp_obs.shape), where=thp_usable,
    )  # fmt: skip
    rate_target_sum = np.zeros(num_cells)
    rate_target_num = np.zeros(num_cells)
    previous: FloatArray | None = None
    for t in rows:
        b = time_bin(int(t % ipd), ipd, num_bins)
        d_cell = estimate.mbps[t]
        present = present_at(int(weekdays[t]), int(t % ipd))
        share = present_shares(weight[b], home, present, num_cells)
        loads = ue_loads(twin, ~history.asleep[t], share * d_cell[safe_home], previous)
        previous = loads.prb_load
        at_home = (loads.serving == home) & (home >= 0)
        home_load = group_sum(safe_home[at_home], loads.ue_load[at_home], num_cells)
        foreign = loads.prb_load - np.minimum(home_load, loads.prb_load)
        use = usable[t]
        target[b] += np.where(use, load_obs[t] - foreign, 0.0)
        demand_sum[b] += np.where(use, d_cell, 0.0)
        model_home[b] += np.where(use, home_load, 0.0)
        # per-UE cost per unit of home demand and of weight: present / W_c(t) over the rate
        # (W_c(t) the weight of the cell's present UEs), weighted by the home cell's demand
        present_weight = group_sum(safe_home, np.where(present, weight[b], 0.0), num_cells)
        per_weight = np.divide(
            1.0, present_weight, out=np.zeros(num_cells), where=present_weight > 0
        )[safe_home]
        scale = np.where(at_home & present, use[safe_home] * d_cell[safe_home] * per_weight, 0.0)
        rate = loads.rate_mbps
        cost[b] += np.where(
            scale > 0,
            np.divide(scale, rate, out=np.full(rate.shape, np.inf), where=rate > 0),
            0.0,
        )
        counted = at_home & present & thp_usable[t][safe_home]
        rate_sum += np.where(counted, loads.su_rate_mbps, 0.0)
        rate_num += counted
        rate_target_sum += alone[t]
        rate_target_num += thp_usable[t]
    return _Costs(
        cost=cost, target=np.maximum(target, 0.0), demand=demand_sum, model_home_load=model_home,
        su_rate=np.divide(rate_sum, rate_num, out=np.zeros(rate_sum.shape), where=rate_num > 0),
        rate_target=np.divide(
            rate_target_sum, rate_target_num, out=np.full(num_cells, np.nan),
            where=rate_target_num > 0,
        ),
    )  # fmt: skip


def _draw_ues(
    home: IntArray,
    weight: FloatArray,
    order_by: FloatArray,
    wanted: IntArray,
    rng: np.random.Generator,
) -> IntArray:
    """Draw ``wanted[c]`` UEs per cell with probability ~ ``weight``, spread over ``order_by``.

    Systematic sampling with probability proportional to size (Madow 1949, "On the theory of
    systematic sampling II", Ann. Math. Stat. 20(3)): the cell's candidates are sorted by
    ``order_by`` (their rate), and ``n`` equally spaced points with one random offset pick
    them from the cumulative weights. Each candidate's inclusion stays proportional to its
    weight, but the drawn set spans the weighted distribution from its low to its high end,
    so few UEs still represent it (independent draws of 4 UEs out of a skewed distribution
    mostly miss its tail). A candidate whose weight exceeds the spacing may be drawn twice.
    """
    chosen: list[IntArray] = []
    for c in np.flatnonzero(wanted > 0):
        pool = np.flatnonzero((home == c) & (weight > 0))
        if pool.size == 0:
            continue
        n = int(wanted[c])
        pool = pool[np.argsort(order_by[pool], kind="stable")]
        cumulative = np.cumsum(weight[pool])
        points = (np.arange(n) + rng.random()) * (cumulative[-1] / n)
        picks = np.minimum(np.searchsorted(cumulative, points, side="right"), pool.size - 1)
        chosen.append(pool[picks])
    return np.concatenate(chosen) if chosen else np.zeros(0, dtype=np.int64)


def candidate_twin(layout: TopologyLayout, history: PmHistory, num_ues: int, seed: int) -> Twin:
    """Drop ``num_ues`` candidate UEs uniformly over the topology (no hotspots, one place each).

    Each candidate is one place a UE may be at; when it is there is the presence profile's
    business (``presence_profile``), so the drop has no commuters' second places.
    """
    scenario = topology_scenario(
        layout,
        name="calibration-candidates",
        seed=seed,
        num_ues=num_ues,
        interval_min=history.interval_s // 60,
        hotspot_ue_fraction=0.0,
        commuter_fraction=0.0,
    )
    return build_topology_twin(layout, scenario)


def with_n78_support(twin: Twin, supports_n78: BoolArray) -> Twin:
    """Return the twin with other UEs' n78 support (the link budget's band check follows)."""
    supported = band_supported(supports_n78[:, None], twin.arrays.band[twin.link.cell_idx])
    return replace(
        twin,
        ues=replace(twin.ues, supports_n78=supports_n78),
        link=replace(twin.link, supported=supported),
    )


def observed_no_n78_share(history: PmHistory, n78_cells: BoolArray) -> float:
    """Share of connected UEs on cells outside n78 (RRC.ConnMean, intervals all on); NaN: none."""
    all_on = all_on_intervals(history)[:, None] & history.reported
    conn = np.where(all_on & np.isfinite(history.conn_mean), history.conn_mean, 0.0)
    total = float(conn.sum())
    return float(conn[:, ~n78_cells].sum()) / total if total > 0 else float("nan")


def fit_n78_support(
    candidates: Twin, history: PmHistory, rng: np.random.Generator
) -> tuple[Twin, float]:
    """Give the candidates the share of UEs without n78 support that the counters show.

    With every UE able to use n78, a share ``q`` of the candidates still camps outside it
    (below the n78 layer's reselection threshold, TS 38.304 cl. 5.2.4.5); a UE without n78
    support always does. The counters show the share ``s`` of connected UEs outside n78, so
    ``s = f + (1 - f) q`` gives the share ``f = (s - q) / (1 - q)`` (clipped to [0, 1]) of UEs
    without support, which is then drawn anew for every candidate. Returns the candidates and
    ``f`` (NaN when the network has no n78 cell or no counter to tell).
    """
    n78_cells = candidates.arrays.band == N78
    observed = observed_no_n78_share(history, n78_cells)
    if not n78_cells.any() or not np.isfinite(observed):
        return candidates, float("nan")
    capable = with_n78_support(candidates, np.ones(candidates.num_ues, dtype=bool))
    home = home_cells_of(capable)
    homed = home >= 0
    outside = float((~n78_cells[home[homed]]).mean()) if homed.any() else 1.0
    share = float(np.clip((observed - outside) / max(1.0 - outside, 1e-9), 0.0, 1.0))
    return with_n78_support(candidates, rng.random(candidates.num_ues) >= share), share


@dataclass(frozen=True, eq=False)
class _Drawn:
    """The drawn model UEs: their twin, homes, presence, shares and the per-cell observed cost."""

    twin: Twin
    home: IntArray
    share: FloatArray
    rank: IntArray
    presence: IntArray  # [2, T, C]
    candidates_per_cell: IntArray
    observed_cost: FloatArray  # [C] NaN where the cell had no fit interval
    no_n78_share: float


def presence_ranks(home: IntArray, num_cells: int, rng: np.random.Generator) -> IntArray:
    """Draw a random presence order of each cell's UEs: ranks 0 .. n_c - 1 within each cell."""
    order = np.lexsort((rng.random(home.size), home))  # by cell, random within it
    ranks = np.empty(home.size, dtype=np.int64)
    sorted_home = home[order]
    starts = np.searchsorted(sorted_home, np.arange(num_cells))
    ranks[order] = np.arange(home.size) - starts[np.maximum(sorted_home, 0)]
    return ranks


def presence_of(rank: IntArray, home: IntArray, presence: IntArray) -> PresentAt:
    """Which UEs are present at (weekday, interval of day), from their ranks and the profile."""
    ipd = presence.shape[1]
    safe = np.maximum(home, 0)

    def present_at(weekday: int, interval: int) -> BoolArray:
        count = presence[day_class(weekday), interval % ipd]
        return np.asarray((home >= 0) & (rank < count[safe]), dtype=bool)

    return present_at


def _all_present(num_ues: int) -> PresentAt:
    everyone = np.ones(num_ues, dtype=bool)
    return lambda _weekday, _interval: everyone


def _draw_model(
    layout: TopologyLayout, history: PmHistory, config: FitConfig, demand_share: FloatArray
) -> _Drawn:
    """Drop candidates, then draw each cell's UEs from its own, tilted toward its cost."""
    num_cells = history.num_cells
    rng = np.random.default_rng(np.random.SeedSequence([config.seed, 0xF17]))
    presence = presence_profile(history, config)
    wanted = np.asarray(presence.max(axis=(0, 1)), dtype=np.int64)
    num_candidates = min(
        max(config.candidates_per_ue * wanted.sum(), config.min_candidates_per_cell * num_cells),
        config.max_candidates,
    )
    candidates = candidate_twin(layout, history, int(num_candidates), config.seed)
    candidates, no_n78 = fit_n78_support(candidates, history, rng)
    home = home_cells_of(candidates)
    cell = np.maximum(home, 0)
    count = group_sum(cell, home >= 0, num_cells)
    uniform = np.where(home >= 0, 1.0 / np.maximum(count[cell], 1.0), 0.0)
    estimate = estimate_home_demand(candidates, home, uniform, demand_share, history)
    # the candidates are many: half the fit intervals (the shares are refined afterwards)
    binned = _costs(
        candidates, home, uniform[None, :], _all_present(home.size), history, estimate,
        _fit_rows(history, 2 * config.fit_stride),
    )  # fmt: skip
    cost, target, demand = binned.cost[0], binned.target[0], binned.demand[0]
    observed = np.divide(target, demand, out=np.full(num_cells, np.nan), where=demand > 0)
    reachable = (home >= 0) & np.isfinite(cost) & (cost > 0)
    unit_cost = np.where(reachable, cost / np.maximum(demand[cell], 1e-12), 1.0)
    beta, _ = solve_tilt(
        cell, unit_cost, reachable.astype(float), np.nan_to_num(observed), num_cells,
        config.max_tilt,
    )  # fmt: skip
    beta = np.where(np.isfinite(observed), beta, 0.0)
    by_cost = np.where(
        reachable, tilted_weights(cell, np.log(unit_cost), np.ones(home.size), beta, num_cells), 0.0
    )
    # a cell none of whose candidates has a usable rate still gets its UEs (left unserved)
    none_reach = group_sum(cell, reachable, num_cells) == 0
    by_cost = np.where(~reachable & (home >= 0) & none_reach[cell], 1.0, by_cost)
    picked_by_cost = _draw_ues(home, by_cost, unit_cost, wanted, rng)
    if config.draw != "rate":
        picked = picked_by_cost
    else:
        # where the UEs are: their mean rate alone meets DRB.UEThpDl / (1 - load)
        rate = binned.su_rate
        has_rate = reachable & (rate > 0)
        goal = binned.rate_target
        safe_rate = np.where(has_rate, rate, 1.0)
        gamma, _ = solve_tilt(
            cell, safe_rate, has_rate.astype(float), np.nan_to_num(goal), num_cells,
            config.max_tilt,
        )  # fmt: skip
        by_rate = np.where(
            has_rate,
            tilted_weights(cell, np.log(safe_rate), np.ones(home.size), gamma, num_cells),
            0.0,
        )  # fmt: skip
        picked_by_rate = _draw_ues(home, by_rate, rate, wanted, rng)
        # the demand tilt reaches costs between the drawn UEs' cheapest and costliest: a cell
        # whose observed cost lies outside takes the UEs drawn toward its cost instead
        drawn_cell = home[picked_by_rate]
        low = np.full(num_cells, np.inf)
        high = np.zeros(num_cells)
        np.minimum.at(low, drawn_cell, unit_cost[picked_by_rate])
        np.maximum.at(high, drawn_cell, unit_cost[picked_by_rate])
        target_cost = np.nan_to_num(observed)
        by_rate_ok = (
            np.isfinite(goal)
            & (group_sum(cell, has_rate, num_cells) > 0)
            & (~np.isfinite(observed) | ((low <= target_cost) & (target_cost <= high)))
        )
        picked = np.concatenate((
            picked_by_rate[by_rate_ok[drawn_cell]],
            picked_by_cost[~by_rate_ok[home[picked_by_cost]]],
        ))  # fmt: skip
    picked_home = home[picked]
    picked_count = group_sum(picked_home, np.ones(picked.size), num_cells)
    return _Drawn(
        twin=select_ues(candidates, picked),
        home=picked_home,
        share=1.0 / picked_count[picked_home],
        rank=presence_ranks(picked_home, num_cells, rng),
        presence=presence,
        candidates_per_cell=count.astype(np.int64),
        observed_cost=observed,
        no_n78_share=no_n78,
    )


def _retilt(
    drawn: _Drawn, history: PmHistory, config: FitConfig, demand_share: FloatArray
) -> tuple[FloatArray, FloatArray, BoolArray]:
    """Re-tilt the drawn UEs' demand weights round by round, bin by bin of the day.

    Returns the weights ``[B, U]``, tilts ``[B, C]`` and which were clamped ``[B, C]``. A bin
    with no fit interval of a cell keeps the cell's tilt over the whole day.
    """
    twin, home = drawn.twin, drawn.home
    num_cells = history.num_cells
    num_bins = config.time_bins
    share = np.tile(drawn.share, (num_bins, 1))
    rows = _fit_rows(history, config.fit_stride)
    present_at = presence_of(drawn.rank, home, drawn.presence)
    ipd = history.intervals_per_day
    tilt = np.zeros((num_bins, num_cells))
    clamped = np.zeros((num_bins, num_cells), dtype=bool)
    for _ in range(config.fit_iterations):
        weights = share

        def share_at(weekday: int, interval: int, weights: FloatArray = weights) -> FloatArray:
            bin_weights = weights[time_bin(interval, ipd, num_bins)]
            return present_shares(bin_weights, home, present_at(weekday, interval), num_cells)

        estimate = estimate_home_demand(twin, home, share_at, demand_share, history)
        costs = _costs(twin, home, share, present_at, history, estimate, rows)
        # the whole day's tilt first: the fallback of bins without data
        day_tilt, _ = _solve_bin(home, costs.cost.sum(0), costs.target.sum(0),
                                 costs.demand.sum(0), num_cells, config.max_tilt)  # fmt: skip
        for b in range(num_bins):
            tilt[b], clamped[b] = _solve_bin(
                home, costs.cost[b], costs.target[b], costs.demand[b], num_cells, config.max_tilt
            )
            fitted = np.isfinite(drawn.observed_cost) & (costs.demand[b] > 0)
            tilt[b] = np.where(fitted, tilt[b], np.where(np.isfinite(drawn.observed_cost),
                                                          day_tilt, 0.0))  # fmt: skip
            clamped[b] &= fitted
            share[b] = tilted_weights(
                home, np.log(_neutral_costs(home, costs.cost[b], costs.demand[b], num_cells)),
                np.ones(home.size), tilt[b], num_cells,
            )  # fmt: skip
    return share, tilt, clamped


def _neutral_costs(
    home: IntArray, cost: FloatArray, demand: FloatArray, num_cells: int
) -> FloatArray:
    """Return unit costs ``[U]``; a UE without one (never at home when fitted) gets its cell's mean.

    The mean cost of the cell's other UEs makes it neutral to the tilt.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        unit_cost = cost / np.maximum(demand[home], 1e-12)
    ok = np.isfinite(unit_cost) & (unit_cost > 0)
    count = group_sum(home, ok.astype(float), num_cells)
    mean_ok = np.divide(
        group_sum(home, np.where(ok, unit_cost, 0.0), num_cells), count,
        out=np.ones(num_cells), where=count > 0,
    )  # fmt: skip
    return np.asarray(np.where(ok, unit_cost, mean_ok[home]))


def _solve_bin(
    home: IntArray,
    cost: FloatArray,
    target: FloatArray,
    demand: FloatArray,
    num_cells: int,
    max_tilt: float,
) -> tuple[FloatArray, BoolArray]:
    """Find the tilt per cell whose mean unit cost meets the observed one over some intervals."""
    unit_cost = _neutral_costs(home, cost, demand, num_cells)
    goal = np.divide(target, demand, out=np.zeros(num_cells), where=demand > 0)
    tilt, clamped = solve_tilt(home, unit_cost, np.ones(home.size), goal, num_cells, max_tilt)
    return np.where(demand > 0, tilt, 0.0), clamped & (demand > 0)


def fit_model(layout: TopologyLayout, history: PmHistory, config: FitConfig) -> CalibratedModel:
    """Fit a model to the training history (see the module docstring for the steps)."""
    if layout.cell_names != history.cell_names:
        msg = "history and topology must list the same cells in the same order"
        raise ValidationError(msg)
    num_cells = history.num_cells
    demand_share = demand_share_profile(history)
    drawn = _draw_model(layout, history, config, demand_share)
    share, tilt, clamped = _retilt(drawn, history, config, demand_share)
    twin, home = drawn.twin, drawn.home
    model = CalibratedModel(
        twin=twin, home=home, share=share, rank=drawn.rank, presence=drawn.presence,
        demand_share=demand_share, fit=_placeholder_fit(num_cells), warnings=layout.warnings,
        no_n78_share=drawn.no_n78_share,
    )  # fmt: skip
    estimate = estimate_home_demand(twin, home, model.share_at, demand_share, history)
    present_at = presence_of(drawn.rank, home, drawn.presence)
    rows = _fit_rows(history, config.fit_stride)
    costs = _costs(twin, home, share, present_at, history, estimate, rows)
    carried = np.nansum(np.where(history.reported, history.volume_mbit, 0.0), axis=0) > 0
    model_count = group_sum(home, np.ones(home.size), num_cells).astype(np.int64)
    demand = costs.demand.sum(0)
    per_demand = {
        name: np.divide(values.sum(0), demand, out=np.full(num_cells, np.nan), where=demand > 0)
        for name, values in (("observed", costs.target), ("model", costs.model_home_load))
    }
    bin_demand = costs.demand
    day_tilt = np.divide(
        (tilt * bin_demand).sum(0), demand, out=np.zeros(num_cells), where=demand > 0
    )
    fit = CellFit(
        num_ues=model_count,
        num_candidates=drawn.candidates_per_cell,
        tilt=day_tilt,
        cost_observed=per_demand["observed"],
        cost_model=per_demand["model"],
        clamped=np.asarray(clamped.any(axis=0), dtype=bool),
        unmodelled=carried & (model_count == 0),
        tilt_by_bin=tilt,
    )
    return replace(model, fit=fit)


def _placeholder_fit(num_cells: int) -> CellFit:
    """Return a CellFit of zeros, replaced once the fitted model's costs are measured."""
    zeros = np.zeros(num_cells)
    none = np.zeros(num_cells, dtype=bool)
    count = np.zeros(num_cells, dtype=np.int64)
    return CellFit(
        num_ues=count, num_candidates=count, tilt=zeros, cost_observed=zeros, cost_model=zeros,
        clamped=none, unmodelled=none, tilt_by_bin=zeros[None, :],
    )  # fmt: skip
