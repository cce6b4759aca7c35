"""Usage records: one per request id, and reports grouped by day, model, workspace and key."""

from __future__ import annotations

from datetime import UTC, date, datetime

from levante.metering import GroupBy, Ledger, UsageEvent, UsageStatus, usage_report
from levante.storage import Database
from tests.helpers import make_tenant


def _event(request_id: str, org: str, day: int, model: str = "m", tokens: int = 10) -> UsageEvent:
    at = datetime(2026, 11, day, 12, tzinfo=UTC)
    return UsageEvent(
        request_id=request_id,
        organization_id=org,
        workspace_id=None,
        api_key_id=None,
        product="api",
        endpoint="chat.completions",
        model=model,
        prompt_tokens=tokens,
        completion_tokens=2 * tokens,
        cached_tokens=1,
        status=UsageStatus.COMPLETED,
        finish_reason="stop",
        stream=False,
        time_to_first_token_ms=5,
        duration_ms=20,
        started_at=at,
        finished_at=at,
    )


def test_same_request_id_is_recorded_once(database: Database) -> None:
    tenant = make_tenant(database, "Acme")
    recorder = Ledger(database)
    assert recorder.record(_event("req_1", tenant.organization_id, 1)) is True
    assert recorder.record(_event("req_1", tenant.organization_id, 1, tokens=99)) is False
    with database.session() as session:
        [row] = usage_report(session, tenant.organization_id, group_by=[])
    assert (row.requests, row.prompt_tokens) == (1, 10)


def test_report_groups_and_filters_by_day(database: Database) -> None:
    acme = make_tenant(database, "Acme")
    globex = make_tenant(database, "Globex")
    recorder = Ledger(database)
    recorder.record(_event("a", acme.organization_id, 1, "m1"))
    recorder.record(_event("b", acme.organization_id, 1, "m2"))
    recorder.record(_event("c", acme.organization_id, 2, "m1"))
    recorder.record(_event("d", globex.organization_id, 2, "m1", tokens=1000))
    with database.session() as session:
        by_day = usage_report(session, acme.organization_id, group_by=[GroupBy.DAY])
        by_model = usage_report(
            session, acme.organization_id, group_by=[GroupBy.MODEL], start=date(2026, 11, 2)
        )
    assert [(r.group["day"], r.requests, r.total_tokens) for r in by_day] == [
        ("2026-11-01", 2, 60),
        ("2026-11-02", 1, 30),
    ]
    assert [(r.group["model"], r.requests) for r in by_model] == [("m1", 1)]
