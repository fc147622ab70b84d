"""`tokenproof routes ...` against the real service: push, canary, pause, rollback, audit, export."""

from __future__ import annotations

import json

from tokenproof.cli import main


def test_routes_cli_round_trip(store, make_proof, service_factory, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("TOKENPROOF_ROUTING_MONITOR_INTERVAL_SECONDS", "0")
    service = service_factory(store, api_token="w")
    monkeypatch.setenv("TOKENPROOF_SERVICE_URL", service.url)
    proof = make_proof(store)
    monkeypatch.setenv("TOKENPROOF_API_TOKEN", "wrong")
    assert main(["routes", "push", "--service", "app", "--baseline", "gpt-4o", "--candidate", "gpt-4o-mini",
                 "--proof", proof]) == 2
    assert "HTTP 401" in capsys.readouterr().err
    monkeypatch.setenv("TOKENPROOF_API_TOKEN", "w")
    assert main(["routes", "--actor", "bob", "push", "--service", "app", "--baseline", "gpt-4o",
                 "--candidate", "gpt-4o-mini", "--proof", proof, "--share", "0.1", "--schedule", "24=0.5,72=1"]) == 0
    line = capsys.readouterr().out
    rid = line.split()[0]
    assert "canary 10%" in line and "by bob" in line
    assert main(["routes", "canary", rid, "0.5"]) == 0 and "canary 50%" in capsys.readouterr().out
    assert main(["routes", "pause", rid, "--reason", "freeze"]) == 0 and "paused" in capsys.readouterr().out
    assert main(["routes", "list"]) == 0 and rid in capsys.readouterr().out
    assert main(["routes", "canary", rid, "1"]) == 0 and " active" in capsys.readouterr().out
    out = tmp_path / "litellm.yaml"
    assert main(["routes", "export", "-o", str(out)]) == 0
    config = json.loads(out.read_text())
    assert {m["model_name"] for m in config["model_list"]} == {f"tp-{rid}", "gpt-4o", f"tp-{rid}-baseline"}
    assert main(["routes", "rollback", rid, "--reason", "test"]) == 0 and "rolled_back" in capsys.readouterr().out
    assert main(["routes", "show", rid]) == 0 and "reason: test" in capsys.readouterr().out
    assert main(["routes", "audit", "--route", rid]) == 0
    audit = capsys.readouterr().out.splitlines()
    assert [line.split()[2] for line in audit] == ["rollback", "canary", "pause", "canary", "push"]
    assert main(["routes", "audit"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].split()[1:3] == ["refused", "push"]  # the wrong token
