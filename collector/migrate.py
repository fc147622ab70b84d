"""Schema migrations: numbered ``NNNN_name.sql`` files from every area, applied in version order.

Each area keeps its SQL beside its code and registers the folder in the entry-point group
``tokenproof.migrations`` (``name = "package.holding.the.sql"``): the collector 0001-0099, analytics
0100-0199, the proof engine 0200-0299 (see ``docs/store.md``). The runner is one; it reads the SQL
files of each registered package and never imports another area's code. Versions are unique across
all areas. The collector's own folder is always included, registered or not.

The runner records each applied file's version, name and SHA-256 checksum in ``schema_migrations``
and refuses to start when an already-applied file has changed (migrations are never edited after
release: add a new one). Files hold plain DDL statements separated by ``;`` at the end of a line.

Two markers let the same files build cluster-aware tables: ``/*ON_CLUSTER*/`` becomes
``ON CLUSTER <name>`` and ``/*ENGINE:X*/X`` becomes ``ReplicatedX`` (default replica path) when a
cluster is configured. The checksum is taken over the file as written, before markers are applied.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from importlib import resources
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from tokenproof.collector.store import Store

__all__ = ["MIGRATIONS_GROUP", "Migration", "MigrationError", "apply_migrations", "area_versions", "current_version",
           "load_migrations", "migration_sources"]

MIGRATIONS_GROUP = "tokenproof.migrations"
_OWN_PACKAGE = "tokenproof.collector.migrations"

_FILE_RE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_CLUSTER_NAME_RE = re.compile(r"^[A-Za-z0-9_.\-{}]+$")

CREATE_MIGRATIONS_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations
(
    Version UInt32,
    Name String,
    Checksum String,
    AppliedAt DateTime64(3) DEFAULT now64(3)
)
ENGINE = MergeTree
ORDER BY Version
"""
SELECT_APPLIED = "SELECT Version, Name, Checksum FROM schema_migrations ORDER BY Version"
INSERT_COLUMNS = ["Version", "Name", "Checksum"]


class MigrationError(RuntimeError):
    """A migration cannot be applied, or an applied one was changed."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str
    source: str = field(default="", compare=False)  # the area (entry-point name) that owns the file

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode("utf-8")).hexdigest()

    def statements(self, cluster: str | None = None) -> list[str]:
        text = "\n".join(line for line in self.sql.splitlines() if not line.lstrip().startswith("--"))
        if cluster:
            if not _CLUSTER_NAME_RE.match(cluster):
                raise MigrationError(f"invalid cluster name {cluster!r}")
            text = text.replace("/*ON_CLUSTER*/", f"ON CLUSTER '{cluster}'")
            text = re.sub(r"/\*ENGINE:(\w+)\*/\1", r"Replicated\1", text)
        parts = re.split(r";\s*$", text, flags=re.MULTILINE)
        return [p.strip() for p in parts if p.strip()]


def migration_sources() -> dict[str, str]:
    """Area name -> package holding its SQL files: the collector's own, then the entry points."""
    sources = {"collector": _OWN_PACKAGE}
    for ep in entry_points(group=MIGRATIONS_GROUP):
        if ep.value != _OWN_PACKAGE:
            sources[ep.name] = ep.value
    return sources


def _package_files(package: str) -> list[tuple[str, str]]:
    # resources.files loads the package marker (a docstring-only __init__), no code of the area
    root = resources.files(package)
    return [(e.name, e.read_text(encoding="utf-8")) for e in root.iterdir() if e.name.endswith(".sql")]


def load_migrations(directory=None) -> list[Migration]:
    """The migration files in version order: every registered area's, or only ``directory``'s.

    ``directory`` may also be a list of folders (tests build stores from a fixed set of files).
    """
    if directory is None:
        folders = [(area, _package_files(package)) for area, package in migration_sources().items()]
    else:
        paths = directory if isinstance(directory, list | tuple) else [directory]
        folders = [(str(p), [(f.name, f.read_text(encoding="utf-8")) for f in Path(p).glob("*.sql")])
                   for p in paths]
    migrations = []
    for source, entries in folders:
        for name, text in entries:
            match = _FILE_RE.match(name)
            if not match:
                raise MigrationError(f"migration file {name!r} ({source}) is not named NNNN_name.sql")
            migrations.append(Migration(int(match.group(1)), match.group(2), text, source))
    migrations.sort(key=lambda m: m.version)
    owners: dict[int, str] = {}
    for m in migrations:
        if m.version in owners:
            raise MigrationError(f"two migration files share version {m.version:04d}: "
                                 f"{owners[m.version]} and {m.source}/{m.version:04d}_{m.name}.sql")
        owners[m.version] = f"{m.source}/{m.version:04d}_{m.name}.sql"
    return migrations


def current_version(store: Store) -> int:
    """The highest applied migration version (0 on an empty store)."""
    store.command(CREATE_MIGRATIONS_TABLE)
    rows = store.query_rows("SELECT max(Version) FROM schema_migrations")
    return int(rows[0][0]) if rows else 0


def area_versions(store: Store, migrations: list[Migration] | None = None) -> dict[str, int]:
    """Per owning area, the highest applied version of its migrations (0 when none applied)."""
    migrations = load_migrations() if migrations is None else migrations
    store.command(CREATE_MIGRATIONS_TABLE)
    applied = {int(v) for v, _n, _c in store.query_rows(SELECT_APPLIED)}
    result: dict[str, int] = {}
    for m in migrations:
        result[m.source] = max(result.get(m.source, 0), m.version if m.version in applied else 0)
    return result


def apply_migrations(store: Store, migrations: list[Migration] | None = None,
                     cluster: str | None = None) -> list[int]:
    """Apply every migration not yet recorded; return the versions applied now.

    Raises ``MigrationError`` when an applied migration's checksum differs from its file.
    """
    migrations = load_migrations() if migrations is None else migrations
    store.command(CREATE_MIGRATIONS_TABLE)
    applied = {int(v): (n, c) for v, n, c in store.query_rows(SELECT_APPLIED)}
    done: list[int] = []
    for migration in migrations:
        if migration.version in applied:
            _name, checksum = applied[migration.version]
            if checksum != migration.checksum:
                raise MigrationError(
                    f"migration {migration.version:04d}_{migration.name}.sql changed after it was applied "
                    f"(recorded checksum {checksum[:12]}, file {migration.checksum[:12]}); "
                    "migrations are never edited: add a new numbered file instead")
            continue
        for statement in migration.statements(cluster):
            try:
                store.command(statement)
            except Exception as exc:
                raise MigrationError(f"migration {migration.version:04d}_{migration.name}.sql failed: {exc}") from exc
        store.insert("schema_migrations", [[migration.version, migration.name, migration.checksum]],
                     column_names=INSERT_COLUMNS)
        done.append(migration.version)
    return done
