"""Security analytics on the audit log and the API request log (pure, explicit state).

``scan(state, requests, audits, now_s, config)`` reads the events that arrived since the last
scan and returns the new state and the findings raised or cleared. Each finding names its
evidence: the audit entries (chain and ``seq``) and request-log ids behind it.

- **brute force**: at least ``brute_force_failures`` rejected credentials from one client
  address within ``window_s`` against at most ``brute_force_max_accounts`` accounts.
- **credential stuffing**: rejected credentials for at least ``stuffing_accounts`` distinct
  accounts within ``window_s``, from one address, or from ``stuffing_addresses`` addresses
  against one tenant (a distributed list). Failures come from the audit log's aggregated rows
  (one at the first failure, a summary with ``count`` and ``accounts`` per window).
- **new route / new tenant**: an established principal (``established_requests`` requests over
  ``established_days``) calls ``new_routes`` route templates it never called within one hour,
  or one that needs a permission it never used, or acts in a tenant it never acted in.
- **read burst**: a principal reads more networks within ``window_s`` than ``burst_factor``
  times its usual most (and at least ``burst_min_networks``).
- **API key from a new address**: an established API key used from an address it never used.
- **off-hours administration**: an administrative action by a principal never active in that
  hour of day (nor the hours beside it) over at least ``habit_days`` active days.

What raised a finding teaches no habit at once: the new routes of a route episode, a tenant
acted in for the first time, the hour of an off-hours action are held back and join the
principal's habit only once they have recurred on ``confirm_days`` distinct days; until then
each use is judged as new again. Otherwise one attack would make its own repetition (the
same stolen token, the same night hour) usual.

A finding stays open while new evidence arrives and clears after ``quiet_s`` without any.
"""

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

KINDS: tuple[str, ...] = (
    "brute_force",
    "credential_stuffing",
    "new_route",
    "new_tenant",
    "read_burst",
    "api_key_new_address",
    "off_hours_admin",
)
SEVERITY: dict[str, str] = {
    "brute_force": "major",
    "credential_stuffing": "critical",
    "new_route": "minor",
    "new_tenant": "critical",
    "read_burst": "major",
    "api_key_new_address": "major",
    "off_hours_admin": "major",
}
FAILURE_ACTIONS = frozenset({"auth.login", "auth.rejected"})
ADMIN_ACTIONS = frozenset(
    {
        "user.create", "user.totp.reset", "api_key.create", "api_key.revoke", "tenant.mfa",
        "secret.put", "network.delete", "southbound.set", "loop.configure",
        "a1.policy.put", "a1.policy.delete", "optimization.apply",
    }
)  # fmt: skip
SECONDS_PER_DAY = 86_400
SECONDS_PER_HOUR = 3_600
MAX_EVIDENCE = 50


@dataclass(frozen=True)
class SecurityConfig:
    """Thresholds of the security detectors (see docs/detection.md for how they were set)."""

    window_s: int = 600
    brute_force_failures: int = 10
    brute_force_max_accounts: int = 3
    stuffing_accounts: int = 5
    stuffing_addresses: int = 4
    established_requests: int = 50
    established_days: float = 3.0
    new_routes: int = 3
    burst_min_networks: int = 5
    burst_factor: float = 2.0
    key_established_requests: int = 20
    key_established_days: float = 1.0
    habit_days: int = 5
    confirm_days: int = 3  # days a held-back habit must be seen on, the raising day included
    quiet_s: int = 3_600


@dataclass(frozen=True)
class RequestEvent:
    """One request-log row."""

    id: int
    ts_s: int
    tenant_id: int | None
    principal: str  # "user:7", "apikey:rk_...", "-" when unauthenticated
    via: str
    method: str
    route: str
    network_id: int | None
    status: int
    client: str


@dataclass(frozen=True)
class AuditEvent:
    """One audit entry; ``tenant_id`` is the tenant it concerns (resolved by the caller)."""

    chain: int
    seq: int
    ts_s: int  # when it became visible (a summary row: when its window closed)
    tenant_id: int | None
    actor: str
    action: str
    outcome: str
    detail: Mapping[str, Any]


@dataclass(frozen=True)
class SecurityFinding:
    """A finding raised (or cleared) for one tenant, with its evidence."""

    kind: str
    key: str  # one open finding per key
    tenant_id: int | None  # None: no tenant could be named (platform level)
    raised: bool
    at_s: int
    since_s: int
    reason: str
    audit_ids: tuple[tuple[int, int], ...] = ()  # (chain, seq)
    request_ids: tuple[int, ...] = ()


@dataclass
class _Failure:
    ts_s: int
    address: str
    tenant_id: int | None
    count: int
    accounts: tuple[str, ...]
    ref: tuple[int, int]


@dataclass
class SecurityState:
    """What the detectors remember (plain data: stored as JSON by the caller)."""

    failures: list[_Failure] = field(default_factory=list)  # within the window
    principals: dict[str, dict[str, Any]] = field(default_factory=dict)
    reads: dict[str, list[tuple[int, int, int]]] = field(default_factory=dict)  # ts, net, id
    new_routes: dict[str, list[tuple[int, str, int]]] = field(default_factory=dict)
    open: dict[str, dict[str, Any]] = field(default_factory=dict)  # key -> since, last, kind

    def to_json(self) -> dict[str, Any]:
        """Return the state as JSON-ready data (sharing nothing with the state)."""
        return copy.deepcopy({
            "failures": [[f.ts_s, f.address, f.tenant_id, f.count, list(f.accounts),
                          list(f.ref)] for f in self.failures],
            "principals": self.principals,
            "reads": self.reads,
            "new_routes": self.new_routes,
            "open": self.open,
        })  # fmt: skip

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "SecurityState":
        """Rebuild a state written by ``to_json`` (sharing nothing with ``data``)."""
        data = copy.deepcopy(dict(data))
        return cls(
            failures=[
                _Failure(
                    int(f[0]), str(f[1]), f[2], int(f[3]), tuple(f[4]), (int(f[5][0]), int(f[5][1]))
                )
                for f in data.get("failures", [])
            ],
            principals={k: dict(v) for k, v in data.get("principals", {}).items()},
            reads={k: [tuple(x) for x in v] for k, v in data.get("reads", {}).items()},
            new_routes={k: [tuple(x) for x in v] for k, v in data.get("new_routes", {}).items()},
            open={k: dict(v) for k, v in data.get("open", {}).items()},
        )


@dataclass
class _Scan:
    state: SecurityState
    config: SecurityConfig
    route_permission: Mapping[str, str]
    out: list[SecurityFinding] = field(default_factory=list)

    def raise_(
        self, kind: str, key: str, tenant_id: int | None, at_s: int, since_s: int, reason: str,
        audit_ids: Sequence[tuple[int, int]] = (), request_ids: Sequence[int] = (),
    ) -> tuple[str, int]:  # fmt: skip
        """Raise a finding, or extend the open one with the same key; return its key and since.

        The pair names the finding as its alert does (``dedup_key``, ``since_s``).
        """
        found = self.state.open.get(key)
        if found is not None:
            found["last_s"] = at_s
            return key, int(found["since_s"])
        self.state.open[key] = {"kind": kind, "tenant_id": tenant_id, "since_s": since_s,
                                "last_s": at_s}  # fmt: skip
        self.out.append(
            SecurityFinding(
                kind=kind, key=key, tenant_id=tenant_id, raised=True, at_s=at_s,
                since_s=since_s, reason=reason,
                audit_ids=tuple(audit_ids)[-MAX_EVIDENCE:],
                request_ids=tuple(request_ids)[-MAX_EVIDENCE:],
            )
        )  # fmt: skip
        return key, since_s


def scan(
    state: SecurityState,
    requests: Sequence[RequestEvent],
    audits: Sequence[AuditEvent],
    now_s: int,
    route_permission: Mapping[str, str],
    config: SecurityConfig | None = None,
) -> tuple[SecurityState, list[SecurityFinding]]:
    """Judge the new events in time order; return the new state and the findings.

    ``route_permission`` maps ``"METHOD /route/template"`` to the permission it needs.
    ``state`` is not modified: the scan works on a deep copy (a profile's routes, tenants,
    hours and held items are nested lists and dicts).
    """
    config = config or SecurityConfig()
    work = _Scan(copy.deepcopy(state), config, route_permission)
    events: list[tuple[int, int, RequestEvent | AuditEvent]] = [
        (r.ts_s, 0, r) for r in requests
    ] + [(a.ts_s, 1, a) for a in audits]
    events.sort(key=lambda e: (e[0], e[1]))
    for _, _, event in events:
        if isinstance(event, RequestEvent):
            _request(work, event)
        else:
            _audit(work, event)
    _expire(work, now_s)
    return work.state, work.out


@dataclass(frozen=True)
class Release:
    """What a verdict of "benign" on one finding gave back to the habits."""

    items: tuple[tuple[str, str], ...]  # (principal, held item: ``route:…``, ``tenant:…``, …)
    closed: bool  # the finding was still open in the detector and is closed now


def release(state: SecurityState, key: str, since_s: int) -> tuple[SecurityState, Release]:
    """Release what the finding ``key`` raised at ``since_s`` held back; close it if open.

    A person judged the finding benign: the routes, tenant or hour it held join the
    principal's habit at once (an hour counts the days it was held on as active), so that
    their next use raises nothing. An item also held by another finding is released too
    (the verdict says that use is the principal's). ``state`` is not modified.
    """
    new = copy.deepcopy(state)
    ref = [key, int(since_s)]
    items: list[tuple[str, str]] = []
    for who, profile in new.principals.items():
        held_by: dict[str, list[list[Any]]] = profile.get("held_by", {})
        for item in [i for i, refs in held_by.items() if ref in refs]:
            days = profile["held"].pop(item, [])
            del held_by[item]
            _learn_item(profile, item, days)
            items.append((who, item))
        released = {i.removeprefix("route:") for w, i in items if w == who}
        if released and who in new.new_routes:
            kept = [r for r in new.new_routes[who] if r[1] not in released]
            if kept:
                new.new_routes[who] = kept
            else:
                del new.new_routes[who]
    found = new.open.get(key)
    closed = found is not None and int(found["since_s"]) == int(since_s)
    if closed:
        del new.open[key]
    return new, Release(items=tuple(items), closed=closed)


def _learn_item(profile: dict[str, Any], item: str, days: Sequence[int]) -> None:
    """Make a released item habit: a route or tenant known, an hour active on its days."""
    kind, _, value = item.partition(":")
    if kind == "route" and value not in profile["routes"]:
        profile["routes"].append(value)
    elif kind == "tenant" and int(value) not in profile["tenants"]:
        profile["tenants"].append(int(value))
    elif kind == "hour":
        hour = int(value)
        profile["hour_days"][hour] += len(days)
        if profile["last_day"] in days and hour not in profile["last_day_hour"]:
            profile["last_day_hour"].append(hour)  # today is counted: its next use adds none


def _expire(work: _Scan, now_s: int) -> None:
    """Forget old window contents; clear findings quiet for ``quiet_s``."""
    horizon = now_s - work.config.window_s
    work.state.failures = [f for f in work.state.failures if f.ts_s > horizon]
    for who in list(work.state.reads):
        kept = [r for r in work.state.reads[who] if r[0] > horizon]
        if kept:
            work.state.reads[who] = kept
        else:
            del work.state.reads[who]
    for who in list(work.state.new_routes):
        kept_routes = [r for r in work.state.new_routes[who] if r[0] > now_s - SECONDS_PER_HOUR]
        if kept_routes:
            work.state.new_routes[who] = kept_routes
        else:
            del work.state.new_routes[who]
    for key, item in list(work.state.open.items()):
        if now_s - int(item["last_s"]) >= work.config.quiet_s:
            del work.state.open[key]
            work.out.append(
                SecurityFinding(
                    kind=str(item["kind"]), key=key, tenant_id=item["tenant_id"], raised=False,
                    at_s=now_s, since_s=int(item["since_s"]),
                    reason=f"no further evidence for {work.config.quiet_s // 60} min",
                )
            )  # fmt: skip


# --- rejected credentials --------------------------------------------------------------------


def _audit(work: _Scan, event: AuditEvent) -> None:
    if event.outcome == "failure" and event.action in FAILURE_ACTIONS:
        _failure(work, event)
    elif event.outcome == "success" and event.action in ADMIN_ACTIONS:
        _admin(work, event)


def _failure(work: _Scan, event: AuditEvent) -> None:
    detail = event.detail
    accounts = tuple(str(a) for a in detail.get("accounts", ())) or (
        (str(detail["account"]),) if "account" in detail else ()
    )
    address = event.actor.removeprefix("ip:")
    failure = _Failure(event.ts_s, address, event.tenant_id, int(detail.get("count", 1)),
                       accounts, (event.chain, event.seq))  # fmt: skip
    horizon = event.ts_s - work.config.window_s
    work.state.failures = [f for f in work.state.failures if f.ts_s > horizon]
    work.state.failures.append(failure)
    config = work.config
    # one address: many failures against few accounts, or many accounts
    mine = [f for f in work.state.failures if f.address == address]
    count = sum(f.count for f in mine)
    named = {a for f in mine for a in f.accounts}
    tenant = next((f.tenant_id for f in reversed(mine) if f.tenant_id is not None), None)
    refs = [f.ref for f in mine]
    since = min(f.ts_s for f in mine)
    if len(named) >= config.stuffing_accounts:
        work.raise_(
            "credential_stuffing", f"sec:stuffing:{address}", tenant, event.ts_s, since,
            f"{count} rejected credentials from {address} for {len(named)} accounts within "
            f"{config.window_s // 60} min (e.g. {', '.join(sorted(named)[:3])})",
            refs,
        )  # fmt: skip
    elif count >= config.brute_force_failures and len(named) <= config.brute_force_max_accounts:
        work.raise_(
            "brute_force", f"sec:brute:{address}", tenant, event.ts_s, since,
            f"{count} rejected credentials from {address} within {config.window_s // 60} min "
            f"against {', '.join(sorted(named)) or 'unnamed accounts'}",
            refs,
        )  # fmt: skip
    if event.tenant_id is None:
        return
    # one tenant: many accounts from many addresses (a distributed list)
    theirs = [f for f in work.state.failures if f.tenant_id == event.tenant_id]
    accounts_t = {a for f in theirs for a in f.accounts}
    addresses = {f.address for f in theirs}
    if len(accounts_t) >= config.stuffing_accounts and len(addresses) >= config.stuffing_addresses:
        work.raise_(
            "credential_stuffing", f"sec:stuffing:tenant:{event.tenant_id}", event.tenant_id,
            event.ts_s, min(f.ts_s for f in theirs),
            f"rejected credentials for {len(accounts_t)} accounts from {len(addresses)} "
            f"addresses within {config.window_s // 60} min",
            [f.ref for f in theirs],
        )  # fmt: skip


# --- principals' habits ----------------------------------------------------------------------


def _profile(work: _Scan, who: str, ts_s: int) -> dict[str, Any]:
    profile = work.state.principals.get(who)
    if profile is None:
        profile = {"first_s": ts_s, "n": 0, "routes": [], "permissions": [], "tenants": [],
                   "addresses": [], "hour_days": [0] * 24, "last_day_hour": [], "days": 0,
                   "last_day": -1, "max_networks": 0}  # fmt: skip
        work.state.principals[who] = profile
    return profile


def _established(profile: Mapping[str, Any], ts_s: int, requests: int, days: float) -> bool:
    return (
        int(profile["n"]) >= requests and ts_s - int(profile["first_s"]) >= days * SECONDS_PER_DAY
    )


def _held(profile: Mapping[str, Any], item: str) -> bool:
    """Whether ``item`` (``route:…``, ``tenant:…``, ``hour:…``) is held back from the habit."""
    return item in profile.get("held", {})


def _hold(profile: dict[str, Any], item: str, day: int, finding: tuple[str, int]) -> None:
    """Hold ``item`` back from the habit: it raised ``finding`` (key, ``since_s``) on ``day``.

    ``held_by`` names the findings (key and ``since_s``, as their alerts do) that hold each
    item, so that a person's verdict on one finding can release what it held (``release``).
    """
    profile.setdefault("held", {}).setdefault(item, [day])
    ref = [finding[0], int(finding[1])]
    refs = profile.setdefault("held_by", {}).setdefault(item, [])
    if ref not in refs:
        refs.append(ref)


def _recurs(profile: dict[str, Any], item: str, day: int, confirm_days: int) -> int:
    """Count ``day`` for a held item; once seen on ``confirm_days`` days, release it.

    Return the number of earlier days it was seen on when released, else 0 (still held).
    """
    days = profile["held"][item]
    if day in days:
        return 0
    days.append(day)
    if len(days) < confirm_days:
        return 0
    del profile["held"][item]
    profile.get("held_by", {}).pop(item, None)
    return len(days) - 1


def _habits(profile: dict[str, Any], ts_s: int, confirm_days: int) -> None:
    """Count the days the principal was active, and in which hours of the day."""
    day, hour = divmod(ts_s // SECONDS_PER_HOUR, 24)
    if day != profile["last_day"]:
        profile["last_day"] = day
        profile["days"] = int(profile["days"]) + 1
        profile["last_day_hour"] = []
    if hour in profile["last_day_hour"]:
        return
    item = f"hour:{hour}"
    if _held(profile, item):
        earlier = _recurs(profile, item, day, confirm_days)
        if not earlier:
            return
        profile["hour_days"][hour] += earlier  # the days it was held on were active too
    profile["last_day_hour"].append(hour)
    profile["hour_days"][hour] += 1


def _request(work: _Scan, event: RequestEvent) -> None:
    if event.principal == "-":
        return
    config = work.config
    profile = _profile(work, event.principal, event.ts_s)
    day = event.ts_s // SECONDS_PER_DAY
    route = f"{event.method} {event.route}"
    permission = work.route_permission.get(route, "read")
    established = _established(profile, event.ts_s, config.established_requests,
                               config.established_days)  # fmt: skip
    if event.tenant_id is not None and event.tenant_id not in profile["tenants"]:
        _tenant(work, event, profile, established, day)
    if route not in profile["routes"]:
        _route(work, event, profile, route, permission, established, day)
    if permission not in profile["permissions"]:
        profile["permissions"].append(permission)
    if event.via == "api_key":
        _key_address(work, event, profile)
    if event.method == "GET" and event.network_id is not None and event.status < 400:
        _read(work, event, profile, established)
    _habits(profile, event.ts_s, config.confirm_days)
    profile["n"] = int(profile["n"]) + 1


def _tenant(
    work: _Scan, event: RequestEvent, profile: dict[str, Any], established: bool, day: int
) -> None:
    """Judge a tenant the principal never acted in: a finding once established, else learned."""
    tenant = event.tenant_id
    item = f"tenant:{tenant}"
    if _held(profile, item) and _recurs(profile, item, day, work.config.confirm_days):
        profile["tenants"].append(tenant)
    elif established and profile["tenants"]:
        finding = work.raise_(
            "new_tenant", f"sec:tenant:{event.principal}:{tenant}", tenant,
            event.ts_s, event.ts_s,
            f"{event.principal} acted in tenant {tenant}, never before (its "
            f"tenants: {', '.join(str(t) for t in profile['tenants'])}); "
            f"{event.method} {event.route} from {event.client}",
            request_ids=[event.id],
        )  # fmt: skip
        _hold(profile, item, day, finding)
    else:
        profile["tenants"].append(tenant)


def _route(
    work: _Scan, event: RequestEvent, profile: dict[str, Any], route: str, permission: str,
    established: bool, day: int,
) -> None:  # fmt: skip
    """Judge a route the principal never called; learn it unless it raised a finding."""
    item = f"route:{route}"
    if _held(profile, item) and _recurs(profile, item, day, work.config.confirm_days):
        profile["routes"].append(route)
        return
    if established:
        _new_route(work, event, profile, route, permission)
    episode = work.state.open.get(f"sec:route:{event.principal}")
    if episode is not None:
        # an episode under suspicion teaches nothing: its new routes are held back (a
        # permission used the first time is learned: held routes are enough to tell a repeat)
        finding = (f"sec:route:{event.principal}", int(episode["since_s"]))
        for _, seen, _ in work.state.new_routes.get(event.principal, []):
            if seen in profile["routes"]:
                profile["routes"].remove(seen)
            _hold(profile, f"route:{seen}", day, finding)
    elif not _held(profile, item):
        profile["routes"].append(route)


def _new_route(
    work: _Scan, event: RequestEvent, profile: dict[str, Any], route: str, permission: str
) -> None:
    config = work.config
    recent = work.state.new_routes.setdefault(event.principal, [])
    recent.append((event.ts_s, route, event.id))
    recent[:] = [r for r in recent if r[0] > event.ts_s - SECONDS_PER_HOUR]
    tenant = event.tenant_id
    if permission not in profile["permissions"]:
        work.raise_(
            "new_route", f"sec:route:{event.principal}", tenant, event.ts_s, event.ts_s,
            f"{event.principal} called {route} (status {event.status}) needing the "
            f"{permission!r} permission, which it never used before, from {event.client}",
            request_ids=[r[2] for r in recent],
        )  # fmt: skip
    elif len(recent) >= config.new_routes:
        work.raise_(
            "new_route", f"sec:route:{event.principal}", tenant, event.ts_s, recent[0][0],
            f"{event.principal} called {len(recent)} routes it never used within an hour: "
            f"{', '.join(r[1] for r in recent[:4])}",
            request_ids=[r[2] for r in recent],
        )  # fmt: skip


def _key_address(work: _Scan, event: RequestEvent, profile: dict[str, Any]) -> None:
    config = work.config
    if event.client in profile["addresses"]:
        return
    if profile["addresses"] and _established(
        profile, event.ts_s, config.key_established_requests, config.key_established_days
    ):
        work.raise_(
            "api_key_new_address", f"sec:keyaddr:{event.principal}:{event.client}",
            event.tenant_id, event.ts_s, event.ts_s,
            f"API key {event.principal.removeprefix('apikey:')} used from {event.client}, an "
            f"address it never used (it used {', '.join(profile['addresses'][:3])}); "
            f"{event.method} {event.route} answered {event.status}",
            request_ids=[event.id],
        )  # fmt: skip
    profile["addresses"].append(event.client)
    del profile["addresses"][:-20]  # the 20 newest are enough to tell


def _read(work: _Scan, event: RequestEvent, profile: dict[str, Any], established: bool) -> None:
    config = work.config
    reads = work.state.reads.setdefault(event.principal, [])
    reads.append((event.ts_s, int(event.network_id or 0), event.id))
    reads[:] = [r for r in reads if r[0] > event.ts_s - config.window_s]
    networks = {r[1] for r in reads}
    key = f"sec:burst:{event.principal}"
    if event.ts_s >= int(profile.get("burst_window_s", 0)) + config.window_s:
        # a window ends: its peak teaches the habit, one network more at most (never a burst)
        peak = int(profile.get("burst_peak", 0))
        if key not in work.state.open:
            usual_now = int(profile["max_networks"])
            profile["max_networks"] = max(usual_now, min(peak, usual_now + 1))
        profile["burst_window_s"] = event.ts_s
        profile["burst_peak"] = 0
    profile["burst_peak"] = max(int(profile.get("burst_peak", 0)), len(networks))
    usual = int(profile["max_networks"])
    limit = max(config.burst_min_networks, config.burst_factor * usual)
    if established and len(networks) > limit:
        work.raise_(
            "read_burst", key, event.tenant_id, event.ts_s,
            reads[0][0],
            f"{event.principal} read {len(networks)} networks within {config.window_s // 60} min "
            f"(its usual most: {usual}) from {event.client}",
            request_ids=[r[2] for r in reads],
        )  # fmt: skip


def _admin(work: _Scan, event: AuditEvent) -> None:
    profile = work.state.principals.get(event.actor)
    if profile is None or int(profile["days"]) < work.config.habit_days:
        return
    day, hour = divmod(event.ts_s // SECONDS_PER_HOUR, 24)
    around = [(hour - 1) % 24, hour, (hour + 1) % 24]
    # the habit is the days before: today's own requests (the action's among them, when the
    # request log is read first) do not make an hour usual
    today = profile["last_day_hour"] if day == profile["last_day"] else []
    usual = [int(profile["hour_days"][h]) - (h in today) for h in range(24)]
    if any(usual[h] for h in around):
        return
    active = [h for h in range(24) if usual[h]]
    # the action's hour teaches no habit until it recurs (today's own requests included)
    if day == profile["last_day"] and hour in profile["last_day_hour"]:
        profile["last_day_hour"].remove(hour)
        profile["hour_days"][hour] -= 1
    finding = work.raise_(
        "off_hours_admin", f"sec:offhours:{event.actor}", event.tenant_id,
        event.ts_s, event.ts_s,
        f"{event.actor} did {event.action} at {hour:02d}:xx UTC; in {profile['days']} active "
        f"days it was never active between {around[0]:02d}:00 and {(hour + 2) % 24:02d}:00 UTC "
        f"(active hours: {_hours(active)})",
        audit_ids=[(event.chain, event.seq)],
    )  # fmt: skip
    _hold(profile, f"hour:{hour}", day, finding)


def _hours(hours: list[int]) -> str:
    """``08-17, 20`` from a sorted list of hours."""
    runs: list[list[int]] = []
    for h in hours:
        if runs and h == runs[-1][-1] + 1:
            runs[-1].append(h)
        else:
            runs.append([h])
    return ", ".join(f"{r[0]:02d}" if len(r) == 1 else f"{r[0]:02d}-{r[-1]:02d}" for r in runs)
