"""The O1 payloads and replies against the TS 28.541 YANG modules (yangson, read in place).

``nrm.py`` declares namespaces, module revisions and each edited attribute's allowed values:
checked here against the modules. Every kind of edit-config payload the client builds (each
action rule of each sleep method, every CIO value, slice shares) and every kind of reply it
parses (get, get-config, the cell-state and read-back filters, over the wire from
``ranopt emulate``) is loaded into the YANG data model: each element must be a node of the
schema in its module's namespace, each value of its leaf's type (range, pattern,
enumeration), and an edit or a get-config must hold configuration only. A partial payload
or a filtered reply cannot carry every mandatory leaf, so mandatory-ness is not checked.
"""

import json
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeET
import pytest
from yangson import DataModel
from yangson.datatype import EnumerationType, UnionType
from yangson.instance import InstanceNode
from yangson.instvalue import ArrayValue, ObjectValue
from yangson.schemanode import InternalNode, TerminalNode

from emulator_world import RunningEmulator
from ranopt.emulate.topology import build_topology, slice_ssts
from ranopt.southbound import o1_xml
from ranopt.southbound.actions import ACTION_RULES, CellAction, CellTarget, edits_for
from ranopt.southbound.nrm import (
    ATTRIBUTES,
    CELL_INDIVIDUAL_OFFSET,
    MODULES,
    NS,
    PARENT,
    Q_OFFSET_RANGE_DB,
    Attribute,
    parse_dn,
)
from ranopt.southbound.o1 import O1Session
from ranopt.southbound.o1_xml import Edit
from ranopt.twin import build_twin, scenario_preset
from spec_files import SPECS, require_specs

YANG = SPECS / "3gpp-yang"


def _library(directory: Path) -> dict[str, Any]:
    """RFC 7895 YANG library data for every module in ``directory``, all features on."""
    modules = []
    for path in sorted(directory.glob("*.yang")):
        text = path.read_text()
        name = re.search(r"^\s*module\s+([\w.-]+)", text, re.MULTILINE)
        revision = re.search(r"^\s*revision\s+\"?(\d{4}-\d{2}-\d{2})", text, re.MULTILINE)
        namespace = re.search(r"^\s*namespace\s+\"?([^\";\s]+)", text, re.MULTILINE)
        assert name, f"{path.name}: not a YANG module"
        assert revision, f"{path.name}: no revision"
        assert namespace, f"{path.name}: no namespace"
        modules.append({
            "name": name[1], "revision": revision[1], "namespace": namespace[1],
            "conformance-type": "implement",
            "feature": re.findall(r"^\s*feature\s+([\w-]+)", text, re.MULTILINE),
        })  # fmt: skip
    return {"ietf-yang-library:modules-state": {"module-set-id": "ranopt", "module": modules}}


@pytest.fixture(scope="module")
def model() -> DataModel:
    """The NR NRM modules and their import closure, compiled by yangson."""
    require_specs(YANG)
    return DataModel(json.dumps(_library(YANG)), [str(YANG)])


# --- checks -----------------------------------------------------------------------------


def _nodes(inst: InstanceNode) -> Iterator[InstanceNode]:
    yield inst
    if isinstance(inst.value, ObjectValue):
        for name in inst.value:
            yield from _nodes(inst[name])
    elif isinstance(inst.value, ArrayValue):
        for i in range(len(inst.value)):
            yield from _nodes(inst[i])


def check_data(model: DataModel, root: Element, *, config_only: bool) -> int:
    """Load a ``<data>`` / ``<config>`` tree into the model; return how many attributes it sets.

    ``from_xml`` refuses an element the schema lacks (or in another namespace) and a value
    that does not parse as its base type; each leaf is then checked against its full type.
    """
    num_leaves = 0
    for node in _nodes(model.from_xml(root)):
        schema = node.schema_node
        where = node.json_pointer()
        assert schema.config or not config_only, f"{where} is state (config false)"
        if isinstance(schema, TerminalNode) and not isinstance(node.value, ArrayValue):
            types = schema.type.types if isinstance(schema.type, UnionType) else [schema.type]
            assert any(node.value in t for t in types), f"{where}: {node.value!r} not its type"
            num_leaves += "/attributes/" in where  # not the ids of the list entries
    return num_leaves


def check_selection(model: DataModel, root: Element) -> int:
    """Resolve every element of a subtree filter to a schema node; return how many."""
    by_ns = model.schema_data.modules_by_ns

    def walk(element: Element, schema: InternalNode) -> int:
        count = 0
        for child in element:
            ns, _, name = child.tag[1:].partition("}")
            assert ns in by_ns, f"{child.tag}: namespace of no module"
            found = schema.get_data_child(name, by_ns[ns].main_module[0])
            assert found is not None, f"{child.tag}: not a child of {schema.qual_name}"
            count += 1 + (walk(child, found) if isinstance(found, InternalNode) else 0)
        return count

    return walk(root, model.schema)


def _class_path(ioc: str) -> str:
    """Schema path of an NRM class's list, from the root (each step in its module)."""
    chain = [ioc]
    while (parent := PARENT[chain[0]]) is not None:
        chain.insert(0, parent)
    return "".join(f"/{MODULES[c][0]}:{c}" for c in chain)


def _schema_path(attribute: Attribute) -> str:
    return "/".join([_class_path(attribute.ioc), "attributes", *attribute.leaf.split("/")])


# --- the tables in nrm.py ---------------------------------------------------------------


def test_namespaces_and_revisions_are_the_modules(model: DataModel) -> None:
    modules = model.schema_data.modules_by_name
    for ioc, (module, revision) in MODULES.items():
        assert module in modules, f"{ioc}: no module {module}"
        assert modules[module].main_module == (module, revision), f"{ioc}: newest revision"
        assert modules[module].xml_namespace == NS[ioc], f"{ioc}: namespace"
        assert model.get_schema_node(_class_path(ioc)) is not None, f"{ioc}: containment"


def test_every_attribute_is_declared_with_exactly_the_values_its_type_admits(
    model: DataModel,
) -> None:
    for attribute in ATTRIBUTES:
        node = model.get_schema_node(_schema_path(attribute))
        assert isinstance(node, TerminalNode), attribute.key
        assert node.config == attribute.config, f"{attribute.key}: config"
        if attribute.int_range is not None:  # too wide to list: its bounds are the type's
            low, high = attribute.int_range
            inside = [v in node.type for v in (low, high)]
            outside = [v in node.type for v in (low - 1, high + 1)]
            assert inside == [True, True], attribute.key
            assert outside == [False, False], attribute.key
            admits = [attribute.admits(v) for v in (str(low), str(high), str(high + 1), "1.5")]
            assert admits == [True, True, False, False], attribute.key
            continue
        if isinstance(node.type, EnumerationType):
            admitted = set(node.type.enum)
        else:
            admitted = {str(v) for v in range(-300, 301) if v in node.type}
        assert admitted == set(attribute.allowed), attribute.key


# --- payloads the client sends ----------------------------------------------------------


@pytest.fixture(scope="module")
def targets() -> dict[str, CellTarget]:
    """Every cell's NRM controls on a 7-site emulated network (built in-process)."""
    twin = build_twin(scenario_preset("default", seed=3, num_sites=7))
    topo = build_topology(twin, "yang")
    incoming: dict[int, list[Any]] = {}
    for cell in topo.cells:
        for rel_id, target, _ in cell.relations:
            incoming.setdefault(target, []).append(cell.relation_path(rel_id))
    return {
        cell.name: CellTarget(
            name=cell.name, du_path=cell.du_path, cu_path=cell.cu_path,
            incoming_relations=tuple(incoming.get(cell.index, ())),
            rrm_policies={sst: cell.rrm_path(sst) for sst in slice_ssts()},
            carrier_path=cell.carrier_path, max_tx_power_mw=cell.max_tx_power_mw,
            num_trx=int(twin.arrays.num_trx[cell.index]),
        )
        for cell in topo.cells
    }  # fmt: skip


def _payloads(targets: dict[str, CellTarget]) -> Iterator[tuple[str, list[Edit]]]:
    names = sorted(targets)
    for method, rules in ACTION_RULES.items():
        for action in sorted(rules):
            if action == "cio":
                plans = [[CellAction(names[0], "cio", float(q))] for q in Q_OFFSET_RANGE_DB]
                plans.append([CellAction(names[1], "cio", 6.8)])  # rounded to the nearest
            elif action == "slice_share":
                plans = [[CellAction(n, "slice_share", share, sst) for n in names[:3]]
                         for sst in slice_ssts() for share in (0.0, 0.37, 1.0)]  # fmt: skip
            elif action == "sleep":  # every depth
                plans = [[CellAction(n, "sleep", depth) for n in names]
                         for depth in (None, "light", "deep", "waking")]  # fmt: skip
                plans = [p for p in plans if edits_for(p, targets, method)]
            elif action == "mimo":  # every chain count of every cell
                plans = [[CellAction(n, "mimo", float(k)) for n in names
                          if k <= (targets[n].num_trx or 0)] for k in (64, 32, 16, 2)]  # fmt: skip
            else:
                plans = [[CellAction(n, action) for n in names]]
            for plan in plans:
                for element, edits in edits_for(plan, targets, method).items():
                    yield f"{method}/{action} {element}", edits


def test_every_edit_config_payload_is_valid_configuration(
    model: DataModel, targets: dict[str, CellTarget]
) -> None:
    num_payloads = 0
    for label, edits in _payloads(targets):
        config = SafeET.fromstring(o1_xml.edit_config_payload(edits))
        assert check_data(model, config, config_only=True) == len(edits), label
        readback = SafeET.fromstring(o1_xml.readback_filter(edits))
        assert check_selection(model, readback) >= len(edits), label
        num_payloads += 1
    assert num_payloads > 3 * 7 * 2  # every action rule, on every element of the network
    for element in (None, "gNB-S001"):
        assert check_selection(model, SafeET.fromstring(o1_xml.element_filter(element))) >= 1
        assert check_selection(model, SafeET.fromstring(o1_xml.cell_state_filter(element))) > 10


def test_the_check_refuses_what_the_yang_forbids(
    model: DataModel, targets: dict[str, CellTarget]
) -> None:
    relation = next(t.incoming_relations[0] for t in targets.values() if t.incoming_relations)
    lax = replace(CELL_INDIVIDUAL_OFFSET, allowed=("7",))
    config = SafeET.fromstring(o1_xml.edit_config_payload([Edit(relation, lax, "7")]))
    with pytest.raises(AssertionError, match="rsrpOffsetSsb"):
        check_data(model, config, config_only=True)
    state = replace(CELL_INDIVIDUAL_OFFSET, ioc="NRCellRelation", leaf="adjacentNRCellRef")
    bogus = SafeET.fromstring(
        o1_xml.edit_config_payload([Edit(relation, replace(state, allowed=("x",)), "x")])
        .replace("adjacentNRCellRef", "noSuchLeaf")
    )  # fmt: skip
    with pytest.raises(Exception, match="noSuchLeaf"):
        check_data(model, bogus, config_only=True)


# --- replies the client parses ----------------------------------------------------------


def test_every_reply_the_client_parses_is_valid_yang(
    model: DataModel, emulator: RunningEmulator
) -> None:
    endpoints = emulator.endpoints()
    element = "gNB-S004"
    with O1Session(endpoints[element]) as session:
        capabilities = set(session.m.server_capabilities)
        for ioc, (module, revision) in MODULES.items():
            assert f"{NS[ioc]}?module={module}&revision={revision}" in capabilities
        full = session.m.get(filter=o1_xml.element_filter(element)).data_xml
        running = session.m.get_config("running", filter=o1_xml.element_filter()).data_xml
        states = session.m.get(filter=o1_xml.cell_state_filter(element)).data_xml
        [parsed] = session.read_elements(element)
        served = _emulated(emulator)
        sleep = [CellAction(cell.user_label or "", "sleep") for cell in parsed.cells]
        edits = edits_for(sleep, served, "energy_saving")[element]
        readback = session.m.get_config("running", filter=o1_xml.readback_filter(edits)).data_xml
    assert check_data(model, SafeET.fromstring(full), config_only=False) > 100
    assert check_data(model, SafeET.fromstring(running), config_only=True) > 100
    assert check_data(model, SafeET.fromstring(states), config_only=False) >= 6 * 6
    assert check_data(model, SafeET.fromstring(readback), config_only=True) == len(edits) == 6
    for reply in (full, running, states, readback):
        [me] = o1_xml.parse_elements(reply, endpoint="emulator")
        assert me.id == element


def _emulated(emulator: RunningEmulator) -> dict[str, CellTarget]:
    return {
        cell.name: CellTarget(name=cell.name, du_path=parse_dn(cell.dn)[1],
                              cu_path=parse_dn(cell.cu_dn or "")[1])
        for cell in emulator.topology.cells
    }  # fmt: skip


def test_sleep_depth_and_muting_map_to_the_documented_attributes(
    targets: dict[str, CellTarget],
) -> None:
    """Depth over energySavingControl and administrativeState; muting as configuredMaxTxPower."""
    cap = next(n for n in sorted(targets) if n.endswith("-cap"))

    def leaves(action: CellAction, method: str = "energy_saving") -> set[tuple[str, str]]:
        edits = edits_for([action], targets, method)  # type: ignore[arg-type]
        return {(e.attribute.key, e.value) for es in edits.values() for e in es}

    es, admin = "CESManagementFunction.energySavingControl", "NRCellDU.administrativeState"
    assert leaves(CellAction(cap, "sleep")) == {(es, "toBeEnergySaving")}
    assert leaves(CellAction(cap, "sleep", "deep")) == {(es, "toBeEnergySaving"),
                                                         (admin, "LOCKED")}  # fmt: skip
    assert leaves(CellAction(cap, "sleep", "waking")) == {(admin, "UNLOCKED")}
    assert leaves(CellAction(cap, "wake")) == {(es, "toBeNotEnergySaving"), (admin, "UNLOCKED")}
    assert leaves(CellAction(cap, "sleep", "deep"), "administrative_state") == {(admin, "LOCKED")}
    assert leaves(CellAction(cap, "sleep", "waking"), "administrative_state") == set()
    full = targets[cap].max_tx_power_mw
    power = "NRSectorCarrier.configuredMaxTxPower"
    assert leaves(CellAction(cap, "mimo", 32.0)) == {(power, str(round(full / 2)))}  # type: ignore[operator]
    for bad in (CellAction(cap, "mimo", 65.0), CellAction(cap, "mimo", 31.5),
                CellAction(cap, "sleep", "hibernate")):  # fmt: skip
        with pytest.raises(ValueError, match=cap):
            edits_for([bad], targets, "energy_saving")
