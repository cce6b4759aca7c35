"""What a licensee cannot do to the vendor's ledger: report negative, future or unentitled
usage, have a forged first report imported, or lose a line to a colliding ledger key; and how
activations hold to expiry, revocation and release."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from levante import errors, licensing
from levante.audit import Actor
from levante.errors import ConflictError, NotFoundError, PermissionDeniedError
from levante.licensing import Keyring, LicenseTerms
from levante.licensing.activation import list_activations, release_activation
from levante.licensing.authority import (
    accept_held_report,
    held_reports,
    ledger_key,
    reject_held_report,
    revoke_license,
)
from levante.licensing.keys import SigningKey
from levante.licensing.reports import REPORT_FORMAT
from levante.licensing.sites import bind_activation_request, revoke_site_key, site_keys
from levante.storage import Database, upgrade
from levante.storage.models import HeldReport, LicenseSiteKey, UsageRecord
from tests.helpers import MODEL, make_tenant
from tests.licensing.conftest import utc

NOW = utc(2026, 11, 2)


@pytest.fixture
def issued(database: Database, key: SigningKey) -> licensing.License:
    org = make_tenant(database, "Carl GmbH").organization_id
    with database.session() as session:
        record = licensing.issue_license(
            session, org, key,
            LicenseTerms(models=[MODEL, "mistral-large-2411-instruct-v1", "mistral-large-2411-instruct-v2"], max_nodes=2,
                  starts_at=utc(2026, 10, 1), expires_at=utc(2027, 10, 1)),
            now=utc(2026, 10, 1), actor=Actor("t"),
        )  # fmt: skip
        return licensing.read_issued(record.file)


def signed_report(
    license: licensing.License,
    key: Ed25519PrivateKey,
    lines: list[dict[str, Any]],
    *,
    start: str = "2026-10-01",
    end: str = "2026-11-01",
) -> str:
    """A report signed by ``key`` as a (possibly dishonest) site would write it."""
    payload = json.dumps(
        {
            "format": REPORT_FORMAT,
            "license_id": license.license_id,
            "licensee_id": license.licensee_id,
            "generated_at": NOW.isoformat(),
            "period": {"start": start, "end": end},
            "active_seats": 1,
            "lines": lines,
        }
    )
    message = f"{REPORT_FORMAT}\n{payload}".encode()
    return json.dumps(
        {
            "format": REPORT_FORMAT,
            "site_key": licensing.encode_public(key.public_key()),
            "payload": payload,
            "payload_sha256": hashlib.sha256(payload.encode()).hexdigest(),
            "signature": base64.b64encode(key.sign(message)).decode(),
        }
    )


def line(day: str = "2026-10-05", model: str = MODEL, **counts: Any) -> dict[str, Any]:
    values = {"requests": 1, "prompt_tokens": 100, "cached_tokens": 0, "completion_tokens": 50}
    values.update(counts)
    return {"date": day, "model": model, **values}


def bind(database: Database, license: licensing.License, key: Ed25519PrivateKey) -> None:
    request = licensing.build_activation_request(
        license, key, fingerprint="cd" * 16, hostname="site-1", now=NOW
    )
    with database.session() as session:
        bind_activation_request(session, request, now=NOW, actor=Actor("t"))


def imported(database: Database, report: str, now: datetime = NOW) -> licensing.ImportResult:
    with database.session() as session:
        return licensing.import_usage(session, report, now=now, actor=Actor("t"))


def ledger(database: Database) -> list[UsageRecord]:
    with database.session() as session:
        return list(session.scalars(select(UsageRecord).order_by(UsageRecord.model)))


@pytest.mark.parametrize(
    ("lines", "period", "message"),
    [
        ([line(prompt_tokens=-400_000_000)], {}, "prompt_tokens is -400000000"),
        ([line(completion_tokens=-1)], {}, "completion_tokens is -1"),
        ([line(requests=2**40)], {}, "requests is"),
        ([line(prompt_tokens=3_000_000_000)], {}, "outside 0..2000000000"),
        ([line(cached_tokens=101)], {}, "more cached tokens than prompt tokens"),
        ([line(day="2026-12-24")], {"end": "2026-12-31"}, "ends after today"),
        ([line(day="2026-11-05")], {}, "outside the report's period"),
        ([line(day="2026-09-30")], {"start": "2026-09-01"}, "not in force that day"),
        ([line(model="gpt-4o")], {}, "does not entitle this model"),
        ([line(), line()], {}, "appear twice"),
        ([line(prompt_tokens=1.5)], {}, "cannot be read"),
        ([line(prompt_tokens="100")], {}, "cannot be read"),
        ([line(prompt_tokens=True)], {}, "cannot be read"),
    ],
)
def test_a_report_with_one_bad_line_is_refused_whole(
    database: Database,
    issued: licensing.License,
    lines: list[dict[str, Any]],
    period: dict[str, str],
    message: str,
) -> None:
    site = Ed25519PrivateKey.generate()
    bind(database, issued, site)
    good = line(day="2026-10-06")
    report = signed_report(issued, site, [good, *lines], **period)
    with pytest.raises(errors.ReportInvalidError, match=message):
        imported(database, report)
    assert ledger(database) == []  # not even the good line


def test_the_ledger_refuses_negative_usage_written_directly(database: Database) -> None:
    org = make_tenant(database, "Direct").organization_id
    when = utc(2026, 10, 5)
    base: dict[str, Any] = {
        "organization_id": org, "endpoint": "x", "model": MODEL, "status": "completed",
        "duration_ms": 0, "started_at": when, "finished_at": when, "usage_date": when.date(),
        "prompt_tokens": 1, "completion_tokens": 1, "cached_tokens": 0,
    }  # fmt: skip
    for field, value in (("prompt_tokens", -1), ("completion_tokens", -5),
                         ("cached_tokens", -1), ("cost_nanos", -1),
                         ("input_cost_nanos", -1), ("output_cost_nanos", -1)):  # fmt: skip
        with pytest.raises(IntegrityError), database.session() as session:
            session.add(UsageRecord(request_id=f"neg-{field}", **{**base, field: value}))
    with database.session() as session:  # zero is fine
        session.add(UsageRecord(request_id="zero", **{**base, "prompt_tokens": 0}))


def test_a_forged_first_report_is_held_and_the_genuine_site_still_imports(
    database: Database, issued: licensing.License
) -> None:
    genuine, forger = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    # The forger, holding only a copy of the licence file, reports first.
    forged = signed_report(issued, forger, [line(prompt_tokens=2_000_000_000)])
    result = imported(database, forged)
    assert (result.status, result.records) == ("held", 0)
    assert imported(database, forged).status == "held"  # once, however often it is sent
    assert ledger(database) == []

    # The genuine site activates online with its key, which binds it (the first bound key).
    bind_online(database, issued, genuine)
    honest = signed_report(issued, genuine, [line(prompt_tokens=1_000)])
    assert imported(database, honest).status == "imported"
    assert [r.prompt_tokens for r in ledger(database)] == [1_000]

    # The operator rejects the forgery; it can no longer be accepted.
    with database.session() as session:
        [held] = held_reports(session)
        reject_held_report(session, held.id, now=NOW, actor=Actor("ops"))
    with database.session() as session, pytest.raises(ConflictError, match="already rejected"):
        accept_held_report(session, held.id, now=NOW, actor=Actor("ops"))
    assert [r.prompt_tokens for r in ledger(database)] == [1_000]


def bind_online(database: Database, license: licensing.License, key: Ed25519PrivateKey) -> None:
    """What an online activation does with the node's site key."""
    from levante.licensing import sites
    from levante.storage.models import LicenseRecord

    with database.session() as session:
        record = session.get_one(LicenseRecord, license.license_id)
        row = sites.note_site_key(
            session, record, licensing.encode_public(key.public_key()),
            source="activation", hostname="carl-gpu-1", now=NOW,
        )  # fmt: skip
        assert row.status == "bound"


def test_site_keys_are_rotated_and_revoked(database: Database, issued: licensing.License) -> None:
    old, new = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    bind_online(database, issued, old)
    with database.session() as session:  # a second key seen online waits for the operator
        from levante.licensing import sites
        from levante.storage.models import LicenseRecord

        record = session.get_one(LicenseRecord, issued.license_id)
        pending = sites.note_site_key(
            session, record, licensing.encode_public(new.public_key()),
            source="activation", hostname="carl-gpu-2", now=NOW,
        )  # fmt: skip
        assert pending.status == "pending"
    assert imported(database, signed_report(issued, new, [line()])).status == "held"
    with database.session() as session:
        record = licensing.get_license(session, issued.license_id)
        licensing.bind_site_key(
            session, record, licensing.encode_public(new.public_key()),
            source="operator", now=NOW, actor=Actor("ops"),
        )  # fmt: skip
        [old_id] = [k.id for k in site_keys(session, record.id) if k.status == "bound"
                    and k.hostname == "carl-gpu-1"]  # fmt: skip
        revoke_site_key(session, record, old_id, now=NOW, actor=Actor("ops"))
    with pytest.raises(ConflictError, match="revoked"):
        imported(database, signed_report(issued, old, [line(day="2026-10-07")]))
    report = signed_report(issued, new, [line(day="2026-10-08")])
    assert imported(database, report).status == "imported"
    with database.session() as session:
        actions = (
            session.execute(
                text("SELECT action FROM audit_events WHERE target = :t ORDER BY id"),
                {"t": issued.license_id},
            )
            .scalars()
            .all()
        )
    assert "license.site_key_bound" in actions
    assert "license.site_key_revoked" in actions


def test_a_bad_activation_request_is_refused(database: Database, issued: licensing.License) -> None:
    key = Ed25519PrivateKey.generate()
    request = json.loads(
        licensing.build_activation_request(
            issued, key, fingerprint="ab" * 16, hostname="h", now=NOW
        )
    )
    tampered = dict(request, payload=request["payload"].replace(issued.license_id, "lic_other"))
    for text_ in (json.dumps(tampered), "{}", "not json"):
        with database.session() as session, pytest.raises(errors.ActivationRequestInvalidError):
            bind_activation_request(session, text_, now=NOW, actor=Actor("t"))
    with database.session() as session:
        assert session.scalars(select(LicenseSiteKey)).all() == []


def test_models_sharing_a_long_prefix_keep_both_lines(
    database: Database, issued: licensing.License
) -> None:
    site = Ed25519PrivateKey.generate()
    bind(database, issued, site)
    models = ("mistral-large-2411-instruct-v1", "mistral-large-2411-instruct-v2")
    old_keys = {f"lic:{issued.license_id}:2026-10-05:{m}"[:64] for m in models}
    assert len(old_keys) == 1  # what the ledger used to file both lines under
    report = signed_report(issued, site, [line(model=m) for m in models])
    with database.session() as session:
        from levante.pricing import parse_amount
        from levante.storage.models import Price

        for model in models:
            session.add(Price(id=f"p_{model[-2:]}", model=model, currency="USD",
                              input_nanos=parse_amount("1"), cached_input_nanos=0,
                              output_nanos=parse_amount("1"), batch_discount_percent=0,
                              effective_from=utc(2026, 1, 1)))  # fmt: skip
    assert imported(database, report).records == 2
    assert {r.model for r in ledger(database)} == set(models)
    keys = {ledger_key(issued.license_id, date(2026, 10, 5), m) for m in models}
    assert len(keys) == 2
    assert all(len(k) <= 64 for k in keys)


def test_migration_keeps_pinned_keys_and_rekeys_self_hosted_usage(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(db.engine, "0004")
    pinned = licensing.encode_public(Ed25519PrivateKey.generate().public_key())
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO organizations (id, name, slug, is_operator, paid_spend_nanos,"
                " created_at) VALUES ('org_a', 'A', 'a', 0, 0, '2026-01-01 00:00:00')"
            )
        )
        conn.execute(text(
            "INSERT INTO licenses (id, organization_id, key_id, file, issued_at, starts_at,"
            " expires_at, grace_days, site_public_key) VALUES ('lic_a', 'org_a', 'k', '{}',"
            " '2026-01-01 00:00:00', '2026-01-01 00:00:00', '2027-01-01 00:00:00', 30, :key)"
        ), {"key": pinned})  # fmt: skip
        conn.execute(text(
            "INSERT INTO usage_records (request_id, organization_id, product, endpoint, model,"
            " prompt_tokens, completion_tokens, cached_tokens, status, stream, duration_ms,"
            " request_metadata, started_at, finished_at, usage_date, input_cost_nanos,"
            " cached_cost_nanos, output_cost_nanos, cost_nanos) VALUES (:rid, 'org_a',"
            " 'enterprise', 'self-hosted', :model, 1, 1, 0, 'completed', 0, 0, :meta,"
            " '2026-10-05 00:00:00', '2026-10-06 00:00:00', '2026-10-05', 0, 0, 0, 0)"
        ), {"rid": f"lic:lic_a:2026-10-05:{MODEL}"[:64], "model": MODEL,
            "meta": json.dumps({"license_id": "lic_a", "requests": 1})})  # fmt: skip
    upgrade(db.engine)
    with db.session() as session:
        [key] = session.scalars(select(LicenseSiteKey)).all()
        assert (key.public_key, key.status, key.source) == (pinned, "bound", "legacy")
        [record] = session.scalars(select(UsageRecord)).all()
        assert record.request_id == ledger_key("lic_a", date(2026, 10, 5), MODEL)
        assert session.scalars(select(HeldReport)).all() == []
    db.dispose()


# -- activations --------------------------------------------------------------------------------


@pytest.fixture
def licence_file(database: Database, key: SigningKey) -> str:
    org = make_tenant(database, "Nodes AG").organization_id
    with database.session() as session:
        return licensing.issue_license(
            session, org, key,
            LicenseTerms(max_nodes=1, starts_at=utc(2026, 1, 1), expires_at=utc(2026, 6, 1),
                  grace_days=30),
            now=utc(2026, 1, 1), actor=Actor("t"),
        ).file  # fmt: skip


def activate(database: Database, keyring: Keyring, text_: str, fingerprint: str,
             now: datetime) -> licensing.Activated:  # fmt: skip
    with database.session() as session:
        return licensing.activate_node(
            session, text_, fingerprint, f"host-{fingerprint[:4]}",
            trusted=keyring.public_keys(), now=now, heartbeat=timedelta(hours=24),
        )  # fmt: skip


def test_in_grace_running_nodes_keep_working_and_no_new_one_is_added(
    database: Database, keyring: Keyring, licence_file: str
) -> None:
    first = activate(database, keyring, licence_file, "a1" * 8, utc(2026, 5, 30))
    in_grace = utc(2026, 6, 10)
    for day in (1, 3, 5, 7, 9):  # its heartbeats go on through grace
        with database.session() as session:
            licensing.record_heartbeat(
                session, first.activation_id, "a1" * 8, now=utc(2026, 6, day)
            )
    again = activate(database, keyring, licence_file, "a1" * 8, in_grace)  # its place is kept
    assert again.activation_id == first.activation_id
    with database.session() as session:
        session.execute(text("UPDATE licenses SET max_nodes = 5"))
    with pytest.raises(PermissionDeniedError, match="new ones cannot be activated"):
        activate(database, keyring, licence_file, "b2" * 8, in_grace)
    with database.session() as session:
        licensing.record_heartbeat(session, first.activation_id, "a1" * 8, now=in_grace)
    with database.session() as session, pytest.raises(PermissionDeniedError) as refused:
        licensing.record_heartbeat(session, first.activation_id, "a1" * 8, now=utc(2026, 7, 2))
    assert refused.value.code == "license_expired"


def test_activations_are_listed_and_released(
    database: Database, keyring: Keyring, licence_file: str
) -> None:
    now = utc(2026, 2, 1)
    first = activate(database, keyring, licence_file, "a1" * 8, now)
    with pytest.raises(ConflictError, match="max_nodes"):
        activate(database, keyring, licence_file, "b2" * 8, now)
    license_id = first.license_id
    with database.session() as session:
        [row] = list_activations(session, license_id)
        assert row.id == first.activation_id
        record = licensing.get_license(session, license_id)
        release_activation(session, record, row.id, now=now, actor=Actor("ops"))
        assert list_activations(session, license_id) == []
        assert len(list_activations(session, license_id, include_released=True)) == 1
        with pytest.raises(NotFoundError):
            release_activation(session, record, "act_nope", now=now, actor=Actor("ops"))
    second = activate(database, keyring, licence_file, "b2" * 8, now)  # the freed place
    with database.session() as session:
        revoke_license(session, license_id, now=now, actor=Actor("ops"))
    with database.session() as session, pytest.raises(PermissionDeniedError) as refused:
        licensing.record_heartbeat(session, second.activation_id, "b2" * 8, now=now)
    assert refused.value.code == "license_revoked"
