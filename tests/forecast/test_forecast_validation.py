"""Input checks name the argument at fault; the package stays a pure numpy/scipy core."""

import ast
import importlib
import inspect
import pkgutil
from collections.abc import Callable

import numpy as np
import pytest
from forecast_synthetic import SyntheticHistory

import ranopt.forecast
from ranopt.errors import ValidationError
from ranopt.forecast import ForecastConfig, backtest, fit_forecaster, predict


def _with(history: np.ndarray, index: tuple[int, int, int], value: float) -> np.ndarray:
    changed = history.copy()
    changed[index] = value
    return changed


@pytest.mark.parametrize(
    ("corrupt", "match"),
    [
        (lambda h: h[0], "history must have shape"),
        (lambda h: h[:1], "history must hold at least 2 days"),
        (lambda h: h[:, :2], "intervals per day"),
        (lambda h: _with(h, (3, 4, 5), np.nan), r"history must be finite.*\(3, 4, 5\)"),
        (lambda h: _with(h, (1, 2, 0), np.inf), "history must be finite"),
        (lambda h: _with(h, (0, 0, 1), -1.0), r"history must be >= 0.*\(0, 0, 1\)"),
    ],
)
def test_bad_history_is_named(
    two_weeks: SyntheticHistory, corrupt: Callable[[np.ndarray], np.ndarray], match: str
) -> None:
    with pytest.raises(ValidationError, match=match):
        fit_forecaster(corrupt(two_weeks.demand), two_weeks.weekdays)


@pytest.mark.parametrize(
    ("weekdays", "match"),
    [
        (np.zeros(13, dtype=np.int64), r"weekdays must have shape \(14,\)"),
        (np.full(14, 7), "weekdays must hold integers 0..6"),
        (np.full(14, -1), "weekdays must hold integers 0..6"),
        (np.zeros(14), "weekdays must hold integers 0..6.*dtype float64"),
    ],
)
def test_bad_weekdays_are_named(
    two_weeks: SyntheticHistory, weekdays: np.ndarray, match: str
) -> None:
    with pytest.raises(ValidationError, match=match):
        fit_forecaster(two_weeks.demand, weekdays)


def test_bad_predict_arguments(two_weeks: SyntheticHistory) -> None:
    model = fit_forecaster(two_weeks.demand, two_weeks.weekdays)
    with pytest.raises(ValidationError, match=r"weekday must be in 0\.\.6"):
        predict(model, 7)
    with pytest.raises(ValidationError, match="weekday must be an int"):
        predict(model, True)
    with pytest.raises(ValidationError, match="quantiles must lie strictly between 0 and 1"):
        predict(model, 0, (0.0, 0.5))
    with pytest.raises(ValidationError, match="quantiles must be strictly increasing"):
        predict(model, 0, (0.9, 0.1))
    with pytest.raises(ValidationError, match="quantiles must hold at least one"):
        predict(model, 0, ())
    with pytest.raises(ValidationError, match="model must be a SeasonalForecaster"):
        predict("model", 0)  # type: ignore[arg-type]


def test_bad_sample_arguments(two_weeks: SyntheticHistory) -> None:
    forecast = predict(fit_forecaster(two_weeks.demand, two_weeks.weekdays), 0)
    with pytest.raises(ValidationError, match="num_scenarios must be >= 1"):
        forecast.sample(np.random.default_rng(0), 0)
    with pytest.raises(ValidationError, match="num_scenarios must be an int"):
        forecast.sample(np.random.default_rng(0), 2.5)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match=r"rng must be a numpy\.random\.Generator"):
        forecast.sample(np.random.RandomState(0), 3)  # type: ignore[arg-type]


def test_bad_backtest_arguments(two_weeks: SyntheticHistory) -> None:
    with pytest.raises(ValidationError, match="train_days must be in"):
        backtest(two_weeks.demand, two_weeks.weekdays, train_days=6)
    with pytest.raises(ValidationError, match="train_days must be in"):
        backtest(two_weeks.demand, two_weeks.weekdays, train_days=14)
    with pytest.raises(ValidationError, match="history_all must be >= 0"):
        backtest(-two_weeks.demand, two_weeks.weekdays)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("num_harmonics", -1),
        ("weekday_rank", -1),
        ("floor_fraction", 0.0),
        ("fit_days", 1),
        ("calibration_days", -1),
        ("variance_prior_days", float("nan")),
        ("intraday_scale_window", 0),
    ],
)
def test_bad_config_is_named(field: str, value: object) -> None:
    with pytest.raises(ValidationError, match=field):
        ForecastConfig(**{field: value})  # type: ignore[arg-type]


ALLOWED_IMPORT_ROOTS = {"numpy", "scipy", "collections", "dataclasses", "itertools", "typing"}


def test_core_imports_only_numpy_scipy_and_itself() -> None:
    # no I/O, no clock, no global randomness: the forecast core imports nothing else
    modules = [
        importlib.import_module(info.name)
        for info in pkgutil.iter_modules(ranopt.forecast.__path__, "ranopt.forecast.")
    ]
    assert len(modules) >= 6
    for module in [ranopt.forecast, *modules]:
        tree = ast.parse(inspect.getsource(module))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                allowed = (
                    name.split(".")[0] in ALLOWED_IMPORT_ROOTS
                    or name == "ranopt.errors"
                    or name.startswith("ranopt.forecast")
                )
                assert allowed, f"{module.__name__} imports {name}"
