"""The emulator's O1 datastores: running and candidate configuration of its NRM objects.

Configuration is a map ``(object local DN, attribute key) -> value`` over the attributes
``ranopt.southbound.nrm.WRITABLE`` declares; everything else an object shows (cell identity,
carrier, power, relations) is fixed by the topology, and its state (operational state,
energy-saving state) comes from the running network. One ``Datastores`` is shared by every
NETCONF session of an endpoint, as RFC 6241 shares the candidate: locks, confirmed commit with
its timeout, rollback when the confirming session drops, and a durable copy of the confirmed
running configuration in a JSON file (a device keeps its configuration over a restart and
forgets an unconfirmed commit).
"""

import json
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree.ElementTree import Element, SubElement

from ranopt.southbound.nrm import NS, WRITABLE, Attribute, ObjectPath

Config = dict[tuple[str, str], str]  # (object local DN, "IOC.leaf") -> value


class RpcError(Exception):
    """An ``<rpc-error>`` (RFC 6241 Appendix A): tag, message and the path at fault."""

    def __init__(
        self, tag: str, message: str, *, path: str | None = None, error_type: str = "application"
    ) -> None:
        super().__init__(message)
        self.tag = tag
        self.message = message
        self.path = path
        self.error_type = error_type


@dataclass
class PendingConfirm:
    """A confirmed commit waiting for its confirming commit."""

    session_id: int
    backup: Config
    timer: threading.Timer
    persist: str | None = None


@dataclass
class Datastores:
    """Running and candidate configuration of one NETCONF endpoint, with locks.

    ``objects`` is the set of object local DNs that exist (the topology); ``on_commit`` is
    called with the new running configuration after every change of it.
    """

    objects: frozenset[str]
    running: Config
    state_file: Path | None = None
    on_commit: Callable[[Config], None] | None = None
    candidate: Config = field(default_factory=dict)
    candidate_dirty: bool = False
    locks: dict[str, int] = field(default_factory=dict)  # datastore -> session id
    pending: PendingConfirm | None = None
    mutex: threading.RLock = field(default_factory=threading.RLock)

    def __post_init__(self) -> None:
        """Load the durable configuration if there is one; start the candidate from running."""
        if self.state_file is not None and self.state_file.exists():
            stored = json.loads(self.state_file.read_text())
            for dn, key, value in stored["config"]:
                if (dn, key) in self.running:
                    self.running[(dn, key)] = value
        self.candidate = dict(self.running)

    # -- locks ---------------------------------------------------------------------------

    def lock(self, target: str, session_id: int) -> None:
        """Lock ``running`` or ``candidate`` for one session (RFC 6241 7.5)."""
        with self.mutex:
            owner = self.locks.get(target)
            if owner is not None:
                raise RpcError("lock-denied", f"{target} is locked by session {owner}",
                               error_type="protocol")  # fmt: skip
            if target == "candidate" and self.candidate_dirty:
                raise RpcError(
                    "resource-denied", "candidate has uncommitted changes; discard first"
                )
            self.locks[target] = session_id

    def unlock(self, target: str, session_id: int) -> None:
        """Release a lock the session holds."""
        with self.mutex:
            if self.locks.get(target) != session_id:
                raise RpcError("operation-failed", f"{target} is not locked by this session")
            del self.locks[target]

    def _check_unlocked(self, target: str, session_id: int) -> None:
        owner = self.locks.get(target)
        if owner is not None and owner != session_id:
            raise RpcError("in-use", f"{target} is locked by session {owner}")

    # -- edit, validate, commit ----------------------------------------------------------

    def edit(self, changes: Iterable[tuple[str, Attribute, str]], session_id: int) -> None:
        """Apply checked changes to the candidate, all or none (error-option rollback)."""
        with self.mutex:
            self._check_unlocked("candidate", session_id)
            staged = dict(self.candidate)
            for dn, attribute, value in changes:
                if dn not in self.objects:
                    raise RpcError("data-missing", f"no object {dn}", path=dn)
                if (dn, attribute.key) not in staged:
                    raise RpcError(
                        "unknown-element", f"{attribute.key} is not configurable on {dn}", path=dn
                    )
                if not attribute.admits(value):
                    raise RpcError(
                        "invalid-value",
                        f"{attribute.key}: value {value!r} is not allowed by the YANG type",
                        path=f"{dn}/attributes/{attribute.leaf}",
                    )
                staged[(dn, attribute.key)] = value
            self.candidate = staged
            self.candidate_dirty = self.candidate != self.running

    def validate(self) -> None:
        """Validate the candidate (every value was checked on edit; nothing else to check)."""

    def discard(self, session_id: int) -> None:
        """Reset the candidate to running (discard-changes)."""
        with self.mutex:
            self._check_unlocked("candidate", session_id)
            self.candidate = dict(self.running)
            self.candidate_dirty = False

    def commit(
        self,
        session_id: int,
        *,
        confirmed: bool = False,
        timeout_s: float = 600.0,
        persist: str | None = None,
        persist_id: str | None = None,
    ) -> None:
        """Commit the candidate; a confirmed commit reverts after ``timeout_s`` unless confirmed."""
        with self.mutex:
            self._check_unlocked("running", session_id)
            pending = self.pending
            if pending is not None and persist_id is None and pending.persist is not None:
                raise RpcError("invalid-value", "a persistent confirmed commit needs persist-id")
            if pending is not None and persist_id is not None and persist_id != pending.persist:
                raise RpcError("invalid-value", "persist-id does not match the pending commit")
            if pending is not None and pending.persist is None and pending.session_id != session_id:
                raise RpcError("in-use", "another session's confirmed commit is pending")
            if pending is not None:
                pending.timer.cancel()
                self.pending = None
            backup = dict(self.running) if pending is None else pending.backup
            self.running = dict(self.candidate)
            self.candidate_dirty = False
            if confirmed:
                timer = threading.Timer(timeout_s, self._confirm_timeout)
                timer.daemon = True
                self.pending = PendingConfirm(session_id, backup, timer, persist)
                timer.start()
                self._store(backup)  # a restart before confirmation comes back without it
            else:
                self._store(self.running)
            if self.on_commit is not None:
                self.on_commit(dict(self.running))

    def cancel_commit(self, session_id: int, persist_id: str | None = None) -> None:
        """Revert a pending confirmed commit now (RFC 6241 8.4.4.1)."""
        with self.mutex:
            pending = self.pending
            if pending is None:
                raise RpcError("operation-failed", "no confirmed commit is pending")
            if pending.persist is None and pending.session_id != session_id:
                raise RpcError("invalid-value", "the pending commit belongs to another session")
            if pending.persist is not None and persist_id != pending.persist:
                raise RpcError("invalid-value", "persist-id does not match the pending commit")
            self._revert()

    def _confirm_timeout(self) -> None:
        with self.mutex:
            if self.pending is not None:
                self._revert()

    def _revert(self) -> None:
        pending = self.pending
        if pending is None:
            return
        pending.timer.cancel()
        self.running = dict(pending.backup)
        self.candidate = dict(self.running)
        self.candidate_dirty = False
        self.pending = None
        self._store(self.running)
        if self.on_commit is not None:
            self.on_commit(dict(self.running))

    def session_closed(self, session_id: int) -> None:
        """Release a session's locks, drop its candidate changes, revert its unconfirmed commit."""
        with self.mutex:
            for target in [t for t, owner in self.locks.items() if owner == session_id]:
                del self.locks[target]
                if target == "candidate":
                    self.candidate = dict(self.running)
                    self.candidate_dirty = False
            pending = self.pending
            if pending is not None and pending.session_id == session_id and pending.persist is None:
                self._revert()

    def _store(self, config: Config) -> None:
        if self.state_file is None:
            return
        rows = [[dn, key, value] for (dn, key), value in sorted(config.items())]
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"config": rows}))
        os.replace(tmp, self.state_file)


# --- edit-config content -> changes ---------------------------------------------------------

_CLASS_BY_QNAME = {f"{{{ns}}}{ioc}": ioc for ioc, ns in NS.items()}
_ATTRS_BY_CLASS: dict[str, dict[str, Attribute]] = {}
for _attribute in WRITABLE.values():
    _ATTRS_BY_CLASS.setdefault(_attribute.ioc, {})[_attribute.leaf] = _attribute
_SUPPORTED_OPERATIONS = {None, "merge", "replace"}
_OPERATION = f"{{{'urn:ietf:params:xml:ns:netconf:base:1.0'}}}operation"


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse_edit(config: Element) -> list[tuple[str, Attribute, str]]:
    """Turn edit-config content into ``(object DN, attribute, value)`` changes.

    Objects are addressed by their ``id`` keys; only the attributes in ``WRITABLE`` may be
    set; operations other than merge and replace are refused (the emulator's cells, relations
    and policies come from its topology and cannot be created or deleted).
    """
    changes: list[tuple[str, Attribute, str]] = []
    for child in config:
        _walk_object(child, None, changes)
    return changes


def _walk_object(
    node: Element, parent: ObjectPath | None, changes: list[tuple[str, Attribute, str]]
) -> None:
    ioc = _CLASS_BY_QNAME.get(node.tag)
    where = parent.local_dn if parent else "/"
    if ioc is None:
        raise RpcError("unknown-element", f"{_local(node.tag)} is not known under {where}",
                       path=where)  # fmt: skip
    if node.get(_OPERATION) not in _SUPPORTED_OPERATIONS:
        raise RpcError(
            "operation-not-supported",
            f"operation {node.get(_OPERATION)!r} on {ioc} is not supported",
            path=where,
        )
    ns = NS[ioc]
    id_node = node.find(f"{{{ns}}}id")
    if id_node is None or not (id_node.text or "").strip():
        raise RpcError("missing-element", f"{ioc} without its key id", path=where)
    ident = (id_node.text or "").strip()
    try:
        path = ObjectPath(((ioc, ident),)) if parent is None else parent.child(ioc, ident)
    except ValueError as exc:
        raise RpcError("unknown-element", str(exc), path=where) from exc
    for child in node:
        _local(child.tag)
        if child.tag == f"{{{ns}}}id":
            continue
        if child.tag == f"{{{ns}}}attributes":
            _walk_attributes(child, path, ioc, "", changes)
        else:
            _walk_object(child, path, changes)


def _walk_attributes(
    node: Element, path: ObjectPath, ioc: str, prefix: str,
    changes: list[tuple[str, Attribute, str]],
) -> None:  # fmt: skip
    allowed = _ATTRS_BY_CLASS.get(ioc, {})
    for child in node:
        leaf = prefix + _local(child.tag)
        if child.get(_OPERATION) not in _SUPPORTED_OPERATIONS:
            raise RpcError("operation-not-supported", f"operation on {leaf} is not supported",
                           path=path.local_dn)  # fmt: skip
        if len(child):
            _walk_attributes(child, path, ioc, leaf + "/", changes)
            continue
        attribute = allowed.get(leaf)
        if attribute is None:
            raise RpcError("unknown-element", f"{ioc}.{leaf} is not configurable",
                           path=f"{path.local_dn}/attributes/{leaf}")  # fmt: skip
        changes.append((path.local_dn, attribute, (child.text or "").strip()))


# --- subtree filtering (RFC 6241 clause 6) -------------------------------------------------


def _is_leaf(node: Element) -> bool:
    return len(node) == 0


def subtree_filter(data: Element, filt: Element) -> Element | None:
    """Return the part of ``data`` the filter node ``filt`` selects (same qualified name)."""
    children = list(filt)
    if not children:
        return _copy(data)
    content = [c for c in children if _is_leaf(c) and (c.text or "").strip()]
    for match in content:
        found = [d for d in data.findall(match.tag) if (d.text or "").strip() == match.text.strip()]  # type: ignore[union-attr]
        if not found:
            return None
    others = [c for c in children if c not in content]
    out = Element(data.tag, data.attrib)
    if not others:
        for child in data:
            out.append(_copy(child))
        return out
    for child in data:
        if child.tag == "id" or child.tag.endswith("}id"):
            out.append(_copy(child))  # keys of a list entry always go with it
            continue
        if any(match.tag == child.tag for match in content):
            out.append(_copy(child))
            continue
        for sel in others:
            if sel.tag != child.tag:
                continue
            if _is_leaf(sel):
                out.append(_copy(child))
                break
            picked = subtree_filter(child, sel)
            if picked is not None:
                out.append(picked)
                break
    return out


def _copy(node: Element) -> Element:
    out = Element(node.tag, node.attrib)
    out.text = node.text
    for child in node:
        out.append(_copy(child))
    return out


def leaf(parent: Element, ioc: str, name: str, value: object) -> Element:
    """Add ``<name>value</name>`` in the class's namespace."""
    node = SubElement(parent, f"{{{NS[ioc]}}}{name}")
    node.text = str(value)
    return node
