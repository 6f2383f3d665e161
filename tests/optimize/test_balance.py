"""Load balancing: the association MILP against brute force, and both solvers in the twin."""

import itertools

import numpy as np
import pytest

from ranopt.errors import ValidationError
from ranopt.optimize.balance import (
    BalanceConfig,
    _solve_association_milp,
    association_bins,
    frozen_rates_mbps,
    lost_coverage,
    measure,
    plan_load_balance,
    servable,
    step_bounds,
)
from ranopt.twin import CellState, Twin, build_twin, evaluate_snapshot, scenario_preset
from ranopt.twin.snapshot import associate
from ranopt.twin.traffic import busy_interval, day_rng, realised_demand_mbps
from ranopt.twin.units import FloatArray


@pytest.fixture(scope="module")
def one_site_twin() -> Twin:
    """Hotspot preset cut to one site (6 cells) and 150 UEs."""
    return build_twin(scenario_preset("hotspot", seed=1, num_sites=1, num_ues=150))


@pytest.fixture(scope="module")
def seven_site_hotspot() -> Twin:
    return build_twin(scenario_preset("hotspot", seed=1, num_sites=7, num_ues=500))


def busy_demand(twin: Twin, num_intervals: int) -> FloatArray:
    t = busy_interval(twin.traffic, 0)
    demand = realised_demand_mbps(twin.traffic, 0, day_rng(twin.scenario.seed, 0))
    return demand[t - num_intervals + 1 : t + 1]


def frozen_max_load(twin: Twin, demand: FloatArray, cio: FloatArray, load: FloatArray) -> float:
    """Independent re-implementation: associate in the twin, PRB share at frozen rates."""
    active = np.ones(twin.num_cells, dtype=bool)
    assoc = associate(twin, CellState(active=active, cio_db=cio))
    rates = frozen_rates_mbps(twin, active, load)
    cell_load = np.zeros(twin.num_cells)
    for u in np.flatnonzero(assoc.covered & (demand > 0)):
        cell_load[assoc.serving[u]] += demand[u] / rates[u, assoc.k_star[u]]
    return float(cell_load.max())


def test_hotspot_preset_concentrates_load():
    twin = build_twin(scenario_preset("hotspot", seed=0))
    snap = evaluate_snapshot(twin, CellState.all_on(twin.num_cells), busy_demand(twin, 1)[0])
    loaded = snap.demand_load
    # a few cells (the clusters' users without n78, on the coverage layer) carry several times
    # the mean PRB load
    assert loaded.max() > 4.0 * loaded.mean()


def test_step_bounds_keep_range_and_step():
    config = BalanceConfig()
    lower, upper = step_bounds(np.array([0.0, 5.0, -6.0]), config)
    assert lower.tolist() == [-2, 3, -6]
    assert upper.tolist() == [2, 6, -4]


def test_config_rejects_empty_range():
    with pytest.raises(ValidationError, match="cio_min_db"):
        BalanceConfig(cio_min_db=1)


def test_milp_matches_brute_force_on_one_site(one_site_twin: Twin):
    twin = one_site_twin
    demand = busy_demand(twin, 1)[0] * 3.0  # heavier, so the offsets matter
    active = np.ones(twin.num_cells, dtype=bool)
    ref = evaluate_snapshot(twin, CellState.all_on(twin.num_cells), demand)
    config = BalanceConfig(max_step_db=1)
    lower, upper = step_bounds(np.zeros(twin.num_cells), config)
    bins, const = association_bins(twin, demand, active, lower, upper, ref.prb_load, servable(ref))
    cio, info = _solve_association_milp(bins, const, active, lower, upper, config)
    assert cio is not None
    assert str(info.status) == "optimal"
    # the model's objective is the frozen-interference max load of the twin's own association
    milp_max = frozen_max_load(twin, demand, cio, ref.prb_load)
    assert info.objective == pytest.approx(milp_max, abs=1e-3)
    # and no offset vector in the box does better (3^6 = 729 vectors)
    values = [
        frozen_max_load(twin, demand, np.array(v, dtype=float), ref.prb_load)
        for v in itertools.product((-1, 0, 1), repeat=twin.num_cells)
    ]
    assert milp_max == pytest.approx(min(values), abs=1e-6)
    assert max(values) > min(values) + 0.01  # the offsets do matter on this instance


@pytest.mark.parametrize("solver", ["local", "exact"])
def test_plan_unloads_busiest_cell_in_the_twin(seven_site_hotspot: Twin, solver: str):
    twin = seven_site_hotspot
    demand = busy_demand(twin, 2)
    # 30 accepted moves per interval and phase: the legacy cluster on the coverage layer gives
    # the local search a long, flat descent that 200 moves would follow for seconds
    result = plan_load_balance(twin, demand, solver, config=BalanceConfig(max_moves=30))
    cio = result.plan.cio_db
    assert cio is not None
    assert np.abs(cio).max() <= 6
    assert np.abs(np.diff(np.vstack([np.zeros(twin.num_cells), cio]), axis=0)).max() <= 2
    assert result.after[-1].max_prb_demand < 0.95 * result.before[-1].max_prb_demand
    assert result.lost_coverage == (0, 0)
    # the reported figures are the twin's on the plan's CIO
    snap = evaluate_snapshot(
        twin, CellState(active=np.ones(twin.num_cells, bool), cio_db=cio[-1]), demand[-1]
    )
    assert measure(snap).max_prb_demand == pytest.approx(result.after[-1].max_prb_demand, abs=2e-3)
    ref = evaluate_snapshot(twin, CellState.all_on(twin.num_cells), demand[-1])
    assert lost_coverage(snap, ref) == 0
    assert all(a.action == "cio" and -6 <= (a.value or 0) <= 6 for a in result.plan.actions)


def test_unknown_solver_is_rejected(seven_site_hotspot: Twin):
    with pytest.raises(ValidationError, match="solver"):
        plan_load_balance(seven_site_hotspot, busy_demand(seven_site_hotspot, 1), "anneal")


def test_global_shift_keeps_every_association(seven_site_hotspot: Twin):
    from ranopt.optimize.balance import _fit_bounds

    twin = seven_site_hotspot
    rng = np.random.default_rng(3)
    cio = rng.integers(-3, 4, twin.num_cells).astype(float)
    cio[0] = 5.0  # above the bound below: the whole vector must shift down by 1
    lower = np.full(twin.num_cells, -6, dtype=np.int64)
    upper = np.full(twin.num_cells, 4, dtype=np.int64)
    shifted = _fit_bounds(cio, lower, upper)
    assert shifted is not None
    assert shifted[0] == 4.0
    assert np.allclose(shifted - cio, -1.0)
    active = np.ones(twin.num_cells, dtype=bool)
    a = associate(twin, CellState(active=active, cio_db=cio)).serving
    b = associate(twin, CellState(active=active, cio_db=shifted)).serving
    assert (a == b).all()
    assert _fit_bounds(np.array([5.0, -6.0]), lower[:2], upper[:2]) is None
