"""Fit the model's unseen quantities to the counters: where the UEs are and how demand splits.

What a network's counters show per cell and interval: PRB load, served volume, mean UE
throughput, connected UEs. What the model cannot see: where inside a cell's footprint the
UEs and their demand sit, which sets how many PRBs a megabit costs. The fit, on the training
days only:

1. **candidates**: drop many UEs uniformly over the topology's area (the twin's own drop and
   link budget, with the model's seed) and find each one's home cell (every cell on);
2. **how many UEs each cell has**: ``RRC.ConnMean`` with every cell on gives each cell's UE
   count, hence the split of UEs between layers and cells;
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

from dataclasses import dataclass

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
    BoolArray,
    CalibratedModel,
    CellFit,
    IntArray,
    home_cells_of,
    select_ues,
    ue_loads,
)
from ranopt.errors import ValidationError
from ranopt.twin.model import Twin
from ranopt.twin.topology import TopologyLayout, build_topology_twin, topology_scenario
from ranopt.twin.units import FloatArray, group_sum

BISECTION_STEPS = 60


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
    seed: int = 0xCA11B  # the model's own drop (never the network's)

    def __post_init__(self) -> None:
        """Check ranges."""
        if self.candidates_per_ue < 1 or self.min_candidates_per_cell < 1:
            msg = "candidates_per_ue and min_candidates_per_cell must be >= 1"
            raise ValidationError(msg)
        if self.fit_iterations < 0 or self.fit_stride < 1 or self.max_tilt <= 0:
            msg = "fit_iterations >= 0, fit_stride >= 1 and max_tilt > 0 are required"
            raise ValidationError(msg)


def ues_per_cell(history: PmHistory, config: FitConfig) -> IntArray:
    """Model UEs per home cell: median RRC.ConnMean with every cell on, ``[C]``.

    A cell without the counter gets ``default_ues_per_cell`` if it carried traffic, else 0.
    """
    all_on = all_on_intervals(history)[:, None] & history.reported
    conn = np.where(all_on, history.conn_mean, np.nan)
    with np.errstate(all="ignore"):
        median = np.nanmedian(np.where(np.isfinite(conn), conn, np.nan), axis=0)
    carried = np.nansum(np.where(all_on, history.volume_mbit, 0.0), axis=0) > 0
    counted = np.where(np.isfinite(median), np.rint(median), np.nan)
    fallback = np.where(carried, config.default_ues_per_cell, 0)
    num = np.where(np.isfinite(counted), counted, fallback)
    # a cell that carried traffic has at least one UE
    return np.asarray(np.where(carried, np.maximum(num, 1), num), dtype=np.int64)


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
    """Per-UE cost over the fit intervals and per-cell targets."""

    cost: FloatArray  # [U] sum_t D_home(t) / r_u(t) over the home cell's fit intervals
    target: FloatArray  # [C] observed minus foreign model PRB load, summed over fit intervals
    demand: FloatArray  # [C] home-cell demand summed over the fit intervals
    model_home_load: FloatArray  # [C] the model's home-UE load over the same intervals


def _fit_rows(history: PmHistory, stride: int) -> IntArray:
    return np.arange(0, history.num_intervals, stride, dtype=np.int64)


def _costs(
    twin: Twin,
    home: IntArray,
    share: FloatArray,
    history: PmHistory,
    estimate: HomeDemand,
    rows: IntArray,
) -> _Costs:
    """Solve the model at each fit interval and gather per-UE costs and per-cell targets."""
    num_cells = twin.num_cells
    load_obs = history.prb_load
    usable = (
        history.reported
        & ~history.asleep
        & np.isfinite(load_obs)
        & (np.nan_to_num(load_obs) < OVERLOAD_PRB_LOAD)
        & np.isin(estimate.method, (OBSERVED, SPLIT))
        & (estimate.mbps > 0)
    )
    cost = np.zeros(twin.num_ues)
    target = np.zeros(num_cells)
    demand_sum = np.zeros(num_cells)
    model_home = np.zeros(num_cells)
    safe_home = np.maximum(home, 0)
    previous: FloatArray | None = None
    for t in rows:
        d_cell = estimate.mbps[t]
        loads = ue_loads(twin, ~history.asleep[t], share * d_cell[safe_home], previous)
        previous = loads.prb_load
        at_home = (loads.serving == home) & (home >= 0)
        home_load = group_sum(safe_home[at_home], loads.ue_load[at_home], num_cells)
        foreign = loads.prb_load - np.minimum(home_load, loads.prb_load)
        use = usable[t]
        target += np.where(use, load_obs[t] - foreign, 0.0)
        demand_sum += np.where(use, d_cell, 0.0)
        model_home += np.where(use, home_load, 0.0)
        # per-UE cost per unit of home demand: 1 / rate, weighted by the home cell's demand
        weight = np.where(at_home, use[safe_home] * d_cell[safe_home], 0.0)
        rate = loads.rate_mbps
        cost += np.where(
            weight > 0,
            np.divide(weight, rate, out=np.full(rate.shape, np.inf), where=rate > 0),
            0.0,
        )
    return _Costs(
        cost=cost, target=np.maximum(target, 0.0), demand=demand_sum, model_home_load=model_home
    )


def _draw_ues(
    home: IntArray,
    weight: FloatArray,
    wanted: IntArray,
    rng: np.random.Generator,
) -> IntArray:
    """Draw ``wanted[c]`` UEs per cell, with probability ~ ``weight`` (no repeats if enough).

    Without replacement by Efraimidis & Spirakis' keys ``log(U) / w`` (Inf. Proc. Letters
    97(5), 2006); a cell with fewer positive-weight candidates than wanted takes them all and
    draws the rest with replacement.
    """
    chosen: list[IntArray] = []
    for c in np.flatnonzero(wanted > 0):
        pool = np.flatnonzero((home == c) & (weight > 0))
        if pool.size == 0:
            continue
        n = int(wanted[c])
        w = weight[pool]
        keys = np.log(rng.random(pool.size)) / w
        order = pool[np.argsort(-keys)]
        if n <= pool.size:
            chosen.append(order[:n])
        else:
            extra = rng.choice(pool, size=n - pool.size, p=w / w.sum())
            chosen.append(np.concatenate((order, extra)))
    return np.concatenate(chosen) if chosen else np.zeros(0, dtype=np.int64)


def candidate_twin(layout: TopologyLayout, history: PmHistory, num_ues: int, seed: int) -> Twin:
    """Drop ``num_ues`` candidate UEs uniformly over the topology (no hotspots)."""
    scenario = topology_scenario(
        layout,
        name="calibration-candidates",
        seed=seed,
        num_ues=num_ues,
        interval_min=history.interval_s // 60,
        hotspot_ue_fraction=0.0,
    )
    return build_topology_twin(layout, scenario)


@dataclass(frozen=True, eq=False)
class _Drawn:
    """The drawn model UEs: their twin, homes, shares and the per-cell observed cost."""

    twin: Twin
    home: IntArray
    share: FloatArray
    candidates_per_cell: IntArray
    observed_cost: FloatArray  # [C] NaN where the cell had no fit interval


def _draw_model(
    layout: TopologyLayout, history: PmHistory, config: FitConfig, demand_share: FloatArray
) -> _Drawn:
    """Drop candidates, then draw each cell's UEs from its own, tilted toward its cost."""
    num_cells = history.num_cells
    rng = np.random.default_rng(np.random.SeedSequence([config.seed, 0xF17]))
    wanted = ues_per_cell(history, config)
    num_candidates = min(
        max(config.candidates_per_ue * wanted.sum(), config.min_candidates_per_cell * num_cells),
        config.max_candidates,
    )
    candidates = candidate_twin(layout, history, int(num_candidates), config.seed)
    home = home_cells_of(candidates)
    cell = np.maximum(home, 0)
    count = group_sum(cell, home >= 0, num_cells)
    uniform = np.where(home >= 0, 1.0 / np.maximum(count[cell], 1.0), 0.0)
    estimate = estimate_home_demand(candidates, home, uniform, demand_share, history)
    # the candidates are many: half the fit intervals (the shares are refined afterwards)
    costs = _costs(
        candidates, home, uniform, history, estimate, _fit_rows(history, 2 * config.fit_stride)
    )
    observed = np.divide(
        costs.target, costs.demand, out=np.full(num_cells, np.nan), where=costs.demand > 0
    )
    reachable = (home >= 0) & np.isfinite(costs.cost) & (costs.cost > 0)
    unit_cost = np.where(reachable, costs.cost / np.maximum(costs.demand[cell], 1e-12), 1.0)
    beta, _ = solve_tilt(
        cell, unit_cost, reachable.astype(float), np.nan_to_num(observed), num_cells,
        config.max_tilt,
    )  # fmt: skip
    beta = np.where(np.isfinite(observed), beta, 0.0)
    weight = np.where(
        reachable, tilted_weights(cell, np.log(unit_cost), np.ones(home.size), beta, num_cells), 0.0
    )
    # a cell none of whose candidates has a usable rate still gets its UEs (left unserved)
    none_reach = group_sum(cell, reachable, num_cells) == 0
    weight = np.where(~reachable & (home >= 0) & none_reach[cell], 1.0, weight)
    picked = _draw_ues(home, weight, wanted, rng)
    picked_home = home[picked]
    picked_count = group_sum(picked_home, np.ones(picked.size), num_cells)
    return _Drawn(
        twin=select_ues(candidates, picked),
        home=picked_home,
        share=1.0 / picked_count[picked_home],
        candidates_per_cell=count.astype(np.int64),
        observed_cost=observed,
    )


def _retilt(
    drawn: _Drawn, history: PmHistory, config: FitConfig, demand_share: FloatArray
) -> tuple[FloatArray, FloatArray, BoolArray]:
    """Re-tilt the drawn UEs' demand shares round by round; return (share, tilt, clamped)."""
    twin, home, share = drawn.twin, drawn.home, drawn.share
    num_cells = history.num_cells
    rows = _fit_rows(history, config.fit_stride)
    tilt = np.zeros(num_cells)
    clamped = np.zeros(num_cells, dtype=bool)
    for _ in range(config.fit_iterations):
        estimate = estimate_home_demand(twin, home, share, demand_share, history)
        costs = _costs(twin, home, share, history, estimate, rows)
        with np.errstate(invalid="ignore"):
            unit_cost = costs.cost / np.maximum(costs.demand[home], 1e-12)
        ok = np.isfinite(unit_cost) & (unit_cost > 0)
        # cells none of whose UEs has a usable cost keep uniform shares
        base = np.where(ok | (group_sum(home, ok, num_cells) == 0)[home], 1.0, 0.0)
        unit_cost = np.where(ok, unit_cost, 1.0)
        target = np.divide(
            costs.target, costs.demand, out=np.zeros(num_cells), where=costs.demand > 0
        )
        tilt, clamped = solve_tilt(home, unit_cost, base, target, num_cells, config.max_tilt)
        fitted = np.isfinite(drawn.observed_cost) & (costs.demand > 0)
        tilt = np.where(fitted, tilt, 0.0)
        clamped &= fitted
        share = tilted_weights(home, np.log(unit_cost), base, tilt, num_cells)
    return share, tilt, clamped


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
    estimate = estimate_home_demand(twin, home, share, demand_share, history)
    costs = _costs(twin, home, share, history, estimate, _fit_rows(history, config.fit_stride))
    carried = np.nansum(np.where(history.reported, history.volume_mbit, 0.0), axis=0) > 0
    model_count = group_sum(home, np.ones(home.size), num_cells).astype(np.int64)
    per_demand = {
        name: np.divide(
            values, costs.demand, out=np.full(num_cells, np.nan), where=costs.demand > 0
        )
        for name, values in (("observed", costs.target), ("model", costs.model_home_load))
    }
    fit = CellFit(
        num_ues=model_count,
        num_candidates=drawn.candidates_per_cell,
        tilt=tilt,
        cost_observed=per_demand["observed"],
        cost_model=per_demand["model"],
        clamped=clamped,
        unmodelled=carried & (model_count == 0),
    )
    return CalibratedModel(
        twin=twin, home=home, share=share, demand_share=demand_share, fit=fit,
        warnings=layout.warnings,
    )  # fmt: skip
