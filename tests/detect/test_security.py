"""Security analytics on synthetic audit and request events: each detector, its evidence, quiet."""

import json
from typing import Any

from ranopt.detect.security import (
    AuditEvent,
    RequestEvent,
    SecurityConfig,
    SecurityFinding,
    SecurityState,
    release,
    scan,
)

DAY = 86_400
T0 = 1_767_571_200  # a Monday 00:00 UTC
PERMS = {
    "GET /api/v2/networks/{network_id}": "read",
    "GET /api/v2/networks/{network_id}/kpis/series": "read",
    "GET /api/v2/networks": "read",
    "GET /api/v2/users": "read",
    "GET /api/v2/api-keys": "read",
    "GET /api/v2/secrets": "read",
    "GET /api/v2/audit": "investigate",
    "POST /api/v2/users": "write",
}


class Feed:
    """Events in time order, scanned every minute like the server does."""

    def __init__(self) -> None:
        self.state = SecurityState()
        self.findings: list[SecurityFinding] = []
        self.next_id = 1
        self.seq = 1

    def request(self, ts_s: int, principal: str, route: str, **kw: Any) -> RequestEvent:
        method, _, template = route.partition(" ")
        event = RequestEvent(
            id=self.next_id, ts_s=ts_s, tenant_id=kw.get("tenant_id", 1), principal=principal,
            via=kw.get("via", "jwt"), method=method, route=template,
            network_id=kw.get("network_id"), status=kw.get("status", 200),
            client=kw.get("client", "10.0.0.5"),
        )  # fmt: skip
        self.next_id += 1
        return event

    def audit(self, ts_s: int, actor: str, action: str, outcome: str, **detail: Any) -> AuditEvent:
        event = AuditEvent(
            chain=1, seq=self.seq, ts_s=ts_s, tenant_id=detail.pop("tenant_id", 1), actor=actor,
            action=action, outcome=outcome, detail=detail,
        )  # fmt: skip
        self.seq += 1
        return event

    def run(self, now_s: int, requests: list[RequestEvent], audits: list[AuditEvent]) -> None:
        self.state, found = scan(self.state, requests, audits, now_s, PERMS, SecurityConfig())
        self.findings.extend(found)

    def raised(self, kind: str) -> list[SecurityFinding]:
        return [f for f in self.findings if f.raised and f.kind == kind]


def _habit(feed: Feed, principal: str, days: int = 6, **kw: Any) -> None:
    """Office hours 08-17 UTC on weekdays: a few reads of 2 networks, every day."""
    for d in range(days):
        for h in range(8, 17):
            ts = T0 + d * DAY + h * 3600
            events = [
                feed.request(ts + m * 60, principal, route, network_id=n, **kw)
                for m, (route, n) in enumerate([
                    ("GET /api/v2/networks/{network_id}", 1),
                    ("GET /api/v2/networks/{network_id}/kpis/series", 2),
                    ("GET /api/v2/networks", None),
                ])
            ]  # fmt: skip
            feed.run(ts + 300, events, [])


def test_brute_force_from_aggregated_failure_rows() -> None:
    feed = Feed()
    t = T0 + 3 * 3600
    first = feed.audit(t, "ip:203.0.113.9", "auth.login", "failure", count=1,
                       account="user:acme/alice")  # fmt: skip
    feed.run(t + 30, [], [first])
    assert feed.raised("brute_force") == []  # one failure is no attack
    summary = feed.audit(t + 60, "ip:203.0.113.9", "auth.login", "failure", count=24,
                         accounts=["user:acme/alice"], window_start_s=t)  # fmt: skip
    feed.run(t + 65, [], [summary])
    [found] = feed.raised("brute_force")
    assert "25 rejected credentials from 203.0.113.9" in found.reason
    assert "user:acme/alice" in found.reason
    assert found.audit_ids == ((1, 1), (1, 2))
    assert found.tenant_id == 1
    # no further evidence for an hour: cleared
    feed.run(t + 65 + 3600, [], [])
    assert any(not f.raised and f.kind == "brute_force" for f in feed.findings)


def test_credential_stuffing_many_accounts_one_address_and_many_addresses() -> None:
    feed = Feed()
    t = T0 + 3 * 3600
    rows = [feed.audit(t + i, "ip:198.51.100.7", "auth.login", "failure", count=1,
                       account=f"user:acme/u{i}") for i in range(6)]  # fmt: skip
    feed.run(t + 10, [], rows)
    assert len(feed.raised("credential_stuffing")) == 1
    assert feed.raised("brute_force") == []
    spread = Feed()
    rows = [spread.audit(t + i, f"ip:198.51.100.{i}", "auth.login", "failure", count=2,
                         accounts=[f"user:acme/v{i}"]) for i in range(6)]  # fmt: skip
    spread.run(t + 10, [], rows)
    [found] = spread.raised("credential_stuffing")
    assert "5 accounts from 5 addresses" in found.reason


def test_normal_failures_raise_nothing() -> None:
    """A user mistyping twice, a few times a day, is no attack."""
    feed = Feed()
    for d in range(5):
        t = T0 + d * DAY + 9 * 3600
        rows = [feed.audit(t, f"ip:10.0.0.{d}", "auth.login", "failure", count=1,
                           account="user:acme/bob"),
                feed.audit(t + 60, f"ip:10.0.0.{d}", "auth.login", "failure", count=1,
                           accounts=["user:acme/bob"])]  # fmt: skip
        feed.run(t + 120, [], rows)
    assert [f for f in feed.findings if f.raised] == []


def test_new_routes_and_a_permission_never_used() -> None:
    feed = Feed()
    _habit(feed, "user:7")
    assert [f for f in feed.findings if f.raised] == []
    t = T0 + 6 * DAY + 10 * 3600
    probe = [feed.request(t + i, "user:7", r, status=s) for i, (r, s) in enumerate(
        [("GET /api/v2/users", 200), ("GET /api/v2/api-keys", 200), ("GET /api/v2/secrets", 200)]
    )]  # fmt: skip
    feed.run(t + 60, probe, [])
    [found] = feed.raised("new_route")
    assert "3 routes it never used" in found.reason
    assert found.request_ids == tuple(r.id for r in probe)
    other = Feed()
    _habit(other, "user:8")
    write = other.request(t, "user:8", "POST /api/v2/users", status=403)
    other.run(t + 60, [write], [])
    [found] = other.raised("new_route")
    assert "'write' permission" in found.reason
    assert "status 403" in found.reason


def test_a_new_tenant_for_a_principal() -> None:
    feed = Feed()
    _habit(feed, "oidc:carol")
    t = T0 + 6 * DAY + 10 * 3600
    feed.run(t + 1, [feed.request(t, "oidc:carol", "GET /api/v2/networks", tenant_id=2)], [])
    [found] = feed.raised("new_tenant")
    assert found.tenant_id == 2


def test_a_read_burst_across_networks() -> None:
    feed = Feed()
    _habit(feed, "user:7")
    t = T0 + 6 * DAY + 11 * 3600
    burst = [feed.request(t + i * 5, "user:7", "GET /api/v2/networks/{network_id}",
                          network_id=100 + i) for i in range(12)]  # fmt: skip
    feed.run(t + 120, burst, [])
    [found] = feed.raised("read_burst")
    assert "usual most: 2" in found.reason
    assert len(found.request_ids) >= 5


def test_an_api_key_from_a_new_address() -> None:
    feed = Feed()
    _habit(feed, "apikey:rk_0123456789ab", via="api_key", client="192.0.2.10")
    t = T0 + 6 * DAY + 12 * 3600
    same = feed.request(t, "apikey:rk_0123456789ab", "GET /api/v2/networks", via="api_key",
                        client="192.0.2.10")  # fmt: skip
    feed.run(t + 1, [same], [])
    assert feed.raised("api_key_new_address") == []
    new = feed.request(t + 5, "apikey:rk_0123456789ab", "GET /api/v2/networks", via="api_key",
                       client="203.0.113.50")  # fmt: skip
    feed.run(t + 10, [new], [])
    [found] = feed.raised("api_key_new_address")
    assert "203.0.113.50" in found.reason
    assert found.request_ids == (new.id,)


def test_off_hours_administration() -> None:
    feed = Feed()
    _habit(feed, "user:7")
    day_time = feed.audit(T0 + 6 * DAY + 10 * 3600, "user:7", "user.create", "success")
    feed.run(T0 + 6 * DAY + 10 * 3600 + 5, [], [day_time])
    assert feed.raised("off_hours_admin") == []
    night = feed.audit(T0 + 6 * DAY + 23 * 3600 + 1200, "user:7", "api_key.create", "success")
    feed.run(T0 + 6 * DAY + 23 * 3600 + 1300, [], [night])
    [found] = feed.raised("off_hours_admin")
    assert "api_key.create at 23:xx UTC" in found.reason
    assert "active hours: 08-16" in found.reason
    assert found.audit_ids == ((1, night.seq),)


def test_state_round_trips_through_json() -> None:
    feed = Feed()
    _habit(feed, "user:7", days=2)
    again = SecurityState.from_json(json.loads(json.dumps(feed.state.to_json())))
    assert again.to_json() == feed.state.to_json()


def test_json_of_a_state_shares_nothing_with_it() -> None:
    """Changing what ``to_json`` returned leaves the state as it was."""
    feed = Feed()
    _habit(feed, "user:7", days=2)
    data = feed.state.to_json()
    before = json.loads(json.dumps(data))
    for profile in data["principals"].values():
        profile.clear()
    data["open"]["mutated"] = {}
    assert json.loads(json.dumps(feed.state.to_json())) == before


def test_scan_leaves_the_callers_state_as_it_was() -> None:
    """A scan learns into a copy: the nested habits of the state it was given stay untouched."""
    feed = Feed()
    _habit(feed, "user:7")
    before = json.loads(json.dumps(feed.state.to_json()))
    given = feed.state
    t = T0 + 6 * DAY + 3 * 3600 + 600
    events = [*_probe(feed, t, "user:7"),
              feed.request(t + 300, "user:7", "GET /api/v2/networks", tenant_id=2)]  # fmt: skip
    after, found = scan(given, events, [feed.audit(t, "user:7", "api_key.create", "success")],
                        t + 400, PERMS, SecurityConfig())  # fmt: skip
    assert {f.kind for f in found} == {"new_route", "new_tenant", "off_hours_admin"}
    assert json.loads(json.dumps(given.to_json())) == before
    assert after.principals["user:7"]["held"]
    assert "held" not in given.principals["user:7"]
    assert after.principals["user:7"]["n"] > given.principals["user:7"]["n"]


def test_off_hours_administration_with_its_own_request_read_first() -> None:
    """The night action's own request (logged beside its audit entry) makes no hour usual."""
    feed = Feed()
    _habit(feed, "user:7")
    t = T0 + 6 * DAY + 3 * 3600 + 600
    request = feed.request(t, "user:7", "POST /api/v2/api-keys")
    night = feed.audit(t, "user:7", "api_key.create", "success")
    feed.run(t + 100, [request], [night])
    [found] = feed.raised("off_hours_admin")
    assert "api_key.create at 03:xx UTC" in found.reason


def _probe(feed: Feed, t: int, principal: str) -> list[RequestEvent]:
    """A stolen token trying routes its owner never used, from elsewhere (two denied)."""
    routes = [("GET /api/v2/users", 200), ("GET /api/v2/api-keys", 200),
              ("GET /api/v2/secrets", 200), ("GET /api/v2/audit", 403),
              ("POST /api/v2/users", 403)]  # fmt: skip
    return [feed.request(t + 40 * i, principal, r, status=s, client="203.0.113.7")
            for i, (r, s) in enumerate(routes)]  # fmt: skip


def test_a_repeated_route_enumeration_is_not_learned_from_the_first() -> None:
    """The same stolen token enumerating again a day later: its first episode taught nothing."""
    feed = Feed()
    _habit(feed, "user:7")
    for d in (6, 7):  # 14:00 on two days, long after the first finding cleared
        t = T0 + d * DAY + 14 * 3600
        feed.run(t + 300, _probe(feed, t, "user:7"), [])
        feed.run(t + 2 * 3600, [], [])
    assert [f.at_s // DAY for f in feed.raised("new_route")] == [T0 // DAY + 6, T0 // DAY + 7]
    assert "called 3 routes it never used" in feed.raised("new_route")[1].reason


def test_a_first_write_raises_once_and_its_route_alone_raises_nothing_after() -> None:
    """A user's first write is told once; the write is learned, the lone route is held."""
    feed = Feed()
    _habit(feed, "user:8")
    for d in (6, 7, 8, 9):
        t = T0 + d * DAY + 10 * 3600 + 600
        feed.run(t + 60, [feed.request(t, "user:8", "POST /api/v2/users", status=201)], [])
    [found] = feed.raised("new_route")
    assert "'write' permission" in found.reason
    assert "route:POST /api/v2/users" not in feed.state.principals["user:8"].get("held", {})
    assert "POST /api/v2/users" in feed.state.principals["user:8"]["routes"]  # 3 days: learned


def test_a_new_tenant_again_is_raised_until_it_recurred_on_confirm_days() -> None:
    feed = Feed()
    _habit(feed, "oidc:carol")
    raised_days = []
    for d in (6, 7, 8):
        t = T0 + d * DAY + 10 * 3600
        feed.run(t + 1, [feed.request(t, "oidc:carol", "GET /api/v2/networks", tenant_id=2)], [])
        feed.run(t + 2 * 3600, [], [])
        raised_days = [f.at_s // DAY - T0 // DAY for f in feed.raised("new_tenant")]
    assert SecurityConfig().confirm_days == 3
    assert raised_days == [6, 7]  # the third day it recurred on is habit
    assert feed.state.principals["oidc:carol"]["tenants"] == [1, 2]


def test_off_hours_administration_repeated_at_the_same_night_hour() -> None:
    """The first night's action (and its own request) does not make that hour usual; a
    night shift kept for confirm_days (3) nights does."""
    feed = Feed()
    _habit(feed, "user:7")
    for d in (6, 7, 8, 9):
        t = T0 + d * DAY + 3 * 3600 + 600
        request = feed.request(t, "user:7", "POST /api/v2/api-keys")
        night = feed.audit(t, "user:7", "api_key.create", "success")
        feed.run(t + 100, [request], [night])
        feed.run(t + 2 * 3600, [], [])
    raised = feed.raised("off_hours_admin")
    assert [f.at_s // DAY - T0 // DAY for f in raised] == [6, 7]
    assert "active hours: 08-16" in raised[1].reason
    assert feed.state.principals["user:7"]["hour_days"][3] == 4


def _benign(feed: Feed, finding: SecurityFinding) -> tuple[tuple[str, str], ...]:
    """A person's verdict of benign on ``finding``: release what it held."""
    feed.state, done = release(feed.state, finding.key, finding.since_s)
    return done.items


def test_a_benign_verdict_releases_what_its_finding_held() -> None:
    """Each kind that holds habits back: after a benign verdict the next use raises nothing,
    while a finding left untriaged keeps raising on the next day."""
    feed = Feed()
    _habit(feed, "user:7")
    _habit(feed, "user:8")
    for d in (6, 7):
        t = T0 + d * DAY + 3 * 3600 + 600
        for who in ("user:7", "user:8"):
            events = [*_probe(feed, t, who),
                      feed.request(t + 300, who, "GET /api/v2/networks", tenant_id=2)]  # fmt: skip
            night = feed.audit(t, who, "api_key.create", "success")
            feed.run(t + 400, events, [night])
        if d == 6:
            mine = [f for f in feed.findings if f.raised and f.key.endswith(("user:7", "user:7:2"))]
            assert {f.kind for f in mine} == {"new_route", "new_tenant", "off_hours_admin"}
            released = [item for f in mine for item in _benign(feed, f)]
            routes = sorted(f"route:{r.method} {r.route}" for r in _probe(feed, t, "user:7"))
            assert sorted(item for _, item in released) == ["hour:3", *routes, "tenant:2"]
            assert {who for who, _ in released} == {"user:7"}
            assert not any(k.endswith(("user:7", "user:7:2")) for k in feed.state.open)
        feed.run(t + 2 * 3600, [], [])
    on_day_7 = [f for f in feed.findings if f.raised and f.at_s >= T0 + 7 * DAY]
    assert {(f.kind, f.key.split(":")[3]) for f in on_day_7} == {
        ("new_route", "8"), ("new_tenant", "8"), ("off_hours_admin", "8"),
    }  # fmt: skip
    profile = feed.state.principals["user:7"]
    assert profile["tenants"] == [1, 2]
    assert "GET /api/v2/secrets" in profile["routes"]
    assert profile["hour_days"][3] == 2  # the night it was held on and the next
    assert not profile["held"]
    assert not profile["held_by"]
