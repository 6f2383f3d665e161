"""The emulator's NRM as XML: the TS 28.541 subtree of each gNB with its configuration and state.

``render`` writes the ManagedElements (and the top-level RRMPolicyRatio entries) of the
elements it is given, from the fixed topology, the running (or candidate) configuration and
the live state of the network (which cells are failed and which are asleep in the interval
now running). ``with_state=False`` leaves out the ``config false`` leaves, as get-config does.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from xml.etree.ElementTree import Element, SubElement, tostring

from ranopt.emulate.datastore import Config, leaf
from ranopt.emulate.topology import PLMN, EmulatedCell, EmulatedElement, slice_ssts
from ranopt.ingest.export import GNB_ID_BITS
from ranopt.southbound.nrm import (
    ADMINISTRATIVE_STATE,
    CELL_INDIVIDUAL_OFFSET,
    CONFIGURED_MAX_TX_POWER,
    ENERGY_SAVING_CONTROL,
    NETCONF_NS,
    NS,
    RRM_DEDICATED_RATIO,
    RRM_MAX_RATIO,
    RRM_MIN_RATIO,
)

VENDOR = "ranopt emulate"


def xml_bytes(node: Element, *, declaration: bool = False) -> bytes:
    """Serialise ``node`` as UTF-8 (with an XML declaration when asked)."""
    data: bytes = tostring(node, encoding="utf-8", xml_declaration=declaration)
    return data


@dataclass(frozen=True)
class LiveState:
    """What the running network shows now: failed cells, cells asleep in this interval."""

    failed: frozenset[int] = frozenset()
    asleep: frozenset[int] = frozenset()
    energy_saving: frozenset[int] = field(default_factory=frozenset)  # asleep by ES control


def _node(parent: Element, ioc: str, ident: str) -> tuple[Element, Element]:
    node = SubElement(parent, f"{{{NS[ioc]}}}{ioc}")
    leaf(node, ioc, "id", ident)
    attrs = SubElement(node, f"{{{NS[ioc]}}}attributes")
    return node, attrs


def render(
    elements: Sequence[EmulatedElement],
    config: Config,
    live: LiveState,
    *,
    dn_prefix: str,
    with_state: bool,
) -> Element:
    """Return ``<data>`` with the elements' subtrees and their RRMPolicyRatio entries."""
    data = Element(f"{{{NETCONF_NS}}}data")
    for element in elements:
        _element(data, element, config, live, dn_prefix, with_state)
    for element in elements:
        for cell in element.cells:
            _rrm(data, cell, config)
    return data


def _element(
    data: Element, element: EmulatedElement, config: Config, live: LiveState, dn_prefix: str,
    with_state: bool,
) -> None:  # fmt: skip
    me, attrs = _node(data, "ManagedElement", element.id)
    leaf(attrs, "ManagedElement", "dnPrefix", dn_prefix)
    leaf(attrs, "ManagedElement", "userLabel", element.site)
    leaf(attrs, "ManagedElement", "priorityLabel", 1)
    if with_state:
        leaf(attrs, "ManagedElement", "vendorName", VENDOR)
        leaf(attrs, "ManagedElement", "managedElementTypeList", "NodeB")
    du, du_attrs = _node(me, "GNBDUFunction", "1")
    leaf(du_attrs, "GNBDUFunction", "priorityLabel", 1)
    pee = SubElement(du_attrs, f"{{{NS['GNBDUFunction']}}}peeParametersList")
    leaf(pee, "GNBDUFunction", "idx", 0)
    leaf(pee, "GNBDUFunction", "siteIdentification", element.site)
    leaf(pee, "GNBDUFunction", "siteLatitude", f"{element.latitude_deg:.4f}")
    leaf(pee, "GNBDUFunction", "siteLongitude", f"{element.longitude_deg:.4f}")
    leaf(pee, "GNBDUFunction", "siteAltitude", f"{element.height_m:.4f}")
    for name, value in (("siteDescription", "emulated macro site"), ("equipmentType", "RRU"),
                        ("environmentType", "outdoor"), ("powerInterface", "AC")):  # fmt: skip
        leaf(pee, "GNBDUFunction", name, value)
    leaf(du_attrs, "GNBDUFunction", "resourceType", "PRB")
    _members(du_attrs, "GNBDUFunction", "rRMPolicyMemberList")
    leaf(du_attrs, "GNBDUFunction", "gNBId", element.gnb_id)
    leaf(du_attrs, "GNBDUFunction", "gNBIdLength", GNB_ID_BITS)
    leaf(du_attrs, "GNBDUFunction", "gNBDUId", element.gnb_id)
    for cell in element.cells:
        _cell_du(du, cell, config, live, dn_prefix, with_state)
    for cell in element.cells:
        _carrier(du, cell, config)
    cucp, cucp_attrs = _node(me, "GNBCUCPFunction", "1")
    leaf(cucp_attrs, "GNBCUCPFunction", "priorityLabel", 1)
    leaf(cucp_attrs, "GNBCUCPFunction", "gNBId", element.gnb_id)
    leaf(cucp_attrs, "GNBCUCPFunction", "gNBIdLength", GNB_ID_BITS)
    leaf(cucp_attrs, "GNBCUCPFunction", "gNBCUName", element.id)
    for cell in element.cells:
        _cell_cu(cucp, cell, config, live, dn_prefix, with_state)


def _members(parent: Element, ioc: str, name: str, ssts: Sequence[int] = (1,)) -> None:
    for sst in ssts:
        member = SubElement(parent, f"{{{NS[ioc]}}}{name}")
        leaf(member, ioc, "mcc", PLMN[0])
        leaf(member, ioc, "mnc", PLMN[1])
        leaf(member, ioc, "sd", "FFFFFF")  # TS 23.003: no slice differentiator
        leaf(member, ioc, "sst", sst)


def _cell_du(
    du: Element, cell: EmulatedCell, config: Config, live: LiveState, dn_prefix: str,
    with_state: bool,
) -> None:  # fmt: skip
    _, attrs = _node(du, "NRCellDU", str(cell.local_id))
    ioc = "NRCellDU"
    leaf(attrs, ioc, "userLabel", cell.name)
    leaf(attrs, ioc, "priorityLabel", 1)
    leaf(attrs, ioc, "resourceType", "PRB")
    _members(attrs, ioc, "rRMPolicyMemberList")
    leaf(attrs, ioc, "cellLocalId", cell.local_id)
    if with_state:
        failed = cell.index in live.failed
        leaf(attrs, ioc, "operationalState", "DISABLED" if failed else "ENABLED")
    leaf(attrs, ioc, "administrativeState",
         config[(cell.du_path.local_dn, ADMINISTRATIVE_STATE.key)])  # fmt: skip
    if with_state:
        if cell.index in live.failed:
            state = "INACTIVE"
        elif cell.index in live.asleep:
            state = "IDLE"
        else:
            state = "ACTIVE"
        leaf(attrs, ioc, "cellState", state)
    _members(attrs, ioc, "pLMNInfoList", slice_ssts())
    leaf(attrs, ioc, "nRPCI", cell.pci)
    leaf(attrs, ioc, "nRTAC", 1)
    leaf(attrs, ioc, "arfcnDL", cell.arfcn_dl)
    leaf(attrs, ioc, "bSChannelBwDL", cell.bandwidth_mhz)
    leaf(attrs, ioc, "ssbSubCarrierSpacing", cell.scs_khz)
    leaf(attrs, ioc, "nRSectorCarrierRef", f"{dn_prefix},{cell.carrier_path.local_dn}")


def _carrier(du: Element, cell: EmulatedCell, config: Config) -> None:
    _, attrs = _node(du, "NRSectorCarrier", str(cell.local_id))
    ioc = "NRSectorCarrier"
    leaf(attrs, ioc, "priorityLabel", 1)
    leaf(attrs, ioc, "txDirection", "DL_AND_UL")
    leaf(attrs, ioc, "configuredMaxTxPower",
         config[(cell.carrier_path.local_dn, CONFIGURED_MAX_TX_POWER.key)])  # fmt: skip
    leaf(attrs, ioc, "arfcnDL", cell.arfcn_dl)
    leaf(attrs, ioc, "bSChannelBwDL", cell.bandwidth_mhz)


def _cell_cu(
    cucp: Element, cell: EmulatedCell, config: Config, live: LiveState, dn_prefix: str,
    with_state: bool,
) -> None:  # fmt: skip
    cu, attrs = _node(cucp, "NRCellCU", str(cell.local_id))
    leaf(attrs, "NRCellCU", "userLabel", cell.name)
    leaf(attrs, "NRCellCU", "priorityLabel", 1)
    leaf(attrs, "NRCellCU", "cellLocalId", cell.local_id)
    _members(attrs, "NRCellCU", "pLMNInfoList", slice_ssts())
    _, ces_attrs = _node(cu, "CESManagementFunction", "1")
    ioc = "CESManagementFunction"
    leaf(ces_attrs, ioc, "cesSwitch", "true")
    # energySavingState is config true in this YANG revision, yet it reports the cell's state:
    # the emulator shows it with the state leaves
    if with_state:
        saving = cell.index in live.energy_saving
        leaf(
            ces_attrs, ioc, "energySavingState", "isEnergySaving" if saving else "isNotEnergySaving"
        )
    leaf(ces_attrs, ioc, "energySavingControl",
         config[(cell.ces_path.local_dn, ENERGY_SAVING_CONTROL.key)])  # fmt: skip
    for rel_id, _, target_dn in cell.relations:
        _, rel_attrs = _node(cu, "NRCellRelation", rel_id)
        ioc = "NRCellRelation"
        cio = SubElement(rel_attrs, f"{{{NS[ioc]}}}cellIndividualOffset")
        leaf(cio, ioc, "rsrpOffsetSsb",
             config[(cell.relation_path(rel_id).local_dn, CELL_INDIVIDUAL_OFFSET.key)])  # fmt: skip
        leaf(rel_attrs, ioc, "nRFreqRelationRef", f"{dn_prefix},{cell.cu_path.local_dn}")
        leaf(rel_attrs, ioc, "adjacentNRCellRef", f"{dn_prefix},{target_dn}")


def _rrm(data: Element, cell: EmulatedCell, config: Config) -> None:
    for sst in slice_ssts():
        path = cell.rrm_path(sst)
        _, attrs = _node(data, "RRMPolicyRatio", path.rdns[0][1])
        ioc = "RRMPolicyRatio"
        leaf(attrs, ioc, "resourceType", "PRB_DL")
        _members(attrs, ioc, "rRMPolicyMemberList", (sst,))
        dn = path.local_dn
        leaf(attrs, ioc, "rRMPolicyMaxRatio", config[(dn, RRM_MAX_RATIO.key)])
        leaf(attrs, ioc, "rRMPolicyMinRatio", config[(dn, RRM_MIN_RATIO.key)])
        leaf(attrs, ioc, "rRMPolicyDedicatedRatio", config[(dn, RRM_DEDICATED_RATIO.key)])
