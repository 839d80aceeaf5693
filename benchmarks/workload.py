"""What the benchmarks load: the two row shapes (tables and mapped classes) and the rows themselves."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Boolean, Column, DateTime, Identity, Integer, String, Table

from fixtures.compat import declarative_base

Base = declarative_base()


class NarrowCustomer(Base):
    """The table of SQLAlchemy's ``examples/performance/bulk_inserts.py``: an identity key and two strings."""

    __tablename__ = "bench_customer"
    id = Column(Integer, Identity(), primary_key=True)
    name = Column(String(255))
    description = Column(String(255))


class WideCustomer(Base):
    """A wider row: ten columns of the common types, one of them often NULL."""

    __tablename__ = "bench_customer_wide"
    id = Column(Integer, Identity(), primary_key=True)
    name = Column(String(255))
    description = Column(String(255))
    email = Column(String(255))
    city = Column(String(100))
    country = Column(String(100))
    quantity = Column(Integer)
    price_cents = Column(Integer)
    created_at = Column(DateTime)
    active = Column(Boolean)


CITIES = ("Lisboa", "Zürich", "Kraków", "São Paulo", "Reykjavík", "Ōsaka", "Montréal")
COUNTRIES = ("PT", "CH", "PL", "BR", "IS", "JP", "CA")
EPOCH = datetime.datetime(2024, 1, 1)


def narrow_row(number: int) -> tuple:
    # the same strings as SQLAlchemy's example, so both load the same bytes
    return (f"customer name {number}", f"customer description {number}")


def wide_row(number: int) -> tuple:
    return (
        f"customer name {number}",
        f"customer description {number}",
        f"customer{number}@example.com",
        CITIES[number % len(CITIES)],
        None if number % 5 == 0 else COUNTRIES[number % len(COUNTRIES)],
        number % 1000,
        (number * 37) % 100_000,
        EPOCH + datetime.timedelta(seconds=number),
        number % 3 != 0,
    )


@dataclass(frozen=True)
class Workload:
    """A row shape: its table, its mapped class, its data columns (the key is generated) and its rows."""

    shape: str
    model: type
    make_row: Callable[[int], tuple]

    @property
    def table(self) -> Table:
        return self.model.__table__

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.table.columns if not column.primary_key)

    def rows(self, count: int) -> list[tuple]:
        """``count`` rows as plain tuples in ``columns`` order: the data a user has in hand before loading."""
        return [self.make_row(number) for number in range(count)]

    def mappings(self, rows: list[tuple]) -> list[dict[str, Any]]:
        columns = self.columns
        return [dict(zip(columns, row, strict=True)) for row in rows]

    def objects(self, rows: list[tuple], *, first_key: int | None = None) -> list[Any]:
        """Instances of the mapped class; with ``first_key``, primary keys first_key, first_key + 1, ... given."""
        model, columns = self.model, self.columns
        if first_key is None:
            return [model(**dict(zip(columns, row, strict=True))) for row in rows]
        return [model(id=first_key + offset, **dict(zip(columns, row, strict=True))) for offset, row in enumerate(rows)]


WORKLOADS = {
    "narrow": Workload("narrow", NarrowCustomer, narrow_row),
    "wide": Workload("wide", WideCustomer, wide_row),
}
