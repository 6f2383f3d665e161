"""Shared fixtures of the optimizer tests: one small twin, its demand, problems and plans.

Everything is built once per session on a seven-site twin (42 cells, 21 of them capacity
cells, 300 UEs) so the whole suite stays fast on two shared cores.
"""

import dataclasses

import numpy as np
import pytest

from ranopt.optimize.energy import (
    ENERGY_SOLVERS,
    EnergyConfig,
    EnergyProblem,
    always_on_snapshots,
    build_energy_problem,
    plan_energy,
)
from ranopt.optimize.evaluate import EnergyConstraints
from ranopt.optimize.plan import Plan
from ranopt.twin import Snapshot, Twin, build_twin, scenario_preset
from ranopt.twin.elements import LAYERS
from ranopt.twin.traffic import day_rng, realised_demand_mbps
from ranopt.twin.units import FloatArray

SEED = 1
NIGHT = slice(0, 12)  # 00:00-03:00 at 15 min: capacity cells can sleep
CAPACITY = LAYERS.index("capacity")
COVERAGE = LAYERS.index("coverage")


@pytest.fixture(scope="session")
def seven_site_twin() -> Twin:
    """Default preset cut to 7 sites (42 cells, 21 capacity) and 300 UEs, seed 1."""
    return build_twin(scenario_preset("default", seed=SEED, num_sites=7, num_ues=300))


@pytest.fixture(scope="session")
def day_demand(seven_site_twin: Twin) -> FloatArray:
    """Realised demand of day 0, ``[96, 300]`` Mbit/s."""
    return realised_demand_mbps(seven_site_twin.traffic, 0, day_rng(SEED, 0))


@pytest.fixture(scope="session")
def night_demand(day_demand: FloatArray) -> FloatArray:
    """00:00-03:00 of day 0, ``[12, 300]`` Mbit/s."""
    return np.array(day_demand[NIGHT])


@pytest.fixture(scope="session")
def busy_interval(day_demand: FloatArray) -> int:
    """The interval of day 0 with the most offered traffic."""
    return int(np.argmax(day_demand.sum(axis=1)))


@pytest.fixture(scope="session")
def limits() -> EnergyConstraints:
    """The default QoS limits and switching rules."""
    return EnergyConstraints()


@pytest.fixture(scope="session")
def night_references(seven_site_twin: Twin, night_demand: FloatArray) -> list[Snapshot]:
    """Always-on snapshots of the night horizon."""
    return always_on_snapshots(seven_site_twin, night_demand)


@pytest.fixture(scope="session")
def night_problem(
    seven_site_twin: Twin,
    night_demand: FloatArray,
    limits: EnergyConstraints,
    night_references: list[Snapshot],
) -> EnergyProblem:
    """The night's bin model as ``plan_energy`` builds it in its first round."""
    return build_energy_problem(
        seven_site_twin,
        night_demand,
        limits,
        night_references,
        headroom=EnergyConfig().planning_headroom,
    )


@pytest.fixture(scope="session")
def night_plans(seven_site_twin: Twin, night_demand: FloatArray) -> dict[str, Plan]:
    """One night plan per solver (anneal seeded), built once."""
    return {
        solver: plan_energy(seven_site_twin, night_demand, solver, rng=np.random.default_rng(SEED))
        for solver in ENERGY_SOLVERS
    }


@pytest.fixture(scope="session")
def patchy_coverage_twin() -> Twin:
    """The seven-site twin with a stricter S-criterion (-105 dBm) and the n78 SSB swept over 8
    beams (the data beam's 15 dB instead of one broad 6 dB beam): some UEs only hear capacity
    cells, so sleeping those cells leaves them without coverage."""
    scenario = scenario_preset("default", seed=SEED, num_sites=7, num_ues=300)
    coverage, capacity = scenario.layers
    swept = dataclasses.replace(capacity, ssb_gain_db=capacity.array_gain_db)
    return build_twin(dataclasses.replace(scenario, rsrp_min_dbm=-105.0, layers=(coverage, swept)))
