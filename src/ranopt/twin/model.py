"""The assembled twin: a scenario's network, UEs, link budget and traffic, built once."""

from dataclasses import dataclass
from typing import Any

import numpy as np

from ranopt.twin.elements import Cell, Site
from ranopt.twin.layout import hex_wrap_shifts_m
from ranopt.twin.network import CellArrays, build_network, cell_arrays
from ranopt.twin.radio import LinkBudget, compute_link_budget
from ranopt.twin.scenario import Scenario
from ranopt.twin.traffic import TrafficModel, build_traffic
from ranopt.twin.ues import UEs, drop_ues
from ranopt.twin.units import FloatArray, dbm_to_w, noise_power_dbm


@dataclass(frozen=True, eq=False)
class Twin:
    """Everything a snapshot needs that does not change from one interval to the next."""

    scenario: Scenario
    sites: tuple[Site, ...]
    cells: tuple[Cell, ...]
    arrays: CellArrays
    ues: UEs
    link: LinkBudget
    traffic: TrafficModel
    noise_w: FloatArray  # [num_cells] thermal + UE noise over the cell's occupied bandwidth, W

    def __repr__(self) -> str:
        """Short form: the arrays would print tens of kilobytes."""
        s = self.scenario
        return (
            f"Twin({s.name!r}, seed={s.seed}, sites={s.num_sites}, cells={self.num_cells}, "
            f"ues={self.num_ues}, k={self.link.k})"
        )

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """IPython pretty-printing (which hypothesis honours): the short form too."""
        printer.text(repr(self))

    @property
    def num_cells(self) -> int:
        """Number of cells."""
        return self.arrays.num_cells

    @property
    def num_ues(self) -> int:
        """Number of UEs."""
        return self.ues.num_ues

    @property
    def cell_names(self) -> tuple[str, ...]:
        """Cell names in array order."""
        return tuple(c.name for c in self.cells)


def build_twin(scenario: Scenario, *, prune: bool = True) -> Twin:
    """Build the twin of a scenario; the scenario's seed fixes every random draw."""
    sites, cells = build_network(scenario)
    return build_twin_on(scenario, sites, cells, prune=prune)


def build_twin_on(
    scenario: Scenario, sites: tuple[Site, ...], cells: tuple[Cell, ...], *, prune: bool = True
) -> Twin:
    """Build the twin of given sites and cells (a preset's lattice or an operator's topology).

    The scenario describes everything else (UE drop, traffic, environment); its seed fixes
    every random draw. ``prune=False`` finds each UE's strongest cells by the exhaustive
    search instead of the bounded one (the same cells; kept as the reference).
    """
    rng = np.random.default_rng(np.random.SeedSequence([scenario.seed, 0x7217]))
    arrays = cell_arrays(sites, cells, scenario.site_power)
    site_xy_m = np.array([(s.x_m, s.y_m) for s in sites])
    ues = drop_ues(scenario, site_xy_m, rng)
    shifts_m = (
        hex_wrap_shifts_m(scenario.num_sites, scenario.isd_m)
        if scenario.wrap_around and scenario.layout == "hexagonal"
        else None
    )
    link = compute_link_budget(scenario, site_xy_m, arrays, ues, rng, shifts_m, prune=prune)
    traffic = build_traffic(scenario, ues, rng)
    noise_w = dbm_to_w(noise_power_dbm(arrays.occupied_bandwidth_hz, scenario.ue_noise_figure_db))
    return Twin(
        scenario=scenario,
        sites=sites,
        cells=cells,
        arrays=arrays,
        ues=ues,
        link=link,
        traffic=traffic,
        noise_w=noise_w,
    )
