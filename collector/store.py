"""The ClickHouse store: embedded chDB (a directory) or a ClickHouse server (a URL), same SQL.

``Store.open(data_dir=...)`` or ``Store.open(url=...)`` connects and applies the migrations. The
embedded engine belongs to one process (the service); a second process gets ``StoreError``.

Thread safety: a clickhouse-connect chDB client serialises calls on its handle (and a handle whose
result stream is open must not be reused), so the store keeps a small pool of clients, each used
by one thread at a time. Server clients are pooled the same way.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import clickhouse_connect

from tokenproof.collector import config
from tokenproof.collector.compat import IncompatibleLayout, check_exporter_layout
from tokenproof.collector.migrate import apply_migrations, current_version

__all__ = ["Store", "StoreError", "redact_url"]

# MergeTree settings that make an acknowledged insert survive a power loss on the embedded store.
_FSYNC_SETTINGS = "fsync_after_insert = 1, fsync_part_directory = 1"
_FSYNC_TABLES = ("otel_traces", "otel_traces_trace_id_ts", "llm_calls", "llm_calls_hourly")
# Retention (setting store_ttl_days) on the span table and the exporter's trace-id lookup table;
# the day count is an int from a validated setting, not user input.
_TTL_SQL = {
    "otel_traces": "ALTER TABLE otel_traces MODIFY TTL toDateTime(Timestamp) + toIntervalDay({days})",
    "otel_traces_trace_id_ts": "ALTER TABLE otel_traces_trace_id_ts MODIFY TTL toDateTime(Start) + toIntervalDay({days})",
}


class StoreError(RuntimeError):
    """The store cannot be opened or used; the message says why."""


def redact_url(url: str) -> str:
    """The URL without its password (for status output and logs)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.hostname or ""
    if parts.username:
        netloc = f"{parts.username}:***@{netloc}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


class Store:
    """A pooled clickhouse-connect client over chDB or a ClickHouse server."""

    def __init__(self, clients: list[Any], kind: str, location: str, cluster: str | None = None):
        self.kind = kind  # "embedded" | "server"
        self.location = location  # data dir, or URL without password
        self.cluster = cluster or None
        self._all = list(clients)
        self._pool: queue.LifoQueue = queue.LifoQueue()
        for client in clients:
            self._pool.put(client)
        self._closed = False
        self._lock = threading.Lock()

    # --- opening -------------------------------------------------------------------------------
    @classmethod
    def open(cls, data_dir: str | os.PathLike | None = None, url: str | None = None, *,
             migrate: bool = True, pool_size: int = 4, cluster: str | None = None) -> Store:
        """Open (and by default migrate) the store. Without arguments: settings, then ./.tokenproof/data."""
        if data_dir is None and url is None:
            url = config.get("clickhouse_url") or None
            if url is None:
                data_dir = config.get("data_dir")
        cluster = cluster if cluster is not None else (config.get("clickhouse_cluster") or None)
        clients: list[Any] = []
        try:
            if url:
                parts = urlsplit(url)
                if parts.scheme not in {"http", "https"}:
                    raise StoreError(f"ClickHouse URL must be http(s)://user:pass@host:port/db, got {redact_url(url)}")
                for _ in range(pool_size):
                    clients.append(clickhouse_connect.get_client(dsn=url, autogenerate_session_id=False))
                store = cls(clients, "server", redact_url(url), cluster)
            else:
                path = os.path.realpath(os.fspath(data_dir))
                os.makedirs(path, exist_ok=True)
                for _ in range(pool_size):
                    clients.append(clickhouse_connect.get_client(dsn=f"chdb://{path}"))
                store = cls(clients, "embedded", path, None)
        except StoreError:
            raise
        except Exception as exc:
            for client in clients:
                with contextlib.suppress(Exception):
                    client.close()
            where = redact_url(url) if url else os.fspath(data_dir)
            hint = ""
            if not url:
                hint = (" (an embedded store has one owning process: is `tokenproof serve` already "
                        "running on this data dir? use its API instead)")
            raise StoreError(f"cannot open the store at {where}: {exc}{hint}") from exc
        if migrate:
            try:
                store.migrate()
            except Exception:
                store.close()
                raise
        return store

    def migrate(self) -> list[int]:
        """Apply pending migrations (and the TTL / fsync options); return versions applied now.

        Refuses (``StoreError``, nothing changed) an ``otel_traces`` in the exporter's JSON mode.
        """
        try:
            check_exporter_layout(self)
        except IncompatibleLayout as exc:
            raise StoreError(str(exc)) from None
        applied = apply_migrations(self, cluster=self.cluster)
        ttl_days = int(config.get("store_ttl_days"))
        if ttl_days > 0:
            for sql in _TTL_SQL.values():
                self.command(sql.format(days=ttl_days))
        if self.kind == "embedded" and config.get("store_fsync"):
            for table in _FSYNC_TABLES:
                self.command(f"ALTER TABLE {table} MODIFY SETTING {_FSYNC_SETTINGS}")
        return applied

    def schema_version(self) -> int:
        return current_version(self)

    # --- pool ----------------------------------------------------------------------------------
    @contextlib.contextmanager
    def client(self) -> Iterator[Any]:
        """Borrow a client for exclusive use by this thread."""
        if self._closed:
            raise StoreError("the store is closed")
        client = self._pool.get()
        try:
            yield client
        finally:
            self._pool.put(client)

    # --- the clickhouse-connect surface --------------------------------------------------------
    def query(self, sql: str, parameters: dict[str, Any] | None = None, settings: dict[str, Any] | None = None):
        """Run a SELECT; returns a clickhouse-connect ``QueryResult`` (fully read)."""
        with self.client() as client:
            return client.query(sql, parameters=parameters, settings=settings)

    def query_rows(self, sql: str, parameters: dict[str, Any] | None = None,
                   settings: dict[str, Any] | None = None) -> list[tuple]:
        return [tuple(row) for row in self.query(sql, parameters, settings).result_rows]

    def query_dicts(self, sql: str, parameters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        result = self.query(sql, parameters)
        names = result.column_names
        return [dict(zip(names, row, strict=False)) for row in result.result_rows]

    def query_df(self, sql: str, parameters: dict[str, Any] | None = None, settings: dict[str, Any] | None = None):
        with self.client() as client:
            return client.query_df(sql, parameters=parameters, settings=settings)

    def query_arrow(self, sql: str, parameters: dict[str, Any] | None = None, settings: dict[str, Any] | None = None):
        with self.client() as client:
            return client.query_arrow(sql, parameters=parameters, settings=settings)

    def insert(self, table: str, rows: Sequence[Sequence[Any]], column_names: Sequence[str],
               settings: dict[str, Any] | None = None, column_oriented: bool = False):
        """Insert rows (or columns when ``column_oriented``) naming the columns; returns the summary."""
        with self.client() as client:
            return client.insert(table, rows, column_names=list(column_names), settings=settings,
                                 column_oriented=column_oriented)

    def insert_arrow(self, table: str, arrow_table: Any, settings: dict[str, Any] | None = None):
        with self.client() as client:
            return client.insert_arrow(table, arrow_table, settings=settings)

    def raw_insert(self, table: str, column_names: Sequence[str], data: bytes, fmt: str,
                   settings: dict[str, Any] | None = None):
        """Insert bytes in a ClickHouse input format (parsed by the engine itself)."""
        with self.client() as client:
            return client.raw_insert(table, list(column_names), insert_block=data, settings=settings, fmt=fmt)

    def command(self, sql: str, parameters: dict[str, Any] | None = None, settings: dict[str, Any] | None = None):
        with self.client() as client:
            return client.command(sql, parameters=parameters, settings=settings)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        for client in self._all:
            with contextlib.suppress(Exception):
                client.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
