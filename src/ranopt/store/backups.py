"""Backups on a schedule: stamped copies in one folder, retention by count and tiers, drills.

Retention keeps the newest ``keep`` copies and, by the deployment guide's tiers, older ones a
tenant's data still needs: every tenant has a backup tier (``90d``, ``1y`` or ``7y``,
``retention_policies.backup_tier``). A copy holding a tenant of tier ``90d`` is kept as the
newest copy of its UTC day for 90 days; ``1y`` also as the newest of its month for a year;
``7y`` also as the newest of its year for seven years. Each copy is judged by the tenants its
own manifest lists, so one tenant's long tier does not keep copies made before it existed.

A drill restores the newest copy into a scratch database, checks every table against the
manifest, and reports the age of the newest copy that verified (older ones are tried when a
newer one fails).
"""

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.orm import Session

from ranopt.errors import ValidationError
from ranopt.store import leases
from ranopt.store.backup import BackupError, backup, manifest_path, read_manifest, verify_backup
from ranopt.store.engine import Store
from ranopt.store.repository import NotFoundError
from ranopt.store.tables import RetentionPolicy

SECONDS_PER_DAY = 86_400
# tier -> (how long, the calendar unit whose newest copy it keeps)
TIERS: dict[str, tuple[int, str]] = {
    "90d": (90, "day"),
    "1y": (365, "month"),
    "7y": (7 * 365, "year"),
}
TIER_ORDER = ("90d", "1y", "7y")
BACKUP_PREFIX = "ranopt-"
BACKUP_LEASE = "backup"  # one replica backs up per interval


@dataclass(frozen=True)
class BackupCopy:
    """One backup in the folder, as its manifest describes it."""

    path: Path
    taken_s: float
    tier: str  # the longest tier among the tenants it holds


@dataclass(frozen=True)
class DrillReport:
    """Outcome of a restore drill."""

    newest_good: Path | None
    age_s: float | None  # of the newest copy that verified
    tables: int
    rows: int
    failures: list[tuple[Path, str]]  # newer copies that did not verify, and why


def _longest(tiers: list[str]) -> str:
    known = [t for t in tiers if t in TIERS]
    return max(known, key=TIER_ORDER.index, default="90d")


def list_backups(directory: Path) -> list[BackupCopy]:
    """Return the folder's backups that have a readable manifest, newest first."""
    copies = []
    for mpath in directory.glob(f"{BACKUP_PREFIX}*.manifest.json"):
        path = mpath.with_name(mpath.name.removesuffix(".manifest.json"))
        try:
            manifest = read_manifest(path)
        except (BackupError, ValueError):
            continue
        taken = manifest.get("taken_s")
        if not path.is_file() or not isinstance(taken, int | float):
            continue
        tiers = [str(t.get("backup_tier", "90d")) for t in manifest.get("tenants", [])]
        copies.append(BackupCopy(path=path, taken_s=float(taken), tier=_longest(tiers)))
    return sorted(copies, key=lambda c: c.taken_s, reverse=True)


def _period(taken_s: float, unit: str) -> tuple[int, ...]:
    when = datetime.fromtimestamp(taken_s, tz=UTC)
    return {"day": (when.year, when.month, when.day), "month": (when.year, when.month),
            "year": (when.year,)}[unit]  # fmt: skip


def retained(copies: list[BackupCopy], *, keep: int, now_s: float) -> dict[Path, str]:
    """Return the copies to keep, each with why: the newest ``keep``, then the tiers."""
    ordered = sorted(copies, key=lambda c: c.taken_s, reverse=True)
    why: dict[Path, str] = {c.path: f"one of the newest {keep}" for c in ordered[:keep]}
    for tier in TIER_ORDER:
        days, unit = TIERS[tier]
        seen: set[tuple[int, ...]] = set()
        for copy in ordered:  # newest first: the first copy of a period is its newest
            if TIER_ORDER.index(copy.tier) < TIER_ORDER.index(tier):
                continue
            if now_s - copy.taken_s > days * SECONDS_PER_DAY:
                continue
            period = _period(copy.taken_s, unit)
            if period in seen:
                continue
            seen.add(period)
            why.setdefault(copy.path, f"newest of its {unit} (tier {tier})")
    return why


def prune(directory: Path, *, keep: int, now_s: float) -> list[Path]:
    """Delete the copies retention no longer needs (each with its manifest); return them."""
    copies = list_backups(directory)
    keep_paths = retained(copies, keep=keep, now_s=now_s)
    removed = []
    for copy in copies:
        if copy.path not in keep_paths:
            copy.path.unlink(missing_ok=True)
            manifest_path(copy.path).unlink(missing_ok=True)
            removed.append(copy.path)
    return removed


def backup_file_name(dialect: str, now_s: float) -> str:
    """Return a stamped file name: ``ranopt-YYYYmmddTHHMMSS.mmmZ.db`` (SQLite) or ``.dump``."""
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now_s)) + f".{int(now_s * 1000) % 1000:03d}Z"
    return f"{BACKUP_PREFIX}{stamp}.{'db' if dialect == 'sqlite' else 'dump'}"


def scheduled_backup(store: Store, directory: Path, *, keep: int) -> tuple[Path, list[Path]]:
    """Take a stamped backup into ``directory`` and prune by retention; return both."""
    now = time.time()
    path = directory / backup_file_name(store.dialect, now)
    backup(store, path)
    return path, prune(directory, keep=keep, now_s=now)


def drill(store: Store, directory: Path, *, now_s: float) -> DrillReport:
    """Verify the newest backup in a scratch database (older ones while newer fail)."""
    failures: list[tuple[Path, str]] = []
    for copy in list_backups(directory):
        try:
            digests = verify_backup(store, copy.path)
        except BackupError as exc:
            failures.append((copy.path, str(exc)))
            continue
        return DrillReport(
            newest_good=copy.path, age_s=now_s - copy.taken_s, tables=len(digests),
            rows=sum(d.rows for d in digests.values()), failures=failures,
        )  # fmt: skip
    return DrillReport(newest_good=None, age_s=None, tables=0, rows=0, failures=failures)


def set_backup_tier(session: Session, *, tenant_id: int, tier: str) -> None:
    """Set how long backups holding the tenant's data are kept (``90d``, ``1y``, ``7y``)."""
    if tier not in TIERS:
        msg = f"backup_tier: one of {', '.join(TIER_ORDER)}, got {tier!r}"
        raise ValidationError(msg)
    policy = session.get(RetentionPolicy, tenant_id)
    if policy is None:
        msg = f"no tenant {tenant_id}"
        raise NotFoundError(msg)
    policy.backup_tier = tier
    session.flush()


def backup_if_due(
    store: Store, directory: Path, *, keep: int, interval_s: float, holder: str
) -> Path | None:
    """Take the scheduled backup if no replica took one in the last ``interval_s``.

    The lease ``backup`` is taken for ``0.9 * interval_s`` and never renewed: whichever
    replica finds it expired backs up, the others wait for the next expiry.
    """
    with store.transaction() as session:
        lease = leases.acquire(
            session, name=BACKUP_LEASE, holder=holder, ttl_s=0.9 * interval_s, renew=False
        )
    if lease is None:
        return None
    path, _ = scheduled_backup(store, directory, keep=keep)
    return path
