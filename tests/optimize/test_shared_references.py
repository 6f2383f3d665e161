"""The always-on snapshots that planning computed are reused, not evaluated again (issue 16)."""

import dataclasses

import numpy as np

from ranopt.optimize.energy import EnergyConfig, assemble_plan, plan_energy
from ranopt.optimize.evaluate import EnergyConstraints
from ranopt.twin import Snapshot, Twin

SEED = 1  # the seed of the conftest's night plans


def test_plan_on_shared_references_is_the_plan_on_its_own(
    seven_site_twin: Twin,
    night_demand: np.ndarray,
    night_references: list[Snapshot],
    limits: EnergyConstraints,
) -> None:
    own = plan_energy(seven_site_twin, night_demand, "greedy", rng=np.random.default_rng(SEED))
    shared = plan_energy(
        seven_site_twin, night_demand, "greedy", rng=np.random.default_rng(SEED),
        references=night_references,
    )  # fmt: skip
    np.testing.assert_array_equal(own.active, shared.active)
    assert own.active_trx is not None
    assert shared.active_trx is not None
    np.testing.assert_array_equal(own.active_trx, shared.active_trx)
    assert own.actions == shared.actions
    assert own.expected == shared.expected
    # the final check of a repaired plan on the same references gives the plan's own figures
    again = assemble_plan(
        seven_site_twin, night_demand, shared.active, shared.active_trx, limits, EnergyConfig(),
        solver="greedy", solve=shared.solve, references=night_references,
    )  # fmt: skip
    assert again.expected == shared.expected
    assert dataclasses.replace(again, solve=shared.solve).actions == shared.actions
