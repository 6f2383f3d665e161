"""Shared twins for the twin tests: built once per session from small presets.

``Twin`` has a one-line ``repr``: hypothesis prints the arguments of a failing example, and a
dataclass ``repr`` of its arrays (tens of kB) would raise its "overly large repr" warning, which
``filterwarnings = error`` turns into an error that hides the real failure.
"""

import pytest

from ranopt.twin import Scenario, Twin, build_twin, scenario_preset


def build_named_twin(scenario: Scenario) -> Twin:
    """Build the scenario's twin (``Twin`` has a one-line ``repr``)."""
    return build_twin(scenario)


@pytest.fixture(scope="session")
def default_twin() -> Twin:
    """The default preset (19 sites, 114 cells, 2000 UEs, dense), seed 1."""
    return build_named_twin(scenario_preset("default", seed=1))


@pytest.fixture(scope="session")
def seven_site_twin() -> Twin:
    """A small dense twin: 7 sites, 42 cells, 300 UEs, seed 2."""
    return build_named_twin(scenario_preset("default", seed=2, num_sites=7, num_ues=300))


@pytest.fixture(scope="session")
def top_k_twins() -> dict[int | None, Twin]:
    """One 7-site scenario (seed 3, 400 UEs) dense (None), with top_k = all 42 cells and 24."""
    return {
        k: build_named_twin(scenario_preset("default", seed=3, num_sites=7, num_ues=400, top_k=k))
        for k in (None, 42, 24)
    }
