"""``levante license …``: the vendor's keys and licences, and a deployment's own licence."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from levante import licensing
from levante.cli.billing import OrgOption
from levante.cli.context import console, database, handled, settings
from levante.errors import ConfigurationError
from levante.storage import utcnow
from levante.tenancy import count_seats, find_organization

license_app = typer.Typer(
    help="Licences: the vendor's keys, issuing and importing usage; a deployment's own licence.",
    no_args_is_help=True,
)


def _when(value: datetime | None) -> datetime | None:
    return None if value is None else value.replace(tzinfo=UTC)


def _print(license: licensing.License, now: datetime) -> None:
    rights = license.entitlements
    console.print(f"licence [bold]{license.license_id}[/] for {license.licensee_name} "
                  f"({license.licensee_id}): {license.status(now)}")  # fmt: skip
    console.print(
        f"  valid {license.starts_at:%Y-%m-%d} to {license.expires_at:%Y-%m-%d}, "
        f"grace {license.grace_days} days (to {license.grace_ends_at:%Y-%m-%d}), "
        f"then {license.on_expiry.replace('_', '-')}"
    )
    console.print(
        f"  models {', '.join(rights.models)}; seats {rights.max_seats or 'unlimited'}; "
        f"nodes {rights.max_nodes or 'unlimited'}; GPUs {rights.max_gpus or 'unlimited'}; "
        f"features {', '.join(rights.features) or 'none'}; signed by {license.key_id}"
    )


@license_app.command("keygen")
def keygen() -> None:
    """Make a new signing key pair (the signing key from now on; older keys still verify)."""
    config = settings()
    with handled():
        key = licensing.Keyring(config.license_keys_dir).generate()
    public = licensing.encode_public(key.public)
    console.print(f"key {key.key_id} in {config.license_keys_dir} (keep the .key file secret)")
    console.print("deployments trust it with, in levante.toml:")
    console.print(f'[licensing.trusted_keys]\n"{key.key_id}" = "{public}"', markup=False)


@license_app.command("issue")
def issue(
    org: OrgOption,
    out: Annotated[Path, typer.Option(help="Where to write the licence file.")],
    expires: Annotated[
        datetime | None, typer.Option(help="Default: the end of the enterprise subscription.")
    ] = None,
    starts: Annotated[datetime | None, typer.Option(help="Default: now.")] = None,
    model: Annotated[list[str] | None, typer.Option(help="An entitled model (repeat).")] = None,
    feature: Annotated[
        list[str] | None, typer.Option(help=f"One of {', '.join(licensing.FEATURES)} (repeat).")
    ] = None,
    seats: Annotated[int | None, typer.Option(min=1, help="Default: the contract's.")] = None,
    nodes: Annotated[int | None, typer.Option(min=1)] = None,
    gpus: Annotated[int | None, typer.Option(min=1, help="Default: the contract's.")] = None,
    grace_days: Annotated[int, typer.Option(min=0, max=365)] = 30,
    reporting: Annotated[bool, typer.Option(help="Usage reports are owed.")] = True,
    on_expiry: Annotated[str, typer.Option(help="read_only or serve_existing")] = "read_only",
) -> None:
    """Sign a licence for an organisation from its enterprise contract."""
    config = settings()
    with handled():
        key = licensing.Keyring(config.license_keys_dir).signing_key()
        with database() as db, db.session() as session:
            record = licensing.issue_license(
                session,
                find_organization(session, org).id,
                key,
                licensing.Terms(
                    models=model or ["*"],
                    features=feature if feature is not None else ["admin_api", "usage_reporting"],
                    max_seats=seats,
                    max_nodes=nodes,
                    max_gpus=gpus,
                    starts_at=_when(starts),
                    expires_at=_when(expires),
                    grace_days=grace_days,
                    usage_reporting=reporting,
                    on_expiry=on_expiry,
                ),
                now=utcnow(),
                actor="cli",
            )
            text = record.file
        # Written once the licence is on record: a file is never handed out for a licence the
        # vendor does not know (the record keeps the file, should writing it fail).
        out.write_text(text)
    console.print(f"wrote {out}")
    _print(licensing.authenticate(text, {key.key_id: key.public}), utcnow())


@license_app.command("verify")
def verify(
    file: Annotated[Path, typer.Argument(help="A licence file.")],
    at: Annotated[datetime | None, typer.Option(help="Check at this time (UTC).")] = None,
) -> None:
    """Verify a licence offline: its signature, its key, its dates."""
    now = _when(at) or utcnow()
    with handled():
        try:
            text = file.read_text()
        except OSError as exc:
            raise ConfigurationError(f"cannot read {file}: {exc}") from None
        license = licensing.verify(text, licensing.configured_keys(settings()), now)
    _print(license, now)


@license_app.command("list")
def list_(org: Annotated[str | None, typer.Option("--org", "-o")] = None) -> None:
    """Licences issued here, with their status."""
    now = utcnow()
    with handled(), database() as db, db.session() as session:
        org_id = find_organization(session, org).id if org else None
        table = Table("id", "organisation", "status", "expires", "seats", "seats reported", "key")
        for record in licensing.list_licenses(session, org_id):
            table.add_row(
                record.id,
                record.organization_id,
                licensing.license_status(record, now),
                f"{record.expires_at:%Y-%m-%d}",
                str(record.max_seats or "-"),
                "-" if record.seats_reported is None else str(record.seats_reported),
                record.key_id,
            )
        console.print(table)


@license_app.command("revoke")
def revoke(license_id: Annotated[str, typer.Argument()]) -> None:
    """Revoke a licence (it can no longer activate; reports are still taken)."""
    with handled(), database() as db, db.session() as session:
        record = licensing.revoke_license(session, license_id, now=utcnow(), actor="cli")
        console.print(f"{record.id}: revoked")


@license_app.command("import-usage")
def import_usage(file: Annotated[Path, typer.Argument(help="A site's usage report.")]) -> None:
    """Take a self-hosted site's usage report into the ledger (once)."""
    with handled(), database() as db, db.session() as session:
        try:
            text = file.read_text()
        except OSError as exc:
            raise ConfigurationError(f"cannot read {file}: {exc}") from None
        result = licensing.import_usage(session, text, now=utcnow(), actor="cli")
    if result.duplicate:
        console.print(f"report {result.report_id[:16]} was imported before: nothing changed")
    else:
        console.print(f"licence {result.license_id}: {result.records} usage record(s) added")


# -- a deployment's own licence -------------------------------------------------------------------


def _guard() -> licensing.LicenseGuard:
    config = settings()
    guard = licensing.open_guard(config, utcnow)
    if guard is None:
        raise ConfigurationError("no licence file: set LEVANTE_LICENSE_FILE")
    return guard


@license_app.command("status")
def status() -> None:
    """The licence this deployment runs under, its seats and warnings."""
    with handled():
        guard = _guard()
        _print(guard.license, utcnow())
        with database() as db, db.session() as session:
            console.print(f"  seats in use: {count_seats(session)}")
        for warning in guard.warnings():
            console.print(f"[yellow]warning:[/] {warning}")


@license_app.command("install")
def install(file: Annotated[Path, typer.Argument(help="The renewed licence file.")]) -> None:
    """Install a renewed licence over the current one (verified first; for the same
    licensee). Running servers pick it up within seconds."""
    with handled():
        guard = _guard()
        try:
            text = file.read_text()
        except OSError as exc:
            raise ConfigurationError(f"cannot read {file}: {exc}") from None
        license = guard.install(text)
    console.print(f"installed {license.license_id} into {guard.path}")
    _print(license, utcnow())


@license_app.command("report")
def report(
    out: Annotated[Path, typer.Option(help="Where to write the report.")],
    start: Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"])] = None,
    end: Annotated[
        datetime | None, typer.Option(formats=["%Y-%m-%d"], help="Exclusive; default today.")
    ] = None,
) -> None:
    """Write the signed usage report owed to the vendor (whole days, default the last 30)."""
    config = settings()
    now = utcnow()
    last: date = end.date() if end else now.date()
    first: date = start.date() if start else last - timedelta(days=30)
    with handled():
        guard = _guard()
        with database() as db, db.session() as session:
            text = licensing.build_report(
                session,
                guard.license,
                licensing.site_key(config.site_key_file),
                start=first,
                end=last,
                now=now,
            )
    out.write_text(text)
    lines = json.loads(json.loads(text)["payload"])["lines"]
    console.print(f"wrote {out}: {len(lines)} line(s), {first} to {last} (exclusive)")
