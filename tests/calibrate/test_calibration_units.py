"""The pieces of calibration on hand-made inputs: tilt solver, demand split, history checks."""

import numpy as np
import pytest

from ranopt.calibrate import (
    InsufficientTelemetryError,
    PmHistory,
    demand_share_profile,
    estimate_home_demand,
    redistribution,
    require_history,
)
from ranopt.calibrate.fit import solve_tilt, tilted_weights
from ranopt.calibrate.home_demand import ASLEEP, OBSERVED, SPLIT
from ranopt.calibrate.model import home_cells_of
from ranopt.twin import CellState, evaluate_snapshot, scenario_preset
from ranopt.twin.model import Twin
from ranopt.twin.shapes import Perturbation, perturbed_records
from ranopt.twin.topology import build_topology_twin, topology_layout, topology_scenario
from ranopt.twin.units import group_sum

MONDAY_S = 1_767_571_200  # 2026-01-05 00:00 UTC


def test_tilt_hits_each_cells_target_like_a_brute_force_search() -> None:
    rng = np.random.default_rng(0)
    cell = np.repeat(np.arange(4), 25)
    cost = rng.lognormal(0.0, 0.8, cell.size)
    base = np.ones(cell.size)
    mean = group_sum(cell, cost, 4) / 25
    target = mean * np.array([0.7, 1.0, 1.4, 50.0])  # the last one is out of reach
    beta, clamped = solve_tilt(cell, cost, base, target, 4, max_tilt=8.0)
    assert clamped.tolist() == [False, False, False, True]
    assert beta[3] == 8.0
    grid = np.linspace(-8.0, 8.0, 16001)
    for c in range(3):
        members = cell == c
        # brute force: the tilted mean at every grid point, nearest to the target
        w = cost[members][None, :] ** grid[:, None]
        tilted = (w * cost[members]).sum(axis=1) / w.sum(axis=1)
        assert beta[c] == pytest.approx(grid[np.argmin(np.abs(tilted - target[c]))], abs=2e-3)
    weights = tilted_weights(cell, np.log(cost), base, beta, 4)
    np.testing.assert_allclose(group_sum(cell, weights, 4), 1.0)
    np.testing.assert_allclose(group_sum(cell, weights * cost, 4)[:3], target[:3], rtol=1e-6)


def _small_twin() -> Twin:
    base = scenario_preset("default", seed=0, num_sites=7, num_ues=200)
    sites, cells = perturbed_records(
        base, Perturbation(position_sigma_m=40.0), np.random.default_rng(1)
    )
    layout = topology_layout(sites, cells)
    return build_topology_twin(
        layout, topology_scenario(layout, name="m", seed=5, num_ues=200, hotspot_ue_fraction=0.0)
    )


def _history_from(twin: Twin, home_demand: np.ndarray, asleep: np.ndarray) -> PmHistory:
    """Counters of ``twin`` driven by exact home-cell demand ``[N, C]`` spread evenly per cell."""
    home = home_cells_of(twin)
    count = group_sum(np.maximum(home, 0), home >= 0, twin.num_cells)
    share = np.where(home >= 0, 1.0 / np.maximum(count[np.maximum(home, 0)], 1), 0.0)
    num_prb = twin.arrays.num_prb.astype(float)
    rows = {k: np.zeros(home_demand.shape) for k in ("used", "avail", "vol", "thp", "conn")}
    for t in range(home_demand.shape[0]):
        state = CellState(active=~asleep[t], cio_db=np.zeros(twin.num_cells))
        snap = evaluate_snapshot(twin, state, home_demand[t][np.maximum(home, 0)] * share)
        rows["used"][t] = snap.prb_load * num_prb
        rows["avail"][t] = snap.active * num_prb
        rows["vol"][t] = snap.cell_served_mbps * 900
        rows["thp"][t] = snap.cell_ue_thp_mbps
        rows["conn"][t] = snap.cell_num_ues
    return PmHistory(
        start_s=MONDAY_S, interval_s=900, cell_names=twin.cell_names, num_prb=twin.arrays.num_prb,
        prb_used=rows["used"], prb_avail=rows["avail"], volume_mbit=rows["vol"],
        ue_thp_mbps=rows["thp"], conn_mean=rows["conn"], applied_asleep=np.zeros_like(asleep),
    )  # fmt: skip


def test_home_demand_of_sleeping_cells_is_exact_when_the_prior_split_is() -> None:
    twin = _small_twin()
    home = home_cells_of(twin)
    num_cells = twin.num_cells
    has_ues = group_sum(np.maximum(home, 0), home >= 0, num_cells) > 0
    rng = np.random.default_rng(2)
    # demand = a fixed split across cells times one profile over the day: the prior is exact
    split = np.where(has_ues, rng.uniform(0.5, 1.5, num_cells), 0.0)
    profile = 0.3 + 0.7 * np.sin(np.linspace(0, np.pi, 96)) ** 2
    demand = np.tile(profile[:, None] * split[None, :] * 4.0, (3, 1))  # 3 days, Mbit/s
    asleep = np.zeros(demand.shape, dtype=bool)
    sleepers = np.flatnonzero(has_ues & (twin.arrays.layer == 1))[::2]
    asleep[2 * 96 : 2 * 96 + 24, sleepers] = True  # the third night
    history = _history_from(twin, demand, asleep)
    assert history.asleep[2 * 96, sleepers].all()  # seen from RRU.PrbAvailDl = 0
    count = group_sum(np.maximum(home, 0), home >= 0, num_cells)
    share = np.where(home >= 0, 1.0 / np.maximum(count[np.maximum(home, 0)], 1), 0.0)
    estimate = estimate_home_demand(twin, home, share, demand_share_profile(history), history)
    night = slice(2 * 96, 2 * 96 + 24)
    assert (estimate.method[night][:, sleepers] == ASLEEP).all()
    assert (estimate.method[night] == SPLIT).any()
    assert (estimate.method[:96] == OBSERVED).all()
    assert not estimate.overloaded.any()
    np.testing.assert_allclose(estimate.mbps, demand, rtol=1e-6, atol=1e-9)


def test_redistribution_is_the_identity_with_every_cell_on() -> None:
    twin = _small_twin()
    home = home_cells_of(twin)
    share = np.where(home >= 0, 1.0, 0.0)
    matrix = redistribution(twin, home, share, np.ones(twin.num_cells, dtype=bool))
    counts = group_sum(np.maximum(home, 0), home >= 0, twin.num_cells)
    np.testing.assert_allclose(matrix, np.diag(counts))
    asleep = np.ones(twin.num_cells, dtype=bool)
    asleep[twin.arrays.layer == 1] = False  # capacity layer off: coverage carries everyone
    moved = redistribution(twin, home, share, asleep)
    assert moved[twin.arrays.layer == 1].sum() == 0
    assert moved.sum() == pytest.approx(counts.sum())


def test_short_or_incomplete_history_names_what_is_missing() -> None:
    twin = _small_twin()
    history = _history_from(
        twin, np.ones((96 * 4, twin.num_cells)), np.zeros((96 * 4, twin.num_cells), dtype=bool)
    )
    # a day and a bit unreported: 2.8 days found
    volume = history.volume_mbit.copy()
    volume[: 96 + 19] = np.nan
    short = PmHistory(**{**history.__dict__, "volume_mbit": volume})
    assert short.days_found() == pytest.approx(2.8, abs=0.01)
    with pytest.raises(
        InsufficientTelemetryError, match=r"7 days of PM history needed, 2\.8 found"
    ):
        require_history(short, 7.0)
    blank = PmHistory(**{**history.__dict__, "volume_mbit": np.full(volume.shape, np.nan)})
    with pytest.raises(InsufficientTelemetryError, match=r"no DRB\.PdcpSduVolumeDL stored"):
        require_history(blank, 7.0)
    assert history.weekdays.tolist() == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="whole UTC days"):
        PmHistory(**{**history.__dict__, "start_s": MONDAY_S + 900})
