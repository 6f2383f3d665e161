"""A misbehaving NETCONF peer on 127.0.0.1: SSH, hello, then canned replies by operation.

It stands in for a device whose replies are broken (not well-formed XML, or XML that breaks
the NRM), which ``ranopt emulate`` never sends. It speaks RFC 6242 end-of-message framing
(``:base:1.0``) with the emulator's framer and runs its own event loop in a thread.
"""

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import asyncssh
import defusedxml.ElementTree as SafeET

from ranopt.emulate.netconf import BASE_10, Framer

NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
USER, PASSWORD = "ranopt", "fake-peer-password"
# what a transaction needs (RFC 6241 8.3, 8.4, 8.5, 8.6)
CAPABILITIES = (
    BASE_10,
    "urn:ietf:params:netconf:capability:candidate:1.0",
    "urn:ietf:params:netconf:capability:confirmed-commit:1.1",
    "urn:ietf:params:netconf:capability:validate:1.1",
    "urn:ietf:params:netconf:capability:rollback-on-error:1.0",
)


class _Server(asyncssh.SSHServer):
    def __init__(self, connections: list[asyncssh.SSHServerConnection]) -> None:
        self.connections = connections

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self.connections.append(conn)

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        return username == USER and password == PASSWORD


class FakeNetconfPeer:
    """Answers each RPC with ``<rpc-reply>`` + ``bodies[operation]`` (``<ok/>`` by default)."""

    def __init__(self, bodies: dict[str, str], capabilities: tuple[str, ...]) -> None:
        self.bodies = bodies
        self.capabilities = capabilities
        self.operations: list[str] = []
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._acceptor: asyncssh.SSHAcceptor | None = None
        self._connections: list[asyncssh.SSHServerConnection] = []

    async def _handle(self, process: asyncssh.SSHServerProcess[bytes]) -> None:
        framer = Framer(process.stdin, process.stdout)
        listed = "".join(f"<capability>{c}</capability>" for c in self.capabilities)
        framer.write(f'<hello xmlns="{NC}"><capabilities>{listed}</capabilities>'
                     "<session-id>1</session-id></hello>".encode())  # fmt: skip
        try:
            await framer.read()  # the client's hello
            while True:
                rpc = SafeET.fromstring(await framer.read())
                operation = rpc[0].tag.rpartition("}")[2]
                self.operations.append(operation)
                body = self.bodies.get(operation, "<ok/>")
                framer.write(f'<rpc-reply xmlns="{NC}" message-id="{rpc.get("message-id")}">'
                             f"{body}</rpc-reply>".encode())  # fmt: skip
                if operation == "close-session":
                    break
        except (EOFError, asyncssh.Error, ConnectionError):
            pass
        process.exit(0)

    async def _listen(self) -> None:
        self._acceptor = await asyncssh.listen(
            "127.0.0.1", 0, server_factory=lambda: _Server(self._connections),
            server_host_keys=[asyncssh.generate_private_key("ssh-ed25519")],
            process_factory=self._handle, encoding=None, allow_scp=False, line_editor=False,
        )  # fmt: skip
        self.port = self._acceptor.sockets[0].getsockname()[1]

    def start(self) -> "FakeNetconfPeer":
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(timeout=30)
        return self

    async def _close(self) -> None:
        if self._acceptor is not None:
            self._acceptor.close()
            await self._acceptor.wait_closed()
        for conn in self._connections:
            conn.close()
            await conn.wait_closed()

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()


@contextmanager
def fake_peer(
    capabilities: tuple[str, ...] = CAPABILITIES, **bodies: str
) -> Iterator[FakeNetconfPeer]:
    """A started peer answering ``bodies`` (by operation, ``get_config`` for get-config)."""
    by_operation = {k.replace("_", "-"): v for k, v in bodies.items()}
    peer = FakeNetconfPeer(by_operation, capabilities).start()
    try:
        yield peer
    finally:
        peer.stop()
