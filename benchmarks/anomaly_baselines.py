"""Library baselines for benchmarks/anomaly.py: river's Half-Space Trees, one model per cell.

Half-Space Trees (Tan, Ting & Liu, IJCAI 2011) are the streaming isolation forest river
offers. Each cell gets its own model on the log of its counters (``log1p``) and the hour of
day (cosine and sine), scaled to [0, 1] by the cell's warm-up range; each interval is scored
and then learned. A condition is raised when the score is at or above a threshold for two
intervals in a row (the detectors' own persistence); the threshold is the lowest one that
raises no more conditions on the clean run than ranopt's detectors did, so both are compared
at the same false-alert rate. A cell without a sample (missing counters) cannot be scored.
"""

from typing import Any

import numpy as np

from ranopt.counters import COUNTER_COLUMNS

FEATURES = (*COUNTER_COLUMNS, "hour_cos", "hour_sin")


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


def _starts(scores: np.ndarray, threshold: float, warmup: int) -> list[tuple[int, int]]:
    """(interval, cell) where two intervals in a row at or above ``threshold`` begin."""
    above = np.nan_to_num(scores, nan=-np.inf) >= threshold
    run = above[1:] & above[:-1]  # [T-1, C] a second interval above
    starts = run & ~np.vstack([np.zeros((1, run.shape[1]), bool), run[:-1]])
    t, c = np.nonzero(starts)
    return [(int(a) + 1, int(b)) for a, b in zip(t, c, strict=True) if a + 1 >= warmup]


def baselines(clean: Any, dirty: Any, injections: list[Any], warmup: int,
              allowed_false: int) -> dict[str, Any]:  # fmt: skip
    """River HST at the detectors' false-alert count: recall per kind on the injected run."""
    ipd = clean.twin.scenario.intervals_per_day
    clean_scores = hst_scores(clean.values, clean.reported, warmup, ipd, seed=1)
    dirty_scores = hst_scores(dirty.values, dirty.reported, warmup, ipd, seed=1)
    candidates = np.unique(np.nan_to_num(clean_scores[warmup:], nan=0.0))[::-1]
    threshold = float(candidates[0]) + 1e-9
    for value in candidates:  # lower the threshold while false conditions stay allowed
        if len(_starts(clean_scores, float(value), warmup)) > allowed_false:
            break
        threshold = float(value)
    raised = _starts(dirty_scores, threshold, warmup)
    per_kind: dict[str, list[float]] = {}
    delays: list[float] = []
    for inj in injections:
        hits = [t for t, c in raised if c == inj.cell and inj.start <= t < inj.stop + 2]
        per_kind.setdefault(inj.kind, []).append(float(bool(hits)))
        if hits:
            delays.append(float(min(hits) - inj.start))
    true = sum(1 for t, c in raised
               if any(c == i.cell and i.start <= t < i.stop + 2 for i in injections))  # fmt: skip
    return {
        "model": "river HalfSpaceTrees per cell (10 trees, height 8, window 250)",
        "threshold": threshold,
        "clean_false_alerts": len(_starts(clean_scores, threshold, warmup)),
        "recall": {k: round(float(np.mean(v)), 3) for k, v in per_kind.items()},
        "recall_all": round(float(np.mean([x for v in per_kind.values() for x in v])), 3),
        "precision": round(true / max(len(raised), 1), 3),
        "delay_intervals_median": float(np.median(delays)) if delays else None,
    }
