"""Signed audit checkpoints: each chain's head, signed with a key the database does not hold.

A checkpoint is a small JSON file (``ranopt-audit-checkpoint/1``) naming every chain's last
``seq`` and hash, with an Ed25519 signature over its canonical JSON. The private key lives in
a file outside the database (``RANOPT_AUDIT_KEY_FILE``, mode 0600); its public half beside it
(``.pub``) is all a verifier needs. Someone who can rewrite the database but not read the key
cannot make a checkpoint, so deleting the newest entries, or deleting one and re-hashing the
rest, leaves a signed entry that is gone or different: ``ranopt audit verify`` finds it.

What no checkpoint covers yet (entries after the newest one) is protected by the chain alone;
the server writes one every ``RANOPT_AUDIT_CHECKPOINT_INTERVAL_S`` to keep that window short.
"""

import base64
import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy.orm import Session

from ranopt.errors import RanoptError
from ranopt.store.audit import Anchor, chain_heads

CHECKPOINT_FORMAT = "ranopt-audit-checkpoint/1"
KEY_FILE_MODE = 0o600


class CheckpointError(RanoptError):
    """A key or checkpoint file is missing, malformed, or does not verify."""


def public_key_path(key_file: Path) -> Path:
    """Return where the public half of ``key_file`` is kept (``KEY.pub``)."""
    return key_file.with_name(key_file.name + ".pub")


def generate_key(key_file: Path) -> Path:
    """Write a new Ed25519 private key (mode 0600) and its public key; refuse to overwrite."""
    if key_file.exists():
        msg = f"{key_file} exists: refusing to replace an audit signing key"
        raise CheckpointError(msg)
    key_file.parent.mkdir(parents=True, exist_ok=True)
    private_key = Ed25519PrivateKey.generate()
    pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, KEY_FILE_MODE)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    public = private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    public_key_path(key_file).write_bytes(public)
    return public_key_path(key_file)


def load_private_key(key_file: Path) -> Ed25519PrivateKey:
    """Read the audit signing key."""
    if not key_file.is_file():
        msg = f"no audit signing key at {key_file}: run `ranopt audit keygen`"
        raise CheckpointError(msg)
    key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        msg = f"{key_file}: not an Ed25519 private key"
        raise CheckpointError(msg)
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """Read a verifying key: a public key file, or the private key file (its public half)."""
    if not path.is_file():
        msg = f"no audit verifying key at {path}"
        raise CheckpointError(msg)
    data = path.read_bytes()
    if b"PRIVATE KEY" in data:
        return load_private_key(path).public_key()
    key = serialization.load_pem_public_key(data)
    if not isinstance(key, Ed25519PublicKey):
        msg = f"{path}: not an Ed25519 public key"
        raise CheckpointError(msg)
    return key


def key_id(public_key: Ed25519PublicKey) -> str:
    """Return a short fingerprint of a public key (first 16 hex digits of its SHA-256)."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def _canonical(body: dict[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


@dataclass(frozen=True)
class Checkpoint:
    """A written checkpoint: its file, time and the chain heads it signs."""

    path: Path
    created_s: int
    heads: dict[int, tuple[int, str]]  # chain -> (seq, hash)


def write_checkpoint(
    session: Session, *, key_file: Path, directory: Path, now_s: int | None = None
) -> Checkpoint:
    """Sign every chain's head and write the checkpoint file (atomically) into ``directory``."""
    key = load_private_key(key_file)
    created_s = int(time.time()) if now_s is None else now_s
    heads = {h.chain: (h.seq, h.hash) for h in chain_heads(session)}
    body: dict[str, Any] = {
        "format": CHECKPOINT_FORMAT,
        "created_s": created_s,
        "key_id": key_id(key.public_key()),
        "chains": {str(c): {"seq": s, "hash": h} for c, (s, h) in sorted(heads.items())},
    }
    signature = base64.b64encode(key.sign(_canonical(body))).decode()
    directory.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(created_s))
    path = directory / f"checkpoint-{stamp}.json"
    n = 1
    while path.exists():
        n += 1
        path = directory / f"checkpoint-{stamp}-{n}.json"
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps({**body, "signature": signature}, indent=1) + "\n")
    os.replace(tmp, path)
    return Checkpoint(path=path, created_s=created_s, heads=heads)


def read_checkpoint(path: Path, public_key: Ed25519PublicKey) -> Checkpoint:
    """Read one checkpoint file and check its signature; raise ``CheckpointError`` if bad."""
    try:
        document = json.loads(path.read_text())
        signature = base64.b64decode(document.pop("signature"), validate=True)
        if document.get("format") != CHECKPOINT_FORMAT:
            msg = f"{path.name}: format is not {CHECKPOINT_FORMAT}"
            raise CheckpointError(msg)
        public_key.verify(signature, _canonical(document))
        heads = {
            int(chain): (int(v["seq"]), str(v["hash"])) for chain, v in document["chains"].items()
        }
        created_s = int(document["created_s"])
    except InvalidSignature as exc:
        msg = f"{path.name}: signature does not verify with key {key_id(public_key)}"
        raise CheckpointError(msg) from exc
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        msg = f"{path.name}: not a readable checkpoint ({exc})"
        raise CheckpointError(msg) from exc
    return Checkpoint(path=path, created_s=created_s, heads=heads)


def read_checkpoints(directory: Path, public_key: Ed25519PublicKey) -> list[Checkpoint]:
    """Read and verify every checkpoint in ``directory``, oldest first."""
    if not directory.is_dir():
        return []
    found = [read_checkpoint(p, public_key) for p in sorted(directory.glob("checkpoint-*.json"))]
    return sorted(found, key=lambda c: (c.created_s, c.path.name))


def anchors(checkpoints: list[Checkpoint]) -> list[Anchor]:
    """Every entry the checkpoints vouch for (one per chain and checkpoint)."""
    return [
        Anchor(chain=chain, seq=seq, hash=digest, source=f"checkpoint {c.path.name}")
        for c in checkpoints
        for chain, (seq, digest) in c.heads.items()
        if seq > 0
    ]
