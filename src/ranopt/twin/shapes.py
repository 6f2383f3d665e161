"""Network shapes beyond the hexagonal presets: a preset's topology, perturbed.

Sites moved off the lattice, sites removed, sectors turned and tilted: the irregular layouts
that calibration must handle, as topology records (``ranopt.twin.topology``) from which a
twin with its own seed plays the network in tests and benchmarks.
"""

from dataclasses import dataclass, replace

import numpy as np

from ranopt.errors import ValidationError
from ranopt.twin.layout import hex_site_count
from ranopt.twin.network import build_network
from ranopt.twin.scenario import Scenario
from ranopt.twin.topology import CellRecord, SiteRecord


@dataclass(frozen=True)
class Perturbation:
    """How far a shape departs from its hexagonal preset."""

    position_sigma_m: float = 0.0  # Gaussian displacement of each site, per axis
    removed_sites: int = 0  # sites taken out (never the centre site)
    azimuth_sigma_deg: float = 0.0  # Gaussian turn of each site's sectors (one per site)
    tilt_sigma_deg: float = 0.0  # Gaussian change of each cell's downtilt
    height_range_m: tuple[float, float] | None = None  # antenna heights drawn uniformly

    def __post_init__(self) -> None:
        """Reject negative spreads."""
        if min(self.position_sigma_m, self.azimuth_sigma_deg, self.tilt_sigma_deg) < 0:
            msg = "Perturbation sigmas must be >= 0"
            raise ValidationError(msg)
        if self.removed_sites < 0:
            msg = f"removed_sites must be >= 0, got {self.removed_sites}"
            raise ValidationError(msg)


def preset_records(scenario: Scenario) -> tuple[list[SiteRecord], list[CellRecord]]:
    """Return a hexagonal scenario's network as topology records (every field given)."""
    sites, cells = build_network(scenario)
    site_records = [
        SiteRecord(name=s.name, x_m=s.x_m, y_m=s.y_m, height_m=s.height_m) for s in sites
    ]
    cell_records = [
        CellRecord(
            name=c.name,
            site=sites[c.site].name,
            layer=c.layer,
            sector=c.sector,
            azimuth_deg=c.azimuth_deg,
            tilt_deg=c.total_tilt_deg,
            carrier_ghz=c.carrier_ghz,
            bandwidth_mhz=c.bandwidth_mhz,
            scs_khz=c.scs_khz,
            num_prb=c.num_prb,
            max_tx_power_w=c.power.max_tx_power_w,
        )
        for c in cells
    ]
    return site_records, cell_records


def perturbed_records(
    scenario: Scenario, perturbation: Perturbation, rng: np.random.Generator
) -> tuple[list[SiteRecord], list[CellRecord]]:
    """Return the scenario's topology records with sites moved, removed, turned and tilted."""
    sites, cells = preset_records(scenario)
    if perturbation.removed_sites >= len(sites):
        msg = f"removed_sites must leave a site, got {perturbation.removed_sites} of {len(sites)}"
        raise ValidationError(msg)
    removed = set(
        rng.choice(
            np.arange(1, len(sites)), size=perturbation.removed_sites, replace=False
        ).tolist()
        if perturbation.removed_sites
        else []
    )
    turn_deg = rng.normal(0.0, perturbation.azimuth_sigma_deg, size=len(sites))
    kept_sites: list[SiteRecord] = []
    for i, s in enumerate(sites):
        dx, dy = rng.normal(0.0, perturbation.position_sigma_m, size=2)
        height = s.height_m
        if perturbation.height_range_m is not None:
            height = float(rng.uniform(*perturbation.height_range_m))
        if i in removed:
            continue
        kept_sites.append(
            SiteRecord(
                name=s.name, x_m=float(s.x_m or 0.0) + dx, y_m=float(s.y_m or 0.0) + dy,
                height_m=height,
            )
        )  # fmt: skip
    index = {s.name: i for i, s in enumerate(sites)}
    kept = {s.name for s in kept_sites}
    kept_cells = []
    for c in cells:
        tilt = float(c.tilt_deg or 0.0) + float(rng.normal(0.0, perturbation.tilt_sigma_deg))
        if c.site not in kept:
            continue
        kept_cells.append(
            CellRecord(
                name=c.name, site=c.site, layer=c.layer, sector=c.sector,
                azimuth_deg=(float(c.azimuth_deg or 0.0) + turn_deg[index[c.site]]) % 360.0,
                tilt_deg=max(tilt, 0.0), carrier_ghz=c.carrier_ghz,
                bandwidth_mhz=c.bandwidth_mhz, scs_khz=c.scs_khz, num_prb=c.num_prb,
                max_tx_power_w=c.max_tx_power_w,
            )
        )  # fmt: skip
    return kept_sites, kept_cells


def irregular_records(
    rng: np.random.Generator, positions_m: np.ndarray, coverage_only: set[int]
) -> tuple[list[SiteRecord], list[CellRecord]]:
    """Sites at ``positions_m`` (``[S, 2]``), the first with 4 sectors, the rest 3.

    Heights, sector orientations and tilts are drawn from ``rng``; the sites in
    ``coverage_only`` (indices) have no capacity layer. Coverage cells are 20 MHz at 1.8 GHz,
    40 W; capacity cells 100 MHz at 3.5 GHz, 200 W.
    """
    sites = [
        SiteRecord(
            name=f"X{i:02d}", x_m=float(x), y_m=float(y), height_m=float(rng.uniform(20, 32))
        )
        for i, (x, y) in enumerate(positions_m)
    ]
    cells = []
    for i, site in enumerate(sites):
        sectors = 4 if i == 0 else 3
        azimuths = rng.uniform(0, 360) + np.arange(sectors) * 360.0 / sectors
        layers = ("coverage",) if i in coverage_only else ("coverage", "capacity")
        for layer in layers:
            for k, azimuth in enumerate(azimuths):
                cells.append(
                    CellRecord(
                        name=f"{site.name}-{k}-{layer[:3]}", site=site.name, layer=layer,
                        sector=k, azimuth_deg=float(azimuth % 360.0),
                        tilt_deg=float(rng.uniform(6, 12)),
                        carrier_ghz=1.8 if layer == "coverage" else 3.5,
                        bandwidth_mhz=20.0 if layer == "coverage" else 100.0,
                        scs_khz=15 if layer == "coverage" else 30,
                        max_tx_power_w=40.0 if layer == "coverage" else 200.0,
                    )
                )  # fmt: skip
    return sites, cells


# A large irregular network (issue 16's scale benchmark): a hexagonal lattice with a share of
# its sites missing, the rest moved by a third of the spacing, turned, tilted and raised
SYNTHETIC_SHAPE = Perturbation(
    position_sigma_m=0.3 * 500.0,  # 500 m: the UMa ISD of the presets (TR 38.901 Table 7.2-1)
    azimuth_sigma_deg=30.0,
    tilt_sigma_deg=1.5,
    height_range_m=(20.0, 40.0),
)
SYNTHETIC_MISSING_SHARE = 0.05


def synthetic_records(
    num_cells: int,
    rng: np.random.Generator,
    *,
    shape: Perturbation = SYNTHETIC_SHAPE,
    missing_share: float = SYNTHETIC_MISSING_SHARE,
) -> tuple[list[SiteRecord], list[CellRecord]]:
    """Topology records of an irregular network of about ``num_cells`` cells, from ``rng``.

    The sites needed for ``num_cells`` (six cells each: two layers, three sectors) are what is
    left of the smallest hexagonal lattice that has at least ``missing_share`` more sites, the
    others taken out at random; the rest are perturbed by ``shape`` (``perturbed_records``).
    10 000 cells: 1 667 sites of a 1 801-site lattice (134 missing).
    """
    if num_cells < 1 or not 0.0 <= missing_share < 1.0:
        msg = (
            f"num_cells must be >= 1 and missing_share in [0, 1), got {num_cells}, {missing_share}"
        )
        raise ValidationError(msg)
    base = Scenario(name="synthetic", num_sites=1, num_ues=1)
    cells_per_site = 3 * len(base.layers)
    kept = -(-num_cells // cells_per_site)
    rings = 0
    while hex_site_count(rings) < kept / (1.0 - missing_share):
        rings += 1
    lattice = hex_site_count(rings)
    scenario = Scenario(name="synthetic", num_sites=lattice, num_ues=1)
    return perturbed_records(scenario, replace(shape, removed_sites=lattice - kept), rng)
