"""A list shown a page at a time, with its total: every list a page shows pages this way."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from levante.errors import InvalidRequestError

MAX_PAGE = 10**6
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """The ``number``-th page (from 1) of ``size`` items, out of ``total``."""

    items: list[T]
    total: int
    number: int
    size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def first(self) -> int:
        """The position of the page's first item (from 1; 0 for an empty list)."""
        return (self.number - 1) * self.size + 1 if self.items else 0

    @property
    def last(self) -> int:
        return self.first + len(self.items) - 1 if self.items else 0

    @property
    def previous(self) -> int | None:
        return self.number - 1 if self.number > 1 else None

    @property
    def next(self) -> int | None:
        return self.number + 1 if self.number < self.pages else None


def paged(session: Session, query: Select[Any], number: int, size: int) -> Page[Any]:
    """The ``number``-th page of what ``query`` selects (in its order), and how many it
    selects in all."""
    if not 1 <= number <= MAX_PAGE:
        raise InvalidRequestError(f"a page is a number from 1 to {MAX_PAGE:,}", param="page")
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    items = list(session.scalars(query.offset((number - 1) * size).limit(size)))
    return Page(items, int(total or 0), number, size)
