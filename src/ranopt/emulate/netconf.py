"""A small NETCONF server (RFC 6241 over RFC 6242 SSH) on asyncssh, for ``ranopt emulate``.

Why our own: the operations an O1 client uses on the NRM are few and well specified, and a
server of ~300 lines on asyncssh (maintained, asyncio, no native build) is easier to keep
right than a Debian netopeer2/sysrepo stack or the ``netconf`` package pinned to paramiko<4.
It implements ``<hello>`` with :base:1.0 (end-of-message framing) and :base:1.1 (chunked
framing), ``get``, ``get-config`` (running, candidate) with subtree filters, ``edit-config``
on the candidate (merge / replace, error-option rollback-on-error), ``validate``, ``commit``
with ``:confirmed-commit:1.1`` (confirmed, confirm-timeout, persist, persist-id),
``cancel-commit``, ``discard-changes``, ``lock`` / ``unlock`` and ``close-session``.
Loopback only; password authentication; the host key is made per run.
"""

import asyncio
import hmac
import itertools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import ClassVar
from xml.etree.ElementTree import Element, SubElement

import asyncssh
import defusedxml.ElementTree as SafeET
from defusedxml.common import DefusedXmlException

from ranopt.emulate.datastore import Datastores, RpcError, parse_edit, subtree_filter
from ranopt.emulate.render import LiveState, render, xml_bytes
from ranopt.emulate.topology import EmulatedElement
from ranopt.southbound.nrm import MODULES, NETCONF_NS, NS

logger = logging.getLogger("ranopt.emulate.netconf")
EOM = b"]]>]]>"
BASE_10 = "urn:ietf:params:netconf:base:1.0"
BASE_11 = "urn:ietf:params:netconf:base:1.1"
CAPABILITIES = (
    "urn:ietf:params:netconf:capability:candidate:1.0",
    "urn:ietf:params:netconf:capability:confirmed-commit:1.1",
    "urn:ietf:params:netconf:capability:validate:1.1",
    "urn:ietf:params:netconf:capability:rollback-on-error:1.0",
)
MAX_MESSAGE_BYTES = 16 * 1024 * 1024
CHUNK_BYTES = 64 * 1024
_NC = f"{{{NETCONF_NS}}}"


@dataclass
class Endpoint:
    """One NETCONF server: the elements it manages, their datastores, and the live state."""

    elements: Sequence[EmulatedElement]
    datastores: Datastores
    live: Callable[[], LiveState]
    dn_prefix: str
    base_versions: tuple[str, ...] = (BASE_10, BASE_11)
    sessions: "itertools.count[int]" = field(default_factory=lambda: itertools.count(1))

    def hello(self, session_id: int) -> bytes:
        """Return the server's ``<hello>``: base versions, capabilities, the NRM modules."""
        hello = Element(f"{_NC}hello")
        caps = SubElement(hello, f"{_NC}capabilities")
        modules = [
            f"{NS[ioc]}?module={name}&revision={revision}"
            for ioc, (name, revision) in MODULES.items()
        ]
        for cap in (*self.base_versions, *CAPABILITIES, *modules):
            SubElement(caps, f"{_NC}capability").text = cap
        SubElement(hello, f"{_NC}session-id").text = str(session_id)
        return xml_bytes(hello, declaration=True)


class FramingError(Exception):
    """The peer broke RFC 6242 framing."""


class Framer:
    """Reads and writes NETCONF messages with end-of-message or chunked framing."""

    def __init__(
        self, reader: asyncssh.SSHReader[bytes], writer: asyncssh.SSHWriter[bytes]
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.buffer = b""
        self.chunked = False

    async def _fill(self) -> None:
        data = await self.reader.read(65536)
        if not data:
            raise EOFError
        self.buffer += data
        if len(self.buffer) > MAX_MESSAGE_BYTES:
            raise FramingError("message larger than 16 MiB")

    async def read(self) -> bytes:
        """Return the next message."""
        if not self.chunked:
            while EOM not in self.buffer:
                await self._fill()
            message, _, self.buffer = self.buffer.partition(EOM)
            return message
        parts: list[bytes] = []
        while True:
            while b"\n" not in self.buffer[1:] or len(self.buffer) < 4:
                await self._fill()
            if not self.buffer.startswith(b"\n#"):
                raise FramingError("expected a chunk header")
            header, _, rest = self.buffer[2:].partition(b"\n")
            if header == b"#":
                self.buffer = rest
                return b"".join(parts)
            if not header.isdigit():
                raise FramingError(f"bad chunk size {header[:20]!r}")
            size = int(header)
            while len(rest) < size:
                await self._fill()
                header, _, rest = self.buffer[2:].partition(b"\n")
            parts.append(rest[:size])
            self.buffer = rest[size:]

    def write(self, message: bytes) -> None:
        """Send one message (chunked framing: chunks of at most ``CHUNK_BYTES``)."""
        if self.chunked:
            # RFC 6242 4.2 allows any chunk size; devices send bounded chunks as they write,
            # and ncclient re-decodes the whole unparsed buffer on every read, so one 14 MB
            # chunk (1 626 cells) costs it seconds of CPU where 64 KiB chunks cost nothing
            parts = [
                b"\n#%d\n" % len(message[i : i + CHUNK_BYTES]) + message[i : i + CHUNK_BYTES]
                for i in range(0, len(message), CHUNK_BYTES)
            ]
            self.writer.write(b"".join(parts) + b"\n##\n")
        else:
            self.writer.write(message + EOM)


def _reply(message_id: str | None, body: Element | None = None) -> bytes:
    reply = Element(f"{_NC}rpc-reply")
    if message_id is not None:
        reply.set("message-id", message_id)
    if body is None:
        SubElement(reply, f"{_NC}ok")
    else:
        reply.append(body)
    return xml_bytes(reply)


def _error_reply(message_id: str | None, error: RpcError) -> bytes:
    reply = Element(f"{_NC}rpc-reply")
    if message_id is not None:
        reply.set("message-id", message_id)
    err = SubElement(reply, f"{_NC}rpc-error")
    SubElement(err, f"{_NC}error-type").text = error.error_type
    SubElement(err, f"{_NC}error-tag").text = error.tag
    SubElement(err, f"{_NC}error-severity").text = "error"
    if error.path:
        SubElement(err, f"{_NC}error-path").text = error.path
    SubElement(err, f"{_NC}error-message").text = error.message
    return xml_bytes(reply)


def _target(op: Element, name: str) -> str:
    holder = op.find(f"{_NC}{name}")
    if holder is None or len(holder) != 1:
        raise RpcError(
            "missing-element", f"<{name}> must name one datastore", error_type="protocol"
        )
    store = holder[0].tag.removeprefix(_NC)
    if store not in ("running", "candidate"):
        raise RpcError(
            "invalid-value", f"datastore {store!r} is not supported", error_type="protocol"
        )
    return store


class Session:
    """One NETCONF session over one SSH channel."""

    def __init__(self, endpoint: Endpoint, framer: Framer) -> None:
        self.endpoint = endpoint
        self.framer = framer
        self.id = next(endpoint.sessions)

    async def run(self) -> None:
        """Exchange hellos, then answer RPCs until close-session or end of input."""
        store = self.endpoint.datastores
        try:
            self.framer.write(self.endpoint.hello(self.id))
            client_hello = SafeET.fromstring(await self.framer.read())
            caps = {(c.text or "").strip() for c in client_hello.iter(f"{_NC}capability")}
            if BASE_11 in caps and BASE_11 in self.endpoint.base_versions:
                self.framer.chunked = True
            elif BASE_10 not in caps or BASE_10 not in self.endpoint.base_versions:
                return  # no common base version: RFC 6241 8.1, close the session
            while True:
                message = await self.framer.read()
                reply, close = await self._handle(message)
                self.framer.write(reply)
                if close:
                    return
        except (EOFError, asyncssh.Error, ConnectionError, FramingError):
            return
        except (SafeET.ParseError, DefusedXmlException):
            return
        finally:
            store.session_closed(self.id)

    async def _handle(self, message: bytes) -> tuple[bytes, bool]:
        try:
            rpc = SafeET.fromstring(message)
        except (SafeET.ParseError, DefusedXmlException) as exc:
            return _error_reply(
                None, RpcError("malformed-message", str(exc), error_type="rpc")
            ), False
        message_id = rpc.get("message-id")
        if rpc.tag != f"{_NC}rpc" or len(rpc) != 1:
            error = RpcError(
                "malformed-message", "expected <rpc> with one operation", error_type="rpc"
            )
            return _error_reply(message_id, error), False
        op = rpc[0]
        name = op.tag.removeprefix(_NC)
        try:
            if name == "close-session":
                return _reply(message_id), True
            body = await self._dispatch(name, op)
        except RpcError as error:
            return _error_reply(message_id, error), False
        return _reply(message_id, body), False

    async def _dispatch(self, name: str, op: Element) -> Element | None:
        if name in ("get", "get-config"):
            source = "running" if name == "get" else _target(op, "source")
            filt = op.find(f"{_NC}filter")
            if filt is not None and filt.get("type", "subtree") != "subtree":
                raise RpcError("operation-not-supported", "only subtree filters are supported")
            return await asyncio.get_running_loop().run_in_executor(
                None, self._read, source, filt, name == "get"
            )
        handler = self._WRITES.get(name)
        if handler is None:
            raise RpcError(
                "operation-not-supported", f"<{name}> is not supported", error_type="protocol"
            )
        handler(self, op)
        return None

    def _edit_config(self, op: Element) -> None:
        if _target(op, "target") != "candidate":
            raise RpcError("operation-not-supported", "edit the candidate, then commit",
                           error_type="protocol")  # fmt: skip
        config = op.find(f"{_NC}config")
        if config is None:
            raise RpcError("missing-element", "edit-config without <config>", error_type="protocol")
        self.endpoint.datastores.edit(parse_edit(config), self.id)

    def _validate(self, _op: Element) -> None:
        self.endpoint.datastores.validate()

    def _commit(self, op: Element) -> None:
        timeout = op.findtext(f"{_NC}confirm-timeout")
        self.endpoint.datastores.commit(
            self.id, confirmed=op.find(f"{_NC}confirmed") is not None,
            timeout_s=float(timeout) if timeout else 600.0,
            persist=op.findtext(f"{_NC}persist"), persist_id=op.findtext(f"{_NC}persist-id"),
        )  # fmt: skip

    def _cancel_commit(self, op: Element) -> None:
        self.endpoint.datastores.cancel_commit(self.id, op.findtext(f"{_NC}persist-id"))

    def _discard_changes(self, _op: Element) -> None:
        self.endpoint.datastores.discard(self.id)

    def _lock(self, op: Element) -> None:
        self.endpoint.datastores.lock(_target(op, "target"), self.id)

    def _unlock(self, op: Element) -> None:
        self.endpoint.datastores.unlock(_target(op, "target"), self.id)

    # The operations that change a datastore, by RPC name (RFC 6241 7.2-7.6, 8.3, 8.4).
    _WRITES: ClassVar[dict[str, Callable[["Session", Element], None]]] = {
        "edit-config": _edit_config, "validate": _validate, "commit": _commit,
        "cancel-commit": _cancel_commit, "discard-changes": _discard_changes,
        "lock": _lock, "unlock": _unlock,
    }  # fmt: skip

    def _read(self, source: str, filt: Element | None, with_state: bool) -> Element:
        store = self.endpoint.datastores
        with store.mutex:
            config = dict(store.running if source == "running" else store.candidate)
        elements = self.endpoint.elements
        wanted = None if filt is None else _wanted_elements(filt)
        if wanted is not None:
            elements = [e for e in elements if e.id in wanted]
        data = render(elements, config, self.endpoint.live(), dn_prefix=self.endpoint.dn_prefix,
                      with_state=with_state)  # fmt: skip
        if filt is None:
            return data
        out = Element(data.tag)
        for child in data:
            for sel in filt:
                if sel.tag == child.tag:
                    picked = subtree_filter(child, sel)
                    if picked is not None:
                        out.append(picked)
                    break
        return out


def _wanted_elements(filt: Element) -> set[str] | None:
    """ManagedElement ids a filter asks for, when every top-level node names one by id."""
    wanted: set[str] = set()
    me_tag = f"{{{NS['ManagedElement']}}}ManagedElement"
    for node in filt:
        if node.tag != me_tag:
            return None
        ident = node.findtext(f"{{{NS['ManagedElement']}}}id")
        if not ident:
            return None
        wanted.add(ident.strip())
    return wanted


class _Server(asyncssh.SSHServer):
    def __init__(self, username: str, password: str) -> None:
        self.username = username
        self.password = password

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        return hmac.compare_digest(username.encode(), self.username.encode()) & hmac.compare_digest(
            password.encode(), self.password.encode()
        )


async def serve(
    endpoint: Endpoint,
    *,
    host: str,
    port: int,
    username: str,
    password: str,
    host_key: asyncssh.SSHKey,
) -> asyncssh.SSHAcceptor:
    """Listen for NETCONF over SSH (subsystem ``netconf``) on ``host:port`` (0: any free)."""

    async def handle(process: asyncssh.SSHServerProcess[bytes]) -> None:
        if process.subsystem != "netconf":
            process.exit(1)
            return
        session = Session(endpoint, Framer(process.stdin, process.stdout))
        await session.run()
        process.exit(0)

    return await asyncssh.listen(
        host, port, server_factory=lambda: _Server(username, password),
        server_host_keys=[host_key], process_factory=handle, encoding=None,
        allow_scp=False, line_editor=False, keepalive_interval=0,
    )  # fmt: skip
