"""The O-RAN A1 policy types ranopt uses, read from their JSON schemas, and instance checks.

The schemas are the O-RAN A1TD policy-type definitions (JSON Schema draft-07) that a near-RT
RIC registers; ranopt reads them where they lie (``../shared/specs/a1/policy-types-oran`` in
this repository's checkouts, or a directory the operator names) and never copies them.
An instance is checked with ``jsonschema`` before it is sent; the error names the field.
"""

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema
from jsonschema.exceptions import best_match

from ranopt.errors import ValidationError

TRAFFIC_STEERING = "ORAN_TrafficSteeringPreference_2.0.0"
SLICE_SLA = "ORAN_SliceSLATarget_1.0.0"
POLICY_TYPE_FILES: dict[str, str] = {
    TRAFFIC_STEERING: "policy_schema_traffic_steering_preference.json",
    SLICE_SLA: "policy_schema_slice_sla_target.json",
}
STATUS_FILE = "policy_status.json"


def load_policy_types(directory: Path) -> dict[str, dict[str, Any]]:
    """Read ``{policy type id: {"policySchema": ..., "statusSchema": ...}}`` from ``directory``."""
    status = json.loads((directory / STATUS_FILE).read_text())
    types = {}
    for type_id, name in POLICY_TYPE_FILES.items():
        schema = json.loads((directory / name).read_text())
        jsonschema.Draft7Validator.check_schema(schema)
        types[type_id] = {"policySchema": schema, "statusSchema": status}
    return types


class PolicySchemaError(ValidationError):
    """A policy instance breaks its type's schema; ``field`` is the JSON path at fault."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


def schema_violation(schema: Mapping[str, Any], instance: Any) -> tuple[str, str] | None:
    """Return the most relevant schema violation as ``(field, message)``, or None when valid."""
    validator = jsonschema.Draft7Validator(schema)
    error = best_match(validator.iter_errors(instance))
    if error is None:
        return None
    return error.json_path.removeprefix("$").removeprefix(".") or "(policy)", error.message


def instance_errors(schema: Mapping[str, Any], instance: Any) -> str | None:
    """Return the most relevant schema violation as ``field: message``, or None when valid."""
    violation = schema_violation(schema, instance)
    return None if violation is None else f"{violation[0]}: {violation[1]}"


def check_instance(type_id: str, schema: Mapping[str, Any], instance: Any) -> None:
    """Raise ``PolicySchemaError`` naming the field when ``instance`` breaks the schema."""
    violation = schema_violation(schema, instance)
    if violation is not None:
        field, message = violation
        msg = f"policy ({type_id}) {field}: {message}"
        raise PolicySchemaError(msg, field=field)


# The cell individual offset (dB) ranopt means by each traffic-steering preference when it
# turns a load-balancing plan into A1 (and the emulator's RIC enforces); no preference: 0 dB.
PREFERENCE_CIO_DB: dict[str, float] = {"SHALL": 6.0, "PREFER": 3.0, "AVOID": -3.0,
                                       "FORBID": -24.0}  # fmt: skip


def preference_for_cio(cio_db: float) -> str | None:
    """Return the preference whose offset is nearest ``cio_db`` (None: nearest to 0 dB)."""
    nearest = min(PREFERENCE_CIO_DB, key=lambda p: abs(PREFERENCE_CIO_DB[p] - cio_db))
    return nearest if abs(PREFERENCE_CIO_DB[nearest] - cio_db) < abs(cio_db) else None


def steering_preferences(policy: Mapping[str, Any]) -> dict[int, str]:
    """Return ``{NCI: preference}`` of a traffic-steering-preference instance."""
    return {
        int(cell["cId"]["ncI"]): str(resource["preference"])
        for resource in policy.get("tspResources", [])
        for cell in resource.get("cellIdList", [])
        if "ncI" in cell.get("cId", {})
    }


def plmn(mcc: str = "001", mnc: str = "01") -> dict[str, str]:
    """Return a PLMN id object (TS 23.003)."""
    return {"mcc": mcc, "mnc": mnc}


def steering_policy(
    *, sst: int, cells_nci: Mapping[int, str], mcc: str = "001", mnc: str = "01"
) -> dict[str, Any]:
    """Build a traffic-steering-preference instance: one slice, a preference per cell (by NCI)."""
    by_pref: dict[str, list[int]] = {}
    for nci, preference in cells_nci.items():
        by_pref.setdefault(preference, []).append(nci)
    return {
        "scope": {"sliceId": {"sst": sst, "plmnId": plmn(mcc, mnc)}},
        "tspResources": [
            {"cellIdList": [{"plmnId": plmn(mcc, mnc), "cId": {"ncI": n}} for n in sorted(ncis)],
             "preference": pref}
            for pref, ncis in sorted(by_pref.items())
        ],
    }  # fmt: skip


def slice_sla_policy(
    *, sst: int, gua_dl_thpt_mbps: float, cells_nci: list[int], mcc: str = "001", mnc: str = "01"
) -> dict[str, Any]:
    """Build a slice SLA target: guaranteed DL throughput of one slice over some cells."""
    return {
        "scope": {"sliceId": {"sst": sst, "plmnId": plmn(mcc, mnc)}},
        "sliceSlaObjectives": {"guaDlThptPerSlice": gua_dl_thpt_mbps},
        "sliceSlaResources": {
            "cellIdList": [{"plmnId": plmn(mcc, mnc), "cId": {"ncI": n}} for n in cells_nci]
        },
    }
