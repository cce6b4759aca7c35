"""Guardrails on chat requests: an organisation's policy (by category, ``block`` or ``flag``)
and a request's own (Mistral's ``guardrails`` field), checked on the conversation's newest
turns before the request reaches a model. A block is a 400 that names the categories; a flag
lets the request run. Both are audited and counted."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import anyio
from sqlalchemy.orm import Session

from levante import tenancy
from levante.audit import Actor, record
from levante.caching import RefreshingCache
from levante.errors import ContentBlockedError, InvalidRequestError
from levante.guardrails.categories import CATEGORIES, DEFAULT_THRESHOLD, Moderation
from levante.guardrails.services import MAX_CHARS, Moderator
from levante.storage import Database, Topic, announce
from levante.storage.models import GuardrailPolicy
from levante.vocabulary import Permission

Action = Literal["block", "flag"]
ACTIONS = ("block", "flag")


@dataclass(frozen=True, slots=True)
class Rules:
    """What happens to a request by category, and from which score a category counts."""

    actions: dict[str, Action] = field(default_factory=dict)
    thresholds: dict[str, float] = field(default_factory=dict)

    def judge(self, moderation: Moderation) -> tuple[list[str], list[str]]:
        """The categories that block the request, and those that flag it."""
        blocked: list[str] = []
        flagged: list[str] = []
        for category, action in self.actions.items():
            limit = self.thresholds.get(category, DEFAULT_THRESHOLD)
            if moderation.scores.get(category, 0.0) >= limit:
                (blocked if action == "block" else flagged).append(category)
        return blocked, flagged

    def __bool__(self) -> bool:
        return bool(self.actions)


def check_rules(actions: dict[str, str], thresholds: dict[str, float] | None = None) -> Rules:
    for category, action in actions.items():
        if category not in CATEGORIES:
            raise InvalidRequestError(
                f"'{category}' is not a category; use {', '.join(CATEGORIES)}", param="rules"
            )
        if action not in ACTIONS:
            raise InvalidRequestError(f"'{action}' is not an action: block or flag", param="rules")
    for category, value in (thresholds or {}).items():
        if category not in CATEGORIES or not 0 < value <= 1:
            raise InvalidRequestError(
                f"threshold '{category}': a category and a score above 0, at most 1",
                param="thresholds",
            )
    return Rules(dict(actions), dict(thresholds or {}))  # type: ignore[arg-type]


def request_rules(guardrails: Any) -> Rules:
    """Mistral's chat ``guardrails`` field: a list of ``{"block_on_error",
    "moderation_llm_v1" | "moderation_llm_v2": {"custom_category_thresholds",
    "ignore_other_categories", "action"}}``. ``action: "block"`` blocks every category over
    its threshold (only the custom ones with ``ignore_other_categories``); ``"none"`` flags."""
    if guardrails is None:
        return Rules()
    if not isinstance(guardrails, list):
        raise InvalidRequestError("guardrails is a list", param="guardrails")
    actions: dict[str, Action] = {}
    thresholds: dict[str, float] = {}
    for entry in guardrails:
        config = None
        if isinstance(entry, dict):
            config = entry.get("moderation_llm_v1") or entry.get("moderation_llm_v2")
        if not isinstance(config, dict):
            raise InvalidRequestError(
                "a guardrail is {'moderation_llm_v1': {...}}", param="guardrails"
            )
        custom = config.get("custom_category_thresholds") or {}
        if not isinstance(custom, dict):
            raise InvalidRequestError("custom_category_thresholds is an object", param="guardrails")
        try:
            given = {k: float(v) for k, v in custom.items() if v is not None and k in CATEGORIES}
        except (TypeError, ValueError):
            raise InvalidRequestError(
                "custom_category_thresholds holds numbers", param="guardrails"
            ) from None
        chosen = list(given) if config.get("ignore_other_categories") else list(CATEGORIES)
        action: Action = "block" if config.get("action") == "block" else "flag"
        for category in chosen:
            actions[category] = "block" if "block" in (action, actions.get(category)) else "flag"
        thresholds.update(given)
    return Rules(actions, thresholds)


def policy_of(session: Session, actor: Actor, organization: str | None = None) -> Rules:
    """The organisation's guardrails, for those who may see its limits."""
    org = tenancy.acting_on(session, actor, organization, needs=Permission.READ_USAGE)
    return get_policy(session, org.id)


def get_policy(session: Session, organization_id: str) -> Rules:
    row = session.get(GuardrailPolicy, organization_id)
    if row is None:
        return Rules()
    return Rules(dict(row.rules), dict(row.thresholds or {}))  # type: ignore[arg-type]


def set_policy(
    session: Session,
    actor: Actor,
    organization_id: str,
    *,
    rules: dict[str, str],
    thresholds: dict[str, float] | None,
    now: datetime,
) -> Rules:
    """Set the organisation's guardrails (those who may change its limits; audited)."""
    organization_id = tenancy.acting_on(
        session, actor, organization_id, needs=Permission.CHANGE_LIMITS
    ).id
    checked = check_rules(rules, thresholds)
    row = session.get(GuardrailPolicy, organization_id)
    if row is None:
        row = GuardrailPolicy(organization_id=organization_id, rules={}, thresholds={},
                              updated_at=now, updated_by=str(actor))  # fmt: skip
        session.add(row)
    row.rules = dict(checked.actions)
    row.thresholds = dict(checked.thresholds)
    row.updated_at, row.updated_by = now, str(actor)
    details = {"rules": row.rules, "thresholds": row.thresholds}
    record(session, organization_id=organization_id, actor=actor, action="guardrails.changed",
           target=organization_id, details=details)  # fmt: skip
    announce(session, Topic.GUARDRAILS, organization_id)
    return checked


class ChatGuard:
    """Checks chat requests against their organisation's policy (cached for ``ttl``) and their
    own ``guardrails``."""

    def __init__(self, moderator: Moderator, database: Database, ttl: float) -> None:
        self._moderator = moderator
        self._database = database
        self._cache: RefreshingCache[str, Rules] = RefreshingCache(
            self._load, ttl, name="guardrails"
        )
        database.listen(Topic.GUARDRAILS, lambda _key: self._cache.invalidate())

    def _load(self, organization_id: str) -> Rules:
        with self._database.session() as session:
            return get_policy(session, organization_id)

    async def _rules(self, organization_id: str, guardrails: Any) -> tuple[Rules, Rules]:
        asked = request_rules(guardrails)
        hit = self._cache.cached(organization_id)
        if hit is not None:
            return hit.value, asked
        return await anyio.to_thread.run_sync(self._cache.get, organization_id), asked

    async def _judge(
        self, organization_id: str, text: str, guardrails: Any, *, count: bool = True
    ) -> tuple[list[str], list[str]]:
        policy, asked = await self._rules(organization_id, guardrails)
        if not (policy or asked) or not text:
            return [], []
        [moderation] = await self._moderator.moderate(
            [text[-MAX_CHARS:]], endpoint="chat.completions", count=count
        )
        blocked, flagged = policy.judge(moderation)
        more_blocked, more_flagged = asked.judge(moderation)
        blocked = sorted(set(blocked) | set(more_blocked))
        return blocked, sorted((set(flagged) | set(more_flagged)) - set(blocked))

    async def watches(self, organization_id: str, guardrails: Any) -> bool:
        """Whether any guardrail applies to the organisation's request."""
        policy, asked = await self._rules(organization_id, guardrails)
        return bool(policy or asked)

    async def check(
        self,
        organization_id: str,
        request_id: str,
        texts: Sequence[str],
        guardrails: Any = None,
    ) -> list[str]:
        """Raise ContentBlockedError when a blocking category is found in ``texts``; the
        flagged categories otherwise (audited)."""
        blocked, flagged = await self._judge(organization_id, "\n".join(texts), guardrails)
        if blocked or flagged:
            action = "guardrails.blocked" if blocked else "guardrails.flagged"
            await anyio.to_thread.run_sync(
                self._audit, organization_id, request_id, action, blocked, flagged
            )
        if blocked:
            raise ContentBlockedError(
                f"the request was blocked by guardrails: {', '.join(blocked)}",
                param="messages",
            )
        return flagged

    async def answer_blocked(
        self, organization_id: str, request_id: str, text: str, guardrails: Any = None
    ) -> bool:
        """Whether an answer holds a blocking category: it is then cut (audited). ``text`` is
        what the caller has not had read yet, with some of what came before it for context."""
        blocked, _ = await self._judge(organization_id, text, guardrails, count=False)
        if blocked:
            await anyio.to_thread.run_sync(
                self._audit, organization_id, request_id, "guardrails.cut", blocked, []
            )
        return bool(blocked)

    def _audit(self, organization_id: str, request_id: str, action: str, blocked: list[str],
               flagged: list[str]) -> None:  # fmt: skip
        with self._database.session() as session:
            record(session, organization_id=organization_id, actor="guardrails", action=action,
                   target=request_id, details={"blocked": blocked, "flagged": flagged})  # fmt: skip
