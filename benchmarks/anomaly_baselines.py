"""Library baselines for benchmarks/anomaly.py: river's Half-Space Trees, one model per cell.

Half-Space Trees (Tan, Ting & Liu, IJCAI 2011) are the streaming isolation forest river
offers. Each cell gets its own model on the log of its counters (``log1p``) and the hour of
day (cosine and sine), scaled to [0, 1] by the cell's warm-up range; each interval is scored
and then learned. A condition is raised when the score is at or above a threshold for two
intervals in a row (the detectors' own persistence). The threshold is set per seed at
operating points named by a false-alert budget on the clean run: the lowest threshold that
raises no more clean conditions than ranopt's detectors did (``same_false_alerts``), than
the issue's target of 1 per 1 000 cell-days allows (``target_budget``, at least one), and
than ten times that (``tenfold_budget``), each for the raw score (``raw/``, one threshold
for all cells) and for the score relative to the cell's own warm-up scores (``per_cell/``).
A cell without a sample (missing counters) cannot
be scored.
"""

import warnings
from typing import Any

import numpy as np

from ranopt.counters import COUNTER_COLUMNS

FEATURES = (*COUNTER_COLUMNS, "hour_cos", "hour_sin")
MODEL = "river HalfSpaceTrees per cell (10 trees, height 8, window 250)"


def _features(values: np.ndarray, ipd: int) -> np.ndarray:
    """``[T, C, F]`` features: log1p counters (NaN stays NaN) and the hour of day."""
    with np.errstate(invalid="ignore"):
        logs = np.log1p(np.maximum(values, 0.0))
    phase = 2 * np.pi * (np.arange(values.shape[0]) % ipd) / ipd
    hours = np.stack([np.cos(phase), np.sin(phase)], axis=-1)  # [T, 2]
    hours = np.broadcast_to(hours[:, None, :], (*values.shape[:2], 2))
    return np.concatenate([logs, (hours + 1.0) / 2.0], axis=-1)


def hst_scores(values: np.ndarray, reported: np.ndarray, warmup: int, ipd: int,
               seed: int) -> np.ndarray:  # fmt: skip
    """Score every (interval, cell) with a per-cell river HalfSpaceTrees ``[T, C]`` (NaN: none)."""
    from river import anomaly  # noqa: PLC0415 - the bench extra only

    feats = _features(values, ipd)
    num_t, num_c, _ = feats.shape
    scores = np.full((num_t, num_c), np.nan)
    for c in range(num_c):
        warm = feats[:warmup, c]
        with warnings.catch_warnings():  # a counter the cell never reported: all NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            lo = np.nanmin(warm, axis=0)
            hi = np.nanmax(warm, axis=0)
        span = np.where(np.isfinite(hi - lo) & (hi > lo), hi - lo, 1.0)
        lo = np.where(np.isfinite(lo), lo, 0.0)
        model = anomaly.HalfSpaceTrees(n_trees=10, height=8, window_size=250, seed=seed)
        for t in range(num_t):
            if not reported[t, c]:
                continue
            x = (feats[t, c] - lo) / span
            x = np.clip(np.where(np.isfinite(x), x, 0.0), 0.0, 1.0)
            sample = dict(zip(FEATURES, x.tolist(), strict=True))
            scores[t, c] = model.score_one(sample)
            model.learn_one(sample)
    return scores


def per_cell(scores: np.ndarray, warmup: int) -> np.ndarray:
    """Scores relative to each cell's own warm-up: (s - median) / (p99 - median), ``[T, C]``.

    Raw HST scores of quiet cells sit near the top all day; one threshold for every cell
    would be set by them, so this variant judges each cell against its usual scores.
    """
    with warnings.catch_warnings():  # a cell that never reported in the warm-up: all NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        mid = np.nanmedian(scores[:warmup], axis=0)
        top = np.nanpercentile(scores[:warmup], 99, axis=0)
    return (scores - mid) / np.maximum(top - mid, 1e-6)


def _starts(scores: np.ndarray, threshold: float, warmup: int) -> list[tuple[int, int]]:
    """(interval, cell) where two intervals in a row at or above ``threshold`` begin."""
    above = np.nan_to_num(scores, nan=-np.inf) >= threshold
    run = above[1:] & above[:-1]  # [T-1, C] a second interval above
    starts = run & ~np.vstack([np.zeros((1, run.shape[1]), bool), run[:-1]])
    t, c = np.nonzero(starts)
    return [(int(a) + 1, int(b)) for a, b in zip(t, c, strict=True) if a + 1 >= warmup]


def _operating_point(
    clean_scores: np.ndarray,
    dirty_scores: np.ndarray,
    injections: list[Any],
    warmup: int,
    allowed_false: int,
) -> dict[str, Any]:
    """Lowest threshold raising at most ``allowed_false`` clean conditions; its hits and delays."""
    candidates = np.unique(np.nan_to_num(clean_scores[warmup:], nan=0.0))[::-1]
    threshold = float(candidates[0]) + 1e-9
    for value in candidates:  # lower the threshold while false conditions stay allowed
        if len(_starts(clean_scores, float(value), warmup)) > allowed_false:
            break
        threshold = float(value)
    raised = _starts(dirty_scores, threshold, warmup)
    hits: dict[str, list[int]] = {}
    delays: list[float] = []
    for inj in injections:
        found = [t for t, c in raised if c == inj.cell and inj.start <= t < inj.stop + 2]
        hits.setdefault(inj.kind, []).append(int(bool(found)))
        if found:
            delays.append(float(min(found) - inj.start))
    true = sum(1 for t, c in raised
               if any(c == i.cell and i.start <= t < i.stop + 2 for i in injections))  # fmt: skip
    return {
        "allowed_false": allowed_false,
        "threshold": threshold,
        "clean_false_alerts": len(_starts(clean_scores, threshold, warmup)),
        "hits": hits,
        "raised": len(raised),
        "true": true,
        "delays": delays,
    }


def baselines(
    clean: Any, dirty: Any, injections: list[Any], warmup: int, budgets: dict[str, int]
) -> dict[str, Any]:
    """River HST at each false-alert budget (name to clean conditions allowed) on one seed."""
    ipd = clean.twin.scenario.intervals_per_day
    clean_scores = hst_scores(clean.values, clean.reported, warmup, ipd, seed=1)
    dirty_scores = hst_scores(dirty.values, dirty.reported, warmup, ipd, seed=1)
    variants = {
        "raw": (clean_scores, dirty_scores),
        "per_cell": (per_cell(clean_scores, warmup), per_cell(dirty_scores, warmup)),
    }
    return {
        f"{variant}/{name}": _operating_point(c, d, injections, warmup, allowed)
        for variant, (c, d) in variants.items()
        for name, allowed in budgets.items()
    }


def summarise_baselines(runs: list[dict[str, Any]], cell_days: float) -> dict[str, Any]:
    """Totals over seeds per operating point: recall per kind, precision, delay, false rate."""
    out: dict[str, Any] = {"model": MODEL}
    for name in runs[0]:
        points = [r[name] for r in runs]
        kinds = sorted({k for p in points for k in p["hits"]})
        per_kind = {k: [h for p in points for h in p["hits"].get(k, [])] for k in kinds}
        every = [h for v in per_kind.values() for h in v]
        delays = [d for p in points for d in p["delays"]]
        false = sum(p["clean_false_alerts"] for p in points)
        raised = sum(p["raised"] for p in points)
        out[name] = {
            "recall": round(float(np.mean(every)), 3) if every else None,
            "recall_per_kind": {k: round(float(np.mean(v)), 3) for k, v in per_kind.items()},
            "precision": round(sum(p["true"] for p in points) / max(raised, 1), 3),
            "delay_intervals_median": float(np.median(delays)) if delays else None,
            "clean_false_alerts": false,
            "false_alerts_per_1000_cell_days": round(1000 * false / cell_days, 3),
        }
    return out
