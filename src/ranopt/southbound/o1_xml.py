"""NETCONF payloads on the TS 28.541 NRM: edit-config content, subtree filters, parsed replies.

Pure functions from and to XML text, so the same code serves the O1 client, the emulator's
checks and the YANG conformance tests. Replies are parsed with defusedxml (a device's reply
is untrusted input) into plain dataclasses; a reply that breaks the NRM (a cell without a
``cellLocalId``, a number that is not one) raises ``MalformedReplyError`` naming the object.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from xml.etree.ElementTree import Element, SubElement, tostring  # building only; parsing is defused

import defusedxml.ElementTree as SafeET
from defusedxml.common import DefusedXmlException

from ranopt.errors import RanoptError, ValidationError
from ranopt.southbound.nrm import (
    BY_KEY,
    NETCONF_NS,
    NS,
    Attribute,
    ObjectPath,
    arfcn_to_mhz,
    nci_of,
    parse_dn,
)


class MalformedReplyError(RanoptError):
    """A device's reply is not well-formed XML or breaks the NRM; names what is wrong."""


@dataclass(frozen=True)
class Edit:
    """Set one attribute of one NRM object to one value (checked against its YANG type)."""

    path: ObjectPath
    attribute: Attribute
    value: str

    def __post_init__(self) -> None:
        """Refuse an attribute of another class, a state attribute, or a forbidden value."""
        if self.attribute.ioc != self.path.ioc:
            msg = f"{self.attribute.key}: not an attribute of {self.path.local_dn}"
            raise ValidationError(msg)
        if not self.attribute.config:
            msg = f"{self.attribute.key}: is state (config false) and cannot be edited"
            raise ValidationError(msg)
        try:
            self.attribute.check(self.value)
        except ValidationError as exc:
            raise ValidationError(f"{self.path.local_dn}: {exc}") from exc


def _q(ioc: str, tag: str) -> str:
    return f"{{{NS[ioc]}}}{tag}"


def _object(parent: Element, ioc: str, ident: str) -> Element:
    node = SubElement(parent, _q(ioc, ioc))
    SubElement(node, _q(ioc, "id")).text = ident
    return node


def edit_config_payload(edits: Sequence[Edit]) -> str:
    """Return the ``<config>`` element of an edit-config setting ``edits`` (merge semantics).

    Objects shared by several edits appear once; the result is one XML document in the
    NETCONF base namespace, as ncclient's ``edit_config(config=...)`` takes it.
    """
    return tostring(_edit_tree(edits, Element(f"{{{NETCONF_NS}}}config"), values=True),
                    encoding="unicode")  # fmt: skip


def readback_filter(edits: Sequence[Edit]) -> str:
    """Subtree filter selecting the attributes ``edits`` set (to read them back)."""
    root = Element(f"{{{NETCONF_NS}}}filter", {"type": "subtree"})
    return tostring(_edit_tree(edits, root, values=False), encoding="unicode")


def _edit_tree(edits: Sequence[Edit], root: Element, *, values: bool) -> Element:
    nodes: dict[tuple[tuple[str, str], ...], Element] = {}
    for edit in edits:
        parent = root
        for depth in range(1, len(edit.path.rdns) + 1):
            key = edit.path.rdns[:depth]
            if key not in nodes:
                ioc, ident = key[-1]
                nodes[key] = _object(parent, ioc, ident)
            parent = nodes[key]
        ioc = edit.path.ioc
        attrs = parent.find(_q(ioc, "attributes"))
        if attrs is None:
            attrs = SubElement(parent, _q(ioc, "attributes"))
        target = attrs
        *containers, leaf = edit.attribute.leaf.split("/")
        for name in containers:
            found = target.find(_q(ioc, name))
            target = found if found is not None else SubElement(target, _q(ioc, name))
        SubElement(target, _q(ioc, leaf)).text = edit.value if values else None
    return root


def element_filter(element: str | None = None) -> str:
    """Subtree filter selecting whole ManagedElements (one by id, or all of them)."""
    root = Element(f"{{{NETCONF_NS}}}filter", {"type": "subtree"})
    me = SubElement(root, _q("ManagedElement", "ManagedElement"))
    if element is not None:
        SubElement(me, _q("ManagedElement", "id")).text = element
    return tostring(root, encoding="unicode")


def cell_state_filter(element: str | None = None) -> str:
    """Subtree filter selecting each cell's states: admin, operational, energy saving."""
    root = Element(f"{{{NETCONF_NS}}}filter", {"type": "subtree"})
    me = SubElement(root, _q("ManagedElement", "ManagedElement"))
    if element is not None:
        SubElement(me, _q("ManagedElement", "id")).text = element
    du = SubElement(me, _q("GNBDUFunction", "GNBDUFunction"))
    SubElement(du, _q("GNBDUFunction", "id"))
    cell = SubElement(du, _q("NRCellDU", "NRCellDU"))
    SubElement(cell, _q("NRCellDU", "id"))
    attrs = SubElement(cell, _q("NRCellDU", "attributes"))
    for leaf in ("cellLocalId", "administrativeState", "operationalState", "cellState"):
        SubElement(attrs, _q("NRCellDU", leaf))
    cucp = SubElement(me, _q("GNBCUCPFunction", "GNBCUCPFunction"))
    SubElement(cucp, _q("GNBCUCPFunction", "id"))
    cu = SubElement(cucp, _q("NRCellCU", "NRCellCU"))
    SubElement(cu, _q("NRCellCU", "id"))
    cu_attrs = SubElement(cu, _q("NRCellCU", "attributes"))
    SubElement(cu_attrs, _q("NRCellCU", "cellLocalId"))
    ces = SubElement(cu, _q("CESManagementFunction", "CESManagementFunction"))
    SubElement(ces, _q("CESManagementFunction", "id"))
    ces_attrs = SubElement(ces, _q("CESManagementFunction", "attributes"))
    for leaf in ("energySavingControl", "energySavingState"):
        SubElement(ces_attrs, _q("CESManagementFunction", leaf))
    return tostring(root, encoding="unicode")


# --- parsed replies -------------------------------------------------------------------------


@dataclass(frozen=True)
class O1Relation:
    """An NRCellRelation: toward which cell, with which CIO (dB, None when unset)."""

    id: str
    adjacent_dn: str
    cio_db: int | None


@dataclass(frozen=True)
class O1Cell:
    """One cell as O1 shows it: its NRCellDU, the matching NRCellCU and sector carrier."""

    du_path: ObjectPath
    cell_local_id: int
    user_label: str | None = None
    cu_path: ObjectPath | None = None
    nci: int | None = None
    arfcn_dl: int | None = None
    bandwidth_mhz: int | None = None
    scs_khz: int | None = None
    max_tx_power_w: float | None = None
    administrative_state: str | None = None
    operational_state: str | None = None
    cell_state: str | None = None
    energy_saving_control: str | None = None
    energy_saving_state: str | None = None
    relations: tuple[O1Relation, ...] = ()
    carrier_path: ObjectPath | None = None  # its NRSectorCarrier (nRSectorCarrierRef)

    @property
    def carrier_mhz(self) -> float | None:
        """Downlink carrier centre frequency, MHz (from ``arfcnDL``)."""
        return None if self.arfcn_dl is None else arfcn_to_mhz(self.arfcn_dl)


@dataclass(frozen=True)
class O1Element:
    """A ManagedElement (one gNB) and its cells, as read over O1."""

    id: str
    user_label: str | None = None
    dn_prefix: str | None = None
    gnb_id: int | None = None
    gnb_id_length: int | None = None
    latitude_deg: float | None = None
    longitude_deg: float | None = None
    altitude_m: float | None = None
    cells: tuple[O1Cell, ...] = field(default_factory=tuple)


def parse_xml(data: bytes | str, *, where: str) -> Element:
    """Parse a reply safely; ``where`` (endpoint, element) goes into the error."""
    raw = data.encode() if isinstance(data, str) else data
    try:
        root: Element = SafeET.fromstring(raw)
    except (SafeET.ParseError, DefusedXmlException) as exc:
        msg = f"{where}: reply is not well-formed XML: {exc}"
        raise MalformedReplyError(msg) from exc
    return root


def _text(node: Element | None, ioc: str, *path: str) -> str | None:
    for tag in path:
        if node is None:
            return None
        node = node.find(_q(ioc, tag))
    if node is None or node.text is None:
        return None
    return node.text.strip()


def _int(node: Element | None, ioc: str, *path: str, where: str) -> int | None:
    text = _text(node, ioc, *path)
    if text is None:
        return None
    try:
        return int(text)
    except ValueError as exc:
        msg = f"{where}: {ioc}.{'/'.join(path)}: {text!r} is not an integer"
        raise MalformedReplyError(msg) from exc


def _float(node: Element | None, ioc: str, *path: str, where: str) -> float | None:
    text = _text(node, ioc, *path)
    if text is None:
        return None
    try:
        return float(text)
    except ValueError as exc:
        msg = f"{where}: {ioc}.{'/'.join(path)}: {text!r} is not a number"
        raise MalformedReplyError(msg) from exc


def _state(node: Element | None, key: str, where: str) -> str | None:
    attribute = BY_KEY[key]
    text = _text(node, attribute.ioc, "attributes", *attribute.leaf.split("/"))
    if text is not None and not attribute.admits(text):
        msg = f"{where}: {key}: {text!r} is not a value of its YANG type"
        raise MalformedReplyError(msg)
    return text


def _objects(parent: Element, ioc: str, where: str) -> Iterable[tuple[str, Element]]:
    for node in parent.findall(_q(ioc, ioc)):
        ident = _text(node, ioc, "id")
        if not ident:
            msg = f"{where}: a {ioc} without an id"
            raise MalformedReplyError(msg)
        yield ident, node


def parse_elements(data: bytes | str, *, endpoint: str) -> list[O1Element]:
    """Parse a ``<data>`` reply (get / get-config) into ManagedElements with their cells."""
    root = parse_xml(data, where=endpoint)
    elements = []
    for me_id, me in _objects(root, "ManagedElement", endpoint):
        elements.append(_parse_element(me_id, me, endpoint))
    if root.find(_q("ManagedElement", "ManagedElement")) is None and len(root):
        tags = sorted({child.tag for child in root})
        msg = f"{endpoint}: reply holds no ManagedElement (found {', '.join(tags)})"
        raise MalformedReplyError(msg)
    return elements


def _parse_element(me_id: str, me: Element, endpoint: str) -> O1Element:
    where = f"{endpoint} ManagedElement={me_id}"
    me_path = ObjectPath((("ManagedElement", me_id),))
    carriers: dict[str, tuple[int | None, float | None]] = {}
    du_cells: list[tuple[ObjectPath, Element]] = []
    gnb_id = gnb_len = None
    latitude = longitude = altitude = None
    for du_id, du in _objects(me, "GNBDUFunction", where):
        du_path = me_path.child("GNBDUFunction", du_id)
        gnb_id = _int(du, "GNBDUFunction", "attributes", "gNBId", where=where)
        gnb_len = _int(du, "GNBDUFunction", "attributes", "gNBIdLength", where=where)
        pee = du.find(
            f"{_q('GNBDUFunction', 'attributes')}/{_q('GNBDUFunction', 'peeParametersList')}"
        )
        if pee is not None:
            latitude = _float(pee, "GNBDUFunction", "siteLatitude", where=where)
            longitude = _float(pee, "GNBDUFunction", "siteLongitude", where=where)
            altitude = _float(pee, "GNBDUFunction", "siteAltitude", where=where)
        for sc_id, sc in _objects(du, "NRSectorCarrier", where):
            sc_where = f"{endpoint} {du_path.child('NRSectorCarrier', sc_id).local_dn}"
            power_mw = _int(sc, "NRSectorCarrier", "attributes", "configuredMaxTxPower",
                            where=sc_where)  # fmt: skip
            bw = _int(sc, "NRSectorCarrier", "attributes", "bSChannelBwDL", where=sc_where)
            carriers[du_path.child("NRSectorCarrier", sc_id).local_dn] = (
                bw,
                None if power_mw is None else power_mw / 1000.0,
            )
        for cell_id, cell in _objects(du, "NRCellDU", where):
            du_cells.append((du_path.child("NRCellDU", cell_id), cell))
    cu_by_local: dict[int, tuple[ObjectPath, Element]] = {}
    for cucp_id, cucp in _objects(me, "GNBCUCPFunction", where):
        cucp_path = me_path.child("GNBCUCPFunction", cucp_id)
        for cu_id, cu in _objects(cucp, "NRCellCU", where):
            path = cucp_path.child("NRCellCU", cu_id)
            local = _int(
                cu, "NRCellCU", "attributes", "cellLocalId", where=f"{endpoint} {path.local_dn}"
            )
            if local is not None:
                cu_by_local[local] = (path, cu)
    cells = []
    for path, node in du_cells:
        cell_where = f"{endpoint} {path.local_dn}"
        local = _int(node, "NRCellDU", "attributes", "cellLocalId", where=cell_where)
        if local is None:
            msg = f"{cell_where}: NRCellDU.cellLocalId is missing"
            raise MalformedReplyError(msg)
        cells.append(_parse_cell(path, node, local, cu_by_local.get(local), carriers,
                                 gnb_id, gnb_len, cell_where))  # fmt: skip
    return O1Element(
        id=me_id, user_label=_text(me, "ManagedElement", "attributes", "userLabel"),
        dn_prefix=_text(me, "ManagedElement", "attributes", "dnPrefix"), gnb_id=gnb_id,
        gnb_id_length=gnb_len, latitude_deg=latitude, longitude_deg=longitude,
        altitude_m=altitude, cells=tuple(cells),
    )  # fmt: skip


def _parse_cell(
    path: ObjectPath,
    node: Element,
    local: int,
    cu: tuple[ObjectPath, Element] | None,
    carriers: dict[str, tuple[int | None, float | None]],
    gnb_id: int | None,
    gnb_len: int | None,
    where: str,
) -> O1Cell:
    bw = _int(node, "NRCellDU", "attributes", "bSChannelBwDL", where=where)
    power_w = None
    carrier_path = None
    attrs = node.find(_q("NRCellDU", "attributes"))
    refs = [] if attrs is None else attrs.findall(_q("NRCellDU", "nRSectorCarrierRef"))
    for ref in refs:
        try:
            _, ref_path = parse_dn(ref.text or "")
        except ValidationError as exc:
            raise MalformedReplyError(f"{where}: NRCellDU.nRSectorCarrierRef: {exc}") from exc
        if ref_path.local_dn in carriers:
            sc_bw, power_w = carriers[ref_path.local_dn]
            bw = bw if bw is not None else sc_bw
            carrier_path = ref_path
    ces_control = ces_state = None
    relations: list[O1Relation] = []
    cu_path = None
    if cu is not None:
        cu_path, cu_node = cu
        for _, ces in _objects(cu_node, "CESManagementFunction", where):
            ces_control = _state(ces, "CESManagementFunction.energySavingControl", where)
            ces_state = _state(ces, "CESManagementFunction.energySavingState", where)
        for rel_id, rel in _objects(cu_node, "NRCellRelation", where):
            rel_where = f"{where} NRCellRelation={rel_id}"
            adjacent = _text(rel, "NRCellRelation", "attributes", "adjacentNRCellRef")
            if not adjacent:
                msg = f"{rel_where}: NRCellRelation.adjacentNRCellRef is missing"
                raise MalformedReplyError(msg)
            cio_text = _state(rel, "NRCellRelation.cellIndividualOffset/rsrpOffsetSsb", rel_where)
            relations.append(
                O1Relation(rel_id, adjacent, None if cio_text is None else int(cio_text))
            )
    nci = None
    if gnb_id is not None and gnb_len is not None:
        try:
            nci = nci_of(gnb_id, gnb_len, local)
        except ValidationError as exc:
            raise MalformedReplyError(f"{where}: {exc}") from exc
    return O1Cell(
        du_path=path, cell_local_id=local,
        user_label=_text(node, "NRCellDU", "attributes", "userLabel"), cu_path=cu_path, nci=nci,
        arfcn_dl=_int(node, "NRCellDU", "attributes", "arfcnDL", where=where), bandwidth_mhz=bw,
        scs_khz=_int(node, "NRCellDU", "attributes", "ssbSubCarrierSpacing", where=where),
        max_tx_power_w=power_w,
        administrative_state=_state(node, "NRCellDU.administrativeState", where),
        operational_state=_state(node, "NRCellDU.operationalState", where),
        cell_state=_state(node, "NRCellDU.cellState", where),
        energy_saving_control=ces_control, energy_saving_state=ces_state,
        relations=tuple(relations), carrier_path=carrier_path,
    )  # fmt: skip
