"""How well the calibrated model reproduces the counters of days it was not fitted on.

Two questions, answered separately on the held-out days:

- **radio model** (``observed_demand``): driven by each held-out interval's home-cell demand
  as estimated from that interval's own counters (and the applied on/sleep state), does the
  model give each cell the observed PRB load, volume, UE throughput and connected UEs? This is
  the error of what calibration fitted (UE placement, demand tilt, layer split).
- **demand model** (``profile``): driven by the demand pattern fitted on the training days
  only (the seasonal forecaster's mean for that weekday), how far are the same counters? This
  adds the day-to-day randomness of demand, which no model of the network can remove.

WAPE (weighted absolute percentage error) = sum |model - observed| / sum |observed| over
every (interval, cell) where the cell was awake and reported (Kolassa & Schütz, "Advantages
of the MAD/MEAN ratio over the MAPE", Foresight 6, 2007).
"""

from dataclasses import dataclass

import numpy as np

from ranopt.calibrate.history import PmHistory
from ranopt.calibrate.home_demand import HomeDemand, demand_share_profile, estimate_home_demand
from ranopt.calibrate.model import BoolArray, CalibratedModel, IntArray
from ranopt.forecast import ForecastConfig, fit_forecaster, predict
from ranopt.twin.elements import LAYERS
from ranopt.twin.snapshot import CellState, evaluate_snapshot
from ranopt.twin.units import FloatArray


def wape(model: FloatArray, observed: FloatArray, mask: BoolArray) -> float:
    """Pooled WAPE over ``mask``; NaN when the observed values sum to zero."""
    denominator = float(np.abs(observed[mask]).sum())
    if denominator <= 0:
        return float("nan")
    return float(np.abs(model[mask] - observed[mask]).sum()) / denominator


def wape_per_cell(model: FloatArray, observed: FloatArray, mask: BoolArray) -> FloatArray:
    """WAPE of each cell over the intervals in ``mask``, ``[C]`` (NaN without traffic)."""
    error = np.where(mask, np.abs(model - observed), 0.0).sum(axis=0)
    total = np.where(mask, np.abs(observed), 0.0).sum(axis=0)
    return np.asarray(
        np.divide(error, total, out=np.full(error.shape, np.nan), where=total > 0), dtype=float
    )


@dataclass(frozen=True, eq=False)
class ModelRun:
    """The model's counters over some intervals, ``[N, C]`` (same units as ``PmHistory``)."""

    prb_load: FloatArray
    volume_mbit: FloatArray
    ue_thp_mbps: FloatArray
    conn_mean: FloatArray


def run_model(
    model: CalibratedModel,
    home_demand_mbps: FloatArray,
    asleep: BoolArray,
    interval_s: int,
    weekdays: IntArray,
    intervals_of_day: IntArray,
) -> ModelRun:
    """Evaluate the model interval by interval with the applied on/sleep states.

    ``weekdays`` and ``intervals_of_day`` (``[N]``) say which of the model's UEs are present.
    """
    rows = home_demand_mbps.shape[0]
    out = {k: np.zeros((rows, model.num_cells)) for k in ("load", "vol", "thp", "conn")}
    previous: FloatArray | None = None
    for t in range(rows):
        state = CellState(active=~asleep[t], cio_db=np.zeros(model.num_cells))
        demand = model.ue_demand(home_demand_mbps[t], int(weekdays[t]), int(intervals_of_day[t]))
        snap = evaluate_snapshot(model.twin, state, demand, initial_load=previous)
        previous = snap.prb_load
        out["load"][t] = snap.prb_load
        out["vol"][t] = snap.cell_served_mbps * interval_s
        out["thp"][t] = snap.cell_ue_thp_mbps
        out["conn"][t] = snap.cell_num_ues
    return ModelRun(
        prb_load=out["load"], volume_mbit=out["vol"], ue_thp_mbps=out["thp"], conn_mean=out["conn"]
    )


@dataclass(frozen=True)
class LayerShare:
    """Share of the served volume one layer carried, observed and in the model."""

    layer: str
    observed: float
    model: float


@dataclass(frozen=True)
class FitFigures:
    """The fit of one way of driving the model over the held-out days."""

    prb_load_wape: float
    prb_load_wape_with_sleep: float  # over the intervals in which some cell slept (NaN: none)
    volume_wape: float
    ue_thp_wape: float
    conn_mean_wape: float
    prb_load_wape_per_cell: FloatArray  # [C]
    volume_wape_per_cell: FloatArray  # [C]
    layer_shares: tuple[LayerShare, ...]
    mean_prb_load_observed: float
    mean_prb_load_model: float


def compare(
    history: PmHistory, run: ModelRun, layer: IntArray, rows: IntArray | None = None
) -> FitFigures:
    """Compare a model run with the history's counters over ``rows`` (default: all)."""
    index = np.arange(history.num_intervals) if rows is None else rows
    awake = history.reported[index] & ~history.asleep[index]
    load_obs = np.nan_to_num(history.prb_load[index])
    vol_obs = np.nan_to_num(history.volume_mbit[index])
    thp_obs = history.ue_thp_mbps[index]
    conn_obs = history.conn_mean[index]
    thp_mask = awake & np.isfinite(thp_obs) & (np.nan_to_num(thp_obs) > 0)
    conn_mask = awake & np.isfinite(conn_obs)
    shares = []
    total_obs = float(vol_obs[awake].sum())
    total_model = float(run.volume_mbit[awake].sum())
    for i, name in enumerate(LAYERS):
        in_layer = awake & (layer == i)[None, :]
        shares.append(
            LayerShare(
                layer=name,
                observed=float(vol_obs[in_layer].sum()) / total_obs if total_obs > 0 else 0.0,
                model=float(run.volume_mbit[in_layer].sum()) / total_model
                if total_model > 0
                else 0.0,
            )
        )
    some_asleep = np.asarray(history.asleep[index].any(axis=1), dtype=bool)[:, None]
    return FitFigures(
        prb_load_wape=wape(run.prb_load, load_obs, awake),
        prb_load_wape_with_sleep=wape(run.prb_load, load_obs, awake & some_asleep),
        volume_wape=wape(run.volume_mbit, vol_obs, awake),
        ue_thp_wape=wape(run.ue_thp_mbps, np.nan_to_num(thp_obs), thp_mask),
        conn_mean_wape=wape(run.conn_mean, np.nan_to_num(conn_obs), conn_mask),
        prb_load_wape_per_cell=wape_per_cell(run.prb_load, load_obs, awake),
        volume_wape_per_cell=wape_per_cell(run.volume_mbit, vol_obs, awake),
        layer_shares=tuple(shares),
        mean_prb_load_observed=float(load_obs[awake].mean()) if awake.any() else 0.0,
        mean_prb_load_model=float(run.prb_load[awake].mean()) if awake.any() else 0.0,
    )


def profile_demand(train_demand: HomeDemand, train: PmHistory, weekdays: IntArray) -> FloatArray:
    """Home-cell demand per held-out day from the training days' pattern, ``[H*T, C]``.

    The seasonal forecaster (``ranopt.forecast``) fitted on the training days' estimated
    home-cell demand; its median (the point forecast WAPE scores) for each held-out day's
    weekday.
    """
    ipd = train.intervals_per_day
    days = train.num_days
    series = train_demand.mbps.reshape(days, ipd, -1)
    model = fit_forecaster(series, train.weekdays, ForecastConfig())
    return np.concatenate(
        [predict(model, weekday=int(w), quantiles=(0.5,)).median for w in weekdays]
    )


@dataclass(frozen=True, eq=False)
class FitReport:
    """The calibration's fit: training days (in sample) and held-out days, both drivers."""

    train_days: int
    heldout_days: int
    in_sample: FitFigures  # training days, driven by their own estimated demand
    observed_demand: FitFigures  # held-out days, driven by their own estimated demand
    profile: FitFigures  # held-out days, driven by the training days' demand pattern


def evaluate_fit(
    model: CalibratedModel, train: PmHistory, heldout: PmHistory, heldout_weekdays: IntArray
) -> FitReport:
    """Measure the model on its training days and on held-out days (see the module docstring).

    The held-out days' demand estimate uses the training days' demand split only.
    """
    layer = model.twin.arrays.layer
    share = demand_share_profile(train)
    train_demand = estimate_home_demand(model.twin, model.home, model.share_at, share, train)
    stride = max(1, train.intervals_per_day // 24)
    rows = np.arange(0, train.num_intervals, stride, dtype=np.int64)
    train_run = run_model(
        model, train_demand.mbps[rows], train.asleep[rows], train.interval_s,
        train.row_weekdays[rows], train.row_intervals[rows],
    )  # fmt: skip
    in_sample = compare(train, train_run, layer, rows)
    held = estimate_home_demand(model.twin, model.home, model.share_at, share, heldout)
    days = np.repeat(heldout_weekdays, heldout.intervals_per_day)
    intervals = heldout.row_intervals
    observed_run = run_model(model, held.mbps, heldout.asleep, heldout.interval_s, days, intervals)
    profile = profile_demand(train_demand, train, heldout_weekdays)
    profile_run = run_model(model, profile, heldout.asleep, heldout.interval_s, days, intervals)
    return FitReport(
        train_days=train.num_days,
        heldout_days=heldout.num_days,
        in_sample=in_sample,
        observed_demand=compare(heldout, observed_run, layer),
        profile=compare(heldout, profile_run, layer),
    )
