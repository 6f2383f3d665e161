"""The declared KPI counter schema: TS 28.552 names, stored units, valid ranges, aggregation.

This table is data (like the element schema): the store derives its typed columns from it,
ingestion validates units and ranges against it, and queries downsample each counter by its
``aggregation`` (a gauge is averaged, a volume or an energy is summed, a peak is maxed).
Counters not listed here are kept in a sample's ``extra`` JSON map; per-slice or per-PLMN
sub-counters of a listed counter (``RRU.PrbUsedDl.01``, TS 28.552 clause 3.4 "subcounters")
are range-checked and unit-converted like their base counter and kept in ``extra`` too.
"""

from dataclasses import dataclass, field
from typing import Literal

Aggregation = Literal["mean", "max", "sum"]


@dataclass(frozen=True)
class Counter:
    """One standard counter and its typed column in ``kpi_samples``."""

    name: str  # TS 28.552 measurement name (``VS.`` prefix: vendor specific, TS 32.404)
    column: str  # typed column of kpi_samples; carries the stored unit in its name
    unit: str  # stored unit
    standard_unit: str  # unit of the standard, assumed when an input declares none
    min_value: float
    max_value: float
    aggregation: Aggregation  # over time, within one cell (downsampling)
    across_cells: Aggregation  # over the cells of a network, within one interval
    clause: str  # TS 28.552 clause
    description: str
    # accepted unit spellings -> factor converting a value in that unit to the stored unit
    units: dict[str, float] = field(default_factory=dict)

    def factor(self, unit: str | None) -> float | None:
        """Return the factor to the stored unit, or None if ``unit`` is not accepted."""
        if unit is None or unit == "":
            return self.units[self.standard_unit]
        return self.units.get(unit)


# A cell is at most 275 PRBs wide (TS 38.101-1/-2 N_RB maxima).
MAX_NUM_PRB = 275.0

COUNTERS: tuple[Counter, ...] = (
    Counter(
        name="RRU.PrbUsedDl",
        column="prb_used_dl",
        unit="PRB",
        standard_unit="PRB",
        min_value=0.0,
        max_value=MAX_NUM_PRB,
        aggregation="mean",
        across_cells="sum",
        clause="5.1.1.2.5",
        description="mean number of DL PRBs used for data traffic",
        units={"PRB": 1.0, "1": 1.0},
    ),
    Counter(
        name="RRU.PrbAvailDl",
        column="prb_avail_dl",
        unit="PRB",
        standard_unit="PRB",
        min_value=0.0,
        max_value=MAX_NUM_PRB,
        aggregation="mean",
        across_cells="sum",
        clause="5.1.1.2.6",
        description="mean number of DL PRBs available for data traffic",
        units={"PRB": 1.0, "1": 1.0},
    ),
    Counter(
        name="RRU.PrbTotDl",
        column="prb_tot_dl_pct",
        unit="%",
        standard_unit="%",
        min_value=0.0,
        max_value=100.0,
        aggregation="mean",
        across_cells="mean",
        clause="5.1.1.2.1",
        description="DL total PRB usage, percent of available PRBs",
        units={"%": 1.0, "percent": 1.0},
    ),
    Counter(
        name="DRB.UEThpDl",
        column="ue_thp_dl_mbps",
        unit="Mbit/s",
        standard_unit="kbit/s",
        min_value=0.0,
        max_value=100_000.0,
        aggregation="mean",
        across_cells="mean",
        clause="5.1.1.3.1",
        description="average DL UE throughput",
        units={"kbit/s": 1e-3, "kbps": 1e-3, "Mbit/s": 1.0, "Mbps": 1.0},
    ),
    Counter(
        name="RRC.ConnMean",
        column="rrc_conn_mean",
        unit="UE",
        standard_unit="UE",
        min_value=0.0,
        max_value=100_000.0,
        aggregation="mean",
        across_cells="sum",
        clause="5.1.1.4.1",
        description="mean number of RRC connections",
        units={"UE": 1.0, "1": 1.0},
    ),
    Counter(
        name="PEE.AvgPower",
        column="pee_avg_power_w",
        unit="W",
        standard_unit="W",
        min_value=0.0,
        max_value=100_000.0,
        aggregation="mean",
        across_cells="sum",
        clause="5.1.1.19.2.1",
        description="average power consumed over the interval",
        units={"W": 1.0, "kW": 1e3},
    ),
    Counter(
        name="PEE.Energy",
        column="pee_energy_kwh",
        unit="kWh",
        standard_unit="kWh",
        min_value=0.0,
        max_value=1_000.0,
        aggregation="sum",
        across_cells="sum",
        clause="5.1.1.19.3",
        description="energy consumed over the interval",
        units={"kWh": 1.0, "Wh": 1e-3, "J": 1.0 / 3.6e6},
    ),
    Counter(
        name="DRB.PdcpSduVolumeDL",
        column="dl_volume_mbit",
        unit="Mbit",
        standard_unit="Mbit",
        min_value=0.0,
        max_value=1e8,
        aggregation="sum",
        across_cells="sum",
        clause="5.1.2.1.1.1",
        description="DL PDCP SDU data volume (served volume)",
        units={"Mbit": 1.0, "kbit": 1e-3, "Gbit": 1e3},
    ),
    Counter(
        name="VS.OfferedVolumeDl",
        column="offered_dl_volume_mbit",
        unit="Mbit",
        standard_unit="Mbit",
        min_value=0.0,
        max_value=1e8,
        aggregation="sum",
        across_cells="sum",
        clause="vendor specific (ranopt twin)",
        description="DL volume the cell's UEs asked for (served plus unserved)",
        units={"Mbit": 1.0, "kbit": 1e-3, "Gbit": 1e3},
    ),
)

COUNTER_BY_NAME: dict[str, Counter] = {c.name: c for c in COUNTERS}
COUNTER_BY_COLUMN: dict[str, Counter] = {c.column: c for c in COUNTERS}
COUNTER_COLUMNS: tuple[str, ...] = tuple(c.column for c in COUNTERS)


def base_counter(name: str) -> tuple[Counter, str] | None:
    """Return the catalogue counter and sub-counter suffix of ``name``, if it has one.

    ``RRU.PrbUsedDl.010003e8`` -> (RRU.PrbUsedDl, ``010003e8``): the suffix is the
    sub-counter's key (an S-NSSAI, a PLMN id, a QoS class) as the RAN wrote it.
    """
    head, sep, suffix = name.rpartition(".")
    if sep and head in COUNTER_BY_NAME and suffix:
        return COUNTER_BY_NAME[head], suffix
    return None
