"""The service's database: assets, baselines, models, inspections, and the schema version.

SQLite (one file in the data folder, WAL journal, synchronous=FULL so a commit is on disk before the
client hears 201) by default; any SQLAlchemy URL (PostgreSQL via ``postgresql+psycopg://...``) otherwise.
The schema version lives in ``schema_version``; :data:`MIGRATIONS` lists the steps from each version to the
next, applied in order at start-up inside one transaction each.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    create_engine,
    event,
    select,
    text,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

#: the schema this code writes; :func:`migrate` brings an older database up to it
SCHEMA_VERSION = 1


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass


class SchemaVersion(Base):
    __tablename__ = "schema_version"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    updated: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Asset(Base):
    __tablename__ = "assets"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True, index=True)
    created: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Baseline(Base):
    __tablename__ = "baselines"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id"), index=True)
    filename: Mapped[str] = mapped_column(String(255))  # as uploaded (sanitised)
    path: Mapped[str] = mapped_column(String(500))  # relative to the data folder
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    created: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Model(Base):
    """One fit of an asset's model: ``status`` fitting -> ready | failed (``reason``)."""

    __tablename__ = "models"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id"), index=True)
    status: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    path: Mapped[str | None] = mapped_column(String(500), nullable=True)
    n_baselines: Mapped[int] = mapped_column(Integer, default=0)
    n_fleet: Mapped[int] = mapped_column(Integer, default=0)
    #: the newest baseline id this fit saw: a later baseline means a refit is due
    last_baseline_id: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    finished: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)


class Inspection(Base):
    __tablename__ = "inspections"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id"), index=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id"))
    filename: Mapped[str] = mapped_column(String(255))
    folder: Mapped[str] = mapped_column(String(500))  # relative to the data folder
    result: Mapped[dict] = mapped_column(JSON)  # predict's <name>.json
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    severity: Mapped[str] = mapped_column(String(60))  # the worst finding's
    severity_rank: Mapped[int] = mapped_column(Integer)
    hottest_delta_t: Mapped[float | None] = mapped_column(Float, nullable=True)
    score: Mapped[float] = mapped_column(Float)
    is_anomalous: Mapped[bool] = mapped_column(Boolean)
    n_findings: Mapped[int] = mapped_column(Integer)
    created: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)


#: MIGRATIONS[v] brings a database at schema version v to v + 1 (SQL through the connection)
MIGRATIONS: dict[int, Callable[[Connection], None]] = {}


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record) -> None:  # pragma: no cover - runs per connection
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def migrate(engine: Engine) -> int:
    """Create the tables of a new database, or step an older one up to :data:`SCHEMA_VERSION`; return the
    version. A database newer than this code is refused (RuntimeError), never written to."""
    with engine.begin() as conn:
        has_version = engine.dialect.has_table(conn, "schema_version")
        if not has_version:
            Base.metadata.create_all(conn)
            conn.execute(
                SchemaVersion.__table__.insert().values(id=1, version=SCHEMA_VERSION, updated=utcnow())
            )
            return SCHEMA_VERSION
        version = conn.execute(select(SchemaVersion.version).where(SchemaVersion.id == 1)).scalar_one()
    if version > SCHEMA_VERSION:
        raise RuntimeError(
            f"the database has schema version {version}, newer than this program's {SCHEMA_VERSION}"
        )
    while version < SCHEMA_VERSION:
        with engine.begin() as conn:
            MIGRATIONS[version](conn)
            version += 1
            conn.execute(
                text("UPDATE schema_version SET version = :v, updated = :t WHERE id = 1"),
                {"v": version, "t": utcnow()},
            )
    return version


def session_factory(engine: Engine) -> sessionmaker:
    return sessionmaker(engine, expire_on_commit=False)
