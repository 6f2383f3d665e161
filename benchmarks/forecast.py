"""Forecast benchmark: ranopt's forecaster against statsforecast and LightGBM on the same splits.

Prints one JSON object. The series are per-cell home-cell demand at 15-min intervals, as the
store holds them and the loop and the day-ahead planner fit the forecast (the twin's realised
days, every cell on). For each preset and seed, every model forecasts each target day from the
14 days before it (ranopt's calibrated forecaster also reads the 14 days before those, to
calibrate its quantiles out of sample) and is scored on two horizons:

- ``day_ahead``: the 96 intervals of the target day;
- ``nowcast``: 1-4 intervals ahead from origins through the target day, given the day's
  observations so far (what the loop plans its next hour on).

Models: ranopt's seasonal forecaster (calibrated, and as it was before: log-normal
quantiles), the same weekday last week, yesterday / the last observed interval (naive),
statsforecast's MSTL (daily + weekly seasons) with AutoETS or AutoARIMA on the deseasonalised
series, and LightGBM quantile regression (one global model per quantile, lag and calendar
features). The statsforecast models cost seconds per series, so they run on a seeded subset
of series and target days; every other model is scored on that subset too (``library_subset``)
and on everything (``all``). AutoETS and AutoARIMA with the 96-interval season itself are
probed on one series with a time limit (statsforecast's ETS has no seasonal model beyond 24).

Metrics: WAPE of the median, pinball loss over the levels 0.05, 0.1, 0.5, 0.9, 0.95 divided by
the mean demand (scaled pinball), coverage of the 80 % and 90 % central intervals, fit and
predict time per 1 000 series (wall clock on this machine, noisy when it is shared).

    .venv/bin/python benchmarks/forecast.py [--quick] [--presets default,medium] [--seeds 1,2,3]

Presets can run as separate processes (``--save run-a.pkl``) and be reported together
(``--merge run-a.pkl,run-b.pkl``).
"""

import argparse
import json
import multiprocessing
import pickle
import sys
import time
import warnings
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ranopt.forecast import ForecastConfig, fit_forecaster, nowcast, predict
from ranopt.optimize.confidence import cell_demand, home_cells
from ranopt.twin import build_twin, scenario_preset
from ranopt.twin.traffic import day_rng, realised_demand_mbps

LEVELS = (0.05, 0.1, 0.5, 0.9, 0.95)
MEDIAN = LEVELS.index(0.5)
INTERVALS = {"80": (LEVELS.index(0.1), LEVELS.index(0.9)), "90": (0, len(LEVELS) - 1)}
NOWCAST_STEPS = 4  # the loop's next hour
FIT_DAYS = 14
CALIBRATION_DAYS = 14
HORIZONS = ("day_ahead", "nowcast")
INTERVALS_PER_DAY = 96


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# -- data ------------------------------------------------------------------------------------


def twin_demand(preset: str, seed: int, num_days: int) -> np.ndarray:
    """Home-cell demand ``[D, T, S]`` of the cells that carry traffic (Mbit/s), days 0..D-1."""
    twin = build_twin(scenario_preset(preset, seed=seed))
    home = home_cells(twin)
    days = [
        cell_demand(realised_demand_mbps(twin.traffic, d, day_rng(seed, d)), home, twin.num_cells)
        for d in range(num_days)
    ]
    demand = np.stack(days)
    return demand[:, :, demand.max(axis=(0, 1)) > 0.0]


# -- scoring ---------------------------------------------------------------------------------


@dataclass
class Score:
    """Sums over scored observations of one (model, horizon, scope)."""

    abs_error: float = 0.0
    actual: float = 0.0
    count: int = 0
    pinball: float = 0.0  # summed over observations and levels
    inside: dict[str, int] = field(default_factory=lambda: {k: 0 for k in INTERVALS})
    has_quantiles: bool = False
    step_abs_error: np.ndarray = field(default_factory=lambda: np.zeros(NOWCAST_STEPS))
    step_actual: np.ndarray = field(default_factory=lambda: np.zeros(NOWCAST_STEPS))

    def add(self, actual: np.ndarray, median: np.ndarray, quantiles: np.ndarray | None) -> None:
        """Add observations ``actual`` ``[T, S]`` with the median and quantiles ``[L, T, S]``."""
        self.abs_error += float(np.abs(actual - median).sum())
        self.actual += float(actual.sum())
        self.count += actual.size
        if actual.shape[0] == NOWCAST_STEPS:
            self.step_abs_error += np.abs(actual - median).sum(axis=1)
            self.step_actual += actual.sum(axis=1)
        if quantiles is None:
            return
        self.has_quantiles = True
        levels = np.array(LEVELS)[:, None, None]
        diff = actual[None] - quantiles
        self.pinball += float(np.maximum(levels * diff, (levels - 1.0) * diff).sum())
        for name, (low, high) in INTERVALS.items():
            self.inside[name] += int(
                ((actual >= quantiles[low]) & (actual <= quantiles[high])).sum()
            )

    def report(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "wape": round(self.abs_error / self.actual, 4),
            "observations": self.count,
        }
        if self.has_quantiles:
            mean_actual = self.actual / self.count
            out["pinball_scaled"] = round(
                self.pinball / (len(LEVELS) * self.count) / mean_actual, 4
            )
            for name, inside in self.inside.items():
                out[f"coverage_{name}"] = round(inside / self.count, 4)
        if self.step_actual.sum() > 0:
            out["wape_by_step"] = [
                round(float(x), 4) for x in self.step_abs_error / self.step_actual
            ]
        return out


@dataclass
class Timing:
    """Seconds and series of each timed call, per (model, horizon, stage)."""

    seconds: dict[tuple[str, str, str], float] = field(default_factory=lambda: defaultdict(float))
    series: dict[tuple[str, str, str], int] = field(default_factory=lambda: defaultdict(int))

    def add(self, model: str, horizon: str, stage: str, seconds: float, num_series: int) -> None:
        self.seconds[model, horizon, stage] += seconds
        self.series[model, horizon, stage] += num_series

    def per_1000(self, model: str, horizon: str, stage: str) -> float | None:
        key = (model, horizon, stage)
        if not self.series.get(key):
            return None
        return round(1000.0 * self.seconds[key] / self.series[key], 3)


@dataclass(frozen=True)
class Prediction:
    """One model's forecast of some intervals: median ``[T, S]``, quantiles ``[L, T, S]``."""

    median: np.ndarray
    quantiles: np.ndarray | None


def clipped(median: np.ndarray, quantiles: np.ndarray | None) -> Prediction:
    """Demand is >= 0: clip every model's output (quantiles sorted against crossing)."""
    q = None if quantiles is None else np.sort(np.maximum(quantiles, 0.0), axis=0)
    return Prediction(np.maximum(median, 0.0), q)


# -- ranopt and naive ------------------------------------------------------------------------


def ranopt_models(
    history: np.ndarray, weekdays: np.ndarray, day: int, timing: Timing, calibrated: bool
) -> tuple[Prediction, Callable[[np.ndarray], Prediction]]:
    """ranopt's day-ahead forecast of ``day`` and its nowcast (today's observations -> next 4)."""
    name = "ranopt" if calibrated else "ranopt_uncalibrated"
    keep = FIT_DAYS + (CALIBRATION_DAYS if calibrated else 0)
    num_series = history.shape[2]
    started = time.perf_counter()
    model = fit_forecaster(history[-keep:], weekdays[-keep:], ForecastConfig())
    fit_s = time.perf_counter() - started
    for horizon in HORIZONS:
        timing.add(name, horizon, "fit", fit_s, num_series)
    started = time.perf_counter()
    forecast = predict(model, weekday=day % 7, quantiles=LEVELS)
    timing.add(name, "day_ahead", "predict", time.perf_counter() - started, num_series)

    def ahead(observed: np.ndarray) -> Prediction:
        started = time.perf_counter()
        rest = nowcast(forecast, observed)
        timing.add(name, "nowcast", "predict", time.perf_counter() - started, num_series)
        steps = slice(0, NOWCAST_STEPS)
        return clipped(rest.quantiles[MEDIAN, steps], rest.quantiles[:, steps])

    return clipped(forecast.quantiles[MEDIAN], forecast.quantiles), ahead


# -- LightGBM --------------------------------------------------------------------------------


def _same_interval_mean(days: np.ndarray) -> np.ndarray:
    return np.asarray(days.mean(axis=0))


def day_ahead_features(window: np.ndarray, target_weekday: int, level: np.ndarray) -> np.ndarray:
    """Features of one target day from the 7 days before it, ``[T * S, F]``.

    ``window`` is ``[7, T, S]`` (oldest first), ``level`` ``[S]`` the series' mean demand.
    """
    num_intervals, num_series = window.shape[1:]
    scaled = window / level[None, None, :]
    yesterday, last_week = scaled[-1], scaled[0]
    # [T, S] each
    columns = [
        yesterday,
        last_week,
        _same_interval_mean(scaled),
        np.roll(last_week, 1, axis=0) / 3 + last_week / 3 + np.roll(last_week, -1, axis=0) / 3,
        np.broadcast_to(yesterday.mean(axis=0), (num_intervals, num_series)),
        np.broadcast_to(last_week.mean(axis=0), (num_intervals, num_series)),
        np.broadcast_to(np.arange(num_intervals)[:, None], (num_intervals, num_series)),
        np.full((num_intervals, num_series), target_weekday),
        np.broadcast_to(np.log(level)[None, :], (num_intervals, num_series)),
    ]
    return np.stack([c.ravel() for c in columns], axis=1)


def nowcast_features(
    window: np.ndarray, today: np.ndarray, origin: int, weekday: int, level: np.ndarray
) -> np.ndarray:
    """Features of the next 4 intervals after ``origin`` given today's ``[origin, S]``.

    Rows ``[4 * S, F]`` in (step, series) order; ``window`` ``[7, T, S]`` are the 7 days before.
    """
    num_series = window.shape[2]
    scaled = window / level[None, None, :]
    reference = _same_interval_mean(scaled)  # [T, S]
    seen = today[:origin] / level[None, :]  # [t0, S]
    recent = slice(max(0, origin - 4), origin)
    eps = 1e-6
    ratio_last = seen[-1] / (reference[origin - 1] + eps)
    ratio_hour = seen[recent].sum(axis=0) / (reference[recent].sum(axis=0) + eps)
    ratio_day = seen.sum(axis=0) / (reference[:origin].sum(axis=0) + eps)
    rows = []
    for step in range(NOWCAST_STEPS):
        target = origin + step
        rows.append(
            np.stack(
                [
                    np.full(num_series, step + 1.0),
                    np.full(num_series, float(target)),
                    np.full(num_series, float(weekday)),
                    np.log(level),
                    reference[target],
                    scaled[-7, target],
                    scaled[-1, target],
                    seen[-1],
                    ratio_last,
                    ratio_hour,
                    ratio_day,
                ],
                axis=1,
            )
        )
    return np.concatenate(rows)


def fit_quantile_models(features: np.ndarray, target: np.ndarray) -> list[Any]:
    import lightgbm  # noqa: PLC0415 - optional, only for this baseline

    models = []
    for level in LEVELS:
        model = lightgbm.LGBMRegressor(
            objective="quantile",
            alpha=level,
            n_estimators=150,
            learning_rate=0.07,
            num_leaves=31,
            min_child_samples=50,
            subsample=0.7,
            subsample_freq=1,
            n_jobs=1,
            verbose=-1,
        )
        models.append(model.fit(features, target))
    return models


def predict_quantiles(models: list[Any], features: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.stack([m.predict(features) for m in models])


def lightgbm_models(
    history: np.ndarray, weekdays: np.ndarray, day: int, timing: Timing, origins: list[int]
) -> tuple[Prediction, Callable[[np.ndarray, int], Prediction]]:
    """LightGBM quantile models trained on the 14 days before ``day`` (7 with a full week back)."""
    window = history[-FIT_DAYS:]
    days_weekday = weekdays[-FIT_DAYS:]
    num_intervals, num_series = window.shape[1:]
    level = np.maximum(window.mean(axis=(0, 1)), 1e-9)  # [S]
    started = time.perf_counter()
    rows, targets = [], []
    for j in range(7, FIT_DAYS):
        rows.append(day_ahead_features(window[j - 7 : j], int(days_weekday[j]), level))
        targets.append((window[j] / level[None, :]).ravel())
    day_models = fit_quantile_models(np.concatenate(rows), np.concatenate(targets))
    timing.add("lightgbm", "day_ahead", "fit", time.perf_counter() - started, num_series)

    started = time.perf_counter()
    features = day_ahead_features(window[-7:], day % 7, level)
    scaled = predict_quantiles(day_models, features).reshape(len(LEVELS), num_intervals, num_series)
    quantiles = scaled * level[None, None, :]
    timing.add("lightgbm", "day_ahead", "predict", time.perf_counter() - started, num_series)

    started = time.perf_counter()
    rows, targets = [], []
    train_origins = range(1, num_intervals - NOWCAST_STEPS + 1, 4)
    for j in range(7, FIT_DAYS):
        for origin in train_origins:
            rows.append(
                nowcast_features(window[j - 7 : j], window[j], origin, int(days_weekday[j]), level)
            )
            steps = window[j, origin : origin + NOWCAST_STEPS] / level[None, :]
            targets.append(steps.ravel())
    now_models = fit_quantile_models(np.concatenate(rows), np.concatenate(targets))
    timing.add("lightgbm", "nowcast", "fit", time.perf_counter() - started, num_series)

    def ahead(observed: np.ndarray, origin: int) -> Prediction:
        started = time.perf_counter()
        features = nowcast_features(window[-7:], observed, origin, day % 7, level)
        scaled = predict_quantiles(now_models, features).reshape(
            len(LEVELS), NOWCAST_STEPS, num_series
        )
        timing.add("lightgbm", "nowcast", "predict", time.perf_counter() - started, num_series)
        q = scaled * level[None, None, :]
        return clipped(q[MEDIAN], q)

    del origins
    return clipped(quantiles[MEDIAN], quantiles), ahead


# -- statsforecast ---------------------------------------------------------------------------


def make_statsforecast(name: str) -> Any:
    from statsforecast.models import MSTL, AutoARIMA, AutoETS  # noqa: PLC0415 - optional

    trend = {"mstl_autoets": AutoETS(model="ZZN"), "mstl_autoarima": AutoARIMA()}[name]
    # daily and weekly seasons (96 and 672 intervals) by LOESS, the rest by the trend model
    return MSTL(season_length=[INTERVALS_PER_DAY, 7 * INTERVALS_PER_DAY], trend_forecaster=trend)


def _from_statsforecast(result: dict[str, np.ndarray]) -> np.ndarray:
    """``[L, h]`` quantiles from statsforecast's mean and lo/hi-80/90 entries."""
    return np.stack(
        [result["lo-90"], result["lo-80"], result["mean"], result["hi-80"], result["hi-90"]]
    )


def statsforecast_models(
    name: str,
    history: np.ndarray,
    timing: Timing,
) -> tuple[Prediction, Callable[[np.ndarray], Prediction]]:
    """Fit one MSTL model per series on the last 14 days; nowcast filters today through it.

    The nowcast keeps the fitted seasonal components and runs the fitted trend model's
    ``forward`` on the deseasonalised series extended by today's observations (the fitted
    parameters, today's states), which is what conditioning on today means for these models.
    """
    from statsforecast.models import _predict_mstl_seas  # noqa: PLC0415 - optional

    window = history[-FIT_DAYS:]
    num_intervals, num_series = window.shape[1:]
    fitted, quantiles = [], []
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for s in range(num_series):
            fitted.append(make_statsforecast(name).fit(window[:, :, s].ravel()))
    timing.add(name, "day_ahead", "fit", time.perf_counter() - started, num_series)
    timing.add(name, "nowcast", "fit", time.perf_counter() - started, num_series)
    started = time.perf_counter()
    seasonal = []
    for model in fitted:
        quantiles.append(_from_statsforecast(model.predict(h=num_intervals, level=[80, 90])))
        seasonal.append(
            _predict_mstl_seas(model.model_, h=num_intervals, season_length=model.season_length)
        )
    timing.add(name, "day_ahead", "predict", time.perf_counter() - started, num_series)
    q = np.stack(quantiles, axis=-1)  # [L, T, S]

    def ahead(observed: np.ndarray) -> Prediction:
        started = time.perf_counter()
        origin = observed.shape[0]
        out = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for s, model in enumerate(fitted):
                adjusted = model.model_[["trend", "remainder"]].sum(axis=1).to_numpy()
                today = observed[:, s] - seasonal[s][:origin]
                result = model.trend_forecaster.forward(
                    y=np.concatenate([adjusted, today]), h=NOWCAST_STEPS, level=[80, 90]
                )
                steps = seasonal[s][origin : origin + NOWCAST_STEPS]
                out.append(_from_statsforecast(result) + steps[None, :])
        timing.add(name, "nowcast", "predict", time.perf_counter() - started, num_series)
        quantiles = np.stack(out, axis=-1)
        return clipped(quantiles[MEDIAN], quantiles)

    return clipped(q[MEDIAN], q), ahead


def _probe_worker(name: str, series: np.ndarray, queue: Any) -> None:
    from statsforecast.models import AutoARIMA, AutoETS  # noqa: PLC0415 - optional

    model = {"autoets_season96": AutoETS, "autoarima_season96": AutoARIMA}[name](
        season_length=INTERVALS_PER_DAY
    )
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = model.fit(series[:-INTERVALS_PER_DAY])
        mean = fitted.predict(h=INTERVALS_PER_DAY)["mean"]
    actual = series[-INTERVALS_PER_DAY:]
    wape = float(np.abs(actual - np.maximum(mean, 0.0)).sum() / actual.sum())
    queue.put({"fit_predict_s": round(time.perf_counter() - started, 2), "wape": round(wape, 4)})


def probe_season96(series: np.ndarray, limit_s: float) -> dict[str, Any]:
    """Fit AutoETS / AutoARIMA with the 96-interval season on one series, within a time limit."""
    out: dict[str, Any] = {}
    context = multiprocessing.get_context("spawn")
    for name in ("autoets_season96", "autoarima_season96"):
        queue = context.Queue()
        process = context.Process(target=_probe_worker, args=(name, series, queue))
        process.start()
        process.join(limit_s)
        if process.is_alive():
            process.terminate()
            process.join()
            out[name] = {"finished": False, "limit_s": limit_s}
        else:
            out[name] = {"finished": True, **queue.get(timeout=5)}
        log(f"probe {name}: {out[name]}")
    return out


# -- the run ---------------------------------------------------------------------------------


@dataclass
class Run:
    """Scores per (preset, horizon, scope, model) and timings."""

    scores: dict[tuple[str, str, str, str], Score] = field(default_factory=dict)
    timing: Timing = field(default_factory=Timing)
    presets: dict[str, dict[str, Any]] = field(default_factory=dict)  # what each preset ran
    probe: dict[str, Any] = field(default_factory=dict)
    wall_s: float = 0.0

    def merge(self, other: "Run") -> None:
        """Add another run's sums (other presets) to this one."""
        for key, score in other.scores.items():
            mine = self.scores.setdefault(key, Score())
            mine.abs_error += score.abs_error
            mine.actual += score.actual
            mine.count += score.count
            mine.pinball += score.pinball
            mine.has_quantiles |= score.has_quantiles
            mine.step_abs_error = mine.step_abs_error + score.step_abs_error
            mine.step_actual = mine.step_actual + score.step_actual
            for name, inside in score.inside.items():
                mine.inside[name] += inside
        for key, seconds in other.timing.seconds.items():
            self.timing.add(*key, seconds, other.timing.series[key])
        self.presets.update(other.presets)
        self.probe = self.probe or other.probe
        self.wall_s += other.wall_s

    def add(
        self,
        preset: str,
        horizon: str,
        scopes: list[tuple[str, np.ndarray]],
        model: str,
        actual: np.ndarray,
        prediction: Prediction,
    ) -> None:
        """Score ``prediction`` of ``actual`` ``[T, S]`` in each scope (a series mask)."""
        for scope, series in scopes:
            for key in ((preset, horizon, scope, model), ("all_presets", horizon, scope, model)):
                q = None if prediction.quantiles is None else prediction.quantiles[:, :, series]
                self.scores.setdefault(key, Score()).add(
                    actual[:, series], prediction.median[:, series], q
                )


def run_seed(
    run: Run,
    preset: str,
    seed: int,
    args: argparse.Namespace,
    origins: list[int],
) -> None:
    first_target = FIT_DAYS + CALIBRATION_DAYS
    num_days = first_target + args.target_days
    demand = twin_demand(preset, seed, num_days)
    weekdays = np.arange(num_days, dtype=np.int64) % 7
    num_series = demand.shape[2]
    rng = np.random.default_rng(np.random.SeedSequence([seed, 17]))
    library_series = np.zeros(num_series, dtype=bool)
    library_series[rng.choice(num_series, min(args.library_series, num_series), replace=False)] = (
        True
    )
    targets = list(range(first_target, num_days))
    shift = seed % len(targets)
    library_days = set((targets[shift:] + targets[:shift])[: args.library_days])
    everything = np.ones(num_series, dtype=bool)
    log(f"{preset} seed {seed}: {num_series} series, target days {targets[0]}..{targets[-1]}")
    for day in targets:
        history, actual = demand[:day], demand[day]
        days_weekday = weekdays[:day]
        scopes = [("all", everything)]
        with_library = day in library_days and bool(args.library_models)
        if with_library:
            scopes.append(("library_subset", library_series))
        day_ahead: dict[str, Prediction] = {}
        ahead: dict[str, Callable[[np.ndarray, int], Prediction]] = {}
        for calibrated in (True, False):
            name = "ranopt" if calibrated else "ranopt_uncalibrated"
            forecast, now = ranopt_models(history, days_weekday, day, run.timing, calibrated)
            day_ahead[name] = forecast
            ahead[name] = lambda observed, origin, now=now: now(observed)
        day_ahead["naive_weekly"] = Prediction(demand[day - 7], None)
        day_ahead["naive_daily"] = Prediction(demand[day - 1], None)
        if "lightgbm" in args.models:
            forecast, now_lgb = lightgbm_models(history, days_weekday, day, run.timing, origins)
            day_ahead["lightgbm"] = forecast
            ahead["lightgbm"] = now_lgb
        for name, prediction in day_ahead.items():
            run.add(preset, "day_ahead", scopes, name, actual, prediction)
        library: dict[str, tuple[Prediction, Callable[[np.ndarray], Prediction]]] = {}
        if with_library:
            subset = history[:, :, library_series]
            for name in args.library_models:
                library[name] = statsforecast_models(name, subset, run.timing)
                run.add(
                    preset, "day_ahead", [("library_subset", np.ones(subset.shape[2], bool))],
                    name, actual[:, library_series], library[name][0],
                )  # fmt: skip
        for origin in origins:
            observed = actual[:origin]
            truth = actual[origin : origin + NOWCAST_STEPS]
            for name, now_fn in ahead.items():
                run.add(preset, "nowcast", scopes, name, truth, now_fn(observed, origin))
            run.add(preset, "nowcast", scopes, "naive_weekly", truth,
                    Prediction(demand[day - 7, origin : origin + NOWCAST_STEPS], None))  # fmt: skip
            last = np.repeat(actual[origin - 1 : origin], NOWCAST_STEPS, axis=0)
            run.add(preset, "nowcast", scopes, "naive_last", truth, Prediction(last, None))
            for name, (_, now_lib) in library.items():
                run.add(
                    preset, "nowcast", [("library_subset", np.ones(library_series.sum(), bool))],
                    name, truth[:, library_series], now_lib(observed[:, library_series]),
                )  # fmt: skip
        log(f"  day {day} done" + (" (with statsforecast)" if with_library else ""))


def targets_check(report: dict[str, Any]) -> dict[str, Any]:
    """The issue's targets per horizon, on all presets together."""
    out: dict[str, Any] = {}
    for horizon in HORIZONS:
        full = report["all_presets"][horizon]["all"]
        subset = report["all_presets"][horizon].get("library_subset", {})
        mine = full["ranopt"]
        naive = full["naive_weekly"]["wape"]
        library = {k: v["wape"] for k, v in subset.items() if k.startswith("mstl")}
        entry: dict[str, Any] = {
            "wape": mine["wape"],
            "naive_weekly_wape": naive,
            "wape_reduction_vs_naive_weekly": round(1.0 - mine["wape"] / naive, 4),
            "meets_15pct_below_naive_weekly": mine["wape"] <= 0.85 * naive,
            "coverage_90": mine["coverage_90"],
            "meets_coverage_90_pm_2": abs(mine["coverage_90"] - 0.9) <= 0.02,
        }
        if library:
            best = min(library, key=library.__getitem__)
            entry["library_subset_wape"] = subset["ranopt"]["wape"]
            entry["best_library"] = best
            entry["best_library_wape"] = library[best]
            entry["no_worse_than_best_library"] = subset["ranopt"]["wape"] <= library[best]
        if "lightgbm" in full:
            entry["lightgbm_wape"] = full["lightgbm"]["wape"]
            entry["no_worse_than_lightgbm"] = mine["wape"] <= full["lightgbm"]["wape"]
        out[horizon] = entry
    return out


def report_json(run: Run) -> dict[str, Any]:
    """The JSON report of a (merged) run."""
    report: dict[str, Any] = {}
    for (preset, horizon, scope, model), score in sorted(run.scores.items()):
        report.setdefault(preset, {}).setdefault(horizon, {}).setdefault(scope, {})[model] = (
            score.report()
        )
    timing = {
        model: {
            horizon: {
                f"{stage}_s_per_1000_series": run.timing.per_1000(model, horizon, stage)
                for stage in ("fit", "predict")
            }
            for horizon in HORIZONS
        }
        for model in sorted({m for m, _, _ in run.timing.seconds})
    }
    return {
        "benchmark": "forecast",
        "runs": run.presets,
        "fit_days": FIT_DAYS,
        "calibration_days": CALIBRATION_DAYS,
        "nowcast_steps": NOWCAST_STEPS,
        "levels": LEVELS,
        "scores": report,
        "timing": timing,
        "season96_probe": run.probe,
        "targets": targets_check(report),
        "wall_s": round(run.wall_s, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--presets", default="default,medium")
    parser.add_argument("--seeds", default="1,2,3,4,5")
    parser.add_argument("--target-days", type=int, default=7)
    parser.add_argument("--models", default="lightgbm,mstl_autoets,mstl_autoarima")
    parser.add_argument("--library-series", type=int, default=6)
    parser.add_argument("--library-days", type=int, default=2)
    parser.add_argument("--origins-every", type=int, default=12, help="nowcast origin spacing")
    parser.add_argument("--probe-limit-s", type=float, default=120.0)
    parser.add_argument("--quick", action="store_true", help="default preset, 1 seed, 2 days")
    parser.add_argument("--save", help="also pickle the raw sums here (for --merge)")
    parser.add_argument("--merge", help="report these pickled runs together, run nothing")
    args = parser.parse_args()
    if args.merge:
        run = Run()
        for path in args.merge.split(","):
            with open(path, "rb") as handle:
                run.merge(pickle.load(handle))  # our own files
        print(json.dumps(report_json(run), indent=1))
        return
    if args.quick:
        args.presets, args.seeds, args.target_days = "default", "1", 2
        args.library_series, args.library_days, args.probe_limit_s = 3, 1, 0.0
    args.models = [m for m in args.models.split(",") if m]
    args.library_models = [m for m in args.models if m.startswith("mstl")]
    presets = args.presets.split(",")
    seeds = [int(s) for s in args.seeds.split(",")]
    origins = list(range(args.origins_every // 2, INTERVALS_PER_DAY - NOWCAST_STEPS + 1))[
        :: args.origins_every
    ]
    run = Run()
    started = time.perf_counter()
    for preset in presets:
        run.presets[preset] = {
            "seeds": seeds,
            "target_days_per_seed": args.target_days,
            "library_series_per_seed": args.library_series,
            "library_days_per_seed": args.library_days,
            "nowcast_origins": origins,
            "models": args.models,
        }
        for seed in seeds:
            run_seed(run, preset, seed, args, origins)
    if args.probe_limit_s > 0 and args.library_models:
        run.probe = probe_season96(
            twin_demand(presets[0], seeds[0], FIT_DAYS + 1)[:, :, 0].ravel(), args.probe_limit_s
        )
    run.wall_s = time.perf_counter() - started
    if args.save:
        with open(args.save, "wb") as handle:
            pickle.dump(run, handle)
    print(json.dumps(report_json(run), indent=1))


if __name__ == "__main__":
    main()
