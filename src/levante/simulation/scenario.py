"""A scenario: the mix of a simulated company, read from TOML."""

from __future__ import annotations

import tomllib
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from levante.errors import InvalidRequestError

Share = Annotated[float, Field(ge=0, le=1)]
Arr = Annotated[float, Field(ge=0, le=10_000_000_000)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelMix(_Strict):
    name: str = Field(min_length=1, max_length=200)
    input: str  # per million prompt tokens, in USD
    output: str
    share: Share

    @field_validator("input", "output")
    @classmethod
    def _amount(cls, value: str) -> str:
        if Decimal(value) <= 0:
            raise ValueError("a price is positive")
        return value


class Api(_Strict):
    arr: Arr
    customers: int = Field(ge=0, le=100_000)
    opening_share: Share = 0.35
    monthly_churn: Share = 0.01
    late_payments: Share = 0.05
    unpaid: Share = 0.01
    models: list[ModelMix] = Field(min_length=1)


class Chat(_Strict):
    arr: Arr
    pro_users: int = Field(ge=0, le=100_000)
    team_organizations: int = Field(ge=0, le=100_000)
    free_users: int = Field(ge=0, le=100_000)
    annual_share: Share = 0.25
    monthly_churn: Share = 0.02


class Enterprise(_Strict):
    arr: Arr
    customers: int = Field(ge=0, le=10_000)
    gpu_share: Share = 0.6
    expanding: Share = 0.3
    opening_share: Share = 0.6


class Support(_Strict):
    arr: Arr
    levels: dict[str, Share]
    tickets_per_month: float = Field(default=0.4, ge=0, le=50)
    late_answers: Share = 0.08

    @field_validator("levels")
    @classmethod
    def _levels(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = set(value) - {"standard", "premium", "critical"}
        if unknown:
            raise ValueError(f"unknown support level(s): {', '.join(sorted(unknown))}")
        if not value or sum(value.values()) <= 0:
            raise ValueError("name at least one level with a positive share")
        return value


class Scenario(_Strict):
    name: str = "a simulated company"
    months: int = Field(default=12, ge=2, le=36)
    seed: int = 0
    eur_share: Share = 0.3
    eur_usd: tuple[str, str] = ("1.04", "1.10")
    api: Api
    chat: Chat
    enterprise: Enterprise
    support: Support

    @property
    def arr(self) -> float:
        return self.api.arr + self.chat.arr + self.enterprise.arr + self.support.arr

    def shares(self) -> dict[str, float]:
        """The share of each stream in the ARR the scenario aims at."""
        total = self.arr or 1.0
        return {
            "api": self.api.arr / total,
            "chat": self.chat.arr / total,
            "enterprise": self.enterprise.arr / total,
            "support": self.support.arr / total,
        }

    def scaled(self, factor: float) -> Scenario:
        """The same company ``factor`` times the size: customers and ARR alike, so the shares
        stay (a small one for tests)."""
        if not 0 < factor <= 1:
            raise InvalidRequestError("the scale is above 0 and at most 1", param="scale")

        def count(n: int, least: int = 1) -> int:
            return max(least if n else 0, round(n * factor))

        return self.model_copy(
            update={
                "api": self.api.model_copy(
                    update={"arr": self.api.arr * factor, "customers": count(self.api.customers)}
                ),
                "chat": self.chat.model_copy(
                    update={
                        "arr": self.chat.arr * factor,
                        "pro_users": count(self.chat.pro_users),
                        "team_organizations": count(self.chat.team_organizations),
                        "free_users": count(self.chat.free_users, 0),
                    }
                ),
                "enterprise": self.enterprise.model_copy(
                    update={
                        "arr": self.enterprise.arr * factor,
                        "customers": count(self.enterprise.customers),
                    }
                ),
                "support": self.support.model_copy(update={"arr": self.support.arr * factor}),
            }
        )


def default_text() -> str:
    return resources.files("levante.simulation").joinpath("default.toml").read_text()


def load_scenario(path: Path | None = None) -> Scenario:
    """The scenario in ``path``, or the default one (the seed's company)."""
    if path is None:
        text, where = default_text(), "the default scenario"
    else:
        try:
            text, where = path.read_text(), str(path)
        except OSError as exc:
            raise InvalidRequestError(f"cannot read {path}: {exc.strerror}") from None
    try:
        return Scenario.model_validate(tomllib.loads(text))
    except tomllib.TOMLDecodeError as exc:
        raise InvalidRequestError(f"{where} is not valid TOML: {exc}") from None
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise InvalidRequestError(f"{where}: {problems}") from None
