"""The usage event: what one metered request consumed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from levante.vocabulary import UsageStatus as UsageStatus


@dataclass(frozen=True, slots=True)
class UsageEvent:
    """One request that reached a model. Token counts are those reported to the client."""

    request_id: str
    organization_id: str
    workspace_id: str | None
    api_key_id: str | None
    product: str
    endpoint: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    status: UsageStatus
    finish_reason: str | None
    stream: bool
    time_to_first_token_ms: int | None
    duration_ms: int
    started_at: datetime
    finished_at: datetime
    end_user: str | None = None
    user_id: str | None = None  # the person behind a chat answer
    metadata: dict[str, Any] | None = None
    price_id: str | None = None
    currency: str | None = None
    input_cost_nanos: int = 0
    cached_cost_nanos: int = 0
    output_cost_nanos: int = 0
    batch_job_id: str | None = None  # the batch job the request was a line of

    @property
    def cost_nanos(self) -> int:
        return self.input_cost_nanos + self.cached_cost_nanos + self.output_cost_nanos
