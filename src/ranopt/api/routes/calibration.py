"""A network's calibrated model: run a calibration, read the latest report.

``POST /api/v2/networks/{id}/calibration`` fits the model from the network's topology and
stored counters and stores the report (small networks answer at once, larger ones run as a
job: 202 with the report's URL); ``GET`` returns the latest report. Too little telemetry is a
409 naming what is missing ("7 days of PM history needed, 3.2 found").
"""

import logging
from typing import Any

from fastapi import APIRouter, status
from fastapi.responses import JSONResponse

from ranopt.api.deps import Principal, Reader, Services, ServicesDep, SessionDep, Writer, now_s
from ranopt.api.deps import record as audit_record
from ranopt.api.errors import ProblemError
from ranopt.api.schemas import Accepted, IdPath
from ranopt.calibrate import CalibrationConfig, InsufficientTelemetryError, NoAllOnIntervalsError
from ranopt.service.calibration import NetworkCalibrationConfig, run_calibration
from ranopt.store import calibration as store_cal
from ranopt.store import networks as nets
from ranopt.store.calibration import CalibrationReportOut

router = APIRouter(prefix="/api/v2/networks", tags=["calibration"])
logger = logging.getLogger("ranopt.api.calibration")


def calibration_config(services: Services) -> NetworkCalibrationConfig:
    """Return the service's calibration settings (``RANOPT_CALIBRATION_*``)."""
    settings = services.settings
    return NetworkCalibrationConfig(
        max_days=settings.calibration_history_days,
        calibration=CalibrationConfig(min_days=settings.calibration_min_days),
    )


def telemetry_conflict(exc: InsufficientTelemetryError | NoAllOnIntervalsError) -> ProblemError:
    """Return the 409 for a network whose telemetry cannot support a model yet."""
    extra = (
        {"needed_days": exc.needed_days, "found_days": round(exc.found_days, 2)}
        if isinstance(exc, InsufficientTelemetryError)
        else {}
    )
    return ProblemError(409, f"network_id: {exc}", field="network_id", extra=extra)


def _calibrate(services: Services, principal: Principal, network_id: int) -> CalibrationReportOut:
    try:
        return run_calibration(
            services.store, tenant_id=principal.tenant_id, network_id=network_id,
            now_s=now_s(), config=calibration_config(services),
        )  # fmt: skip
    except (InsufficientTelemetryError, NoAllOnIntervalsError) as exc:
        raise telemetry_conflict(exc) from exc


def _background(services: Services, principal: Principal, network_id: int) -> None:
    try:
        _calibrate(services, principal, network_id)
    except Exception:  # a job must never die silently
        logger.exception("calibration of network %s failed", network_id)


@router.post(
    "/{network_id}/calibration",
    responses={202: {"model": Accepted, "description": "running; poll status_url"}},
)
def calibrate_network(network_id: IdPath, principal: Writer, services: ServicesDep) -> Any:
    """Calibrate the network's model from its topology and stored counters; store the report."""
    with services.store.transaction() as session:
        net = nets.network_by_id(session, tenant_id=principal.tenant_id, network_id=network_id)
    if net.num_cells <= services.settings.sync_max_cells:
        report = _calibrate(services, principal, network_id)
        with services.store.transaction() as session:
            audit_record(
                session, principal, action="network.calibrate", target=f"network:{net.id}",
                detail={"report_id": report.id, "prb_load_wape": report.prb_load_wape},
            )  # fmt: skip
        return report
    with services.store.transaction() as session:
        audit_record(
            session, principal, action="network.calibrate", target=f"network:{net.id}",
            detail={"queued": True},
        )  # fmt: skip
    services.jobs.submit(_background, services, principal, network_id)
    status_url = f"/api/v2/networks/{network_id}/calibration"
    return JSONResponse(
        Accepted(id=network_id, status="queued", status_url=status_url).model_dump(),
        status_code=status.HTTP_202_ACCEPTED,
        headers={"Location": status_url},
    )


@router.get("/{network_id}/calibration")
def latest_calibration(
    network_id: IdPath, principal: Reader, session: SessionDep
) -> CalibrationReportOut:
    """Return the network's latest calibration report (404 before the first one)."""
    report = store_cal.latest_report(session, tenant_id=principal.tenant_id, network_id=network_id)
    if report is None:
        raise ProblemError(404, f"network {network_id} has not been calibrated yet")
    return report
