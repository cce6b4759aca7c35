"""Organisation administration: ``/v1/admin/usage`` and ``/v1/admin/api-keys``.

Every route is scoped to the caller's organisation and needs an admin key.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from levante.api.state import Admin, State
from levante.metering import GroupBy, usage_report
from levante.storage.models import ApiKey
from levante.tenancy import (
    DEFAULT_WORKSPACE,
    create_api_key,
    find_workspace,
    list_api_keys,
    revoke_api_key,
)

router = APIRouter(prefix="/v1/admin")


class ApiKeyView(BaseModel):
    id: str
    object: Literal["api_key"] = "api_key"
    name: str
    workspace_id: str
    prefix: str
    admin: bool
    allowed_models: list[str] | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, key: ApiKey) -> ApiKeyView:
        return cls(
            id=key.id,
            name=key.name,
            workspace_id=key.workspace_id,
            prefix=key.display_prefix,
            admin=key.is_admin,
            allowed_models=key.allowed_models,
            created_at=key.created_at,
            expires_at=key.expires_at,
            revoked_at=key.revoked_at,
        )


class CreatedApiKey(ApiKeyView):
    key: str = Field(description="The secret; shown this one time only.")


class ApiKeyList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ApiKeyView]


class CreateApiKey(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    workspace: str = Field(default=DEFAULT_WORKSPACE, min_length=1, max_length=200)
    admin: bool = False
    expires_at: datetime | None = None
    allowed_models: list[Annotated[str, Field(min_length=1)]] | None = Field(
        default=None, min_length=1
    )


@router.get("/api-keys")
def list_keys(state: State, caller: Admin, include_revoked: bool = False) -> ApiKeyList:
    with state.database.session() as session:
        keys = list_api_keys(session, caller.organization_id, include_revoked=include_revoked)
        return ApiKeyList(data=[ApiKeyView.of(k) for k in keys])


@router.post("/api-keys", status_code=201)
def create_key(body: CreateApiKey, state: State, caller: Admin) -> CreatedApiKey:
    allowed = [state.models.canonical_id(m) for m in body.allowed_models or []] or None
    with state.database.session() as session:
        issued = create_api_key(
            session,
            caller.organization_id,
            body.name,
            workspace=body.workspace,
            is_admin=body.admin,
            expires_at=body.expires_at,
            allowed_models=allowed,
        )
        view = ApiKeyView.of(issued.key)
    return CreatedApiKey(**view.model_dump(), key=issued.secret)


@router.delete("/api-keys/{key_id}")
def revoke_key(key_id: str, state: State, caller: Admin) -> ApiKeyView:
    with state.database.session() as session:
        key = revoke_api_key(session, caller.organization_id, key_id)
        view = ApiKeyView.of(key)
    state.authenticator.invalidate()
    return view


class UsageLine(BaseModel):
    day: str | None = None
    model: str | None = None
    workspace: str | None = None
    key: str | None = None
    requests: int
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    total_tokens: int


class UsageReport(BaseModel):
    object: Literal["usage_report"] = "usage_report"
    organization_id: str
    start_date: date | None
    end_date: date | None
    group_by: list[GroupBy]
    data: list[UsageLine]
    total: UsageLine


@router.get("/usage", response_model_exclude_none=True)
def usage(
    state: State,
    caller: Admin,
    start_date: date | None = None,
    end_date: date | None = None,
    group_by: Annotated[list[GroupBy] | None, Query()] = None,
    workspace: str | None = None,
) -> UsageReport:
    groups = group_by if group_by is not None else [GroupBy.DAY, GroupBy.MODEL, GroupBy.KEY]
    with state.database.session() as session:
        workspace_id = (
            find_workspace(session, caller.organization_id, workspace).id if workspace else None
        )
        rows = usage_report(
            session,
            caller.organization_id,
            start=start_date,
            end=end_date,
            group_by=groups,
            workspace_id=workspace_id,
        )
    lines = [_line(row.group, row) for row in rows]
    total: dict[str, Any] = {
        "requests": sum(r.requests for r in rows),
        "prompt_tokens": sum(r.prompt_tokens for r in rows),
        "completion_tokens": sum(r.completion_tokens for r in rows),
        "cached_tokens": sum(r.cached_tokens for r in rows),
    }
    total["total_tokens"] = total["prompt_tokens"] + total["completion_tokens"]
    return UsageReport(
        organization_id=caller.organization_id,
        start_date=start_date,
        end_date=end_date,
        group_by=groups,
        data=lines,
        total=UsageLine(**total),
    )


def _line(group: dict[str, str | None], row: Any) -> UsageLine:
    return UsageLine(
        **group,
        requests=row.requests,
        prompt_tokens=row.prompt_tokens,
        completion_tokens=row.completion_tokens,
        cached_tokens=row.cached_tokens,
        total_tokens=row.total_tokens,
    )
