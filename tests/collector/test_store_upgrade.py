"""Migrations owned by their areas: one runner, every area's folder, and stores built before upgrade in place."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from tokenproof.collector.migrate import MIGRATIONS_GROUP, MigrationError, load_migrations

SCENARIOS = Path(__file__).with_name("_store_scenarios.py")
ROOT = Path(__file__).resolve().parents[2]


def run_scenario(name: str, directory: Path, env: dict | None = None) -> dict:
    import os

    out = subprocess.run([sys.executable, str(SCENARIOS), name, str(directory)], capture_output=True, text=True,
                         timeout=240, env={**os.environ, **(env or {})}, check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_each_area_keeps_its_sql_beside_its_code():
    areas = {ep.name: ep.value for ep in entry_points(group=MIGRATIONS_GROUP)}
    assert areas == {"collector": "tokenproof.collector.migrations", "analytics": "tokenproof.analytics.migrations",
                     "proof": "tokenproof.analytics.proof.migrations",
                     "routing": "tokenproof.analytics.routing.migrations",
                     "scheduler": "tokenproof.analytics.scheduler.migrations"}
    by_area: dict[str, list[int]] = {}
    for m in load_migrations():
        by_area.setdefault(m.source, []).append(m.version)
    assert all(v < 100 for v in by_area["collector"])
    assert all(100 <= v < 200 for v in by_area["analytics"])
    assert all(200 <= v < 300 for v in by_area["proof"])
    assert all(300 <= v < 400 for v in by_area["routing"])
    assert sorted((ROOT / "analytics" / "migrations").glob("01*.sql"))
    assert sorted((ROOT / "analytics" / "proof" / "migrations").glob("02*.sql"))
    assert sorted((ROOT / "analytics" / "routing" / "migrations").glob("03*.sql"))
    assert not list((ROOT / "collector" / "migrations").glob("0[123]*.sql"))


def test_runner_never_imports_analytics():
    code = ("import sys; from tokenproof.collector.migrate import load_migrations; load_migrations(); "
            "print(sorted(m for m in sys.modules if m.startswith('tokenproof.analytics')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    # only the docstring-only package markers of the folders holding the SQL files
    assert out.stdout.strip() == str(["tokenproof.analytics", "tokenproof.analytics.migrations",
                                      "tokenproof.analytics.proof", "tokenproof.analytics.proof.migrations",
                                      "tokenproof.analytics.routing", "tokenproof.analytics.routing.migrations",
                                      "tokenproof.analytics.scheduler", "tokenproof.analytics.scheduler.migrations"])


def test_two_areas_claiming_one_version_are_refused(tmp_path):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "0150_same.sql").write_text("SELECT 1;\n")
    with pytest.raises(MigrationError, match="share version 0150"):
        load_migrations([str(tmp_path / "a"), str(tmp_path / "b")])


def test_store_created_by_the_previous_migration_set_upgrades_in_place(tmp_path):
    result = run_scenario("upgrade", tmp_path)
    before, after = result["before"], result["after"]
    # the schema moved on: every area at its newest file, the collector past its old 0004
    assert after["versions"]["collector"] > 4 and after["versions"]["collector"] == max(
        v for v in after["latest"] if v < 100)
    assert sorted(int(v) for v in after["checksums"]) == after["latest"]
    # the migrations applied before are recorded unchanged (same versions, same checksums)
    assert {v: c for v, c in after["checksums"].items() if v in before["checksums"]} == before["checksums"]
    # no row lost anywhere (the hourly/daily rollups may gain correcting delta rows, never lose)
    for table, count in before["counts"].items():
        assert after["counts"][table] >= count, table
    for table in ("otel_traces", "llm_calls", "analytics_alerts", "analytics_budgets", "proof_routes"):
        assert after["counts"][table] == before["counts"][table] > 0, table
    # the call stored with the old collectors' STATUS_CODE_ERROR now counts as an error in the rollup
    assert (before["errors"], after["errors"]) == (0, 1)


def test_daily_rollup_keeps_the_hourly_rollups_counters():
    # 0103 restates 0004 at day grain (docs/store.md): a counter added to one needs the other too
    def columns(sql: str, table: str) -> set[str]:
        body = sql.split(f"CREATE TABLE IF NOT EXISTS {table}", 1)[1].split("ENGINE", 1)[0]
        return {line.split()[0] for line in body.splitlines() if line.strip() and line.strip()[0].isupper()}

    files = {m.version: m.sql for m in load_migrations()}
    hourly = columns(files[4], "llm_calls_hourly") - {"Hour", "Customer", "PromptFingerprint"}
    daily = columns(files[103], "analytics_cost_daily") - {"Day"}
    assert hourly == daily and "Errors" in daily
