"""What ``POST /optimizations/{id}/apply`` does for a network whose southbound is O1 (and A1)."""

from typing import Any

from sqlalchemy.orm import Session

from ranopt.api.deps import Principal, Services, now_s
from ranopt.api.errors import ProblemError
from ranopt.service.southbound import apply_run
from ranopt.southbound.o1 import O1Error
from ranopt.southbound.o1_xml import MalformedReplyError
from ranopt.store import loops
from ranopt.store import southbound as sb
from ranopt.store.loops import LOOP_ACTOR
from ranopt.store.repository import NotFoundError
from ranopt.store.runs import RunOut


def southbound_actuator(session: Session, tenant_id: int, network_id: int) -> str:
    """``twin`` or ``o1``."""
    return sb.get_southbound(session, tenant_id=tenant_id, network_id=network_id).kind


def sent_by_loop(session: Session, tenant_id: int, run: RunOut) -> bool:
    """Say whether the run is the closed loop's compensation on a network whose O1 loop runs.

    The loop sends it (``SouthboundLoop._take_approvals``) through its act stage, on top of
    the network's own offsets, and holds it until the cell is back; a push from the request
    would race the loop's transactions on the same elements and be forgotten by it.
    """
    if run.objective != "compensation" or run.created_by != LOOP_ACTOR:
        return False
    try:
        return loops.loop_settings(session, tenant_id=tenant_id, network_id=run.network_id).enabled
    except NotFoundError:
        return False


def apply_through_southbound(
    services: Services, principal: Principal, run_id: int, base_url: str
) -> dict[str, Any]:
    """Push the run's first interval of actions; every outcome is recorded as it comes.

    Returns what the audit entry keeps: the O1 outcomes counted per kind and, when the run's
    CIO actions went to the RIC as A1 steering, that policy's outcome.
    """
    try:
        report = apply_run(services.store, tenant_id=principal.tenant_id, run_id=run_id,
                           keyring=services.settings.keyring(), actor=principal.subject,
                           now_s=now_s(), notification_base_url=base_url)  # fmt: skip
    except (O1Error, MalformedReplyError) as exc:
        raise ProblemError(502, str(exc), title="O1 endpoint failed") from exc
    o1 = [o for o in report.outcomes if o["interface"] == "o1"]
    detail: dict[str, Any] = {"o1": {
        "t_min": report.t_min, "num_actions": report.num_actions,
        "later_actions": report.later_actions,
        "applied": sum(o["outcome"] == "applied" for o in o1),
        "rolled_back": sum(o["outcome"] == "rolled_back" for o in o1),
        "unreachable": sum(o["outcome"] == "unreachable" for o in o1),
    }}  # fmt: skip
    a1 = [o for o in report.outcomes if o["interface"] == "a1"]
    if a1:
        detail["a1"] = {k: a1[0][k] for k in ("element", "outcome", "num_edits", "preferences")}
    return detail
