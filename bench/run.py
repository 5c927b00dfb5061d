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
interleaved A B C A B C over the repetitions and medians are reported. Each variant runs over
plain ``ws://`` and over ``wss://`` (a second server process with a certificate from a
throwaway trustme CA, which every client verifies), interleaved too: A/ws A/wss B/ws B/wss ...
Results: a markdown table on stdout and ``bench/results/<timestamp>.json``.
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
VENVS = Path(os.environ.get("BENCH_VENVS", "/tmp"))
PYKALSHI_VENV = VENVS / "bench-pykalshi"
KSDK_VENV = VENVS / "bench-kalshisdk"
KSDK_WHEEL_DIR = KSDK_VENV / "wheel"
SCHEMES = ("ws", "wss")
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


def make_tls() -> tuple[str, str]:
    """(CA file, server chain+key file): a throwaway trustme CA, made once per results dir."""
    ca_file = RESULTS / "bench_ca.pem"
    server_file = RESULTS / "bench_server.pem"
    if not (ca_file.exists() and server_file.exists()):
        import trustme

        ca = trustme.CA()
        ca.cert_pem.write_to_path(str(ca_file))
        ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(str(server_file))
    return str(ca_file), str(server_file)


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
    def __init__(self, *args: str, cert: str | None = None) -> None:
        tls = ["--cert", cert] if cert else []
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "server.py"), *args, *tls],
            stdout=subprocess.PIPE,
            text=True,
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


class Servers:
    """One server process per scheme, same arguments: ``servers["wss"].port``."""

    def __init__(self, tls: tuple[str, str], *args: str, schemes: tuple[str, ...] = SCHEMES):
        self.ca = tls[0]
        self.by_scheme: dict[str, Server] = {}
        try:
            for scheme in schemes:
                self.by_scheme[scheme] = Server(*args, cert=tls[1] if scheme == "wss" else None)
        except BaseException:
            self.close()
            raise

    def client_args(self, scheme: str) -> tuple[int, str | None]:
        """(port, CA file or None) for a client of ``scheme``."""
        return self.by_scheme[scheme].port, self.ca if scheme == "wss" else None

    def close(self) -> None:
        for server in self.by_scheme.values():
            server.close()


def run_client(
    variant: str,
    port: int,
    peers: dict[str, Any],
    key: str,
    *extra: str,
    timeout: float = 120.0,
    ca: str | None = None,
) -> dict[str, Any]:
    env = dict(os.environ)
    if ca:
        # The peers and websocket-client verify through their default SSL context, which
        # reads SSL_CERT_FILE; kalshi_sync gets an ssl_context built from --tls.
        env["SSL_CERT_FILE"] = ca
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
        *(["--tls", ca] if ca else []),
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


Runs = dict[str, dict[str, list[dict[str, Any]]]]  # scheme -> variant -> runs


def interleaved(
    servers: Servers,
    variants: list[str],
    reps: int,
    schemes: tuple[str, ...],
    run: Callable[[str, int, str | None], dict[str, Any]],
    describe: Callable[[dict[str, Any]], str],
    title: str,
) -> Runs:
    """``run(variant, port, ca)`` for every rep, variant and scheme, in that nesting order
    (A/ws A/wss B/ws B/wss ...), logging ``describe(result)`` after each."""
    out: Runs = {s: {v: [] for v in variants} for s in schemes}
    try:
        for rep in range(reps):
            for v in variants:
                for scheme in schemes:
                    port, ca = servers.client_args(scheme)
                    r = run(v, port, ca)
                    out[scheme][v].append(r)
                    log(
                        f"{title} rep {rep + 1}/{reps} {v:10s} {scheme:3s} {describe(r)} "
                        f"{r.get('error', '')[:200]}"
                    )
    finally:
        servers.close()
    return out


def throughput(
    variants: list[str],
    reps: int,
    n: int,
    peers: dict[str, Any],
    key: str,
    tls: tuple[str, str],
    schemes: tuple[str, ...] = SCHEMES,
) -> Runs:
    servers = Servers(tls, "--mode", "blast", "--n", str(n), schemes=schemes)
    return interleaved(
        servers,
        variants,
        reps,
        schemes,
        lambda v, port, ca: run_client(v, port, peers, key, "--n", str(n), ca=ca),
        lambda r: (
            f"{r.get('msgs_per_s', 0):>10,.0f} msg/s {r.get('cpu_us_per_msg', 0):6.2f} us CPU"
        ),
        "throughput",
    )


def latency(
    variants: list[str],
    reps: int,
    rate: int,
    seconds: float,
    peers: dict[str, Any],
    key: str,
    tls: tuple[str, str],
    *extra: str,
    schemes: tuple[str, ...] = SCHEMES,
) -> Runs:
    n = int(rate * seconds)
    servers = Servers(tls, "--mode", "rate", "--rate", str(rate), "--n", str(n), schemes=schemes)

    def describe(r: dict[str, Any]) -> str:
        lat = r.get("latency_us", {})
        return (
            f"{' '.join(extra)} p50 {lat.get('p50', 0):.0f} p99 {lat.get('p99', 0):.0f} us "
            f"CPU {r.get('cpu_us_per_msg', 0):.1f} us"
        )

    return interleaved(
        servers,
        variants,
        reps,
        schemes,
        lambda v, port, ca: run_client(
            v, port, peers, key, "--n", str(n), "--latency", *extra, timeout=seconds + 20, ca=ca
        ),
        describe,
        f"latency {rate}/s",
    )


def memory(n: int, peers: dict[str, Any], key: str, tls: tuple[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    servers = Servers(tls, "--mode", "blast", "--n", str(n))
    try:
        for scheme in SCHEMES:
            port, ca = servers.client_args(scheme)
            r = run_client(
                "ks_thread",
                port,
                peers,
                key,
                "--n",
                str(n),
                "--rss-every",
                str(n // 10),
                timeout=300,
                ca=ca,
            )
            samples = r.get("rss", [])
            if samples:
                r["rss_growth_mb"] = (samples[-1][1] - samples[0][1]) / 2**20
                r["rss_max_mb"] = max(s[1] for s in samples) / 2**20
            log(
                f"memory {scheme}: {r.get('rss_growth_mb', 'n/a')} MB growth after the "
                f"first {n // 10} frames"
            )
            out[scheme] = r
    finally:
        servers.close()
    return out


def busy(
    variants: list[str],
    reps: int,
    window: float,
    peers: dict[str, Any],
    key: str,
    tls: tuple[str, str],
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
        res = latency(["ks_thread"], reps, 1000, window, peers, key, tls, *extra, schemes=("ws",))
        lat[f"ks_thread|{switch or 'default'}"] = res["ws"]["ks_thread"]
    return {"throughput": out, "latency_1k": lat}


# -- report ---------------------------------------------------------------------------------


def med(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def summarize(results: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    lines: list[str] = []
    summary: dict[str, Any] = {}
    n = results["config"]["n"]
    reps = results["config"]["reps"]
    lines.append(
        f"**Throughput**: one burst of {n:,} `orderbook_delta` frames (one market), "
        f"{reps} interleaved repetitions, medians; × columns against the same scheme:\n"  # noqa: RUF001
    )
    lines.append(
        "| client | scheme | msg/s (median) | min–max | CPU µs/msg | × ceiling (a) | × pykalshi |"  # noqa: RUF001
    )
    lines.append("|---|---|---:|---:|---:|---:|---:|")
    for scheme, tp in results["throughput"].items():
        rates = {v: [r["msgs_per_s"] for r in runs if "msgs_per_s" in r] for v, runs in tp.items()}
        cpus = {
            v: [r["cpu_us_per_msg"] for r in runs if "cpu_us_per_msg" in r]
            for v, runs in tp.items()
        }
        medians = {v: med(x) for v, x in rates.items() if x}
        raw = medians.get("raw")
        pyk = medians.get("pykalshi")
        for v, runs in tp.items():
            if not rates[v]:
                err = next((r.get("error", "") for r in runs if "error" in r), "no result")
                err = (err.strip().splitlines() or ["no result"])[-1][:80]
                lines.append(f"| {LABELS[v]} | {scheme} | {err} | | | | |")
                continue
            m = medians[v]
            ratio_raw = f"{m / raw:.2f}" if raw else ""
            ratio_pyk = f"{m / pyk:.2f}" if pyk else ""
            lines.append(
                f"| {LABELS[v]} | {scheme} | {m:,.0f} | "
                f"{min(rates[v]):,.0f}–{max(rates[v]):,.0f} | "  # noqa: RUF001
                f"{med(cpus[v]):.2f} | {ratio_raw} | {ratio_pyk} |"
            )
        summary.setdefault("throughput_median", {})[scheme] = medians
        summary.setdefault("throughput_cpu", {})[scheme] = {v: med(x) for v, x in cpus.items()}
        if "ks_thread" in medians:
            if pyk:
                summary.setdefault("ks_vs_pykalshi", {})[scheme] = medians["ks_thread"] / pyk
            if raw:
                summary.setdefault("ks_vs_ceiling", {})[scheme] = medians["ks_thread"] / raw

    def lat_table(title: str, by_scheme: Runs, key_label: Any, tag: str) -> None:
        lines.append(f"\n**{title}**\n")
        lines.append(
            "| client | scheme | p50 µs | p90 µs | p99 µs | p99.9 µs | max µs | CPU µs/msg |"
        )
        lines.append("|---|---|---:|---:|---:|---:|---:|---:|")
        for scheme, data in by_scheme.items():
            for v, runs in data.items():
                lats = [r["latency_us"] for r in runs if "latency_us" in r]
                if not lats:
                    lines.append(f"| {key_label(v)} | {scheme} | no result | | | | | |")
                    continue
                pcts = ("p50", "p90", "p99", "p99.9", "max")
                cells = [med([x[p] for x in lats]) for p in pcts]
                cpu = med([r["cpu_us_per_msg"] for r in runs if "cpu_us_per_msg" in r])
                entry = dict(zip(pcts, cells, strict=True))
                entry["cpu_us_per_msg"] = cpu
                summary.setdefault(tag, {}).setdefault(scheme, {})[v] = entry
                lines.append(
                    f"| {key_label(v)} | {scheme} | "
                    + " | ".join(f"{c:,.0f}" for c in cells)
                    + f" | {cpu:.1f} |"
                )

    lc = results["config"]
    if results["latency"]:
        lat_table(
            f"Latency, server write → callback, {lc['rate']:,}/s spaced "
            f"({lc['lat_seconds']:g} s, {reps_lat(results)} runs, median of each percentile)",
            results["latency"],
            lambda v: LABELS[v],
            "latency",
        )

    mem = results.get("memory", {})
    if mem:
        lines.append(
            "\n**Memory** (kalshi_sync default, one burst of "
            f"{results['config']['mem_n']:,} frames):\n"
        )
        for scheme, r in mem.items():
            samples = r.get("rss", [])
            growth = r.get("rss_growth_mb")
            if samples:
                lines.append(
                    f"- {scheme}: RSS after {samples[0][0]:,} frames "
                    f"{samples[0][1] / 2**20:.1f} MB, after {samples[-1][0]:,} frames "
                    f"{samples[-1][1] / 2**20:.1f} MB: growth **{growth:+.1f} MB**, peak "
                    f"{r['rss_max_mb']:.1f} MB; throughput {r.get('msgs_per_s', 0):,.0f} msg/s, "
                    f"gaps {r.get('gaps')}, drops {r.get('drops')}."
                )
            else:
                lines.append(f"- {scheme}: no result: {r.get('error', '')[:200]}")
            summary.setdefault("rss_growth_mb", {})[scheme] = growth

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
            {"ws": b["latency_1k"]},
            lambda k: (
                "switch interval " + ("5 ms (default)" if k.endswith("default") else "0.5 ms")
            ),
            "busy_latency",
        )

    # Targets
    lines.append("\n**Targets** (issues #5 and #11):\n")
    lines.append("| target | measured | met |")
    lines.append("|---|---:|:---:|")

    def row(name: str, value: float | None, limit: float, fmt: str, *, at_most: bool) -> None:
        ok = value is not None and (value <= limit if at_most else value >= limit)
        shown = "n/a" if value is None else format(value, fmt)
        lines.append(f"| {name} | {shown} | {'yes' if ok else 'no'} |")
        summary.setdefault("targets", {})[name] = {"value": value, "met": ok}

    vs_raw = summary.get("ks_vs_ceiling", {})
    vs_pyk = summary.get("ks_vs_pykalshi", {})
    lat = summary.get("latency", {})

    def ks_lat(scheme: str, what: str) -> float | None:
        entry = lat.get(scheme, {}).get("ks_thread")
        return None if entry is None else float(entry[what])

    for scheme, ceil, pyk_min, cpu_max in (("ws", 1.3, 1.6, 45.0), ("wss", 1.2, 1.5, 55.0)):
        row(
            f"{scheme}: throughput ≥ {ceil}× the ceiling (a)",  # noqa: RUF001
            vs_raw.get(scheme),
            ceil,
            ".2f",
            at_most=False,
        )
        row(
            f"{scheme}: throughput ≥ {pyk_min}× pykalshi",  # noqa: RUF001
            vs_pyk.get(scheme),
            pyk_min,
            ".2f",
            at_most=False,
        )
        row(
            f"{scheme}: CPU ≤ {cpu_max:g} µs/msg at {lc['rate']:,}/s",
            ks_lat(scheme, "cpu_us_per_msg"),
            cpu_max,
            ".1f",
            at_most=True,
        )
        row(f"{scheme}: latency p50 ≤ 80 µs", ks_lat(scheme, "p50"), 80, ".0f", at_most=True)
        row(f"{scheme}: latency p99 ≤ 400 µs", ks_lat(scheme, "p99"), 400, ".0f", at_most=True)
        row(
            f"{scheme}: RSS growth < 5 MB over {lc['mem_n']:,} frames",
            summary.get("rss_growth_mb", {}).get(scheme),
            4.999,
            ".1f",
            at_most=True,
        )
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
    tls = make_tls()
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
        {} if "throughput" in skip else throughput(variants, cfg["reps"], cfg["n"], peers, key, tls)
    )
    lat_variants = ["raw_json", "ks_thread", "ks_inline", "ks_poll", "pykalshi", "kalshisdk"]
    results["latency"] = (
        {}
        if "latency" in skip
        else latency(
            lat_variants, cfg["lat_reps"], cfg["rate"], cfg["lat_seconds"], peers, key, tls
        )
    )
    if "memory" not in skip:
        results["memory"] = memory(cfg["mem_n"], peers, key, tls)
    if "busy" not in skip:
        results["busy"] = busy(
            ["raw", "ks_thread", "ks_inline"],
            cfg["busy_reps"],
            cfg["busy_window"],
            peers,
            key,
            tls,
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
