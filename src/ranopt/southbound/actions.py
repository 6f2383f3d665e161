"""From plan actions to NRM edits, and one concurrent transaction per managed element.

The mapping is a table (``ACTION_RULES``): for each sleep method a network declares, each
action kind a plan carries (``sleep`` with its depth, ``wake``, ``mimo``, ``cio``,
``slice_share``) has a rule that turns one cell's action into edits:

- ``sleep`` ``"light"`` (or no value): ``energySavingControl = toBeEnergySaving``; ``"deep"``:
  the same and ``administrativeState = LOCKED`` (TS 28.541 has no sleep depth: a locked cell
  is administratively out of service, so the gNB may power its radio down; an unlocked cell
  in energy saving keeps it ready); ``"waking"`` (the interval before a deep sleep ends):
  ``administrativeState = UNLOCKED``, still energy saving (the radio powers up);
- ``wake``: ``toBeNotEnergySaving`` and ``UNLOCKED``;
- ``mimo`` (chains in use): ``NRSectorCarrier.configuredMaxTxPower`` = chains x the power of
  one chain (the NRM has no attribute for muting chains; the total power at the antenna
  ports is what muting changes);
- with the ``administrative_state`` method every sleep is ``LOCKED`` and ``wake``
  ``UNLOCKED``; ``waking`` has no edit (the cell cannot announce its wake).

``apply_edits`` runs one transaction per element, elements of
different endpoints in parallel, elements sharing an endpoint one after the other on one
session (they share its candidate datastore).
"""

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Literal

from ranopt.errors import ValidationError
from ranopt.southbound.nrm import (
    ADMINISTRATIVE_STATE,
    CELL_INDIVIDUAL_OFFSET,
    CONFIGURED_MAX_TX_POWER,
    ENERGY_SAVING_CONTROL,
    Q_OFFSET_RANGE_DB,
    RRM_DEDICATED_RATIO,
    ObjectPath,
)
from ranopt.southbound.o1 import ElementOutcome, O1Endpoint, O1Error, O1Session
from ranopt.southbound.o1_xml import Edit

SleepMethod = Literal["energy_saving", "administrative_state"]
SLEEP_METHODS: tuple[SleepMethod, ...] = ("energy_saving", "administrative_state")
MAX_PARALLEL_ENDPOINTS = 16


@dataclass(frozen=True)
class CellTarget:
    """Where a cell's controls live in the NRM (from the topology and O1 discovery).

    ``incoming_relations`` are the NRCellRelations of other cells that point at this one:
    its CIO is the offset every neighbour applies to it (TS 38.331 ``cellIndividualOffset``,
    Ocn of the A3 condition), so a CIO action edits them all. ``rrm_policies`` maps an SST
    to the RRMPolicyRatio governing this cell's share for that slice. ``carrier_path`` is
    its NRSectorCarrier, ``max_tx_power_mw`` its power with every chain on and ``num_trx``
    its chains (MIMO muting).
    """

    name: str
    du_path: ObjectPath
    cu_path: ObjectPath | None = None
    ces_id: str = "1"
    incoming_relations: tuple[ObjectPath, ...] = ()
    rrm_policies: Mapping[int, ObjectPath] = field(default_factory=dict)
    carrier_path: ObjectPath | None = None
    max_tx_power_mw: int | None = None
    num_trx: int | None = None


@dataclass(frozen=True)
class CellAction:
    """One action of a plan on one cell (``slice`` names the slice of a share action).

    A ``cio`` action edits every NRCellRelation pointing at the cell, or only ``relation``
    (its local DN) when given: restoring the network's own per-relation offsets.
    """

    cell: str
    action: str
    value: float | str | None = None  # the depth of a sleep ("light", "deep", "waking")
    slice_sst: int | None = None
    relation: str | None = None


ActionRule = Callable[[CellTarget, CellAction], tuple[Edit, ...]]


def _ces(target: CellTarget) -> ObjectPath:
    if target.cu_path is None:
        msg = f"{target.name}: no NRCellCU known, energySavingControl cannot be set"
        raise ValidationError(msg)
    return target.cu_path.child("CESManagementFunction", target.ces_id)


SLEEP_DEPTHS = ("light", "deep", "waking")  # ranopt.twin.power.SLEEP_STATES


def _depth(target: CellTarget, action: CellAction) -> str:
    depth = "light" if action.value is None else str(action.value)
    if depth not in SLEEP_DEPTHS:
        msg = f"{target.name}: sleep depth {action.value!r} is not one of {', '.join(SLEEP_DEPTHS)}"
        raise ValidationError(msg)
    return depth


def _es_sleep(target: CellTarget, action: CellAction) -> tuple[Edit, ...]:
    depth = _depth(target, action)
    if depth == "waking":  # unlocked again, still energy saving: the radio powers up
        return (Edit(target.du_path, ADMINISTRATIVE_STATE, "UNLOCKED"),)
    saving = Edit(_ces(target), ENERGY_SAVING_CONTROL, "toBeEnergySaving")
    if depth == "deep":
        return (saving, Edit(target.du_path, ADMINISTRATIVE_STATE, "LOCKED"))
    return (saving,)


def _es_wake(target: CellTarget, _action: CellAction) -> tuple[Edit, ...]:
    return (
        Edit(_ces(target), ENERGY_SAVING_CONTROL, "toBeNotEnergySaving"),
        Edit(target.du_path, ADMINISTRATIVE_STATE, "UNLOCKED"),
    )


def _admin_sleep(target: CellTarget, action: CellAction) -> tuple[Edit, ...]:
    if _depth(target, action) == "waking":  # a locked cell cannot announce its wake
        return ()
    return (Edit(target.du_path, ADMINISTRATIVE_STATE, "LOCKED"),)


def _admin_wake(target: CellTarget, _action: CellAction) -> tuple[Edit, ...]:
    return (Edit(target.du_path, ADMINISTRATIVE_STATE, "UNLOCKED"),)


def muted_power_mw(max_tx_power_mw: int, num_trx: int, chains: int) -> int:
    """``configuredMaxTxPower`` of a cell running ``chains`` of its ``num_trx`` chains, mW."""
    return round(max_tx_power_mw * chains / num_trx)


def _mimo(target: CellTarget, action: CellAction) -> tuple[Edit, ...]:
    if target.carrier_path is None or target.max_tx_power_mw is None or not target.num_trx:
        msg = f"{target.name}: no NRSectorCarrier known (its power); discover the network first"
        raise ValidationError(msg)
    if not isinstance(action.value, int | float) or action.value != int(action.value):
        msg = f"{target.name}: a mimo action needs a whole number of chains"
        raise ValidationError(msg)
    chains = int(action.value)
    if not 1 <= chains <= target.num_trx:
        msg = f"{target.name}: {chains} chains is outside 1..{target.num_trx}"
        raise ValidationError(msg)
    power = muted_power_mw(target.max_tx_power_mw, target.num_trx, chains)
    return (Edit(target.carrier_path, CONFIGURED_MAX_TX_POWER, str(power)),)


def nearest_q_offset_db(cio_db: float) -> int:
    """Return the QOffsetRange value nearest ``cio_db`` (ties toward 0 dB)."""
    return min(Q_OFFSET_RANGE_DB, key=lambda q: (abs(q - cio_db), abs(q)))


def _cio(target: CellTarget, action: CellAction) -> tuple[Edit, ...]:
    if not isinstance(action.value, int | float):
        msg = f"{target.name}: a cio action needs a value in dB"
        raise ValidationError(msg)
    if not target.incoming_relations:
        msg = f"{target.name}: no NRCellRelation points at this cell; discover the network first"
        raise ValidationError(msg)
    value = str(nearest_q_offset_db(action.value))
    if action.relation is None:
        return tuple(Edit(r, CELL_INDIVIDUAL_OFFSET, value) for r in target.incoming_relations)
    relation = next((r for r in target.incoming_relations if r.local_dn == action.relation), None)
    if relation is None:
        msg = f"{target.name}: NRCellRelation {action.relation} does not point at this cell"
        raise ValidationError(msg)
    return (Edit(relation, CELL_INDIVIDUAL_OFFSET, value),)


def _slice_share(target: CellTarget, action: CellAction) -> tuple[Edit, ...]:
    if not isinstance(action.value, int | float) or action.slice_sst is None:
        msg = f"{target.name}: a slice_share action needs a slice and a share"
        raise ValidationError(msg)
    policy = target.rrm_policies.get(action.slice_sst)
    if policy is None:
        msg = f"{target.name}: no RRMPolicyRatio for SST {action.slice_sst}"
        raise ValidationError(msg)
    if not 0.0 <= action.value <= 1.0:
        msg = f"{target.name}: slice share {action.value} is outside 0..1"
        raise ValidationError(msg)
    return (Edit(policy, RRM_DEDICATED_RATIO, str(round(100.0 * action.value))),)


_COMMON: dict[str, ActionRule] = {"cio": _cio, "slice_share": _slice_share, "mimo": _mimo}
ACTION_RULES: dict[SleepMethod, dict[str, ActionRule]] = {
    "energy_saving": {"sleep": _es_sleep, "wake": _es_wake, **_COMMON},
    "administrative_state": {"sleep": _admin_sleep, "wake": _admin_wake, **_COMMON},
}


def edits_for(
    actions: Sequence[CellAction], targets: Mapping[str, CellTarget], method: SleepMethod
) -> dict[str, list[Edit]]:
    """Map actions to edits grouped by ManagedElement id; a later edit of a leaf wins."""
    rules = ACTION_RULES[method]
    by_leaf: dict[tuple[str, str], Edit] = {}
    for action in actions:
        rule = rules.get(action.action)
        if rule is None:
            msg = f"action: {action.action!r} has no O1 mapping for sleep method {method!r}"
            raise ValidationError(msg)
        target = targets.get(action.cell)
        if target is None:
            msg = f"cell: {action.cell!r} is not a cell of this network"
            raise ValidationError(msg)
        for edit in rule(target, action):
            by_leaf[(edit.path.local_dn, edit.attribute.key)] = edit
    grouped: dict[str, list[Edit]] = defaultdict(list)
    for edit in by_leaf.values():
        element = edit.path.element
        if element is None:  # a top-level RRMPolicyRatio: ranopt ids start with the element
            element = edit.path.rdns[0][1].rsplit("-", 2)[0]
        grouped[element].append(edit)
    return dict(grouped)


def apply_edits(
    edits: Mapping[str, Sequence[Edit]], endpoints: Mapping[str, O1Endpoint]
) -> list[ElementOutcome]:
    """Run one transaction per element; return every element's outcome (sorted by element)."""
    by_endpoint: dict[str, list[str]] = defaultdict(list)
    for element in edits:
        endpoint = endpoints.get(element)
        if endpoint is None:
            msg = f"element: no O1 endpoint serves ManagedElement={element}"
            raise ValidationError(msg)
        by_endpoint[endpoint.name].append(element)

    def run(elements: list[str]) -> list[ElementOutcome]:
        endpoint = endpoints[elements[0]]
        try:
            with O1Session(endpoint) as session:
                out = []
                for i, element in enumerate(elements):
                    outcome = session.transaction(element, edits[element])
                    out.append(outcome)
                    if outcome.outcome == "unreachable":  # the session is gone: so are the rest
                        out += [_unreachable(endpoint, e, edits[e], outcome.error)
                                for e in elements[i + 1 :]]  # fmt: skip
                        break
                return out
        except O1Error as exc:
            return [_unreachable(endpoint, e, edits[e], str(exc)) for e in elements]

    groups = sorted(by_endpoint.values())
    workers = max(1, min(MAX_PARALLEL_ENDPOINTS, len(groups)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ranopt-o1") as pool:
        results = [o for group in pool.map(run, groups) for o in group]
    return sorted(results, key=lambda o: o.element)


def _unreachable(
    endpoint: O1Endpoint, element: str, edits: Sequence[Edit], error: str | None
) -> ElementOutcome:
    return ElementOutcome(element, endpoint.name, "unreachable", len(edits), error, "connect")
