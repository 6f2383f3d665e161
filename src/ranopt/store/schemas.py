"""Boundary models (pydantic v2), separate from the tables: the topology file format and outputs.

Topology file (``FILE.topology.json``, format ``ranopt-topology/1``)::

    {
      "format": "ranopt-topology/1",
      "network": {"name": "large-s0", "interval_s": 900, "dn_prefix": "DC=...,SubNetwork=..."},
      "sites": [{"name": "S000", "x_m": 0.0, "y_m": 0.0, "height_m": 25.0}],
      "cells": [{
        "name": "S000-1-cov", "site": "S000",
        "dn": "DC=...,SubNetwork=...,ManagedElement=S000,GNBDUFunction=1,NRCellDU=1",
        "cu_dn": "DC=...,ManagedElement=S000,GNBCUCPFunction=1,NRCellCU=1",
        "nci": 16385, "layer": "coverage", "sector": 0, "azimuth_deg": 30.0,
        "carrier_ghz": 2.1, "bandwidth_mhz": 20.0, "scs_khz": 15, "num_prb": 106,
        "max_tx_power_w": 80.0, "x_m": 0.0, "y_m": 0.0, "height_m": 25.0
      }],
      "slices": [{"name": "eMBB", "sst": 1, "sd": null}]
    }

``dn`` is the cell's full distinguished name (TS 32.300) as PM files and VES events name it;
``cu_dn`` (optional) the DN of its NRCellCU, whose counters (RRC, PDCP) are merged into the
same samples; ``nci`` the 36-bit NR cell identity (TS 38.413: gNB id and local cell id).
``x_m``/``y_m``/``height_m`` of a cell default to its site's. A site is placed by ``x_m``/``y_m``
(metres east/north of the network's origin) or, when no site of the file has them, by
``latitude_deg``/``longitude_deg`` (WGS 84, projected to a local plane about the sites'
centroid when the network is created). ``tilt_deg`` (total antenna downtilt, degrees below
the horizon) is optional; a missing one takes the layer's default in the planning model.
"""

import unicodedata
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

TOPOLOGY_FORMAT = "ranopt-topology/1"
MAX_NCI = 2**36 - 1
# control, format (bidi overrides, zero-width), line/paragraph separators, lone surrogates
FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})


def check_text(value: str) -> str:
    """Refuse text with control or formatting characters, or blank at either end.

    A name with a NUL, a bidi override (U+202E) or only whitespace looks like another name
    (or like nothing) in a table, a log or a terminal.
    """
    if not value.strip():
        msg = "must not be empty or only whitespace"
        raise ValueError(msg)
    if value != value.strip():
        msg = "must not start or end with whitespace"
        raise ValueError(msg)
    for ch in value:
        if unicodedata.category(ch) in FORBIDDEN_CATEGORIES:
            msg = f"contains the control or formatting character U+{ord(ch):04X}"
            raise ValueError(msg)
    return value


def check_text_or_empty(value: str) -> str:
    """``check_text``, or the empty string (an optional field left empty)."""
    return check_text(value) if value else value


# a name people read (network, site, cell, slice, key): 1-100 printable characters
Name = Annotated[str, StringConstraints(min_length=1, max_length=100), AfterValidator(check_text)]
# a distinguished name (TS 32.300) or another identifier of up to 400 characters
LongText = Annotated[
    str, StringConstraints(min_length=1, max_length=400), AfterValidator(check_text)
]
# numbers at the boundary: a number (never a bool or a string), finite
Real = Annotated[float, Field(strict=True, allow_inf_nan=False)]
Count = Annotated[int, Field(strict=True)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NetworkIn(_Model):
    """The network header of a topology file."""

    name: Name
    interval_s: Count = Field(default=900, gt=0, le=86_400, description="granularity period, s")
    dn_prefix: Annotated[str, AfterValidator(check_text_or_empty)] = Field(
        default="", max_length=400, description="the DN every cell's DN starts with"
    )


class SiteIn(_Model):
    """A site of a topology file."""

    name: Name
    x_m: Real | None = Field(default=None, ge=-1e7, le=1e7)
    y_m: Real | None = Field(default=None, ge=-1e7, le=1e7)
    height_m: Real = Field(ge=0, le=1e4)
    latitude_deg: Real | None = Field(default=None, ge=-90, le=90)
    longitude_deg: Real | None = Field(default=None, ge=-180, le=180)


class CellIn(_Model):
    """A cell of a topology file."""

    name: Name
    site: Name
    dn: LongText
    cu_dn: LongText | None = None
    nci: Count | None = Field(default=None, ge=0, le=MAX_NCI)
    layer: Literal["coverage", "capacity"]
    sector: Count = Field(default=0, ge=0, le=64)
    azimuth_deg: Real = Field(ge=0, lt=360)
    carrier_ghz: Real = Field(gt=0, le=100)
    bandwidth_mhz: Real = Field(gt=0, le=400)
    scs_khz: Count = Field(default=30, gt=0, le=960)
    num_prb: Count = Field(gt=0, le=275)
    max_tx_power_w: Real = Field(gt=0, le=1e5)
    x_m: Real | None = Field(default=None, ge=-1e7, le=1e7)
    y_m: Real | None = Field(default=None, ge=-1e7, le=1e7)
    height_m: Real | None = Field(default=None, ge=0, le=1e4)
    tilt_deg: Real | None = Field(default=None, ge=-20, le=90, description="downtilt, deg")


class SliceIn(_Model):
    """A slice of a topology file (S-NSSAI: SST 0-255, SD 6 hex digits)."""

    name: Name
    sst: Count = Field(ge=0, le=255)
    sd: str | None = Field(default=None, pattern=r"^[0-9a-fA-F]{6}$")


class TopologyIn(_Model):
    """A whole topology file; names, DNs and NCIs are unique within it."""

    format: Literal["ranopt-topology/1"] = "ranopt-topology/1"
    network: NetworkIn
    sites: list[SiteIn] = Field(min_length=1)
    cells: list[CellIn] = Field(min_length=1)
    slices: list[SliceIn] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_and_linked(self) -> "TopologyIn":
        site_names = [s.name for s in self.sites]
        _require_unique("sites[].name", site_names)
        _require_unique("cells[].name", [c.name for c in self.cells])
        _require_unique("cells[].dn", [c.dn for c in self.cells])
        _require_unique("cells[].cu_dn", [c.cu_dn for c in self.cells if c.cu_dn])
        _require_unique("cells[].nci", [c.nci for c in self.cells if c.nci is not None])
        _require_unique("slices[].name", [s.name for s in self.slices])
        _require_placed(self.sites)
        known = set(site_names)
        prefix = self.network.dn_prefix
        for i, cell in enumerate(self.cells):
            if cell.site not in known:
                msg = f"cells[{i}].site: unknown site {cell.site!r}"
                raise ValueError(msg)
            for field, dn in (("dn", cell.dn), ("cu_dn", cell.cu_dn)):
                if prefix and dn is not None and not dn.startswith(prefix + ","):
                    msg = (
                        f"cells[{i}].{field}: {dn!r} is not under the network's dn_prefix "
                        f"{prefix!r} (another SubNetwork?)"
                    )
                    raise ValueError(msg)
        return self


def _require_placed(sites: list[SiteIn]) -> None:
    """Every site by x_m/y_m, or none by x_m/y_m and every one by latitude/longitude."""
    with_xy = [s.x_m is not None and s.y_m is not None for s in sites]
    if all(with_xy):
        return
    for i, site in enumerate(sites):
        if with_xy[i] or (site.x_m is None) != (site.y_m is None):
            msg = (
                f"sites[{i}].x_m: give x_m and y_m for every site, or for none (then "
                "latitude_deg and longitude_deg for every site)"
            )
            raise ValueError(msg)
        if site.latitude_deg is None or site.longitude_deg is None:
            msg = f"sites[{i}].latitude_deg: site {site.name!r} has no position"
            raise ValueError(msg)


def _require_unique(field: str, values: list[str] | list[int]) -> None:
    seen: set[object] = set()
    for value in values:
        if value in seen:
            msg = f"{field}: duplicate {value!r}"
            raise ValueError(msg)
        seen.add(value)


class NetworkOut(_Model):
    """A stored network (what the repository returns, never the table row itself)."""

    id: int
    tenant_id: int
    name: str
    interval_s: int
    dn_prefix: str
    num_cells: int
