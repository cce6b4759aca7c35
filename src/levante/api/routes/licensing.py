"""Licences over HTTP, for licence holders and for self-hosted deployments.

A customer reads its own licences (``/v1/admin/licenses``), their site keys and nodes, and may
free a node's place; the operator issues and judges them (:mod:`levante.api.routes.operator`).
A self-hosted deployment reports the licence it runs under (``/v1/admin/license``); its
renewal and the usage report it owes are the operator's routes. Nodes activate with their
licence file as the credential (``/v1/licensing/activations``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import anyio
from fastapi import APIRouter, Query

from levante import licensing
from levante.api.schemas.licensing import (
    Activate,
    ActivationView,
    InstalledLicense,
    LicenseList,
    LicenseView,
    NodeList,
    NodeProof,
    NodeView,
    SiteKeyList,
    SiteKeyView,
)
from levante.api.state import Admin, State

router = APIRouter()

# -- a licence holder's ---------------------------------------------------------------------------


@router.get("/v1/admin/licenses")
def licenses(
    state: State,
    caller: Admin,
    organization: Annotated[str | None, Query(max_length=64)] = None,
) -> LicenseList:
    """Licences of the caller's organisation; the operator sees every customer's, or one's."""
    now = state.clock()
    with state.database.session() as session:
        rows = licensing.licenses_of(session, caller.actor, organization)
        return LicenseList(data=[LicenseView.of(r, now) for r in rows])


@router.get("/v1/admin/licenses/{license_id}")
def license_detail(license_id: str, state: State, caller: Admin) -> LicenseView:
    with state.database.session() as session:
        record = licensing.license_of(session, caller.actor, license_id)
        return LicenseView.of(record, state.clock(), file=True)


@router.get("/v1/admin/licenses/{license_id}/site-keys")
def list_site_keys(license_id: str, state: State, caller: Admin) -> SiteKeyList:
    """The keys a licence's usage reports may be signed with (the operator's, or the licence
    holder's own)."""
    with state.database.session() as session:
        rows = licensing.site_keys_of(session, caller.actor, license_id)
        return SiteKeyList(data=[SiteKeyView.of(k) for k in rows])


@router.get("/v1/admin/licenses/{license_id}/activations")
def activations(
    license_id: str, state: State, caller: Admin, include_released: bool = False
) -> NodeList:
    """The nodes activated online under a licence (the operator's, or the licence holder's)."""
    with state.database.session() as session:
        rows = licensing.activations_of(
            session, caller.actor, license_id, include_released=include_released
        )
        return NodeList(data=[NodeView.of(r) for r in rows])


@router.post("/v1/admin/licenses/{license_id}/activations/{activation_id}/release")
def release(license_id: str, activation_id: str, state: State, caller: Admin) -> NodeView:
    """Free a node's place, for a machine that is gone (the operator, or the licence holder)."""
    with state.database.session() as session:
        row = licensing.release(session, caller.actor, license_id, activation_id)
        return NodeView.of(row)


# -- this deployment's ----------------------------------------------------------------------------


@router.get("/v1/admin/license")
def installed(state: State, caller: Admin) -> InstalledLicense:
    """The licence this deployment runs under: status, entitlements, seats, warnings."""
    with state.database.session() as session:
        standing = licensing.standing(session, state.license, now=state.clock())
    return InstalledLicense.of(standing, nodes_running=len(state.ledger.live_hosts()))


# -- online activation (the vendor's; the licence file is the credential) ------------------------


@router.post("/v1/licensing/activations", status_code=201)
async def activate(body: Activate, state: State) -> ActivationView:
    """Activate a node of a self-hosted deployment against its licence (a few attempts per
    licence per hour: ``licensing.activations_per_hour``)."""
    settings = state.settings.licensing
    trusted = licensing.configured_keys(state.settings)
    claimed = licensing.authenticate(body.license, trusted)
    await state.throttle.check(
        f"activation:{claimed.license_id}",
        per_hour=settings.activations_per_hour,
        burst=max(1, int(settings.activations_per_hour)),
        what="activations of this licence",
    )

    def run() -> licensing.Activated:
        with state.database.session() as session:
            return licensing.activate_node(
                session,
                body.license,
                body.fingerprint,
                body.hostname,
                trusted=trusted,
                now=state.clock(),
                heartbeat=timedelta(hours=settings.heartbeat_hours),
                site_key=body.site_key,
            )

    done = await anyio.to_thread.run_sync(run)
    return ActivationView(
        activation_id=done.activation_id,
        license_id=done.license_id,
        mode=done.mode,
        nodes_active=done.nodes_active,
        max_nodes=done.max_nodes,
        heartbeat_seconds=settings.heartbeat_hours * 3600,
    )


@router.post("/v1/licensing/activations/{activation_id}/heartbeat")
def heartbeat(activation_id: str, body: NodeProof, state: State) -> dict[str, str]:
    with state.database.session() as session:
        licensing.record_heartbeat(session, activation_id, body.fingerprint, now=state.clock())
    return {"object": "license_heartbeat", "activation_id": activation_id}


@router.delete("/v1/licensing/activations/{activation_id}")
def deactivate(activation_id: str, body: NodeProof, state: State) -> dict[str, str]:
    with state.database.session() as session:
        licensing.deactivate_node(session, activation_id, body.fingerprint, now=state.clock())
    return {"object": "license_activation", "activation_id": activation_id, "status": "inactive"}
