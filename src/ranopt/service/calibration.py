"""Calibrate a registered network's model from the store: topology + stored PM history.

The service's side of ``ranopt.calibrate``: read the topology and the latest whole days of
counters (with the cell states known to be applied), calibrate, and turn the result into the
JSON report the CLI, the API and the dashboard show. A calibrated model is kept in a small
in-process cache keyed by the data it was fitted on, so planning right after a calibration
does not fit it again, and new counters invalidate it.
"""

import hashlib
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ranopt.calibrate import (
    Calibration,
    CalibrationConfig,
    FitFigures,
    InsufficientTelemetryError,
    PmHistory,
    calibrate,
)
from ranopt.calibrate.history import SECONDS_PER_DAY
from ranopt.calibrate.home_demand import ASLEEP, IMPUTED
from ranopt.store import calibration as store_cal
from ranopt.store.engine import Store
from ranopt.store.networks import network_by_id
from ranopt.store.tables import KpiSample
from ranopt.twin.elements import LAYERS
from ranopt.twin.topology import TopologyLayout, topology_layout

PRB_LOAD_WAPE_TARGET = 0.15  # issue 14: per-cell PRB-load WAPE on held-out days
MAX_WARNINGS_SHOWN = 50
CACHE_SIZE = 4


@dataclass(frozen=True)
class NetworkCalibrationConfig:
    """How much history to read and what calibration needs of it."""

    max_days: int = 14  # the latest whole days of PM history read
    calibration: CalibrationConfig = field(default_factory=CalibrationConfig)


@dataclass(frozen=True, eq=False)
class NetworkModel:
    """A network's calibrated model and the inputs it was fitted on."""

    network_id: int
    network_name: str
    layout: TopologyLayout
    history: PmHistory
    calibration: Calibration
    last_sample_s: int  # start of the newest stored interval
    fit_s: float  # wall seconds the calibration took


_cache: OrderedDict[tuple[object, ...], NetworkModel] = OrderedDict()
_cache_lock = threading.Lock()


def _fingerprint(
    store: Store, session: Session, *, tenant_id: int, network_id: int, start_s: int, end_s: int
) -> tuple[object, ...]:
    """Return what a calibration depends on: store, topology, the window's samples."""
    sites, cells = store_cal.topology_records(session, tenant_id=tenant_id, network_id=network_id)
    topology = hashlib.sha256(repr((sites, cells)).encode()).hexdigest()
    samples = session.execute(
        select(
            func.count(), func.sum(KpiSample.dl_volume_mbit), func.sum(KpiSample.prb_used_dl)
        ).where(
            KpiSample.tenant_id == tenant_id,
            KpiSample.network_id == network_id,
            KpiSample.interval_start_s >= start_s,
            KpiSample.interval_start_s < end_s,
        )
    ).one()
    return (
        store.engine.url.render_as_string(hide_password=True),
        tenant_id, network_id, start_s, end_s, topology, *tuple(samples),
    )  # fmt: skip


def load_inputs(
    session: Session, *, tenant_id: int, network_id: int, config: NetworkCalibrationConfig
) -> tuple[TopologyLayout, PmHistory, int]:
    """Read the topology and the latest whole days of counters; return them and the last sample.

    Raises ``InsufficientTelemetryError`` (naming what is missing) on an empty history.
    """
    network = network_by_id(session, tenant_id=tenant_id, network_id=network_id)
    needed = config.calibration.min_days
    extent = store_cal.pm_extent(session, tenant_id=tenant_id, network_id=network_id)
    if extent is None:
        msg = f"{needed:g} days of PM history needed, 0.0 found: no counters stored"
        raise InsufficientTelemetryError(msg, needed_days=needed, found_days=0.0)
    start_s, end_s = store_cal.history_window(
        session, tenant_id=tenant_id, network_id=network_id, interval_s=network.interval_s,
        max_days=config.max_days,
    )  # fmt: skip
    sites, cells = store_cal.topology_records(session, tenant_id=tenant_id, network_id=network_id)
    layout = topology_layout(sites, cells)
    history = store_cal.pm_history(
        session, tenant_id=tenant_id, network_id=network_id, start_s=start_s, end_s=end_s
    )
    return layout, history, extent[1]


def network_model(
    store: Store,
    *,
    tenant_id: int,
    network_id: int,
    config: NetworkCalibrationConfig | None = None,
) -> NetworkModel:
    """Return the network's calibrated model, fitting it unless the same data is cached."""
    config = config or NetworkCalibrationConfig()
    with store.transaction() as session:
        network = network_by_id(session, tenant_id=tenant_id, network_id=network_id)
        extent = store_cal.pm_extent(session, tenant_id=tenant_id, network_id=network_id)
        key: tuple[object, ...] | None = None
        if extent is not None:
            start_s, end_s = store_cal.history_window(
                session, tenant_id=tenant_id, network_id=network_id,
                interval_s=network.interval_s, max_days=config.max_days,
            )  # fmt: skip
            key = (
                *_fingerprint(
                    store, session, tenant_id=tenant_id, network_id=network_id,
                    start_s=start_s, end_s=end_s,
                ),
                config,
            )  # fmt: skip
            with _cache_lock:
                if key in _cache:
                    _cache.move_to_end(key)
                    return _cache[key]
        layout, history, last_s = load_inputs(
            session, tenant_id=tenant_id, network_id=network_id, config=config
        )
    started = time.perf_counter()
    result = calibrate(layout, history, config.calibration)
    model = NetworkModel(
        network_id=network_id, network_name=network.name, layout=layout, history=history,
        calibration=result, last_sample_s=last_s, fit_s=time.perf_counter() - started,
    )  # fmt: skip
    if key is not None:
        with _cache_lock:
            _cache[key] = model
            while len(_cache) > CACHE_SIZE:
                _cache.popitem(last=False)
    return model


def _number(value: float) -> float | None:
    """Return a JSON number: NaN and infinities become null."""
    return round(float(value), 6) if np.isfinite(value) else None


def _day(start_s: int, index: int) -> str:
    return datetime.fromtimestamp(start_s + index * SECONDS_PER_DAY, tz=UTC).date().isoformat()


def figures_json(figures: FitFigures) -> dict[str, Any]:
    """One way of driving the model, as JSON (network-wide figures, layer shares)."""
    return {
        "prb_load_wape": _number(figures.prb_load_wape),
        "prb_load_wape_with_sleep": _number(figures.prb_load_wape_with_sleep),
        "volume_wape": _number(figures.volume_wape),
        "ue_thp_wape": _number(figures.ue_thp_wape),
        "conn_mean_wape": _number(figures.conn_mean_wape),
        "prb_load_wape_cell_median": _number(float(np.nanmedian(figures.prb_load_wape_per_cell)))
        if np.isfinite(figures.prb_load_wape_per_cell).any()
        else None,
        "mean_prb_load": {
            "observed": _number(figures.mean_prb_load_observed),
            "model": _number(figures.mean_prb_load_model),
        },
        "layer_shares": [
            {"layer": s.layer, "observed": _number(s.observed), "model": _number(s.model)}
            for s in figures.layer_shares
        ],
    }


def report_json(model: NetworkModel, min_days: float) -> dict[str, Any]:
    """Return the calibration report: data used, the model, its held-out fit, per cell."""
    cal = model.calibration
    fit = cal.model.fit
    report = cal.report
    history = model.history
    heldout = report.observed_demand
    layers = cal.model.twin.arrays.layer
    warnings = [w.message for w in cal.model.warnings]
    method = cal.home_demand.method
    prb_wape = heldout.prb_load_wape
    return {
        "network_id": model.network_id,
        "network": model.network_name,
        "days_needed": min_days,
        "days_found": round(cal.days_found, 2),
        "window": {
            "start": _day(history.start_s, 0),
            "end": _day(history.start_s, history.num_days),
            "last_sample_s": model.last_sample_s,
        },
        "train_days": [_day(history.start_s, int(d)) for d in cal.train_days],
        "heldout_days": [_day(history.start_s, int(d)) for d in cal.heldout_days],
        "fit_s": round(model.fit_s, 3),
        "target": {
            "prb_load_wape_max": PRB_LOAD_WAPE_TARGET,
            "met": bool(np.isfinite(prb_wape) and prb_wape <= PRB_LOAD_WAPE_TARGET),
        },
        "heldout": {
            "observed_demand": figures_json(heldout),
            "profile": figures_json(report.profile),
        },
        "in_sample": figures_json(report.in_sample),
        "model": {
            "num_ues": cal.model.twin.num_ues,
            "num_cells": cal.model.num_cells,
            "environment": model.layout.environment,
            "isd_m": round(model.layout.isd_m, 1),
            "clamped_cells": [
                n for n, c in zip(cal.model.cell_names, fit.clamped, strict=True) if c
            ],
            "unmodelled_cells": [
                n for n, c in zip(cal.model.cell_names, fit.unmodelled, strict=True) if c
            ],
        },
        "home_demand": {
            "samples": int(method.size),
            "estimated_asleep": int((method == ASLEEP).sum()),
            "imputed": int((method == IMPUTED).sum()),
            "at_prb_limit": int(cal.home_demand.overloaded.sum()),
        },
        "warnings": warnings[:MAX_WARNINGS_SHOWN],
        "num_warnings": len(warnings),
        "cells": [
            {
                "name": name,
                "layer": LAYERS[int(layers[c])],
                "num_ues": int(fit.num_ues[c]),
                "tilt": _number(fit.tilt[c]),
                "prb_per_mbps_observed": _number(fit.cost_observed[c]),
                "prb_per_mbps_model": _number(fit.cost_model[c]),
                "prb_load_wape": _number(heldout.prb_load_wape_per_cell[c]),
                "volume_wape": _number(report.profile.volume_wape_per_cell[c]),
            }
            for c, name in enumerate(cal.model.cell_names)
        ],
    }


def run_calibration(
    store: Store,
    *,
    tenant_id: int,
    network_id: int,
    now_s: int,
    config: NetworkCalibrationConfig | None = None,
) -> store_cal.CalibrationReportOut:
    """Calibrate the network's model, store the report and return it."""
    config = config or NetworkCalibrationConfig()
    model = network_model(store, tenant_id=tenant_id, network_id=network_id, config=config)
    report = report_json(model, config.calibration.min_days)
    with store.transaction() as session:
        return store_cal.save_report(
            session, tenant_id=tenant_id, network_id=network_id, report=report,
            data_end_s=model.history.start_s + model.history.num_days * SECONDS_PER_DAY,
            days_found=model.calibration.days_found,
            prb_load_wape=_number(model.calibration.report.observed_demand.prb_load_wape),
            now_s=now_s,
        )  # fmt: skip


def require_telemetry(
    session: Session,
    *,
    tenant_id: int,
    network_id: int,
    config: NetworkCalibrationConfig | None = None,
) -> float:
    """Return the days of PM history in the window, or raise ``InsufficientTelemetryError``.

    A cheap check (one count query) before a run is created: a sample counts when it carries
    a served volume and a PRB counter, as calibration needs.
    """
    config = config or NetworkCalibrationConfig()
    needed = config.calibration.min_days
    network = network_by_id(session, tenant_id=tenant_id, network_id=network_id)
    extent = store_cal.pm_extent(session, tenant_id=tenant_id, network_id=network_id)
    found = 0.0
    if extent is not None:
        start_s, end_s = store_cal.history_window(
            session, tenant_id=tenant_id, network_id=network_id, interval_s=network.interval_s,
            max_days=config.max_days,
        )  # fmt: skip
        count = session.scalar(
            select(func.count()).where(
                KpiSample.tenant_id == tenant_id,
                KpiSample.network_id == network_id,
                KpiSample.interval_start_s >= start_s,
                KpiSample.interval_start_s < end_s,
                KpiSample.suspect.is_(False),
                KpiSample.dl_volume_mbit.is_not(None),
                (KpiSample.prb_used_dl.is_not(None)) | (KpiSample.prb_tot_dl_pct.is_not(None)),
            )
        )
        per_day = max(network.num_cells, 1) * (SECONDS_PER_DAY // network.interval_s)
        found = float(count or 0) / per_day
    if found + 1e-9 < needed:
        msg = f"{needed:g} days of PM history needed, {found:.1f} found"
        raise InsufficientTelemetryError(msg, needed_days=needed, found_days=found)
    return found
