"""O1 over NETCONF (RFC 6241 / 6242) with ncclient: sessions, reads, one transaction per element.

A transaction edits one ManagedElement: lock the candidate, edit-config, validate, a
confirmed commit, read the edited objects back from running, the confirming commit, unlock,
pipelined in three round trips (RFC 6241 4.5). A device without the capabilities this needs
is refused before anything is sent.
Any error rolls back (discard-changes, cancel-commit) and the element's outcome says so:
``applied``, ``rolled_back`` (the device answered and nothing of the element changed) or
``unreachable`` (connection refused, lost or timed out; the detail names the step). Connects
retry with exponential back-off; errors name the endpoint and the element, never a secret.
"""

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal
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
# adds up to that much to every RPC. At 1 ms an RPC round trip on loopback takes ~1.7 ms
# (5 ms: ~6 ms) and an open, idle session costs ~2.6 % of a core (5 ms: ~0.8 %); sessions
# live for one discovery or one plan, so the round trip wins (benchmarks/southbound.py).
ncclient.transport.session.TICK = 0.001

Outcome = Literal["applied", "rolled_back", "unreachable"]
# what a transaction needs (RFC 6241 8.3, 8.4, 8.5, 8.6), by the step that needs it
TRANSACTION_CAPABILITIES = (
    ("lock", ":candidate"), ("edit-config", ":rollback-on-error"), ("validate", ":validate"),
    ("commit (confirmed)", ":confirmed-commit"),
)  # fmt: skip


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

    def _missing_capability(self) -> tuple[str, str] | None:
        """Return the first capability a transaction needs that the device lacks, with its step."""
        caps = self.m.server_capabilities
        return next(((step, cap) for step, cap in TRANSACTION_CAPABILITIES if cap not in caps),
                    None)  # fmt: skip

    def _pipelined(
        self, element: str, calls: Sequence[tuple[str, Callable[[], Any]]]
    ) -> list[tuple[str, Any]]:
        """Send ``calls`` without waiting, then collect each reply (or its error) in order.

        RFC 6241 4.5: a device processes a session's requests serially and answers them in
        order, and a client may send the next before the previous one is answered; this saves
        a round trip per pipelined request.
        """
        sent: list[tuple[str, Any]] = []
        self.m.async_mode = True
        try:
            for step, call in calls:
                with self._rpc(step, element):
                    sent.append((step, call()))
        finally:
            self.m.async_mode = False
        results: list[tuple[str, Any]] = []
        for step, rpc in sent:
            try:
                with self._rpc(step, element):
                    results.append((step, self._wait(rpc)))
            except (O1Error, MalformedReplyError) as exc:
                results.append((step, exc))
        return results

    def _wait(self, rpc: Any) -> Any:
        """Wait for a pipelined request's reply; raise as ncclient's synchronous mode would."""
        if not rpc.event.wait(self.endpoint.timeout_s):
            msg = "ncclient timed out while waiting for an rpc reply"
            raise TimeoutExpiredError(msg)
        if rpc.error is not None:
            raise rpc.error
        reply = rpc.reply
        reply.parse()
        if reply.error is not None:
            raise reply.error
        return reply

    def transaction(self, element: str, edits: Sequence[Edit]) -> ElementOutcome:
        """Apply ``edits`` of one element as one confirmed transaction; never raise O1Error.

        Three round trips, pipelined: lock + edit-config + validate; confirmed commit + read
        back; confirming commit + unlock. A request after a failed one is harmless (validate
        of an unchanged candidate, a read of running) and its reply is not trusted.
        """
        started = time.perf_counter()
        name = self.endpoint.name
        step = "lock"
        committed = False
        locked = False

        def settle(results: list[tuple[str, Any]]) -> list[Any]:
            nonlocal step
            for at, result in results:
                if isinstance(result, Exception):
                    step = at
                    raise result
            return [result for _, result in results]

        try:
            missing = self._missing_capability()
            if missing is not None:  # refused before anything is sent
                step, capability = missing
                msg = f"{step}: the device lacks the {capability} capability a transaction needs"
                raise EditRefusedError(msg, endpoint=name, element=element)
            edit = [
                ("edit-config", lambda: self.m.edit_config(
                    target="candidate", config=o1_xml.edit_config_payload(edits),
                    default_operation="merge", error_option="rollback-on-error")),
                ("validate", lambda: self.m.validate(source="candidate")),
            ]  # fmt: skip
            phase = self._pipelined(element, [("lock", lambda: self.m.lock("candidate")), *edit])
            if isinstance(phase[0][1], Exception):
                self._after_failed_lock(element, phase[0][1], edited=phase[1][1])
                phase = self._pipelined(element, edit)
            locked = True
            settle(phase)
            step = "commit (confirmed)"
            phase = self._pipelined(element, [
                (step, lambda: self.m.commit(confirmed=True,
                                             timeout=str(self.endpoint.confirm_timeout_s))),
                ("read back", lambda: self.m.get_config(
                    "running", filter=o1_xml.readback_filter(edits))),
            ])  # fmt: skip
            settle(phase[:1])
            committed = True
            [readback] = settle(phase[1:])
            step = "read back"
            self._verify(element, edits, readback.data_xml)
            step = "commit (confirming)"
            phase = self._pipelined(element, [
                (step, self.m.commit), ("unlock", lambda: self.m.unlock("candidate")),
            ])  # fmt: skip
            locked = isinstance(phase[1][1], Exception)
            settle(phase[:1])
            committed = False
            settle(phase[1:])
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

    def _after_failed_lock(self, element: str, error: Exception, *, edited: Any) -> None:
        """Take the lock after a refused one when the candidate was only stale; else re-raise.

        RFC 6241 7.5: a lock is refused (``resource-denied``) while the candidate holds changes
        nobody committed (a session that died mid-edit): discard them, then lock. Any other
        refusal (another session holds the lock) stands; an edit that went through anyway
        is discarded.
        """
        cause = error.__cause__
        if not isinstance(cause, RPCError) or cause.tag != "resource-denied":
            if not isinstance(edited, Exception):
                with self._rpc("discard-changes", element):
                    self.m.discard_changes()
            raise error
        with self._rpc("discard-changes", element):
            self.m.discard_changes()
        with self._rpc("lock", element):
            self.m.lock("candidate")

    def _verify(self, element: str, edits: Sequence[Edit], data_xml: str) -> None:
        """Check the edited attributes read back from running; a difference aborts the commit."""
        root = o1_xml.parse_xml(data_xml, where=f"{self.endpoint.name} {element}")
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
