"""Hexagonal multi-site layouts (TR 38.901 clause 7.2: hexagonal grid, 3 sectors per site)."""

import numpy as np

from ranopt.errors import ValidationError
from ranopt.twin.units import FloatArray

SECTOR_AZIMUTHS_DEG: tuple[float, float, float] = (
    30.0,
    150.0,
    270.0,
)  # TR 38.901 Fig. 7.2-1 (clockwise from north)


def hex_site_count(num_rings: int) -> int:
    """Return the site count of a hexagonal layout with ``num_rings`` rings around the centre."""
    return 3 * num_rings * (num_rings + 1) + 1


def rings_for_site_count(num_sites: int) -> int:
    """Return the ring count giving exactly ``num_sites`` sites (1, 7, 19, 37, 61, ...)."""
    rings = 0
    while hex_site_count(rings) < num_sites:
        rings += 1
    if hex_site_count(rings) != num_sites:
        valid = ", ".join(str(hex_site_count(r)) for r in range(8))
        msg = f"sites must be a hexagonal count ({valid}, ...), got {num_sites}"
        raise ValidationError(msg)
    return rings


def hex_site_positions_m(num_sites: int, isd_m: float) -> FloatArray:
    """Return site positions ``[num_sites, 2]`` (x east, y north) in metres, centre site first.

    Sites sit on a triangular lattice with neighbours ``isd_m`` apart, filled ring by ring.
    """
    rings = rings_for_site_count(num_sites)
    # axial lattice coordinates (q, r) sorted by ring, then by angle, for a stable order
    coords = [
        (q, r)
        for q in range(-rings, rings + 1)
        for r in range(max(-rings, -q - rings), min(rings, -q + rings) + 1)
    ]

    def ring_then_angle(qr: tuple[int, int]) -> tuple[int, float]:
        q, r = qr
        x, y = q + r / 2.0, r * np.sqrt(3.0) / 2.0
        return max(abs(q), abs(r), abs(q + r)), float(np.arctan2(y, x) % (2 * np.pi))

    coords.sort(key=ring_then_angle)
    qr = np.array(coords, dtype=np.float64)
    # [num_sites, 2]
    return np.column_stack((qr[:, 0] + qr[:, 1] / 2.0, qr[:, 1] * np.sqrt(3.0) / 2.0)) * isd_m


def inside_site_hexagon(dx_m: FloatArray, dy_m: FloatArray, isd_m: float) -> FloatArray:
    """Return whether offsets from a site lie inside its hexagonal (Voronoi) cell of the lattice.

    The cell is bounded by the perpendicular bisectors to the six neighbours, at ``isd_m / 2``.
    """
    inside = np.ones(np.broadcast_shapes(dx_m.shape, dy_m.shape), dtype=bool)
    for angle_rad in (0.0, np.pi / 3.0, 2.0 * np.pi / 3.0):
        inside &= np.abs(dx_m * np.cos(angle_rad) + dy_m * np.sin(angle_rad)) <= isd_m / 2.0
    return inside


def hex_wrap_shifts_m(num_sites: int, isd_m: float) -> FloatArray:
    """Return the 7 translations ``[7, 2]`` of the wrap-around layout, the identity first.

    ITU-R M.2412 / TR 38.901 system-level practice: the hexagonal network of ``R`` rings tiles
    the plane with copies shifted by the six rotations of the lattice vector ``(2R + 1, -R)``
    (axial coordinates, length ``sqrt(num_sites) * isd_m``); a UE sees each site at the
    nearest of its seven copies, so an edge site has as many neighbours as the centre one.
    """
    rings = rings_for_site_count(num_sites)
    q, r = 2 * rings + 1, -rings
    shifts = [(0.0, 0.0)]
    for _ in range(6):
        # axial to Cartesian (x east, y north), in units of isd_m
        shifts.append((q + r / 2.0, r * np.sqrt(3.0) / 2.0))
        q, r = -r, q + r  # rotate by 60 degrees in axial coordinates
    return np.asarray(shifts, dtype=np.float64) * isd_m
