"""The slice of the TS 28.541 NR NRM that ranopt reads and writes over O1, declared as data.

Namespaces and containment follow the YANG modules of TS 28.541 / TS 28.623 (the
``_3gpp-*`` modules, revision 2021): ``ManagedElement`` holds ``GNBDUFunction`` (with
``NRCellDU`` and ``NRSectorCarrier``) and ``GNBCUCPFunction`` (with ``NRCellCU``, which holds
``CESManagementFunction`` and ``NRCellRelation``); ``RRMPolicyRatio`` is a top-level list in
this revision of ``_3gpp-nr-nrm-rrmpolicy``. Every object is a list entry keyed by ``id``
whose configuration and state sit in its ``attributes`` container.

``WRITABLE`` declares each attribute ranopt edits with the values its YANG type allows; the
client refuses any other value before it sends anything, and the emulator refuses it in
``edit-config``. ``tests/southbound/test_nrm_yang.py`` checks this table against the YANG
modules compiled with pyang and yangson, so it cannot drift from the standard.
"""

import re
from dataclasses import dataclass

from ranopt.errors import ValidationError

NETCONF_NS = "urn:ietf:params:xml:ns:netconf:base:1.0"
_SA5 = "urn:3gpp:sa5:"
NS: dict[str, str] = {
    "ManagedElement": _SA5 + "_3gpp-common-managed-element",
    "GNBDUFunction": _SA5 + "_3gpp-nr-nrm-gnbdufunction",
    "GNBCUCPFunction": _SA5 + "_3gpp-nr-nrm-gnbcucpfunction",
    "NRCellDU": _SA5 + "_3gpp-nr-nrm-nrcelldu",
    # the module _3gpp-nr-nrm-nrsectorcarrier declares this namespace (not its own name)
    "NRSectorCarrier": _SA5 + "_3gpp-nr-nrm-nrnetwork-nrsectorcarrier",
    "NRCellCU": _SA5 + "_3gpp-nr-nrm-nrcellcu",
    "CESManagementFunction": _SA5 + "_3gpp-nr-nrm-cesmanagementfunction",
    "NRCellRelation": _SA5 + "_3gpp-nr-nrm-nrcellrelation",
    "RRMPolicyRatio": _SA5 + "_3gpp-nr-nrm-rrmpolicy",
}
# The YANG module (and its newest revision in the 3GPP set) of each namespace, as a NETCONF
# server announces it in its <hello> (RFC 6020 clause 5.6.4).
MODULES: dict[str, tuple[str, str]] = {
    "ManagedElement": ("_3gpp-common-managed-element", "2021-01-16"),
    "GNBDUFunction": ("_3gpp-nr-nrm-gnbdufunction", "2021-10-28"),
    "GNBCUCPFunction": ("_3gpp-nr-nrm-gnbcucpfunction", "2021-11-06"),
    "NRCellDU": ("_3gpp-nr-nrm-nrcelldu", "2021-10-28"),
    "NRSectorCarrier": ("_3gpp-nr-nrm-nrsectorcarrier", "2020-05-28"),
    "NRCellCU": ("_3gpp-nr-nrm-nrcellcu", "2021-01-25"),
    "CESManagementFunction": ("_3gpp-nr-nrm-cesmanagementfunction", "2021-08-05"),
    "NRCellRelation": ("_3gpp-nr-nrm-nrcellrelation", "2021-01-25"),
    "RRMPolicyRatio": ("_3gpp-nr-nrm-rrmpolicy", "2020-11-05"),
}
# Containment below ManagedElement (TS 28.541 Figure 4.2.1.1-1), class -> parent class.
PARENT: dict[str, str | None] = {
    "ManagedElement": None,
    "GNBDUFunction": "ManagedElement",
    "NRCellDU": "GNBDUFunction",
    "NRSectorCarrier": "GNBDUFunction",
    "GNBCUCPFunction": "ManagedElement",
    "NRCellCU": "GNBCUCPFunction",
    "CESManagementFunction": "NRCellCU",
    "NRCellRelation": "NRCellCU",
    "RRMPolicyRatio": None,
}

# TS 28.623 QOffsetRange (TS 38.331 Q-OffsetRange), dB: the values a CIO may take.
Q_OFFSET_RANGE_DB: tuple[int, ...] = (
    -24, -22, -20, -18, -16, -14, -12, -10, -8, -6, -5, -4, -3, -2, -1, 0,
    1, 2, 3, 4, 5, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24,
)  # fmt: skip
PERCENT = tuple(range(101))  # uint8 { range "0..100" } of the RRMPolicyRatio ratios
INT32 = (-(2**31), 2**31 - 1)  # YANG int32


@dataclass(frozen=True)
class Attribute:
    """One NRM attribute ranopt reads or writes: its class, leaf path and allowed values.

    ``leaf`` is the path below the object's ``attributes`` container (``/`` separates a
    container from its leaf); ``allowed`` lists every value the YANG type admits in its XML
    text form (enumeration names or integers), or ``int_range`` bounds an integer type too
    wide to list (``int32``); ``config`` is False for state (``config false``).
    """

    ioc: str
    leaf: str
    allowed: tuple[str, ...]
    config: bool = True
    yang_type: str = ""
    int_range: tuple[int, int] | None = None

    @property
    def key(self) -> str:
        """``IOC.leaf`` (how errors and tables name the attribute)."""
        return f"{self.ioc}.{self.leaf}"

    def admits(self, value: str) -> bool:
        """Whether the YANG type admits ``value`` (its XML text form)."""
        if self.int_range is None:
            return value in self.allowed
        if not re.fullmatch(r"[+-]?\d+", value.strip()):
            return False
        return self.int_range[0] <= int(value) <= self.int_range[1]

    def check(self, value: str) -> str:
        """Return ``value`` if the YANG type admits it, else raise naming attribute and value."""
        if not self.admits(value):
            shown = ", ".join(self.allowed) if 0 < len(self.allowed) <= 8 else self.yang_type
            msg = f"{self.key}: value {value!r} is not allowed by the YANG type ({shown})"
            raise ValidationError(msg)
        return value


def _ints(values: tuple[int, ...]) -> tuple[str, ...]:
    return tuple(str(v) for v in values)


ENERGY_SAVING_CONTROL = Attribute(
    "CESManagementFunction", "energySavingControl", ("toBeEnergySaving", "toBeNotEnergySaving")
)
ENERGY_SAVING_STATE = Attribute(
    "CESManagementFunction", "energySavingState", ("isNotEnergySaving", "isEnergySaving")
)
ADMINISTRATIVE_STATE = Attribute(
    "NRCellDU", "administrativeState", ("LOCKED", "UNLOCKED", "SHUTTINGDOWN")
)
OPERATIONAL_STATE = Attribute("NRCellDU", "operationalState", ("DISABLED", "ENABLED"), config=False)
CELL_STATE = Attribute("NRCellDU", "cellState", ("IDLE", "INACTIVE", "ACTIVE"), config=False)
CELL_INDIVIDUAL_OFFSET = Attribute(
    "NRCellRelation", "cellIndividualOffset/rsrpOffsetSsb", _ints(Q_OFFSET_RANGE_DB),
    yang_type="QOffsetRange: -24..-6 even, -5..5, 6..24 even (dB)",
)  # fmt: skip
RRM_MIN_RATIO = Attribute("RRMPolicyRatio", "rRMPolicyMinRatio", _ints(PERCENT), yang_type="0..100")
RRM_MAX_RATIO = Attribute("RRMPolicyRatio", "rRMPolicyMaxRatio", _ints(PERCENT), yang_type="0..100")
RRM_DEDICATED_RATIO = Attribute(
    "RRMPolicyRatio", "rRMPolicyDedicatedRatio", _ints(PERCENT), yang_type="0..100"
)
# TS 28.541 NRSectorCarrier.configuredMaxTxPower: "maximum transmission power at the antenna
# port for all downlink channels, used simultaneously in a cell, added together", int32, mW.
# The NRM revision ranopt reads has no attribute for muting transceiver chains; ranopt
# conveys MIMO muting with this one (chains x the power of one chain): docs/southbound.md.
CONFIGURED_MAX_TX_POWER = Attribute(
    "NRSectorCarrier", "configuredMaxTxPower", (), yang_type="int32 (mW)", int_range=INT32
)

ATTRIBUTES: tuple[Attribute, ...] = (
    ENERGY_SAVING_CONTROL, ENERGY_SAVING_STATE, ADMINISTRATIVE_STATE, OPERATIONAL_STATE,
    CELL_STATE, CELL_INDIVIDUAL_OFFSET, RRM_MIN_RATIO, RRM_MAX_RATIO, RRM_DEDICATED_RATIO,
    CONFIGURED_MAX_TX_POWER,
)  # fmt: skip
WRITABLE: dict[str, Attribute] = {a.key: a for a in ATTRIBUTES if a.config}
BY_KEY: dict[str, Attribute] = {a.key: a for a in ATTRIBUTES}


# --- object paths and distinguished names -------------------------------------------------


@dataclass(frozen=True)
class ObjectPath:
    """Where an NRM object sits in a datastore: ``(class, id)`` pairs from the root.

    ``ObjectPath((("ManagedElement", "gNB-S000"), ("GNBDUFunction", "1"), ("NRCellDU", "2")))``
    is the local DN ``ManagedElement=gNB-S000,GNBDUFunction=1,NRCellDU=2`` (TS 32.300).
    """

    rdns: tuple[tuple[str, str], ...]

    def __post_init__(self) -> None:
        """Check that the containment follows ``PARENT``."""
        parent: str | None = None
        for ioc, _ in self.rdns:
            if ioc not in PARENT:
                msg = f"dn: class {ioc!r} is not part of the NRM ranopt handles"
                raise ValidationError(msg)
            if PARENT[ioc] != parent:
                msg = f"dn: {ioc} cannot be contained in {parent or 'the root'}"
                raise ValidationError(msg)
            parent = ioc

    @property
    def ioc(self) -> str:
        """The object's class."""
        return self.rdns[-1][0]

    @property
    def local_dn(self) -> str:
        """``Class=id,...`` from the root."""
        return ",".join(f"{c}={i}" for c, i in self.rdns)

    @property
    def element(self) -> str | None:
        """The id of the ManagedElement that contains it (None for a top-level object)."""
        return self.rdns[0][1] if self.rdns[0][0] == "ManagedElement" else None

    def child(self, ioc: str, ident: str) -> "ObjectPath":
        """Return the path of a contained object."""
        return ObjectPath((*self.rdns, (ioc, ident)))


def parse_dn(dn: str) -> tuple[str, ObjectPath]:
    """Split a full DN into its prefix (``DC=..,SubNetwork=..``) and the NRM object path."""
    parts = [p.strip() for p in dn.split(",") if p.strip()]
    for i, part in enumerate(parts):
        ioc, sep, ident = part.partition("=")
        if not sep or not ident:
            msg = f"dn: {part!r} in {dn!r} is not Class=id"
            raise ValidationError(msg)
        if ioc in PARENT and PARENT[ioc] is None:
            rdns = tuple(tuple(p.split("=", 1)) for p in parts[i:])
            return ",".join(parts[:i]), ObjectPath(rdns)  # type: ignore[arg-type]
    msg = f"dn: {dn!r} names no ManagedElement"
    raise ValidationError(msg)


def rrm_policy_id(element: str, cell_local_id: int, sst: int) -> str:
    """Return the id of one cell's and slice's RRMPolicyRatio: ``<element>-<cellLocalId>-sst<SST>``.

    In this revision RRMPolicyRatio is a top-level list, so its id carries the cell it
    governs (the ranopt convention, also used by ``ranopt emulate``).
    """
    return f"{element}-{cell_local_id}-sst{sst}"


# --- radio identifiers ----------------------------------------------------------------------

NCI_BITS = 36


def nci_of(gnb_id: int, gnb_id_length: int, cell_local_id: int) -> int:
    """NR cell identity: gNB id in the leftmost ``gnb_id_length`` of 36 bits (TS 38.300 8.2)."""
    if not 22 <= gnb_id_length <= 32:
        msg = f"gNBIdLength: {gnb_id_length} is outside 22..32"
        raise ValidationError(msg)
    local_bits = NCI_BITS - gnb_id_length
    if not 0 <= cell_local_id < (1 << local_bits):
        msg = f"cellLocalId: {cell_local_id} does not fit in {local_bits} bits"
        raise ValidationError(msg)
    return (gnb_id << local_bits) | cell_local_id


# TS 38.104 Table 5.4.2.1-1: global frequency raster (F_REF = F_Offs + dF (N - N_Offs)).
_RASTER = (  # (N_REF first, N_REF last, F_REF-Offs MHz, dF_Global kHz, N_REF-Offs)
    (0, 599_999, 0.0, 5.0, 0),
    (600_000, 2_016_666, 3000.0, 15.0, 600_000),
    (2_016_667, 3_279_165, 24_250.08, 60.0, 2_016_667),
)


def arfcn_to_mhz(arfcn: int) -> float:
    """Centre frequency of an NR-ARFCN, MHz (TS 38.104 clause 5.4.2.1)."""
    for first, last, f_offs_mhz, df_khz, n_offs in _RASTER:
        if first <= arfcn <= last:
            return f_offs_mhz + df_khz * 1e-3 * (arfcn - n_offs)
    msg = f"arfcnDL: {arfcn} is outside the NR-ARFCN range 0..3279165"
    raise ValidationError(msg)


def mhz_to_arfcn(freq_mhz: float) -> int:
    """Return the NR-ARFCN nearest ``freq_mhz`` on the global raster (TS 38.104 clause 5.4.2.1)."""
    for first, last, f_offs_mhz, df_khz, n_offs in _RASTER:
        arfcn = n_offs + round((freq_mhz - f_offs_mhz) / (df_khz * 1e-3))
        if first <= arfcn <= last:
            return int(arfcn)
    msg = f"carrier: {freq_mhz} MHz is outside the NR global raster (0..100 GHz)"
    raise ValidationError(msg)
