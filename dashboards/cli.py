"""``tokenproof dashboard``: start the Streamlit app on this machine (default http://127.0.0.1:8501).

The app reads everything through the service API (``--service-url``, setting ``service_url``), so it
needs a running ``tokenproof serve``; it never opens the store itself. ``--port 0`` picks a free port.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

from tokenproof import service_client, settings  # noqa: F401 (service_client declares service_url)

__all__ = ["configure", "run", "streamlit_command"]

APP = Path(__file__).with_name("app.py")


def configure(name: str, parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8501, help="port (default 8501; 0 = pick a free one)")
    parser.add_argument("--service-url", dest="service_url", default=None, metavar="URL",
                        help="service base URL (default: setting service_url, TOKENPROOF_SERVICE_URL, "
                             "http://127.0.0.1:4318)")


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def streamlit_command(host: str, port: int) -> list[str]:
    return [sys.executable, "-m", "streamlit", "run", str(APP), "--server.address", host,
            "--server.port", str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false",
            "--server.fileWatcherType", "none", "--global.developmentMode", "false",
            "--client.toolbarMode", "viewer"]


def run(name: str, args: argparse.Namespace) -> int:
    if importlib.util.find_spec("streamlit") is None or importlib.util.find_spec("altair") is None:
        print("tokenproof dashboard: needs Streamlit and Altair; install tokenproof[dashboards]", file=sys.stderr)
        return 2
    url = settings.get("service_url", args.service_url).rstrip("/")
    port = args.port or _free_port(args.host)
    shown = f"[{args.host}]" if ":" in args.host else args.host
    env = {**os.environ, "TOKENPROOF_SERVICE_URL": url}
    proc = subprocess.Popen(streamlit_command(args.host, port), env=env)
    print(f"tokenproof dashboard on http://{shown}:{port} (reading the service at {url})", flush=True)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.send_signal(signal.SIGINT)
        return proc.wait()
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=10)
