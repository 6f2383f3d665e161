"""What ``POST /optimizations/{id}/apply`` does for a network whose southbound is O1."""

from typing import Any

from sqlalchemy.orm import Session

from ranopt.api.deps import Principal, Services, now_s
from ranopt.api.errors import ProblemError
from ranopt.errors import ValidationError
from ranopt.service.southbound import apply_run
from ranopt.southbound.o1 import O1Error
from ranopt.southbound.o1_xml import MalformedReplyError
from ranopt.store import southbound as sb


def southbound_actuator(session: Session, tenant_id: int, network_id: int) -> str:
    """``twin`` or ``o1``."""
    return sb.get_southbound(session, tenant_id=tenant_id, network_id=network_id).kind


def apply_through_o1(services: Services, principal: Principal, run_id: int) -> dict[str, Any]:
    """Push the run's first interval of actions through O1; outcomes are recorded per element."""
    try:
        report = apply_run(services.store, tenant_id=principal.tenant_id, run_id=run_id,
                           keyring=services.settings.keyring(), actor=principal.subject,
                           now_s=now_s())  # fmt: skip
    except ValidationError:
        raise
    except (O1Error, MalformedReplyError) as exc:
        raise ProblemError(502, str(exc), title="O1 endpoint failed") from exc
    outcomes = report.outcomes
    return {
        "t_min": report.t_min, "num_actions": report.num_actions,
        "later_actions": report.later_actions,
        "applied": sum(o["outcome"] == "applied" for o in outcomes),
        "rolled_back": sum(o["outcome"] == "rolled_back" for o in outcomes),
        "unreachable": sum(o["outcome"] == "unreachable" for o in outcomes),
    }  # fmt: skip
