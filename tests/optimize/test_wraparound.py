"""Wrap-around makes every site of a hexagonal preset statistically alike.

Issue 12 measured, without wrap-around, outer-ring capacity cells asleep in 49 % of the
intervals against 12 % in the centre. Here: the coverage layer's full-load SINR per ring (the
interference a site's neighbourhood causes) and the share of intervals the greedy plan puts
each ring's capacity cells to sleep (bin model at the always-on loads, every 4th interval of
day 0, 6 seeds of the default layout with 2 000 users).
"""

import dataclasses

import numpy as np
import pytest

from ranopt.optimize.energy import always_on_snapshots, build_energy_problem, solve_greedy
from ranopt.optimize.evaluate import EnergyConstraints
from ranopt.twin import CellState, Twin, build_twin, evaluate_snapshot, scenario_preset
from ranopt.twin.elements import LAYERS
from ranopt.twin.traffic import day_rng, expected_demand_mbps, realised_demand_mbps

CAPACITY = LAYERS.index("capacity")
COVERAGE = LAYERS.index("coverage")


def twin_of(seed: int, wrap: bool) -> Twin:
    scenario = scenario_preset("default", seed=seed, num_ues=2000)
    return build_twin(dataclasses.replace(scenario, wrap_around=wrap))


def ring_of_site(site: np.ndarray) -> np.ndarray:
    """Ring 0 (site 0), 1 (sites 1-6), 2 (sites 7-18) of the 19-site layout."""
    return np.where(site == 0, 0, np.where(site <= 6, 1, 2))


def coverage_sinr_by_ring(wrap: bool) -> np.ndarray:
    """Mean full-load SINR (dB) of coverage-layer UEs per ring of their serving site, 3 seeds."""
    per_seed = []
    for seed in range(3):
        twin = twin_of(seed, wrap)
        demand = expected_demand_mbps(twin.traffic, 0)[84] * 1e-9
        snap = evaluate_snapshot(
            twin, CellState.all_on(twin.num_cells), demand,
            initial_load=np.ones(twin.num_cells), max_iterations=1,
        )  # fmt: skip
        served = snap.serving_cell >= 0
        cell = np.maximum(snap.serving_cell, 0)
        on_coverage = served & (twin.arrays.layer[cell] == COVERAGE)
        ring = ring_of_site(twin.arrays.site[cell])
        per_seed.append([snap.sinr_db[on_coverage & (ring == r)].mean() for r in range(3)])
    return np.asarray(per_seed).mean(axis=0)


def test_wrap_around_evens_out_the_interference_of_each_ring() -> None:
    """Without wrap-around the outer ring's coverage cells see less interference (+1.6 dB
    measured); with it every ring is within 0.5 dB."""
    wrapped = coverage_sinr_by_ring(wrap=True)
    open_edge = coverage_sinr_by_ring(wrap=False)
    assert np.ptp(wrapped) < 0.5, wrapped
    assert open_edge[2] - open_edge[0] > 1.0, open_edge


def test_per_ring_sleep_shares_are_alike_with_wrap_around() -> None:
    """Measured 0.72 / 0.67 / 0.68 (ring 0 has 3 cells a seed); the dimensioned network's
    sleep is bounded by the hour of the day, not by position (without wrap-around measured
    0.71 / 0.69 / 0.67 as well)."""
    shares: list[list[float]] = []
    for seed in range(6):
        twin = twin_of(seed, wrap=True)
        demand = realised_demand_mbps(twin.traffic, 0, day_rng(seed, 0))[::4]
        references = always_on_snapshots(twin, demand)
        loads = np.stack([r.prb_load for r in references])
        problem = build_energy_problem(
            twin, demand, EnergyConstraints(), references, np.minimum(loads + 0.05, 0.85), 0.1,
            pairing_load=loads, muting=False,
        )  # fmt: skip
        schedule, _, _ = solve_greedy(problem)
        capacity = twin.arrays.layer == CAPACITY
        ring = ring_of_site(twin.arrays.site)
        shares.append([float((~schedule[:, capacity & (ring == r)]).mean()) for r in range(3)])
    mean = np.asarray(shares).mean(axis=0)
    assert mean.min() > 0.3  # the plans do sleep
    assert np.ptp(mean) <= 0.06, mean
    assert mean[2] == pytest.approx(mean[1], abs=0.03)
