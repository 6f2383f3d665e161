"""Use cases of the southbound: discover a network over O1, apply a plan through O1 / A1.

Discovery reads every endpoint (in parallel), turns the ManagedElements into a topology
(``ranopt-topology/1``, in the network's own x/y frame) and creates or refreshes the network
from it; a topology file, when given, supplies what O1 does not carry (layer, azimuth,
antenna height, exact positions); a large network's discovery runs as a job. Applying a plan
maps its first interval's actions to NRM edits, runs one transaction per element and records
every element's outcome (and an audit entry); a load-balancing plan's CIOs go to the RIC as
one A1 steering policy when the network names an A1 endpoint. A1 policies go to the
network's near-RT RIC or its A1 Policy Management Service, each call recorded the same way;
one that stays unavailable through the client's retries raises an alert.
"""

import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any, TypeVar
from urllib.parse import urlencode

import numpy as np
from pydantic import SecretStr

from ranopt.errors import RanoptError, ValidationError
from ranopt.southbound.a1 import A1Client, A1Error, A1RefusedError, A1UnavailableError
from ranopt.southbound.a1_types import (
    TRAFFIC_STEERING,
    check_instance,
    preference_for_cio,
    steering_policy,
    steering_preferences,
)
from ranopt.southbound.a1pms import PmsClient
from ranopt.southbound.actions import (
    CellAction,
    CellTarget,
    SleepMethod,
    apply_edits,
    edits_for,
)
from ranopt.southbound.nrm import ObjectPath, arfcn_to_mhz, parse_dn, rrm_policy_id
from ranopt.southbound.o1 import ElementOutcome, O1Endpoint, O1Error, O1Session, RetryPolicy
from ranopt.southbound.o1_xml import O1Element
from ranopt.store import audit, runs
from ranopt.store import networks as nets
from ranopt.store import repository as repo
from ranopt.store import southbound as sb
from ranopt.store.engine import Store
from ranopt.store.networks import SiteOut
from ranopt.store.schemas import CellIn, NetworkIn, SiteIn, SliceIn, TopologyIn
from ranopt.store.secrets import Keyring
from ranopt.store.topology import refresh_topology
from ranopt.twin.elements import num_prb_for
from ranopt.twin.topology import LAYER_SPECS, implied_origin_deg, project_to_plane_m

T = TypeVar("T")
logger = logging.getLogger("ranopt.service.southbound")
DEFAULT_HEIGHT_M = 25.0
COVERAGE_BELOW_MHZ = 3000.0  # without a topology file: carriers below 3 GHz are coverage
# what discovery only guesses without a topology file: a stored cell keeps its own
GUESSED_WITHOUT_SUPPLEMENT = ("layer", "sector", "azimuth_deg", "tilt_deg")
STANDARD_SLICES = (SliceIn(name="eMBB", sst=1), SliceIn(name="URLLC", sst=2),
                   SliceIn(name="mMTC", sst=3))  # fmt: skip


def o1_endpoints(
    store: Store, *, tenant_id: int, network_id: int, keyring: Keyring
) -> tuple[sb.SouthboundOut, list[O1Endpoint]]:
    """Return the network's southbound and its O1 endpoints with their credentials."""
    with store.transaction() as session:
        settings = sb.get_southbound(session, tenant_id=tenant_id, network_id=network_id)
        creds = sb.o1_credentials(session, tenant_id=tenant_id, network_id=network_id,
                                  keyring=keyring)  # fmt: skip
    endpoints = [
        O1Endpoint(host=e["host"], port=int(e["port"]), username=e["username"],
                   password=SecretStr(password), host_key=e.get("host_key"),
                   timeout_s=settings.timeout_s, confirm_timeout_s=settings.confirm_timeout_s)
        for e, password in creds
    ]  # fmt: skip
    return settings, endpoints


def read_elements(endpoints: Sequence[O1Endpoint]) -> list[tuple[int, O1Element]]:
    """Read every ManagedElement of every endpoint (in parallel): ``(endpoint index, element)``."""

    def read(index: int) -> list[tuple[int, O1Element]]:
        with O1Session(endpoints[index]) as session:
            return [(index, e) for e in session.read_elements()]

    with ThreadPoolExecutor(max_workers=max(1, min(16, len(endpoints)))) as pool:
        parts = list(pool.map(read, range(len(endpoints))))
    return [item for part in parts for item in part]


@dataclass(frozen=True)
class DiscoveryReport:
    """What a discovery found and changed."""

    network_id: int
    num_elements: int
    num_cells: int
    added_cells: list[str]
    updated_cells: list[str]
    missing_cells: list[str]  # stored, but no endpoint shows them
    warnings: list[str]


def _xy(lat: float, lon: float, origin: tuple[float, float]) -> tuple[float, float]:
    x_m, y_m = project_to_plane_m(np.asarray(lat), np.asarray(lon), origin)
    return float(x_m), float(y_m)


def frame_origin(sites: Sequence[SiteOut]) -> tuple[float, float] | None:
    """Return the latitude / longitude of the network's x/y origin, from its stored sites.

    Each stored site with both a position in metres and in WGS 84 implies the origin; the mean
    over them is the frame new sites are placed in. None when no stored site has latitude and
    longitude.
    """
    placed = [s for s in sites if s.latitude_deg is not None and s.longitude_deg is not None]
    if not placed:
        return None
    return implied_origin_deg(
        np.array([s.latitude_deg for s in placed], dtype=np.float64),
        np.array([s.longitude_deg for s in placed], dtype=np.float64),
        np.array([s.x_m for s in placed]),
        np.array([s.y_m for s in placed]),
    )


def _site(
    element: O1Element, name: str, origin: tuple[float, float], stored: SiteOut | None,
    warnings: list[str],
) -> SiteIn:  # fmt: skip
    """Place an element's site in the frame of ``origin``; a stored site keeps its x/y."""
    lat, lon = element.latitude_deg, element.longitude_deg
    if stored is not None:  # its x/y are the network's (O1 rounds positions to ~11 m)
        x, y = stored.x_m, stored.y_m
    elif lat is None or lon is None:
        warnings.append(f"{element.id}: no site position on O1; placed at (0, 0)")
        x, y = 0.0, 0.0
    else:
        x, y = (round(v, 1) for v in _xy(lat, lon, origin))
    height = element.altitude_m if element.altitude_m is not None else DEFAULT_HEIGHT_M
    return SiteIn(name=name, x_m=x, y_m=y, height_m=height, latitude_deg=lat, longitude_deg=lon)


def discovered_topology(
    name: str,
    interval_s: int,
    found: Sequence[tuple[int, O1Element]],
    supplement: TopologyIn | None = None,
    stored_sites: Sequence[SiteOut] = (),
) -> tuple[TopologyIn, list[str]]:
    """Build a topology from O1 data; a supplement's cells (by DN) give layer, azimuth, height.

    Sites are placed in the network's own x/y frame (``frame_origin`` of ``stored_sites``) and
    a stored site keeps its x/y; a network with no stored WGS 84 position gets a new frame
    whose origin is the smallest latitude and longitude found.
    """
    warnings: list[str] = []
    extra = {c.dn: c for c in supplement.cells} if supplement else {}
    extra_sites = {s.name: s for s in supplement.sites} if supplement else {}
    stored = {s.name: s for s in stored_sites}
    positions = [
        (e.latitude_deg, e.longitude_deg)
        for _, e in found
        if e.latitude_deg is not None and e.longitude_deg is not None
    ]
    origin = frame_origin(stored_sites)
    if origin is None:
        if stored_sites:
            warnings.append("no stored site has latitude/longitude: new x/y frame from O1")
        origin = (
            (min(p[0] for p in positions), min(p[1] for p in positions))
            if positions
            else (0.0, 0.0)
        )
    prefix = next((e.dn_prefix for _, e in found if e.dn_prefix), "")
    sites: list[SiteIn] = []
    cells: list[CellIn] = []
    for _, element in found:
        site_name = element.user_label or element.id
        known_site = extra_sites.get(site_name)
        sites.append(known_site or _site(element, site_name, origin, stored.get(site_name),
                                         warnings))  # fmt: skip
        for cell in element.cells:
            dn = f"{element.dn_prefix or prefix},{cell.du_path.local_dn}".lstrip(",")
            cu_dn = None if cell.cu_path is None else (
                f"{element.dn_prefix or prefix},{cell.cu_path.local_dn}".lstrip(",")
            )  # fmt: skip
            where = f"{element.id} NRCellDU={cell.du_path.rdns[-1][1]}"
            if cell.arfcn_dl is None or cell.bandwidth_mhz is None:
                msg = f"{where}: arfcnDL and bSChannelBwDL are needed to model the cell"
                raise ValidationError(msg)
            carrier_mhz = arfcn_to_mhz(cell.arfcn_dl)
            scs = cell.scs_khz or (15 if carrier_mhz < COVERAGE_BELOW_MHZ else 30)
            known = extra.get(dn)
            if known is None and supplement is not None:
                warnings.append(f"{where}: not in the topology file; layer, azimuth by default")
            cells.append(CellIn(
                name=cell.user_label or f"{element.id}-{cell.cell_local_id}", site=site_name,
                dn=dn, cu_dn=cu_dn, nci=cell.nci,
                layer=known.layer if known else (
                    "coverage" if carrier_mhz < COVERAGE_BELOW_MHZ else "capacity"),
                sector=known.sector if known else 0,
                azimuth_deg=known.azimuth_deg if known else 0.0,
                carrier_ghz=round(carrier_mhz / 1000.0, 4), bandwidth_mhz=float(cell.bandwidth_mhz),
                scs_khz=scs, num_prb=num_prb_for(scs, cell.bandwidth_mhz),
                max_tx_power_w=cell.max_tx_power_w or (known.max_tx_power_w if known else 1.0),
            ))  # fmt: skip
            if cell.max_tx_power_w is None:
                warnings.append(f"{where}: no NRSectorCarrier power on O1")
    topo = TopologyIn(
        network=NetworkIn(name=name, interval_s=interval_s, dn_prefix=prefix),
        sites=sites,
        cells=cells,
        slices=list(supplement.slices) if supplement else list(STANDARD_SLICES),
    )
    return topo, warnings


def _detail(element: O1Element) -> dict[str, Any]:
    """Return what apply needs later: every relation and where it points, each cell's carrier."""
    return {
        "relations": [
            [cell.cu_path.child("NRCellRelation", rel.id).local_dn, rel.adjacent_dn]
            for cell in element.cells if cell.cu_path is not None for rel in cell.relations
        ],
        "carriers": {
            cell.du_path.local_dn: cell.carrier_path.local_dn
            for cell in element.cells if cell.carrier_path is not None
        },
    }  # fmt: skip


def discover(
    store: Store,
    *,
    tenant_id: int,
    network_id: int,
    keyring: Keyring,
    supplement: TopologyIn | None,
    now_s: int,
    actor: str,
) -> DiscoveryReport:
    """Read the network over O1 and refresh its sites and cells (nothing written on error).

    Without a ``supplement`` a stored cell keeps what O1 does not carry (layer, sector,
    azimuth); a new cell gets defaults (layer from its carrier, sector 0, azimuth 0).
    """
    _, endpoints = o1_endpoints(store, tenant_id=tenant_id, network_id=network_id, keyring=keyring)
    found = read_elements(endpoints)
    with store.transaction() as session:
        net = nets.network_by_id(session, tenant_id=tenant_id, network_id=network_id)
        sites = nets.list_sites(session, tenant_id=tenant_id, network_id=network_id)
        topo, warnings = discovered_topology(net.name, net.interval_s, found, supplement, sites)
        added, updated, missing = refresh_topology(
            session, tenant_id=tenant_id, network_id=network_id, topology=topo,
            keep=() if supplement is not None else GUESSED_WITHOUT_SUPPLEMENT,
        )  # fmt: skip
        sb.replace_elements(
            session,
            tenant_id=tenant_id,
            network_id=network_id,
            elements=[(e.id, i, _detail(e)) for i, e in found],
            now_s=now_s,
        )
        audit.append(session, ts_s=now_s, tenant_id=tenant_id, actor=actor,
                     action="southbound.discover", target=f"network:{network_id}",
                     detail={"elements": len(found), "cells": len(topo.cells),
                             "added": len(added), "missing": len(missing)})  # fmt: skip
    return DiscoveryReport(network_id, len(found), len(topo.cells), added, updated, missing,
                           warnings)  # fmt: skip


def expected_cells(store: Store, *, tenant_id: int, network_id: int) -> int:
    """Return how many cells a discovery will likely find.

    The network's stored cells (what the last discovery or the topology file gave), and at
    least one per O1 endpoint.
    """
    with store.transaction() as session:
        settings = sb.get_southbound(session, tenant_id=tenant_id, network_id=network_id)
        stored = len(repo.network_cells(session, tenant_id=tenant_id, network_id=network_id))
    return max(stored, len(settings.o1))


def run_discovery_job(
    store: Store, *, tenant_id: int, network_id: int, job_id: int, keyring: Keyring,
    actor: str, clock: Callable[[], int],
) -> sb.DiscoveryJobOut:  # fmt: skip
    """Run a queued discovery job; its outcome (report or error) is recorded on the job.

    Never raises for a failed discovery: an O1 failure or any other error is the job's
    ``failed`` status and error text, and raises a ``discovery_failed`` alert.
    """
    with store.transaction() as session:
        sb.set_discovery_job(session, tenant_id=tenant_id, network_id=network_id, job_id=job_id,
                             status="running", now_s=clock())  # fmt: skip
    try:
        report = discover(store, tenant_id=tenant_id, network_id=network_id, keyring=keyring,
                          supplement=None, now_s=clock(), actor=actor)  # fmt: skip
    except Exception as exc:  # a job never dies silently: every failure is on the job
        known = isinstance(exc, RanoptError)
        error = str(exc) if known else f"internal error ({type(exc).__name__})"
        with store.transaction() as session:
            job = sb.set_discovery_job(session, tenant_id=tenant_id, network_id=network_id,
                                       job_id=job_id, status="failed", now_s=clock(),
                                       error=error)  # fmt: skip
            runs.add_alert(session, tenant_id=tenant_id, network_id=network_id,
                           severity="warning", kind="discovery_failed", now_s=clock(),
                           message=f"discovery job {job_id} failed: {error}")  # fmt: skip
        if not known:
            logger.exception("discovery job %s crashed", job_id)
        return job
    with store.transaction() as session:
        return sb.set_discovery_job(session, tenant_id=tenant_id, network_id=network_id,
                                    job_id=job_id, status="succeeded", now_s=clock(),
                                    report=asdict(report))  # fmt: skip


# --- apply ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ApplyReport:
    """Per-element outcomes of applying a plan's first interval."""

    run_id: int | None
    t_min: int | None
    num_actions: int
    later_actions: int  # actions of later intervals (for the loop to send when due)
    outcomes: list[dict[str, Any]]

    @property
    def all_applied(self) -> bool:
        """Every element committed."""
        return all(o["outcome"] == "applied" for o in self.outcomes)


def cell_targets(session: Any, *, tenant_id: int, network_id: int) -> dict[str, CellTarget]:
    """Every cell's NRM controls, from its DNs and the discovered relations."""
    cells = repo.network_cells(session, tenant_id=tenant_id, network_id=network_id)
    found = sb.elements(session, tenant_id=tenant_id, network_id=network_id)
    incoming: dict[str, list[ObjectPath]] = {}
    carriers: dict[str, ObjectPath] = {}
    for _, detail in found.values():
        for relation_dn, adjacent_dn in detail.get("relations", []):
            _, rel = parse_dn(relation_dn)
            _, adjacent = parse_dn(adjacent_dn)
            incoming.setdefault(adjacent.local_dn, []).append(rel)
        for du_dn, carrier_dn in detail.get("carriers", {}).items():
            carriers[du_dn] = parse_dn(carrier_dn)[1]
    targets = {}
    for cell in cells:
        _, du = parse_dn(cell.dn)
        cu = None if cell.cu_dn is None else parse_dn(cell.cu_dn)[1]
        element = du.element or ""
        local = int(du.rdns[-1][1]) if du.rdns[-1][1].isdigit() else 0
        targets[cell.name] = CellTarget(
            name=cell.name, du_path=du, cu_path=cu,
            incoming_relations=tuple(incoming.get(cu.local_dn, [])) if cu else (),
            rrm_policies={sst: ObjectPath((("RRMPolicyRatio", rrm_policy_id(element, local, sst)),))
                          for sst in (1, 2, 3)},
            carrier_path=carriers.get(du.local_dn),
            max_tx_power_mw=round(cell.max_tx_power_w * 1000.0) if cell.max_tx_power_w else None,
            # the chains of the cell's layer: the planning model's assumption too
            num_trx=LAYER_SPECS[cell.layer].power.num_trx if cell.layer in LAYER_SPECS else None,
        )  # fmt: skip
    return targets


def plan_actions(plan: dict[str, Any]) -> tuple[list[CellAction], int | None, int]:
    """Return the actions of the plan's first action time, and how many come later."""
    actions = plan.get("actions") or []
    if not actions:
        return [], None, 0
    first = min(int(a["t_min"]) for a in actions)
    now = []
    for a in actions:
        if int(a["t_min"]) != first:
            continue
        cell, _, slice_name = str(a["cell"]).partition("/")
        sst = {"eMBB": 1, "URLLC": 2, "mMTC": 3}.get(slice_name) if slice_name else None
        now.append(CellAction(cell=cell, action=str(a["action"]), value=a.get("value"),
                              slice_sst=sst))  # fmt: skip
    return now, first, len(actions) - len(now)


def apply_actions(
    store: Store,
    *,
    tenant_id: int,
    network_id: int,
    actions: Sequence[CellAction],
    keyring: Keyring,
    actor: str,
    now_s: int,
    run_id: int | None = None,
) -> list[ElementOutcome]:
    """Send actions through O1 and record every element's outcome; return the outcomes."""
    settings, endpoints = o1_endpoints(store, tenant_id=tenant_id, network_id=network_id,
                                       keyring=keyring)  # fmt: skip
    with store.transaction() as session:
        targets = cell_targets(session, tenant_id=tenant_id, network_id=network_id)
        found = sb.elements(session, tenant_id=tenant_id, network_id=network_id)
    method: SleepMethod = settings.sleep_method
    edits = edits_for(actions, targets, method)
    if len(endpoints) == 1:
        by_element = {element: endpoints[0] for element in edits}
    else:
        by_element = {}
        for element in edits:
            if element not in found:
                msg = f"element: ManagedElement={element} is unknown; run discovery first"
                raise ValidationError(msg)
            by_element[element] = endpoints[found[element][0]]
    outcomes = apply_edits(edits, by_element)
    with store.transaction() as session:
        sb.record_outcomes(session, tenant_id=tenant_id, network_id=network_id, run_id=run_id,
                           interface="o1", outcomes=[asdict(o) for o in outcomes], actor=actor,
                           now_s=now_s)  # fmt: skip
        failed = [o for o in outcomes if o.outcome != "applied"]
        if failed:
            runs.add_alert(session, tenant_id=tenant_id, network_id=network_id, severity="warning",
                           kind="southbound_failed", now_s=now_s,
                           message=f"{len(failed)} of {len(outcomes)} elements not applied: "
                           + "; ".join(f"{o.element} {o.outcome}" for o in failed[:5]))  # fmt: skip
    return outcomes


# objectives whose CIO actions go to the near-RT RIC as A1 steering when the network has one
A1_OBJECTIVES = ("load-balance",)
LOAD_BALANCE_POLICY = "ranopt-load-balance"


def apply_steering(
    store: Store, *, tenant_id: int, network_id: int, actions: Sequence[CellAction],
    keyring: Keyring, actor: str, now_s: int, run_id: int | None,
    notification_base_url: str | None, retry: RetryPolicy | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Send CIO actions as the network's traffic-steering-preference policy; return its outcome.

    One policy (``ranopt-load-balance``, eMBB slice) holds every cell's preference: the one
    ranopt holds is updated with the actions (each CIO mapped to the nearest preference,
    ``PREFERENCE_CIO_DB``; near 0 dB the cell's preference is withdrawn) and sent whole, or
    deleted when no preference is left. The call is recorded as an A1 transaction of the run;
    a refused or unavailable RIC is an outcome (and an alert), not an exception.
    """
    with store.transaction() as session:
        nci_of = {c.name: c.nci for c in repo.network_cells(session, tenant_id=tenant_id,
                                                             network_id=network_id)}  # fmt: skip
        held = sb.get_policy(
            session, tenant_id=tenant_id, network_id=network_id, policy_type=TRAFFIC_STEERING,
            policy_id=LOAD_BALANCE_POLICY,
        )  # fmt: skip
    preferences = steering_preferences(held.body) if held is not None else {}
    for action in actions:
        nci = nci_of.get(action.cell)
        if nci is None:
            msg = f"cell: {action.cell!r} has no NR cell identity (nci) to name it in A1"
            raise ValidationError(msg)
        if not isinstance(action.value, int | float):
            msg = f"{action.cell}: a cio action needs a value in dB"
            raise ValidationError(msg)
        preference = preference_for_cio(float(action.value))
        if preference is None:
            preferences.pop(nci, None)
        else:
            preferences[nci] = preference
    common: dict[str, Any] = {
        "tenant_id": tenant_id, "network_id": network_id, "policy_type": TRAFFIC_STEERING,
        "policy_id": LOAD_BALANCE_POLICY, "keyring": keyring, "actor": actor, "now_s": now_s,
        "retry": retry, "run_id": run_id,
    }  # fmt: skip
    outcome, error = "applied", None
    try:
        if preferences:
            url = None if notification_base_url is None else a1_notification_url(
                notification_base_url, network_id=network_id, policy_type=TRAFFIC_STEERING,
                policy_id=LOAD_BALANCE_POLICY,
            )  # fmt: skip
            put_a1_policy(store, body=steering_policy(sst=1, cells_nci=preferences),
                          notification_url=url, **common)  # fmt: skip
        elif held is not None:
            delete_a1_policy(store, **common)
    except A1UnavailableError as exc:
        outcome, error = "unreachable", str(exc)
    except A1RefusedError as exc:
        outcome, error = "refused", str(exc)
    return {"interface": "a1", "element": f"{TRAFFIC_STEERING}/{LOAD_BALANCE_POLICY}",
            "outcome": outcome, "num_edits": len(actions), "error": error,
            "preferences": len(preferences)}  # fmt: skip


def apply_run(
    store: Store, *, tenant_id: int, run_id: int, keyring: Keyring, actor: str, now_s: int,
    notification_base_url: str | None = None,
) -> ApplyReport:  # fmt: skip
    """Apply a succeeded run's first interval of actions through the network's southbound.

    A load-balancing run on a network whose southbound names an A1 endpoint sends its CIO
    actions as an A1 traffic-steering policy; everything else goes through O1.
    """
    with store.transaction() as session:
        run = runs.get_run(session, tenant_id=tenant_id, run_id=run_id)
        settings = sb.get_southbound(session, tenant_id=tenant_id, network_id=run.network_id)
    actions, t_min, later = plan_actions(run.plan or {})
    through_a1 = run.objective in A1_OBJECTIVES and settings.a1_url is not None
    steering = [a for a in actions if through_a1 and a.action == "cio"]
    rest = [a for a in actions if not (through_a1 and a.action == "cio")]
    outcomes = [{"interface": "o1", **asdict(o)} for o in apply_actions(
        store, tenant_id=tenant_id, network_id=run.network_id, actions=rest, keyring=keyring,
        actor=actor, now_s=now_s, run_id=run_id,
    )] if rest else []  # fmt: skip
    if steering:
        outcomes.append(apply_steering(
            store, tenant_id=tenant_id, network_id=run.network_id, actions=steering,
            keyring=keyring, actor=actor, now_s=now_s, run_id=run_id,
            notification_base_url=notification_base_url,
        ))  # fmt: skip
    return ApplyReport(run_id, t_min, len(actions), later, outcomes)


def read_cell_states(
    store: Store, *, tenant_id: int, network_id: int, keyring: Keyring
) -> dict[str, dict[str, str | None]]:
    """Every cell's O1 states by DN: administrative, operational, energy saving."""
    _, endpoints = o1_endpoints(store, tenant_id=tenant_id, network_id=network_id, keyring=keyring)

    def read(endpoint: O1Endpoint) -> list[O1Element]:
        with O1Session(endpoint) as session:
            return session.read_cell_states()

    with ThreadPoolExecutor(max_workers=max(1, min(16, len(endpoints)))) as pool:
        parts = list(pool.map(read, endpoints))
    states: dict[str, dict[str, str | None]] = {}
    for elements in parts:
        for element in elements:
            for cell in element.cells:
                states[cell.du_path.local_dn] = {
                    "administrative_state": cell.administrative_state,
                    "operational_state": cell.operational_state,
                    "cell_state": cell.cell_state,
                    "energy_saving_control": cell.energy_saving_control,
                    "energy_saving_state": cell.energy_saving_state,
                }
    return states


def read_relation_offsets(
    store: Store, *, tenant_id: int, network_id: int, keyring: Keyring, cells: Sequence[str]
) -> dict[str, dict[str, int]]:
    """Read the network's own CIO toward each cell: cell -> {relation local DN: dB}.

    Every ``NRCellRelation`` pointing at the cell (``CellTarget.incoming_relations``) is read
    from the running configuration (get-config of the elements that hold them); an unset
    ``cellIndividualOffset`` is 0 dB (TS 38.331 default). A cell is left out when any of its
    relations could not be read (its element did not answer): its offsets stay unknown.
    """
    with store.transaction() as session:
        targets = cell_targets(session, tenant_id=tenant_id, network_id=network_id)
        found = sb.elements(session, tenant_id=tenant_id, network_id=network_id)
    wanted = {name: targets[name].incoming_relations for name in cells
              if name in targets and targets[name].incoming_relations}  # fmt: skip
    holders = {r.element or "" for paths in wanted.values() for r in paths}
    _, endpoints = o1_endpoints(store, tenant_id=tenant_id, network_id=network_id, keyring=keyring)
    by_endpoint: dict[int, list[str]] = {}
    for element in sorted(holders):
        index = 0 if len(endpoints) == 1 else found.get(element, (None,))[0]
        if index is not None:
            by_endpoint.setdefault(int(index), []).append(element)

    def read(item: tuple[int, list[str]]) -> dict[str, int]:
        values: dict[str, int] = {}
        try:
            with O1Session(endpoints[item[0]]) as session:
                for name in item[1]:
                    for element in session.read_elements(name, state=False):
                        for cell in element.cells:
                            if cell.cu_path is None:
                                continue
                            for rel in cell.relations:
                                dn = cell.cu_path.child("NRCellRelation", rel.id).local_dn
                                values[dn] = 0 if rel.cio_db is None else rel.cio_db
        except O1Error as exc:
            logger.warning("network %s: cellIndividualOffset not read: %s", network_id, exc)
        return values

    read_values: dict[str, int] = {}
    with ThreadPoolExecutor(max_workers=max(1, min(16, len(by_endpoint)))) as pool:
        for part in pool.map(read, by_endpoint.items()):
            read_values |= part
    return {name: {r.local_dn: read_values[r.local_dn] for r in paths}
            for name, paths in wanted.items()
            if all(r.local_dn in read_values for r in paths)}  # fmt: skip


# --- A1 policies ----------------------------------------------------------------------------


def a1_notification_url(base_url: str, *, network_id: int, policy_type: str, policy_id: str) -> str:
    """Return where the RIC POSTs a policy's status: ranopt's authenticated notification route."""
    query = urlencode({"policy_type": policy_type, "policy_id": policy_id})
    return f"{base_url.rstrip('/')}/api/v2/networks/{network_id}/a1/notifications?{query}"


def a1_client(
    store: Store, *, tenant_id: int, network_id: int, keyring: Keyring, retry: RetryPolicy | None
) -> A1Client:
    """Return a client of the network's near-RT RIC or PMS (its bearer token unsealed, if any)."""
    with store.transaction() as session:
        settings = sb.get_southbound(session, tenant_id=tenant_id, network_id=network_id)
        token = (
            sb.a1_token(session, tenant_id=tenant_id, network_id=network_id, keyring=keyring)
            if settings.a1_has_token
            else None
        )
    if settings.a1_url is None:
        msg = f"a1: network {network_id} has no A1 endpoint"
        raise ValidationError(msg)
    if settings.a1_kind == "pms":
        return PmsClient(settings.a1_url, token=token, timeout_s=settings.timeout_s,
                         retry=retry or RetryPolicy(), ric_id=settings.a1_ric_id or "",
                         service_id=f"ranopt-network-{network_id}")  # fmt: skip
    return A1Client(settings.a1_url, token=token, timeout_s=settings.timeout_s,
                    retry=retry or RetryPolicy())  # fmt: skip


@dataclass(frozen=True)
class _A1Calls:
    """Calls on one policy: each outcome recorded, an alert when the RIC stays unavailable."""

    store: Store
    tenant_id: int
    network_id: int
    client: A1Client
    policy: str  # ``type/id``
    actor: str
    now_s: int
    run_id: int | None = None

    def run(self, step: str, call: Callable[[], T], *, write: bool = True) -> T:
        """Run ``call``; record a failure (refused: 4xx, unreachable) or a write's success."""
        started = time.perf_counter()
        outcome, error = "applied", None
        try:
            result = call()
        except A1UnavailableError as exc:
            outcome, error = "unreachable", str(exc)
            raise
        except A1RefusedError as exc:
            outcome, error = "refused", str(exc)
            raise
        finally:
            if outcome != "applied" or write:
                self._record(step, outcome, error, time.perf_counter() - started)
        return result

    def _record(self, step: str, outcome: str, error: str | None, seconds: float) -> None:
        record = {"element": self.policy, "endpoint": self.client.base_url, "outcome": outcome,
                  "num_edits": 1, "step": step, "error": error, "seconds": seconds}  # fmt: skip
        with self.store.transaction() as session:
            sb.record_outcomes(
                session, tenant_id=self.tenant_id, network_id=self.network_id,
                run_id=self.run_id, interface="a1", outcomes=[record], actor=self.actor,
                now_s=self.now_s,
            )  # fmt: skip
            if outcome == "unreachable":
                runs.add_alert(
                    session, tenant_id=self.tenant_id, network_id=self.network_id,
                    severity="warning", kind="a1_unavailable", now_s=self.now_s,
                    message=f"A1 {step} of {self.policy} failed: {error}",
                )  # fmt: skip


def put_a1_policy(
    store: Store,
    *,
    tenant_id: int,
    network_id: int,
    policy_type: str,
    policy_id: str,
    body: dict[str, Any],
    notification_url: str | None,
    keyring: Keyring,
    actor: str,
    now_s: int,
    retry: RetryPolicy | None = None,
    run_id: int | None = None,
) -> bool:
    """Create or update a policy instance on the network's RIC; True when it was created.

    The instance is checked against the schema the RIC publishes for its type before it is
    sent (``ValidationError`` naming the field; nothing sent, nothing recorded). Each write and
    each failed call is recorded as a southbound transaction; a RIC that answers 5xx or times
    out on every retry raises an ``a1_unavailable`` alert and ``A1UnavailableError``.
    """
    client = a1_client(store, tenant_id=tenant_id, network_id=network_id, keyring=keyring,
                       retry=retry)  # fmt: skip
    calls = _A1Calls(store, tenant_id, network_id, client, f"{policy_type}/{policy_id}", actor,
                     now_s, run_id)  # fmt: skip

    def keep(instance: dict[str, Any] | None) -> dict[str, Any] | None:
        """Record ``instance`` (None: forget the policy); return the body it replaces."""
        with store.transaction() as session:
            if instance is None:
                sb.delete_policy(session, tenant_id=tenant_id, network_id=network_id,
                                 policy_type=policy_type, policy_id=policy_id)  # fmt: skip
                return None
            return sb.upsert_policy(session, tenant_id=tenant_id, network_id=network_id,
                                    policy_type=policy_type, policy_id=policy_id,
                                    body=instance, now_s=now_s)  # fmt: skip

    try:
        policy_type_object = calls.run(
            "policy type", lambda: client.policy_type(policy_type), write=False
        )
        check_instance(policy_type, policy_type_object["policySchema"], body)
        # recorded before it is sent: the RIC may notify its status before its answer arrives
        previous = keep(body)
        try:
            created = calls.run("put", lambda: client.put_policy(
                policy_type, policy_id, body, notification_url=notification_url
            ))  # fmt: skip
        except A1Error:
            keep(previous)  # what ranopt held before: the RIC did not take this one
            raise
        if isinstance(client, PmsClient):  # a PMS does not notify: read the status once
            _read_status(store, tenant_id, network_id, client, policy_type, policy_id, now_s)
        return created
    finally:
        client.close()


def _read_status(
    store: Store, tenant_id: int, network_id: int, client: A1Client, policy_type: str,
    policy_id: str, now_s: int,
) -> None:  # fmt: skip
    """Record the status the endpoint reports for a policy (best effort: none when it fails)."""
    try:
        status = client.status(policy_type, policy_id)
    except A1Error:
        logger.warning("A1 status of %s/%s unavailable", policy_type, policy_id)
        return
    enforce, reason = status.get("enforceStatus"), status.get("enforceReason")
    if not isinstance(enforce, str):
        return
    with store.transaction() as session:
        sb.set_policy_status(session, tenant_id=tenant_id, network_id=network_id,
                             policy_type=policy_type, policy_id=policy_id,
                             enforce_status=enforce[:20],
                             enforce_reason=reason[:40] if isinstance(reason, str) else None,
                             now_s=now_s)  # fmt: skip


def delete_a1_policy(
    store: Store,
    *,
    tenant_id: int,
    network_id: int,
    policy_type: str,
    policy_id: str,
    keyring: Keyring,
    actor: str,
    now_s: int,
    retry: RetryPolicy | None = None,
    run_id: int | None = None,
) -> None:
    """Delete a policy instance on the network's RIC (recorded like ``put_a1_policy``)."""
    client = a1_client(store, tenant_id=tenant_id, network_id=network_id, keyring=keyring,
                       retry=retry)  # fmt: skip
    calls = _A1Calls(store, tenant_id, network_id, client, f"{policy_type}/{policy_id}", actor,
                     now_s, run_id)  # fmt: skip
    try:
        calls.run("delete", lambda: client.delete_policy(policy_type, policy_id))
    finally:
        client.close()
    with store.transaction() as session:
        sb.delete_policy(session, tenant_id=tenant_id, network_id=network_id,
                         policy_type=policy_type, policy_id=policy_id)  # fmt: skip
