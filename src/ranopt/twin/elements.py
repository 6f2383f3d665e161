"""The declared element schema: sites, cells and their power models, each field with its unit.

These frozen dataclasses are what a network *is* (a preset layout or an operator's topology);
``ranopt.twin.network.CellArrays`` turns them into contiguous arrays once for the kernels.
"""

from dataclasses import dataclass, field
from typing import Literal

from ranopt.errors import ValidationError

Layer = Literal["coverage", "capacity"]
LAYERS: tuple[Layer, ...] = ("coverage", "capacity")
Duplex = Literal["FDD", "TDD"]
SLICES: tuple[str, ...] = ("eMBB", "URLLC", "mMTC")

# TS 38.101-1 Table 5.3.2-1: maximum transmission bandwidth configuration N_RB (FR1)
MAX_NUM_PRB: dict[tuple[int, int], int] = {
    (15, 5): 25, (15, 10): 52, (15, 15): 79, (15, 20): 106, (15, 25): 133, (15, 30): 160,
    (15, 35): 188, (15, 40): 216, (15, 45): 242, (15, 50): 270,
    (30, 5): 11, (30, 10): 24, (30, 15): 38, (30, 20): 51, (30, 25): 65, (30, 30): 78,
    (30, 35): 92, (30, 40): 106, (30, 45): 119, (30, 50): 133, (30, 60): 162, (30, 70): 189,
    (30, 80): 217, (30, 90): 245, (30, 100): 273,
}  # fmt: skip


def num_prb_for(scs_khz: int, bandwidth_mhz: float) -> int:
    """Return the PRB count of a carrier from TS 38.101-1 Table 5.3.2-1."""
    key = (int(scs_khz), int(bandwidth_mhz))
    if float(bandwidth_mhz) != key[1] or key not in MAX_NUM_PRB:
        msg = (
            f"no TS 38.101-1 N_RB for scs_khz={scs_khz}, bandwidth_mhz={bandwidth_mhz} "
            "(channel bandwidths are whole MHz from Table 5.3.2-1)"
        )
        raise ValidationError(msg)
    return MAX_NUM_PRB[key]


@dataclass(frozen=True)
class PowerModel:
    """Linear base-station power model per transceiver chain (EARTH form, Auer et al. 2011).

    ``P_in = N_TRX (P0 + delta_p P_out)`` when active, ``N_TRX P_sleep`` asleep, where
    ``P_out`` is the RF output power of one chain.
    """

    num_trx: int  # transceiver chains of the cell (antenna ports), count
    max_tx_power_per_trx_w: float  # P_max of one chain, W
    p0_w: float  # power at zero RF output of one chain, W
    delta_p: float  # slope of load-dependent power, W per W of RF output
    p_sleep_w: float  # power of one chain in (deep) sleep, W
    source: str = ""  # citation of the parameter set
    # power of one chain in light sleep, W (None: the model has one sleep state, p_sleep_w)
    p_light_sleep_w: float | None = None
    # share of the active power that does not scale with the transceiver chains in use (MIMO
    # muting, TR 38.864 cl. 5.1 spatial-domain scaling); 1 means muting saves nothing
    spatial_static_share: float = 1.0
    # share of the input power lost in the rectifier before the equipment (0: the model's
    # figures are already at the mains, as EARTH's are)
    supply_loss: float = 0.0

    def __post_init__(self) -> None:
        """Reject parameters outside their physical domain."""
        for name in ("num_trx", "max_tx_power_per_trx_w", "p0_w", "delta_p"):
            if getattr(self, name) <= 0:
                msg = f"PowerModel.{name} must be > 0, got {getattr(self, name)!r}"
                raise ValidationError(msg)
        if not 0 <= self.p_sleep_w <= self.p0_w:
            msg = f"PowerModel.p_sleep_w must lie in [0, p0_w], got {self.p_sleep_w!r}"
            raise ValidationError(msg)
        light = self.p_light_sleep_w
        if light is not None and not self.p_sleep_w <= light <= self.p0_w:
            msg = f"PowerModel.p_light_sleep_w must lie in [p_sleep_w, p0_w], got {light!r}"
            raise ValidationError(msg)
        if not 0.0 <= self.spatial_static_share <= 1.0:
            msg = (
                "PowerModel.spatial_static_share must lie in [0, 1], "
                f"got {self.spatial_static_share!r}"
            )
            raise ValidationError(msg)
        if not 0.0 <= self.supply_loss < 1.0:
            msg = f"PowerModel.supply_loss must lie in [0, 1), got {self.supply_loss!r}"
            raise ValidationError(msg)

    @property
    def light_sleep_w(self) -> float:
        """Power of one chain in light sleep, W (the deep-sleep figure if there is no light)."""
        return self.p_sleep_w if self.p_light_sleep_w is None else self.p_light_sleep_w

    @property
    def max_tx_power_w(self) -> float:
        """Total RF output power of the cell at full load, W."""
        return self.num_trx * self.max_tx_power_per_trx_w


@dataclass(frozen=True)
class Site:
    """A location with antennas at one height."""

    name: str
    x_m: float  # east, m
    y_m: float  # north, m
    height_m: float  # antenna height above ground, m


@dataclass(frozen=True)
class Cell:
    """One sector on one carrier (an NRCellDU with its NRSectorCarrier)."""

    name: str
    site: int  # index into the network's sites
    sector: int  # 0, 1, 2
    layer: Layer
    azimuth_deg: float  # boresight, degrees clockwise from north
    carrier_ghz: float  # DL carrier centre frequency, GHz
    bandwidth_mhz: float  # channel bandwidth, MHz
    scs_khz: int  # subcarrier spacing, kHz
    duplex: Duplex
    dl_duty: float  # share of time-frequency resources used for DL (1 for FDD)
    mech_tilt_deg: float  # mechanical downtilt, degrees below horizon
    elec_tilt_deg: float  # electrical downtilt, degrees below horizon
    array_gain_db: float  # beam gain over one element toward the served UE, dB
    interference_array_gain_db: float  # mean beam gain toward UEs of other cells, dB
    power: PowerModel
    num_prb: int = field(default=0)  # N_RB, TS 38.101-1 Table 5.3.2-1 (derived when 0)
    # gain of the SSB (broadcast) beam over one element toward the UE, dB: what RSRP and cell
    # selection see (None: the data-beam gain, array_gain_db)
    ssb_gain_db: float | None = None
    band: str = ""  # NR operating band, e.g. "n78" (TS 38.101-1 Table 5.2-1)
    # TS 38.304 cl. 5.2.4.5: cellReselectionPriority (0-7) and threshX-HighP (dB above
    # Q_rxlevmin) that a UE's SSB RSRP must exceed to camp on this higher-priority layer
    reselection_priority: int = 0
    thresh_high_db: float = 0.0
    max_layers: int = 1  # SU-MIMO layers: min(antenna ports, UE receive antennas)
    mu_mimo_max_users: int = 1  # UEs co-scheduled on one PRB with all chains in use (1: none)
    # transceiver-chain counts the cell may run (MIMO muting); () means always all of them
    mimo_trx_options: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        """Validate the cell and derive its PRB count."""
        if self.layer not in LAYERS:
            msg = f"Cell.layer must be one of {LAYERS}, got {self.layer!r}"
            raise ValidationError(msg)
        if not 1 <= self.max_layers <= 4 or self.mu_mimo_max_users < 1:
            msg = (
                f"Cell {self.name!r}: max_layers must lie in [1, 4] and mu_mimo_max_users be "
                f">= 1, got {self.max_layers} and {self.mu_mimo_max_users}"
            )
            raise ValidationError(msg)
        bad = [n for n in self.mimo_trx_options if not 1 <= n <= self.power.num_trx]
        if bad:
            msg = (
                f"Cell {self.name!r}: mimo_trx_options must lie in [1, {self.power.num_trx}], "
                f"got {bad}"
            )
            raise ValidationError(msg)
        if not 0 < self.dl_duty <= 1:
            msg = f"Cell.dl_duty must lie in (0, 1], got {self.dl_duty!r}"
            raise ValidationError(msg)
        if self.carrier_ghz <= 0 or self.bandwidth_mhz <= 0:
            msg = f"Cell {self.name!r}: carrier_ghz and bandwidth_mhz must be > 0"
            raise ValidationError(msg)
        if self.num_prb == 0:
            object.__setattr__(self, "num_prb", num_prb_for(self.scs_khz, self.bandwidth_mhz))

    @property
    def total_tilt_deg(self) -> float:
        """Mechanical plus electrical downtilt, degrees."""
        return self.mech_tilt_deg + self.elec_tilt_deg

    @property
    def occupied_bandwidth_hz(self) -> float:
        """Bandwidth of the N_RB resource blocks (12 subcarriers each), Hz."""
        return self.num_prb * 12 * self.scs_khz * 1e3
