"""A1-P v2 client (O-RAN.WG2.A1AP-v02.00): policy types, instances, status, with retries.

5xx answers, 429 and timeouts are retried with exponential back-off; when the retries run
out the call raises ``A1UnavailableError`` (the caller raises an alert). A 4xx is the
caller's mistake and raises ``A1RefusedError`` with the RIC's problem detail. Instances are
checked against the type's schema before they are sent.
"""

import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from ranopt.errors import RanoptError
from ranopt.southbound.a1_types import check_instance
from ranopt.southbound.o1 import RetryPolicy


class A1Error(RanoptError):
    """An A1 call failed; names the RIC URL."""


class A1UnavailableError(A1Error):
    """The RIC answered 5xx / 429 or timed out on every attempt."""


class A1RefusedError(A1Error):
    """The RIC refused the request (4xx), with its problem detail."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class A1Client:
    """A near-RT RIC's A1-P v2 API at ``base_url`` (``.../A1-P/v2``)."""

    base_url: str
    token: str | None = None
    timeout_s: float = 5.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    client: httpx.Client | None = None

    def __post_init__(self) -> None:
        """Open one pooled HTTP client."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        self.client = self.client or httpx.Client(timeout=self.timeout_s, headers=headers)

    def close(self) -> None:
        """Close the HTTP client."""
        if self.client is not None:
            self.client.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        assert self.client is not None  # noqa: S101 - set in __post_init__
        url = self.base_url.rstrip("/") + path
        delays = self.retry.delays()
        while True:
            try:
                response = self.client.request(method, url, **kwargs)
            except httpx.HTTPError as exc:
                problem = f"{type(exc).__name__}"
            else:
                if response.status_code < 400:
                    return response
                if response.status_code < 500 and response.status_code != 429:
                    detail = _detail(response)
                    msg = (
                        f"A1 {self.base_url}: {method} {path} refused "
                        f"({response.status_code}): {detail}"
                    )
                    raise A1RefusedError(msg, response.status_code)
                problem = f"HTTP {response.status_code}"
            delay = next(delays, None)
            if delay is None:
                msg = (
                    f"A1 {self.base_url}: {method} {path} failed after {self.retry.attempts} "
                    f"attempts ({problem})"
                )
                raise A1UnavailableError(msg)
            time.sleep(delay)

    def policy_types(self) -> list[str]:
        """Every policy type id the RIC supports."""
        result: list[str] = self._call("GET", "/policytypes").json()
        return result

    def policy_type(self, type_id: str) -> dict[str, Any]:
        """Return a policy type's ``policySchema`` (and ``statusSchema``)."""
        result: dict[str, Any] = self._call("GET", f"/policytypes/{quote(type_id)}").json()
        return result

    def put_policy(
        self, type_id: str, policy_id: str, body: dict[str, Any], *,
        schema: dict[str, Any] | None = None, notification_url: str | None = None,
    ) -> bool:  # fmt: skip
        """Create or update an instance (checked against ``schema``); True when created."""
        if schema is not None:
            check_instance(type_id, schema, body)
        params = {"notificationDestination": notification_url} if notification_url else None
        response = self._call("PUT", f"/policytypes/{quote(type_id)}/policies/{quote(policy_id)}",
                              json=body, params=params)  # fmt: skip
        return response.status_code == 201

    def get_policy(self, type_id: str, policy_id: str) -> dict[str, Any]:
        """Return an instance as the RIC holds it."""
        path = f"/policytypes/{quote(type_id)}/policies/{quote(policy_id)}"
        result: dict[str, Any] = self._call("GET", path).json()
        return result

    def policy_ids(self, type_id: str) -> list[str]:
        """Return the instance ids of a type."""
        result: list[str] = self._call("GET", f"/policytypes/{quote(type_id)}/policies").json()
        return result

    def status(self, type_id: str, policy_id: str) -> dict[str, Any]:
        """Return an instance's enforcement status."""
        path = f"/policytypes/{quote(type_id)}/policies/{quote(policy_id)}/status"
        result: dict[str, Any] = self._call("GET", path).json()
        return result

    def delete_policy(self, type_id: str, policy_id: str) -> None:
        """Delete an instance."""
        self._call("DELETE", f"/policytypes/{quote(type_id)}/policies/{quote(policy_id)}")


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    if isinstance(body, dict):
        return str(body.get("detail") or body.get("title") or body)[:500]
    return str(body)[:300]
