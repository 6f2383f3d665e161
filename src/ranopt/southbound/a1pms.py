"""A1 through an A1 Policy Management Service (O-RAN SC A1PMS API v3), as in an SMO.

A network may name a PMS instead of its near-RT RIC: the PMS keeps the policies and pushes
them to the RIC it names (``nearRtRicId``). ``PmsClient`` offers the calls ranopt needs with
the same methods as ``A1Client`` (policy types, a type's schema, create / update / delete a
policy, its status), so the service layer uses either: ``GET /policy-types``,
``GET /policy-types/{id}``, ``POST /policies`` (create) or ``PUT /policies/{id}`` (update),
``GET /policies/{id}``, ``GET /policies/{id}/status``, ``DELETE /policies/{id}``. The PMS has
no per-policy notification destination: status is read (``status``), not pushed. Retries,
refusals and timeouts behave as in ``A1Client``.
"""

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from ranopt.southbound.a1 import A1Client, A1RefusedError
from ranopt.southbound.a1_types import check_instance

NOT_FOUND = 404


@dataclass
class PmsClient(A1Client):
    """A PMS at ``base_url`` (``.../a1-policy-management/v1``) in front of RIC ``ric_id``."""

    ric_id: str = ""
    service_id: str = "ranopt"

    def __post_init__(self) -> None:
        """Refuse a PMS client that names no near-RT RIC, then open the HTTP client."""
        if not self.ric_id:
            msg = "ric_id: a PMS client needs the near-RT RIC it addresses"
            raise ValueError(msg)
        super().__post_init__()

    def policy_types(self) -> list[str]:
        """Every policy type id the PMS knows for the RIC."""
        found = self._call("GET", "/policy-types", params={"nearRtRicId": self.ric_id}).json()
        return sorted({str(t["policyTypeId"]) for t in found})

    def policy_type(self, type_id: str) -> dict[str, Any]:
        """Return a policy type's ``policySchema`` (and ``statusSchema``)."""
        result: dict[str, Any] = self._call("GET", f"/policy-types/{quote(type_id)}").json()
        return result

    def put_policy(
        self, type_id: str, policy_id: str, body: dict[str, Any], *,
        schema: dict[str, Any] | None = None, notification_url: str | None = None,
    ) -> bool:  # fmt: skip
        """Create (``POST /policies``) or update (``PUT``) an instance; True when created.

        ``notification_url`` is not used: the PMS has no per-policy notification destination.
        """
        del notification_url
        if schema is not None:
            check_instance(type_id, schema, body)
        try:
            self._call("PUT", f"/policies/{quote(policy_id)}", json=body)
        except A1RefusedError as exc:
            if exc.status != NOT_FOUND:
                raise
        else:
            return False
        self._call("POST", "/policies", json={
            "policyId": policy_id, "nearRtRicId": self.ric_id, "policyTypeId": type_id,
            "policyObject": body, "serviceId": self.service_id, "transient": False,
        })  # fmt: skip
        return True

    def get_policy(self, type_id: str, policy_id: str) -> dict[str, Any]:
        """Return an instance's policy data as the PMS holds it."""
        del type_id
        result: dict[str, Any] = self._call("GET", f"/policies/{quote(policy_id)}").json()
        return result

    def policy_ids(self, type_id: str) -> list[str]:
        """Return the instance ids of a type at the RIC."""
        params = {"policyTypeId": type_id, "nearRtRicId": self.ric_id}
        return sorted(str(p["policyId"]) for p in self._call("GET", "/policies",
                                                             params=params).json())  # fmt: skip

    def status(self, type_id: str, policy_id: str) -> dict[str, Any]:
        """Return an instance's status (``enforceStatus``, ``enforceReason``)."""
        del type_id
        result: dict[str, Any] = self._call("GET", f"/policies/{quote(policy_id)}/status").json()
        return result

    def delete_policy(self, type_id: str, policy_id: str) -> None:
        """Delete an instance."""
        del type_id
        self._call("DELETE", f"/policies/{quote(policy_id)}")
