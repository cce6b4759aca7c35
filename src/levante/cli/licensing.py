"""``levante license …``: the vendor's keys and licences, and a deployment's own licence."""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from levante import licensing
from levante.cli.billing import OrgOption
from levante.cli.context import CLI, JsonOption, console, database, handled, settings, show, styled
from levante.errors import ConfigurationError

license_app = typer.Typer(
    help="Licences: the vendor's keys, issuing and importing usage; a deployment's own licence.",
    no_args_is_help=True,
)


def _when(value: datetime | None) -> datetime | None:
    return None if value is None else value.replace(tzinfo=UTC)


def _now() -> datetime:
    return datetime.now(UTC)


def _print(license: licensing.License, now: datetime) -> None:
    rights = license.entitlements
    console.print(f"licence {license.license_id} for {license.licensee_name} "
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
        with database() as db, db.session() as session:
            record = licensing.issue(
                session,
                CLI,
                org,
                licensing.LicenseTerms(
                    models=model or ["*"],
                    features=feature if feature is not None else licensing.DEFAULT_FEATURES,
                    max_seats=seats,
                    max_nodes=nodes,
                    max_gpus=gpus,
                    starts_at=_when(starts),
                    expires_at=_when(expires),
                    grace_days=grace_days,
                    usage_reporting=reporting,
                    on_expiry=on_expiry,
                ),
                keys_dir=config.license_keys_dir,
            )
            text = record.file
        # Written once the licence is on record: a file is never handed out for a licence the
        # vendor does not know (the record keeps the file, should writing it fail).
        out.write_text(text)
    console.print(f"wrote {out}")
    _print(licensing.read_issued(text), _now())


@license_app.command("renew")
def renew(
    license_id: Annotated[str, typer.Argument()],
    out: Annotated[Path, typer.Option(help="Where to write the renewed licence file.")],
    expires: Annotated[
        datetime | None, typer.Option(help="Default: the end of the enterprise subscription.")
    ] = None,
) -> None:
    """Extend a licence: the same licence id and terms with a later expiry, for the site to
    install ('levante license install')."""
    config = settings()
    with handled():
        with database() as db, db.session() as session:
            record = licensing.renew(
                session,
                CLI,
                license_id,
                expires_at=_when(expires),
                keys_dir=config.license_keys_dir,
            )
            text = record.file
        out.write_text(text)
    console.print(f"wrote {out}")
    _print(licensing.read_issued(text), _now())


@license_app.command("verify")
def verify(
    file: Annotated[Path, typer.Argument(help="A licence file.")],
    at: Annotated[datetime | None, typer.Option(help="Check at this time (UTC).")] = None,
    key: Annotated[
        list[str] | None,
        typer.Option(
            help="A public key to trust: base64, or a .pub file (repeat). "
            "Default: the configured keys and this installation's keyring."
        ),
    ] = None,
) -> None:
    """Verify a licence offline: its signature, its key, its dates. A failure prints the
    documented error code in brackets and exits 1."""
    now = _when(at) or _now()
    with handled():
        text = _read(file)
        if key:
            trusted = licensing.trust(_read(Path(k)) if Path(k).is_file() else k for k in key)
        else:
            trusted = licensing.configured_keys(settings())
        license = licensing.verify(text, trusted, now)
    _print(license, now)


@license_app.command("list")
def list_(
    org: Annotated[str | None, typer.Option("--org", "-o")] = None, as_json: JsonOption = False
) -> None:
    """Licences issued here, with their status."""
    now = _now()
    with handled(), database() as db, db.session() as session:
        table = Table("id", "organisation", "status", "expires", "seats", "seats reported", "key")
        for record in licensing.licenses_of(session, CLI, org):
            table.add_row(
                record.id,
                record.organization_id,
                licensing.license_status(record, now),
                f"{record.expires_at:%Y-%m-%d}",
                str(record.max_seats or "-"),
                "-" if record.seats_reported is None else str(record.seats_reported),
                record.key_id,
            )
        show(table, as_json)


@license_app.command("revoke")
def revoke(license_id: Annotated[str, typer.Argument()]) -> None:
    """Revoke a licence (it can no longer activate; reports are still taken)."""
    with handled(), database() as db, db.session() as session:
        record = licensing.revoke(session, CLI, license_id)
        console.print(f"{record.id}: revoked")


@license_app.command("import-usage")
def import_usage(file: Annotated[Path, typer.Argument(help="A site's usage report.")]) -> None:
    """Take a self-hosted site's usage report into the ledger (once)."""
    with handled(), database() as db, db.session() as session:
        result = licensing.import_report(session, CLI, _read(file))
    _print_import(result)


def _print_import(result: licensing.ImportResult) -> None:
    if result.status == "duplicate":
        console.print(f"report {result.report_id[:16]} was imported before: nothing changed")
    elif result.status == "held":
        console.print(
            f"licence {result.license_id}: the report is signed with a site key this licence has "
            f"not bound, so it is held, not imported. Check it, then 'levante license accept "
            f"{result.report_id[:16]}' or 'levante license reject {result.report_id[:16]}'."
        )
    else:
        console.print(f"licence {result.license_id}: {result.records} usage record(s) added")


@license_app.command("held")
def held(as_json: JsonOption = False) -> None:
    """Usage reports held because their site key is not bound to their licence."""
    with handled(), database() as db, db.session() as session:
        table = Table("report", "licence", "period", "received", "site key")
        for row in licensing.held(session, CLI):
            table.add_row(
                row.id[:16], row.license_id, f"{row.period_start}..{row.period_end}",
                f"{row.received_at:%Y-%m-%d %H:%M}", row.site_key,
            )  # fmt: skip
        show(table, as_json)


@license_app.command("accept")
def accept(
    report: Annotated[str, typer.Argument(help="The held report's id (or its start).")],
) -> None:
    """Vouch for a held report: its site key is bound to the licence and the report imported."""
    with handled(), database() as db, db.session() as session:
        result = licensing.accept_held(session, CLI, report)
    _print_import(result)


@license_app.command("reject")
def reject(
    report: Annotated[str, typer.Argument(help="The held report's id (or its start).")],
) -> None:
    """Refuse a held report: nothing of it reaches the ledger."""
    with handled(), database() as db, db.session() as session:
        row = licensing.reject_held(session, CLI, report)
        console.print(f"report {row.id[:16]}: rejected")


@license_app.command("site-keys")
def site_keys(license_id: Annotated[str, typer.Argument()], as_json: JsonOption = False) -> None:
    """The keys a licence's usage reports may be signed with, and their status."""
    with handled(), database() as db, db.session() as session:
        table = Table("id", "status", "source", "host", "since", "public key")
        for key in licensing.site_keys_of(session, CLI, license_id):
            table.add_row(key.id, key.status, key.source, key.hostname or "-",
                          f"{key.bound_at or key.created_at:%Y-%m-%d}", key.public_key)  # fmt: skip
        show(table, as_json)


@license_app.command("bind")
def bind(
    request: Annotated[Path, typer.Argument(help="A site's activation request file.")],
) -> None:
    """Confirm an air-gapped site's activation request: its key signs the licence's reports."""
    with handled(), database() as db, db.session() as session:
        row = licensing.bind_key(session, CLI, activation_request=_read(request))
        console.print(f"licence {row.license_id}: site key {row.id} bound ({row.hostname})")


@license_app.command("revoke-site-key")
def revoke_site_key(
    license_id: Annotated[str, typer.Argument()],
    site_key_id: Annotated[str, typer.Argument(help="sk_… (see 'levante license site-keys').")],
) -> None:
    """Stop trusting a site key; to rotate, bind the new key first, then revoke the old."""
    with handled(), database() as db, db.session() as session:
        row = licensing.revoke_key(session, CLI, license_id, site_key_id)
        console.print(f"licence {row.license_id}: site key {row.id} revoked")


@license_app.command("activations")
def activations(
    license_id: Annotated[str, typer.Argument()],
    all_: Annotated[bool, typer.Option("--all", help="Released ones too.")] = False,
    as_json: JsonOption = False,
) -> None:
    """The nodes activated online under a licence."""
    with handled(), database() as db, db.session() as session:
        table = Table("id", "host", "fingerprint", "activated", "last seen", "released")
        for row in licensing.activations_of(session, CLI, license_id, include_released=all_):
            table.add_row(
                row.id, row.hostname, row.fingerprint, f"{row.created_at:%Y-%m-%d %H:%M}",
                f"{row.last_seen:%Y-%m-%d %H:%M}",
                f"{row.deactivated_at:%Y-%m-%d %H:%M}" if row.deactivated_at else "-",
            )  # fmt: skip
        show(table, as_json)


@license_app.command("release")
def release(
    license_id: Annotated[str, typer.Argument()],
    activation_id: Annotated[
        str, typer.Argument(help="act_… (see 'levante license activations').")
    ],
) -> None:
    """Free a node's place (a machine that is gone)."""
    with handled(), database() as db, db.session() as session:
        row = licensing.release(session, CLI, license_id, activation_id)
        console.print(f"licence {row.license_id}: node {row.hostname} ({row.id}) released")


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError as exc:
        raise ConfigurationError(f"cannot read {path}: {exc}") from None


# -- a deployment's own licence -------------------------------------------------------------------


def _guard() -> licensing.LicenseGuard:
    config = settings()
    guard = licensing.open_guard(config)
    if guard is None:
        raise ConfigurationError("no licence file: set LEVANTE_LICENSE_FILE")
    return guard


@license_app.command("status")
def status() -> None:
    """The licence this deployment runs under, its seats and warnings."""
    with handled():
        guard = _guard()
        with database() as db, db.session() as session:
            standing = licensing.standing(session, guard, now=_now())
    _print(standing.license, _now())
    console.print(f"  {standing.status}, {standing.days_left} day(s) left")
    console.print(f"  seats in use: {standing.seats_in_use}")
    for warning in standing.warnings:
        console.print(styled(("warning:", "yellow"), f" {warning}"))


@license_app.command("install")
def install(file: Annotated[Path, typer.Argument(help="The renewed licence file.")]) -> None:
    """Install a renewed licence over the current one (verified first; for the same
    licensee). Running servers pick it up within seconds."""
    with handled():
        guard = _guard()
        license = guard.install(_read(file))
    console.print(f"installed {license.license_id} into {guard.path}")
    _print(license, _now())


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
    with handled():
        guard = _guard()
        with database() as db, db.session() as session:
            owed = licensing.owed_report(
                session,
                guard,
                site_key_file=config.site_key_file,
                start=start.date() if start else None,
                end=end.date() if end else None,
            )
    out.write_text(owed.text)
    lines = json.loads(json.loads(owed.text)["payload"])["lines"]
    console.print(f"wrote {out}: {len(lines)} line(s), {owed.start} to {owed.end} (exclusive)")


@license_app.command("activation-request")
def activation_request(
    out: Annotated[Path, typer.Option(help="Where to write the request.")],
) -> None:
    """Write this site's activation request, for an air-gapped deployment: carried to the
    vendor ('levante license bind'), it makes the vendor trust this site's usage reports."""
    config = settings()
    with handled():
        guard = _guard()
        text = licensing.build_activation_request(
            guard.license,
            licensing.site_key(config.site_key_file),
            fingerprint=config.licensing.node_fingerprint or licensing.machine_fingerprint(),
            hostname=socket.gethostname(),
            now=_now(),
        )
    out.write_text(text)
    console.print(f"wrote {out}: give it to the vendor, who runs 'levante license bind {out.name}'")
