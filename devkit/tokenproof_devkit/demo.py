"""The main job (`tokenproof demo`): the whole loop on the embedded store, on this machine alone.

1. the local provider server (recorded real answers of GPT-4 and Mixtral) and the tokenproof service
   (OTLP receiver, embedded chDB store, API) on loopback;
2. an unmodified example app under the real `opentelemetry-instrument` command, exporting OTLP;
3. four weeks of history shaped like the app's request groups, through the same OTLP path, with one
   injected spend anomaly, so the charts and the seasonal anomaly detector have something to see;
4. what a user sees: cost by feature, tier and customer, unpriced coverage, alerts, candidates;
5. the service's proof scheduler, given a policy and left alone: it mines the candidates, runs the
   judged shadow comparisons on each group's captured prompts within its budgets, and decides;
6. a proven route pushed as a canary, the app run again with part of its traffic moved, then the
   instant way back (rollback), with the audit log; a route without proof refused;
7. an offline proof on a Batch API file (`tokenproof prove`) with its HTML report;
8. a summary, and the dashboard (`tokenproof dashboard`) on the store it built.

Every step uses the commands and API a user would; the demo only wires them together.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tokenproof.client import ServiceClient, ServiceError
from tokenproof_devkit import history
from tokenproof_devkit.demo_steps import (
    Progress,
    bin_path,
    free_port,
    section,
    start,
    wait_for_calls,
    write_batch_file,
)

HELP = "run the main job: the whole loop (app, history, alerts, proof, routing, dashboard) on this machine"
# The example app and its inputs live in the checkout's examples/ (devkit/tokenproof_devkit/demo.py -> root).
ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
SERVICE = "support-app"
BASELINE, CANDIDATE = "gpt-4o", "gpt-4o-mini"
# The judge is of a third family: never the candidate's (gpt-4o-mini is of the baseline's family).
JUDGE = "claude-opus-4-1"
SHADOW_FEATURES = ("marketing-quiz", "math-tutor")
# The scheduler's policy in the demo: both groups replay every captured prompt (the live run is small),
# one candidate, a judge of a third family, budgets that a real team would set per day and per route.
DEMO_POLICY = {"features": ",".join(SHADOW_FEATURES), "candidate_models": CANDIDATE, "judge": JUDGE,
               "sample_rate": "1.0", "min_calls_per_day": "1", "budget_route_usd": "5",
               "budget_day_usd": "20", "budget_month_usd": "100", "rate_limit_rpm": "60000"}
BANNER = """\
What you are looking at: every model answer below is a real answer recorded from GPT-4-1106-preview
or Mixtral-8x7B (lm-sys/RouteLLM, Apache-2.0), replayed by a local server that speaks the OpenAI and
Anthropic wire formats; no provider is called. gpt-4o answers with the GPT-4 recordings, gpt-4o-mini
with Mixtral's, and the judge's verdicts follow the recorded correctness labels. Costs are list
prices from genai-prices for the model names the app asks for. The weeks of history are generated
from the shape of the app's live run (marked tokenproof.devkit.synthetic on every span)."""


def configure(name: str, parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--calls", type=int, default=900, help="LLM calls of the example app's first run")
    parser.add_argument("--history-days", type=int, default=28, help="days of backdated history (0 to skip)")
    parser.add_argument("--data-dir", default=None,
                        help="embedded store directory (default: a fresh temporary directory)")
    parser.add_argument("--prove-prompts", type=int, default=150,
                        help="prompts per feature replayed by the offline proof (0 to skip)")
    parser.add_argument("--canary-calls", type=int, default=200, help="LLM calls of the app's run under a canary")
    parser.add_argument("--no-dashboard", action="store_true", help="end after the summary (CI, scripts)")
    parser.add_argument("--dashboard-port", type=int, default=8501)
    parser.add_argument("--time-budget", type=float, default=0.0,
                        help="seconds: optional steps (history, offline proof) shrink or are skipped to fit")


def run(name: str, args: argparse.Namespace) -> int:
    started = time.monotonic()

    def left() -> float:
        return float("inf") if args.time_budget <= 0 else args.time_budget - (time.monotonic() - started)

    summary: dict = {"proven": [], "refused": [], "alerts": [], "urls": {}}
    with ExitStack() as stack:
        work = Path(tempfile.mkdtemp(prefix="tokenproof-demo-"))
        stack.callback(shutil.rmtree, work, True)
        data_dir = Path(args.data_dir) if args.data_dir else work / "store"
        print(BANNER, flush=True)

        section("1. local provider server and the tokenproof service")
        provider = start(stack, [bin_path("tokenproof"), "provider", "--port", "0"],
                         r"listening on (http://\S+)", "the provider server")
        token = os.environ.get("TOKENPROOF_API_TOKEN") or secrets.token_urlsafe(24)
        env = _environment(provider, token, work)
        # the service itself runs instrumented, exporting to itself: its shadow, judge and monitoring
        # calls are stored as experiment traffic, apart from the product's spend
        port = free_port()
        own = {**env, "OTEL_SERVICE_NAME": "tokenproof-service",
               "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}"}
        service = start(stack, [bin_path("opentelemetry-instrument"), bin_path("tokenproof"), "serve",
                                "--port", str(port), "--data-dir", str(data_dir)],
                        r"listening on (http://\S+)", "the tokenproof service", env=own)
        env.update({"TOKENPROOF_SERVICE_URL": service, "OTEL_EXPORTER_OTLP_ENDPOINT": service,
                    "TOKENPROOF_ROUTES_URL": service + "/api/v1/routing/routes"})
        client = ServiceClient(service, token)
        summary["urls"].update(provider=provider, service=service, store=str(data_dir))
        print(f"provider: {provider}\nservice:  {service}   store: {data_dir}")

        section(f"2. example app under opentelemetry-instrument ({args.calls} calls)")
        _run_app(env, args.calls)
        status = wait_for_calls(client, args.calls)
        print(f"stored: {status.spans} spans, {status.llm_calls} LLM calls ({status.unpriced_llm_calls} unpriced)")
        _cli(env, "calls", "--limit", "8")

        days = args.history_days
        if days and left() < 240:
            days = min(days, 7)
        if days:
            section(f"3. {days} days of history through the same OTLP path (one injected spend anomaly)")
            groups = history.groups_from_calls(c.as_dict() for c in client.calls(limit=1000))
            bar = Progress("history", total=days * 24)
            backfill = history.backfill(service, groups, days=days, service=SERVICE,
                                        anomaly=history.Anomaly("writing-assistant"), progress=bar.update)
            bar.done(f"{backfill.spans:,} spans, ${backfill.usd:,.2f} at list prices")
            wait_for_calls(client, status.llm_calls + backfill.spans, timeout=180)

        section("4. where the money goes: cost by feature x model, tier x customer; coverage; alerts")
        _cli(env, "cost", "--by", "feature,model", "--since", "30d")
        _cli(env, "cost", "--by", "tier,customer", "--since", "30d")
        _cli(env, "cost", "--coverage", "--since", "30d")
        evaluation = client.evaluate_alerts()
        summary["alerts"] = [a.explanation for a in client.alerts(status="open")]
        _cli(env, "alerts", "list")
        print(f"({len(evaluation.opened)} alerts opened by this evaluation)")

        section("5. candidate routes mined from the stored traffic")
        _cli(env, "candidates")
        section("   the proof scheduler: a policy, then nobody types a command until it has decided")
        _cli(env, "scheduler", "policy", *[f"--set={k}={v}" for k, v in DEMO_POLICY.items()],
             "--reason", "demo policy: two features, one candidate, a third-family judge")
        _cli(env, "scheduler", "resume", "--reason", "demo")
        _await_decisions(client, summary)
        _cli(env, "scheduler", "status")
        _cli(env, "scheduler", "events", "--limit", "12")
        _cli(env, "recommendations")

        section("6. push what is proven as a canary; move traffic; roll back")
        pushed = _push_proven(client, summary)
        _refuse_unproven(client, summary)
        if pushed is not None:
            env["TOKENPROOF_ROUTES_POLL_SECONDS"] = "1"
            print(f"the app runs again ({args.canary_calls} calls); its instrumentation reads the routes in the "
                  "background and moves the canary's share of marketing-quiz to the candidate")
            before = client.status().llm_calls
            since = datetime.now(UTC).replace(microsecond=0).isoformat()
            _run_app(env, args.canary_calls, seed=11)
            wait_for_calls(client, before + args.canary_calls, timeout=60)
            print("marketing-quiz during the canary run: part of its traffic now answered by the candidate")
            _cli(env, "cost", "--by", "feature,model", "--since", since, "--where", "feature=marketing-quiz")
            _cli(env, "routes", "list")
            _cli(env, "routes", "rollback", pushed, "--reason", "demo: the instant way back")
            _cli(env, "routes", "audit", "--limit", "10")

        if args.prove_prompts > 0 and left() > 120:
            section("7. proof before switch, offline: a Batch API file, before touching any code")
            batch = work / "requests.jsonl"
            write_batch_file(batch, args.prove_prompts)
            out = Path.cwd() / "reports" / "demo"
            _cli(env, "prove", str(batch), "--candidate", CANDIDATE, "--judge", JUDGE,
                 "--base-url", provider.rstrip("/") + "/v1", "--anthropic-base-url", provider,
                 "--group-by", "feature", "--monthly-calls", "100000", "--out", str(out), check=False)
            summary["urls"]["report"] = str(out / "report.html")

        _summary(client, summary, time.monotonic() - started)
        if not args.no_dashboard:
            # the dashboard reads with this demo's token (it also reads prompts and the routing registry);
            # its write buttons ask for the token in the sidebar, and it is never stored
            dashboard_env = {**env, "TOKENPROOF_READ_TOKEN": token}
            dashboard = start(stack, [bin_path("tokenproof"), "dashboard", "--port", str(args.dashboard_port),
                                      "--service-url", service], r"on (http://\S+)", "the dashboard",
                              env=dashboard_env)
            print(f"\ndashboard: {dashboard}   (the service keeps running; Ctrl-C to stop both)\n"
                  f"write credential for the dashboard's sidebar (this run's random API token): {token}",
                  flush=True)
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
    return 0


def _environment(provider: str, token: str, work: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "OPENAI_BASE_URL": provider.rstrip("/") + "/v1",
        "ANTHROPIC_BASE_URL": provider,
        "OPENAI_API_KEY": env.get("OPENAI_API_KEY", "sk-demo-local"),
        "ANTHROPIC_API_KEY": env.get("ANTHROPIC_API_KEY", "sk-ant-demo-local"),
        "TOKENPROOF_API_TOKEN": token,  # writes (shadow runs, routes, alert actions) need it
        "OTEL_SERVICE_NAME": SERVICE,
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_METRICS_EXPORTER": "otlp",
        "OTEL_LOGS_EXPORTER": "none",
        # the test extra also installs other OpenAI instrumentations (for comparisons); one is enough
        "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "openai",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        # capture prompts so the proof engine can replay them (off unless the user opts in)
        "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "true",
        "TOKENPROOF_ROUTES_CACHE_PATH": str(work / "routes.json"),
        # the service's drift monitor judges routed calls with a judge of a third family
        "TOKENPROOF_ROUTING_JUDGE_MODEL": JUDGE,
        "TOKENPROOF_ROUTING_MONITOR_INTERVAL_SECONDS": "5",
        # the proof scheduler waits for the demo's policy (a fresh store starts it paused), then runs
        # a pass every two seconds
        "TOKENPROOF_SCHEDULER_START_PAUSED": "true",
        "TOKENPROOF_SCHEDULER_INTERVAL_SECONDS": "2",
    })
    return env


def _run_app(env: dict[str, str], calls: int, seed: int = 7) -> None:
    app = subprocess.run([bin_path("opentelemetry-instrument"), sys.executable, str(EXAMPLES / "support_app.py"),
                          "--calls", str(calls), "--seed", str(seed),
                          "--inputs", str(EXAMPLES / "support_app_inputs.jsonl")], env=env)
    if app.returncode != 0:
        raise SystemExit(f"demo: the example app failed with exit status {app.returncode}")


def _cli(env: dict[str, str], *args: str, check: bool = True) -> int:
    result = subprocess.run([bin_path("tokenproof"), *args], env=env)
    if check and result.returncode != 0:
        raise SystemExit(f"demo: `tokenproof {' '.join(args)}` failed with exit status {result.returncode}")
    return result.returncode


def _group(client: ServiceClient, feature: str):
    for group in client.candidates(days=30, limit=50):
        if group.feature == feature and group.baseline_model == BASELINE and group.captured_calls:
            return group
    return None


def _await_decisions(client: ServiceClient, summary: dict, timeout: float = 600.0) -> None:
    """Follow the scheduler (it runs by itself every few seconds) until each demo group has decided."""
    started = time.monotonic()
    finished: dict[str, Any] = {}
    last_line, last_print = "", 0.0
    while time.monotonic() - started < timeout:
        status = client.scheduler_status()
        routes = {r.feature: r for r in status.routes if r.feature in SHADOW_FEATURES}
        finished = {f: r for f, r in routes.items() if r.status not in {"testing", "starting"}}
        line = "; ".join(f"{f}: {r.status.upper() if f in finished else 'testing'}, {r.n} compared"
                         for f, r in sorted(routes.items())) or "planning"
        spent = status.budgets.get("day", {}).get("spent_usd", 0.0)
        if (line != last_line and time.monotonic() - last_print > 5) or len(finished) == len(SHADOW_FEATURES):
            print(f"  {time.monotonic() - started:4.0f} s  {line}  (${spent:.2f} of today's budget spent)", flush=True)
            last_line, last_print = line, time.monotonic()
        if len(finished) == len(SHADOW_FEATURES):
            break
        waiting = [g for g in status.groups if g.feature in SHADOW_FEATURES and g.feature not in finished]
        idle = status.last_pass is not None and not status.last_pass.get("batches") and not status.running_batches
        if routes and idle and waiting and all(g.state == "waiting" for g in waiting):
            print(f"  undecided so far: {'; '.join(f'{g.feature}: {g.reason}' for g in waiting)}\n"
                  "  (the scheduler goes on as new traffic is captured; nothing unproven is pushed)", flush=True)
            break
        time.sleep(1.0)
    meaning = client.recommendations().meaning
    for feature, route in finished.items():
        entry = {"feature": feature, "decision": route.status, "n": route.n, "route": route.route_id,
                 "meaning": meaning}
        summary["proven" if route.status == "switch" else "refused"].append(entry)


def _push_proven(client: ServiceClient, summary: dict) -> str | None:
    recs = client.recommendations().recommendations
    if not recs:
        print("nothing is proven, so nothing is pushed: every request keeps its baseline model")
        return None
    rec = recs[0]
    match = rec.match
    try:
        route = client.push_route(service=match.get("service", SERVICE), feature=match.get("feature", ""),
                                  fingerprint=match.get("fingerprint", ""), baseline=rec.baseline,
                                  candidate=rec.candidate, proof_route_id=rec.route_id, state="canary",
                                  traffic_share=0.5, reason="demo: proven switch, canary first")
    except ServiceError as exc:
        print(f"push refused: {exc}")
        return None
    saving = "unpriced" if rec.monthly_saving_usd is None else f"${rec.monthly_saving_usd:,.2f}"
    print(f"pushed {route.id}: {rec.baseline} -> {rec.candidate} for {match}, canary at 50% of the traffic "
          f"(sticky per customer); projected saving at full traffic {saving} per month")
    summary["pushed"] = route.id
    return route.id


def _refuse_unproven(client: ServiceClient, summary: dict) -> None:
    for entry in summary["refused"]:
        group = _group(client, entry["feature"])
        if group is None:
            continue
        try:
            client.push_route(service=group.service, feature=group.feature, fingerprint=group.fingerprint,
                              baseline=BASELINE, candidate=CANDIDATE, proof_route_id=entry["route"],
                              state="active")
            print(f"{entry['feature']}: pushed without proof?! (this should not happen)")
        except ServiceError as exc:
            print(f"{entry['feature']}: push refused as it should be ({entry['decision']}): {exc}")


def _summary(client: ServiceClient, summary: dict, seconds: float) -> None:
    section("summary")
    report = client.cost(since="30d", by="feature")
    for row in report.rows:
        print(f"  {row.dimension('feature') or '-':<20} ${row.cost_usd:>10,.2f}  {row.calls:>8,} calls")
    exp = report.experiment.totals
    print(f"  product total ${report.totals.cost_usd:,.2f} over {report.totals.calls:,} calls "
          f"({report.totals.unpriced_calls} unpriced, not in $); experiment spend (shadow, judge, monitoring) "
          f"${exp.cost_usd:,.2f} over {exp.calls:,} calls, kept out of product attribution")
    print(f"alerts open: {len(summary['alerts'])}")
    for title in summary["alerts"][:5]:
        print(f"  - {title}")
    for entry in summary["proven"] + summary["refused"]:
        print(f"route for {entry['feature']}: {entry['decision'].upper()} after {entry['n']} comparisons")
    meaning = next((e["meaning"] for e in summary["proven"] + summary["refused"] if e.get("meaning")), None)
    if meaning:
        print(f"what a decision means: {meaning}")
    for rec in client.recommendations().recommendations:
        saving = "unpriced" if rec.monthly_saving_usd is None else f"${rec.monthly_saving_usd:,.2f}"
        print(f"projected saving, {rec.match.get('feature')}: {saving} per month at its live volume")
    if summary.get("pushed"):
        print(f"route {summary['pushed']}: pushed as a canary, then rolled back (see `tokenproof routes audit`)")
    for label, url in summary["urls"].items():
        print(f"{label}: {url}")
    print(f"demo finished in {seconds:.0f} s")
