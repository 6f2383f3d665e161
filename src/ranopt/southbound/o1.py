"""O1 over NETCONF (RFC 6241 / 6242) with ncclient: sessions, reads, one transaction per element.

A transaction edits one ManagedElement: lock the candidate, edit-config, validate, a
confirmed commit, read the edited objects back from running, the confirming commit, unlock.
Any error rolls back (discard-changes, cancel-commit) and the element's outcome says so:
``applied``, ``rolled_back`` (the device answered and nothing of the element changed) or
``unreachable`` (connection refused, lost or timed out; the detail names the step). Connects
retry with exponential back-off; errors name the endpoint and the element, never a secret.
"""

import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal
from xml.etree.ElementTree import Element

import ncclient.transport.session
from ncclient import manager
from ncclient.operations import RPCError
from ncclient.operations.errors import MissingCapabilityError, TimeoutExpiredError
from ncclient.transport.errors import AuthenticationError, SSHError, TransportError
from pydantic import SecretStr

from ranopt.errors import RanoptError
from ranopt.southbound import o1_xml
from ranopt.southbound.nrm import NS
from ranopt.southbound.o1_xml import Edit, MalformedReplyError, O1Element

logger = logging.getLogger("ranopt.southbound.o1")
# ncclient's session thread polls its send queue once per select() timeout (0.1 s), which
# adds up to 100 ms to every RPC; 5 ms keeps a transaction of six RPCs within tens of ms.
ncclient.transport.session.TICK = 0.005

Outcome = Literal["applied", "rolled_back", "unreachable"]


class O1Error(RanoptError):
    """An O1 operation failed; the message names the endpoint and, if known, the element."""

    def __init__(self, message: str, *, endpoint: str, element: str | None = None) -> None:
        where = endpoint if element is None else f"{endpoint} ManagedElement={element}"
        super().__init__(f"{where}: {message}")
        self.endpoint = endpoint
        self.element = element


class UnreachableError(O1Error):
    """The endpoint cannot be reached (refused, timed out, connection lost)."""


class CredentialsError(O1Error):
    """The endpoint refused the SSH credentials or presented an unexpected host key."""


class EditRefusedError(O1Error):
    """The device answered an RPC with ``<rpc-error>`` (tag and path in the message)."""


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry a connect (exponential back-off)."""

    attempts: int = 3
    backoff_s: float = 0.2
    factor: float = 2.0
    max_backoff_s: float = 2.0

    def delays(self) -> Iterator[float]:
        """Yield the pause before each retry."""
        delay = self.backoff_s
        for _ in range(self.attempts - 1):
            yield min(delay, self.max_backoff_s)
            delay *= self.factor


@dataclass(frozen=True)
class O1Endpoint:
    """Where and how to reach one NETCONF server (the password never prints)."""

    host: str
    port: int
    username: str
    password: SecretStr
    host_key: str | None = None  # base64 public host key; None: not verified (lab use)
    timeout_s: float = 10.0
    confirm_timeout_s: int = 120
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    @property
    def name(self) -> str:
        """``host:port`` (how errors and outcomes name it)."""
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class ElementOutcome:
    """What one element's transaction did."""

    element: str
    endpoint: str
    outcome: Outcome
    num_edits: int
    error: str | None = None
    step: str | None = None  # where it failed
    seconds: float = 0.0


def _connect_once(endpoint: O1Endpoint) -> manager.Manager:
    return manager.connect(
        host=endpoint.host, port=endpoint.port, username=endpoint.username,
        password=endpoint.password.get_secret_value(), hostkey_verify=endpoint.host_key is not None,
        hostkey_b64=endpoint.host_key, allow_agent=False, look_for_keys=False,
        timeout=endpoint.timeout_s, device_params={"name": "default"},
    )  # fmt: skip


class O1Session:
    """One NETCONF session to an endpoint (use as a context manager)."""

    def __init__(self, endpoint: O1Endpoint) -> None:
        self.endpoint = endpoint
        self._manager: manager.Manager | None = None

    def __enter__(self) -> "O1Session":
        """Connect, retrying unreachable endpoints with back-off (never bad credentials)."""
        delays = self.endpoint.retry.delays()
        while True:
            try:
                self._manager = _connect_once(self.endpoint)
                self._manager.timeout = self.endpoint.timeout_s
                return self
            except AuthenticationError as exc:
                msg = "SSH authentication failed (wrong username or password)"
                raise CredentialsError(msg, endpoint=self.endpoint.name) from exc
            except SSHError as exc:
                if "host key" in str(exc).lower() or "hostkey" in str(exc).lower():
                    msg = "the SSH host key does not match the configured one"
                    raise CredentialsError(msg, endpoint=self.endpoint.name) from exc
                error: Exception = exc
            except (TimeoutError, OSError, TransportError) as exc:
                error = exc
            delay = next(delays, None)
            if delay is None:
                msg = f"unreachable after {self.endpoint.retry.attempts} attempts: {error}"
                raise UnreachableError(msg, endpoint=self.endpoint.name) from error
            logger.warning("O1 %s unreachable (%s); retrying in %.1f s",
                           self.endpoint.name, type(error).__name__, delay)  # fmt: skip
            time.sleep(delay)

    def __exit__(self, *exc: object) -> None:
        """Close the session (best effort: the device also cleans up when the channel drops)."""
        if self._manager is not None:
            try:
                self._manager.close_session()
            except (RPCError, TransportError, TimeoutExpiredError, OSError):
                logger.debug("close-session to %s failed", self.endpoint.name)
            self._manager = None

    @property
    def m(self) -> manager.Manager:
        """The connected ncclient manager."""
        if self._manager is None:
            msg = "session is not connected"
            raise UnreachableError(msg, endpoint=self.endpoint.name)
        return self._manager

    @contextmanager
    def _rpc(self, step: str, element: str | None) -> Iterator[None]:
        """Map ncclient's errors to ranopt's, naming endpoint, element and step."""
        try:
            yield
        except RPCError as exc:
            path = f" at {exc.path}" if exc.path else ""
            msg = f"{step}: device refused ({exc.tag}){path}: {exc.message}"
            raise EditRefusedError(msg, endpoint=self.endpoint.name, element=element) from exc
        except MissingCapabilityError as exc:  # raised by ncclient before it sends anything
            msg = f"{step}: the device lacks a capability a transaction needs ({exc})"
            raise EditRefusedError(msg, endpoint=self.endpoint.name, element=element) from exc
        except (TransportError, TimeoutExpiredError, OSError) as exc:
            msg = f"{step}: connection lost or timed out ({type(exc).__name__})"
            raise UnreachableError(msg, endpoint=self.endpoint.name, element=element) from exc
        except SyntaxError as exc:  # lxml's XMLSyntaxError: ncclient could not parse the reply
            where = self.endpoint.name + ("" if element is None else f" ManagedElement={element}")
            msg = f"{where}: {step}: reply is not well-formed XML: {exc}"
            raise MalformedReplyError(msg) from exc

    # -- reads -------------------------------------------------------------------------------

    def read_elements(self, element: str | None = None, *, state: bool = True) -> list[O1Element]:
        """Read whole ManagedElements (all, or one) with get (state) or get-config."""
        with self._rpc("get" if state else "get-config", element):
            filt = o1_xml.element_filter(element)
            reply = self.m.get(filter=filt) if state else self.m.get_config("running", filter=filt)
        return o1_xml.parse_elements(reply.data_xml, endpoint=self.endpoint.name)

    def read_cell_states(self, element: str | None = None) -> list[O1Element]:
        """Read each cell's administrative, operational and energy-saving state."""
        with self._rpc("get", element):
            reply = self.m.get(filter=o1_xml.cell_state_filter(element))
        return o1_xml.parse_elements(reply.data_xml, endpoint=self.endpoint.name)

    # -- one element's transaction -------------------------------------------------------

    def transaction(self, element: str, edits: Sequence[Edit]) -> ElementOutcome:
        """Apply ``edits`` of one element as one confirmed transaction; never raise O1Error."""
        started = time.perf_counter()
        name = self.endpoint.name
        step = "lock"
        committed = False
        locked = False
        try:
            with self._rpc("lock", element):
                self._lock_candidate()
            locked = True
            step = "edit-config"
            with self._rpc(step, element):
                self.m.edit_config(
                    target="candidate",
                    config=o1_xml.edit_config_payload(edits),
                    default_operation="merge",
                    error_option="rollback-on-error",
                )
            step = "validate"
            with self._rpc(step, element):
                self.m.validate(source="candidate")
            step = "commit (confirmed)"
            with self._rpc(step, element):
                self.m.commit(confirmed=True, timeout=str(self.endpoint.confirm_timeout_s))
            committed = True
            step = "read back"
            self._verify(element, edits)
            step = "commit (confirming)"
            with self._rpc(step, element):
                self.m.commit()
            committed = False
            step = "unlock"
            with self._rpc(step, element):
                self.m.unlock("candidate")
            locked = False
        except UnreachableError as exc:
            return ElementOutcome(element, name, "unreachable", len(edits), str(exc), step,
                                  time.perf_counter() - started)  # fmt: skip
        except (EditRefusedError, MalformedReplyError) as exc:
            rollback_error = self._roll_back(element, committed=committed, locked=locked)
            if rollback_error is not None:
                return ElementOutcome(element, name, "unreachable", len(edits),
                                      f"{exc}; rollback failed: {rollback_error}", step,
                                      time.perf_counter() - started)  # fmt: skip
            return ElementOutcome(element, name, "rolled_back", len(edits), str(exc), step,
                                  time.perf_counter() - started)  # fmt: skip
        return ElementOutcome(element, name, "applied", len(edits), None, None,
                              time.perf_counter() - started)  # fmt: skip

    def _lock_candidate(self) -> None:
        try:
            self.m.lock("candidate")
        except RPCError as exc:
            if exc.tag != "resource-denied":
                raise
            self.m.discard_changes()  # a stale candidate (RFC 6241 7.5): reset, then lock
            self.m.lock("candidate")

    def _verify(self, element: str, edits: Sequence[Edit]) -> None:
        """Read the edited attributes back from running; a difference aborts the commit."""
        with self._rpc("read back", element):
            reply = self.m.get_config("running", filter=o1_xml.readback_filter(edits))
        root = o1_xml.parse_xml(reply.data_xml, where=f"{self.endpoint.name} {element}")
        for edit in edits:
            found = _find_value(root, edit)
            if found != edit.value:
                msg = (
                    f"{edit.path.local_dn}: {edit.attribute.key} reads {found!r} after the "
                    f"commit, expected {edit.value!r}"
                )
                raise MalformedReplyError(f"{self.endpoint.name}: {msg}")

    def _roll_back(self, element: str, *, committed: bool, locked: bool) -> str | None:
        """Undo what the transaction did; return an error text if the device did not answer."""
        try:
            if committed:
                with self._rpc("cancel-commit", element):
                    self.m.cancel_commit()
            if locked:
                with self._rpc("discard-changes", element):
                    self.m.discard_changes()
                with self._rpc("unlock", element):
                    self.m.unlock("candidate")
        except O1Error as exc:
            return str(exc)
        return None


def _find_value(root: Element, edit: Edit) -> str | None:
    """Return the text of the leaf ``edit`` sets in a ``<data>`` reply, or None when absent."""
    node: Element | None = root
    for ioc, ident in edit.path.rdns:
        if node is None:
            return None
        ns = NS[ioc]
        node = next(
            (
                n
                for n in node.findall(f"{{{ns}}}{ioc}")
                if (n.findtext(f"{{{ns}}}id") or "") == ident
            ),
            None,
        )
    if node is None:
        return None
    ns = NS[edit.path.ioc]
    path = "/".join(f"{{{ns}}}{p}" for p in ("attributes", *edit.attribute.leaf.split("/")))
    value = node.findtext(path)
    return None if value is None else value.strip()
