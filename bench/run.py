"""Benchmark suite: kalshi_sync against the transport ceiling and the Kalshi peers.

One command (from the repository root, with the project installed, e.g. ``pip install -e .``)::

    python bench/run.py            # full run, ~6 minutes on 2 cores
    python bench/run.py --quick    # smoke run, ~2 minutes
    python bench/run.py --setup    # only create the peer venvs

The peer venvs (``$BENCH_VENVS``, default ``/tmp``) are created on first use with pip from the
configured registry: ``bench-pykalshi`` (pykalshi 2.0.0) and ``bench-kalshisdk`` (kalshi-sdk
22.4.0; it requires Python >= 3.12, so on an older interpreter its wheel is unpacked and put on
``PYTHONPATH`` with its dependencies installed in the venv: its code imports and runs on 3.11,
which is enough for a benchmark though not a supported install).

Every measurement is a separate client process (``bench/clients.py``) against a loopback
server process (``bench/server.py``) that writes pre-encoded frames; variants are
interleaved A B C A B C over the repetitions and medians are reported. Results: a markdown
table on stdout and ``bench/results/<timestamp>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
VENVS = Path(os.environ.get("BENCH_VENVS", "/tmp"))
PYKALSHI_VENV = VENVS / "bench-pykalshi"
KSDK_VENV = VENVS / "bench-kalshisdk"
KSDK_WHEEL_DIR = KSDK_VENV / "wheel"
KSDK_DEPS = [
    "cryptography>=43,<51",
    "httpx>=0.27,<1",
    "pydantic>=2.4,<3",
    "typing-extensions>=4.5",
    "websockets>=14,<18",
]

LABELS = {
    "raw": "(a) websocket-client `run_forever`, count only (transport ceiling)",
    "raw_json": "(b) websocket-client `run_forever` + `json.loads`",
    "ks_thread": '(c) **kalshi_sync**, `delivery="thread"` (default)',
    "ks_inline": '(c) kalshi_sync, `delivery="inline"`',
    "ks_poll": '(c) kalshi_sync, `delivery="poll"`',
    "pykalshi": "(d) pykalshi 2.0.0 `Feed`",
    "kalshisdk": "(e) kalshi-sdk 22.4.0 `KalshiWebSocket` (asyncio, iterator)",
}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# -- setup ----------------------------------------------------------------------------------


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def find_python312() -> str | None:
    for name in ("python3.14", "python3.13", "python3.12"):
        path = shutil.which(name)
        if path:
            # A pyenv shim can exist without a working interpreter behind it.
            ok = subprocess.run(
                [path, "-c", "import sys, venv; assert sys.version_info >= (3, 12)"],
                capture_output=True,
            )
            if ok.returncode == 0:
                return path
    return None


def setup(force: bool = False) -> dict[str, Any]:
    """Create the peer venvs if missing. Returns how each peer is run (or why it is not)."""
    info: dict[str, Any] = {}
    base_python = shutil.which("python3") or sys.executable
    if force or not venv_python(PYKALSHI_VENV).exists():
        log(f"setup: creating {PYKALSHI_VENV} (pykalshi==2.0.0)")
        subprocess.run([base_python, "-m", "venv", str(PYKALSHI_VENV)], check=True)
        subprocess.run(
            [str(venv_python(PYKALSHI_VENV)), "-m", "pip", "install", "-q", "pykalshi==2.0.0"],
            check=True,
        )
    info["pykalshi"] = {"python": str(venv_python(PYKALSHI_VENV))}
    try:
        py312 = find_python312()
        marker = KSDK_VENV / ".bench-ready"
        if force or not marker.exists():
            if py312:
                log(f"setup: creating {KSDK_VENV} with {py312} (kalshi-sdk==22.4.0)")
                subprocess.run([py312, "-m", "venv", str(KSDK_VENV)], check=True)
                subprocess.run(
                    [
                        str(venv_python(KSDK_VENV)),
                        "-m",
                        "pip",
                        "install",
                        "-q",
                        "kalshi-sdk==22.4.0",
                    ],
                    check=True,
                )
            else:
                log(f"setup: creating {KSDK_VENV} (kalshi-sdk 22.4.0 wheel on PYTHONPATH)")
                subprocess.run([base_python, "-m", "venv", str(KSDK_VENV)], check=True)
                py = str(venv_python(KSDK_VENV))
                subprocess.run([py, "-m", "pip", "install", "-q", *KSDK_DEPS], check=True)
                dl = KSDK_VENV / "download"
                subprocess.run(
                    [
                        py,
                        "-m",
                        "pip",
                        "download",
                        "-q",
                        "kalshi-sdk==22.4.0",
                        "--no-deps",
                        "--only-binary=:all:",
                        "--python-version",
                        "3.12",
                        "-d",
                        str(dl),
                    ],
                    check=True,
                )
                wheel = next(dl.glob("kalshi_sdk-22.4.0-*.whl"))
                subprocess.run(
                    [py, "-m", "zipfile", "-e", str(wheel), str(KSDK_WHEEL_DIR)], check=True
                )
            marker.write_text("ok\n")
        if KSDK_WHEEL_DIR.exists():
            info["kalshisdk"] = {
                "python": str(venv_python(KSDK_VENV)),
                "pythonpath": str(KSDK_WHEEL_DIR),
                "note": "Python < 3.12: unpacked wheel on PYTHONPATH",
            }
        else:
            info["kalshisdk"] = {"python": str(venv_python(KSDK_VENV))}
    except (subprocess.CalledProcessError, StopIteration, OSError) as exc:
        info["kalshisdk"] = {"error": f"not runnable here: setup failed ({exc})"}
    return info


def make_key() -> str:
    path = RESULTS / "bench_key.pem"
    if not path.exists():
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.NoEncryption(),
            )
        )
    return str(path)


# -- processes ------------------------------------------------------------------------------


class Server:
    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "server.py"), *args], stdout=subprocess.PIPE, text=True
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("PORT "):
            self.proc.kill()
            raise RuntimeError(f"server did not start: {line!r}")
        self.port = int(line.split()[1])

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def run_client(
    variant: str, port: int, peers: dict[str, Any], key: str, *extra: str, timeout: float = 120.0
) -> dict[str, Any]:
    env = dict(os.environ)
    python = sys.executable
    if variant in peers:
        peer = peers[variant]
        if "error" in peer:
            return {"variant": variant, "error": peer["error"]}
        python = peer["python"]
        if "pythonpath" in peer:
            env["PYTHONPATH"] = peer["pythonpath"]
    cmd = [
        python,
        str(HERE / "clients.py"),
        variant,
        "--port",
        str(port),
        "--keyfile",
        key,
        "--timeout",
        str(timeout),
        *extra,
    ]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout + 30, env=env)
    except subprocess.TimeoutExpired:
        return {"variant": variant, "error": "timed out"}
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        return {"variant": variant, "error": (proc.stderr or proc.stdout)[-600:]}
    return json.loads(lines[-1])  # type: ignore[no-any-return]


# -- scenarios ------------------------------------------------------------------------------


def throughput(
    variants: list[str], reps: int, n: int, peers: dict[str, Any], key: str
) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {v: [] for v in variants}
    server = Server("--mode", "blast", "--n", str(n))
    try:
        for rep in range(reps):
            for v in variants:
                r = run_client(v, server.port, peers, key, "--n", str(n))
                out[v].append(r)
                log(
                    f"throughput rep {rep + 1}/{reps} {v:10s} "
                    f"{r.get('msgs_per_s', 0):>10,.0f} msg/s {r.get('error', '')[:200]}"
                )
    finally:
        server.close()
    return out


def latency(
    variants: list[str],
    reps: int,
    rate: int,
    seconds: float,
    peers: dict[str, Any],
    key: str,
    *extra: str,
) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {v: [] for v in variants}
    n = int(rate * seconds)
    server = Server("--mode", "rate", "--rate", str(rate), "--n", str(n))
    try:
        for rep in range(reps):
            for v in variants:
                r = run_client(
                    v,
                    server.port,
                    peers,
                    key,
                    "--n",
                    str(n),
                    "--latency",
                    *extra,
                    timeout=seconds + 20,
                )
                out[v].append(r)
                lat = r.get("latency_us", {})
                log(
                    f"latency {rate}/s rep {rep + 1}/{reps} {v:10s} {' '.join(extra)} "
                    f"p50 {lat.get('p50', 0):.0f} p99 {lat.get('p99', 0):.0f} us "
                    f"{r.get('error', '')[:200]}"
                )
    finally:
        server.close()
    return out


def memory(n: int, peers: dict[str, Any], key: str) -> dict[str, Any]:
    server = Server("--mode", "blast", "--n", str(n))
    try:
        r = run_client(
            "ks_thread",
            server.port,
            peers,
            key,
            "--n",
            str(n),
            "--rss-every",
            str(n // 10),
            timeout=300,
        )
    finally:
        server.close()
    samples = r.get("rss", [])
    if samples:
        r["rss_growth_mb"] = (samples[-1][1] - samples[0][1]) / 2**20
        r["rss_max_mb"] = max(s[1] for s in samples) / 2**20
    log(f"memory: {r.get('rss_growth_mb', 'n/a')} MB growth after the first {n // 10} frames")
    return r


def busy(
    variants: list[str], reps: int, window: float, peers: dict[str, Any], key: str
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    server = Server("--mode", "blast", "--n", "2000000")
    try:
        for rep in range(reps):
            for v in variants:
                for switch in (None, "0.0005"):
                    extra = ["--busy", "--window", str(window), "--n", "2000000"]
                    if switch:
                        extra += ["--switch", switch]
                    r = run_client(v, server.port, peers, key, *extra, timeout=window + 30)
                    out.setdefault(f"{v}|{switch or 'default'}", []).append(r)
                    log(
                        f"busy rep {rep + 1} {v:10s} switch={switch or 'default'} "
                        f"{r.get('msgs_per_s', 0):>10,.0f} msg/s {r.get('error', '')[:200]}"
                    )
    finally:
        server.close()
    lat: dict[str, Any] = {}
    for switch in (None, "0.0005"):
        extra = ["--busy"] + (["--switch", switch] if switch else [])
        res = latency(["ks_thread"], reps, 1000, window, peers, key, *extra)
        lat[f"ks_thread|{switch or 'default'}"] = res["ks_thread"]
    return {"throughput": out, "latency_1k": lat}


# -- report ---------------------------------------------------------------------------------


def med(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def summarize(results: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    lines: list[str] = []
    summary: dict[str, Any] = {}
    tp = results["throughput"]
    rates = {v: [r["msgs_per_s"] for r in runs if "msgs_per_s" in r] for v, runs in tp.items()}
    cpus = {
        v: [r["cpu_us_per_msg"] for r in runs if "cpu_us_per_msg" in r] for v, runs in tp.items()
    }
    medians = {v: med(x) for v, x in rates.items() if x}
    raw = medians.get("raw")
    pyk = medians.get("pykalshi")
    n = results["config"]["n"]
    reps = results["config"]["reps"]
    lines.append(
        f"**Throughput**: one burst of {n:,} `orderbook_delta` frames (one market), "
        f"{reps} interleaved repetitions, medians:\n"
    )
    lines.append("| client | msg/s (median) | min–max | CPU µs/msg | × ceiling (a) | × pykalshi |")  # noqa: RUF001
    lines.append("|---|---:|---:|---:|---:|---:|")
    for v, runs in tp.items():
        if not rates[v]:
            err = next((r.get("error", "") for r in runs if "error" in r), "no result")
            lines.append(f"| {LABELS[v]} | {err.strip().splitlines()[-1][:80]} | | | | |")
            continue
        m = medians[v]
        lines.append(
            f"| {LABELS[v]} | {m:,.0f} | {min(rates[v]):,.0f}–{max(rates[v]):,.0f} | "  # noqa: RUF001
            f"{med(cpus[v]):.2f} | {m / raw:.2f} | {m / pyk:.2f} |"
            if raw and pyk
            else f"| {LABELS[v]} | {m:,.0f} | | | | |"
        )
    summary["throughput_median"] = medians
    if raw and pyk and "ks_thread" in medians:
        summary["ks_vs_pykalshi"] = medians["ks_thread"] / pyk
        summary["ks_vs_ceiling"] = medians["ks_thread"] / raw

    def lat_table(title: str, data: dict[str, list[dict[str, Any]]], key_label: Any) -> None:
        lines.append(f"\n**{title}**\n")
        lines.append("| client | p50 µs | p90 µs | p99 µs | p99.9 µs | max µs | CPU µs/msg |")
        lines.append("|---|---:|---:|---:|---:|---:|---:|")
        for v, runs in data.items():
            lats = [r["latency_us"] for r in runs if "latency_us" in r]
            if not lats:
                lines.append(f"| {key_label(v)} | no result | | | | | |")
                continue
            cells = [med([x[p] for x in lats]) for p in ("p50", "p90", "p99", "p99.9", "max")]
            cpu = med([r["cpu_us_per_msg"] for r in runs if "cpu_us_per_msg" in r])
            summary.setdefault("latency", {})[f"{title}|{v}"] = dict(
                zip(("p50", "p90", "p99", "p99.9", "max"), cells, strict=True)
            )
            lines.append(
                f"| {key_label(v)} | " + " | ".join(f"{c:,.0f}" for c in cells) + f" | {cpu:.1f} |"
            )

    lc = results["config"]
    lat_table(
        f"Latency, server write → callback, {lc['rate']:,}/s spaced "
        f"({lc['lat_seconds']:g} s, {reps_lat(results)} runs, median of each percentile)",
        results["latency"],
        lambda v: LABELS[v],
    )

    mem = results.get("memory", {})
    if mem:
        lines.append(
            "\n**Memory** (kalshi_sync default, one burst of "
            f"{results['config']['mem_n']:,} frames):\n"
        )
        samples = mem.get("rss", [])
        growth = mem.get("rss_growth_mb")
        if samples:
            lines.append(
                f"RSS after {samples[0][0]:,} frames {samples[0][1] / 2**20:.1f} MB, "
                f"after {samples[-1][0]:,} frames {samples[-1][1] / 2**20:.1f} MB: "
                f"growth **{growth:+.1f} MB**, peak {mem['rss_max_mb']:.1f} MB; "
                f"throughput {mem.get('msgs_per_s', 0):,.0f} msg/s, "
                f"gaps {mem.get('gaps')}, drops {mem.get('drops')}."
            )
        else:
            lines.append(f"no result: {mem.get('error', '')[:200]}")
        summary["rss_growth_mb"] = growth

    b = results.get("busy")
    if b:
        lines.append(
            "\n**Busy bot**: a pure-Python CPU-bound thread in the same process "
            f"(burst, {results['config']['busy_window']:g} s window; then 1k/s "
            "latency):\n"
        )
        lines.append("| client | switch interval | msg/s sustained (median) |")
        lines.append("|---|---|---:|")
        for k, runs in b["throughput"].items():
            v, sw = k.split("|")
            vals = [r["msgs_per_s"] for r in runs if "msgs_per_s" in r]
            summary.setdefault("busy", {})[k] = med(vals)
            sw_label = "5 ms (default)" if sw == "default" else f"{float(sw) * 1000:g} ms"
            lines.append(f"| {LABELS[v]} | {sw_label} | {med(vals):,.0f} |")
        lat_table(
            "Busy bot latency at 1k/s (kalshi_sync default)",
            b["latency_1k"],
            lambda k: (
                "switch interval " + ("5 ms (default)" if k.endswith("default") else "0.5 ms")
            ),
        )

    # Targets
    lines.append("\n**Targets** (issue #5):\n")
    lines.append("| target | measured | met |")
    lines.append("|---|---:|:---:|")

    def row(name: str, value: float | None, ok: bool | None, fmt: str) -> None:
        shown = "n/a" if value is None else format(value, fmt)
        lines.append(f"| {name} | {shown} | {'yes' if ok else 'no'} |")
        summary.setdefault("targets", {})[name] = {"value": value, "met": bool(ok)}

    r1 = summary.get("ks_vs_pykalshi")
    row("throughput ≥ 1.15× pykalshi Feed", r1, r1 is not None and r1 >= 1.15, ".2f")  # noqa: RUF001
    r2 = summary.get("ks_vs_ceiling")
    row("throughput ≥ 0.80× transport ceiling", r2, r2 is not None and r2 >= 0.80, ".2f")  # noqa: RUF001
    lat = summary.get("latency", {})
    key = next((k for k in lat if k.endswith("|ks_thread") and k.startswith("Latency")), None)
    p50 = lat[key]["p50"] if key else None
    p99 = lat[key]["p99"] if key else None
    row("latency p50 ≤ 80 µs at 5k/s", p50, p50 is not None and p50 <= 80, ".0f")
    row("latency p99 ≤ 400 µs at 5k/s", p99, p99 is not None and p99 <= 400, ".0f")
    g = summary.get("rss_growth_mb")
    row("RSS growth < 5 MB over 1M frames", g, g is not None and g < 5, ".1f")
    return "\n".join(lines), summary


def reps_lat(results: dict[str, Any]) -> int:
    return int(results["config"]["lat_reps"])


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--setup", action="store_true", help="only create the peer venvs")
    ap.add_argument("--quick", action="store_true", help="fewer frames and repetitions")
    ap.add_argument("--reps", type=int, default=None)
    ap.add_argument("--skip", default="", help="comma list: throughput,latency,memory,busy")
    args = ap.parse_args()
    RESULTS.mkdir(exist_ok=True)
    if args.setup:
        print(json.dumps(setup(force=False), indent=2))
        return
    peers = setup()
    key = make_key()
    quick = args.quick
    cfg = {
        "n": 50_000 if quick else 100_000,
        "reps": args.reps or (3 if quick else 5),
        "rate": 5000,
        "lat_seconds": 2.0 if quick else 4.0,
        "lat_reps": 2 if quick else 3,
        "mem_n": 300_000 if quick else 1_000_000,
        "busy_window": 3.0 if quick else 5.0,
        "busy_reps": 1 if quick else 2,
    }
    skip = set(filter(None, args.skip.split(",")))
    t_start = time.time()
    results: dict[str, Any] = {
        "config": cfg,
        "machine": {
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "processor": platform.processor(),
        },
        "peers": peers,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    variants = ["raw", "raw_json", "ks_thread", "ks_inline", "ks_poll", "pykalshi", "kalshisdk"]
    results["throughput"] = (
        {} if "throughput" in skip else throughput(variants, cfg["reps"], cfg["n"], peers, key)
    )
    lat_variants = ["raw_json", "ks_thread", "ks_inline", "ks_poll", "pykalshi", "kalshisdk"]
    results["latency"] = (
        {}
        if "latency" in skip
        else latency(lat_variants, cfg["lat_reps"], cfg["rate"], cfg["lat_seconds"], peers, key)
    )
    if "memory" not in skip:
        results["memory"] = memory(cfg["mem_n"], peers, key)
    if "busy" not in skip:
        results["busy"] = busy(
            ["raw", "ks_thread", "ks_inline"], cfg["busy_reps"], cfg["busy_window"], peers, key
        )
    results["elapsed_s"] = time.time() - t_start
    table, summary = summarize(results)
    results["summary"] = summary
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = RESULTS / f"{stamp}.json"
    path.write_text(json.dumps(results, indent=1))
    (RESULTS / "latest.json").write_text(json.dumps(results, indent=1))
    (RESULTS / "latest.md").write_text(table + "\n")
    print(table)
    print(
        f"\n_{platform.platform()}, Python {sys.version.split()[0]}, {os.cpu_count()} CPUs; "
        f"run took {results['elapsed_s']:.0f} s; raw data: {path.relative_to(HERE.parent)}_"
    )


if __name__ == "__main__":
    main()
