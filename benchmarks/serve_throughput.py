"""`privsynth serve` against a local client: CSV streaming rate, server memory, small-request latency.

Fits PrivBayes and AIM (epsilon 1) on UCI Adult, starts ``privsynth serve`` on a free local port
(a real uvicorn process), then with a plain HTTP client (``http.client``, reading the stream in
1 MiB pieces):

* streams ``--rows`` (default 1M) rows as CSV from each model, three times: rows/s (best, median);
* samples the server's RSS (``/proc/PID/status``) every 20 ms during the streams: growth over its
  RSS before the first stream (target < 100 MB);
* times 200 requests of ``n=1000`` as JSON (after 10 warm-up requests): p50 and p95 latency
  (target p50 < 50 ms);
* streams 10M rows once from PrivBayes (``--big``) to show memory stays flat for a stream ten times as long.

Targets (issue #13): >= 200k rows/s CSV, RSS growth < 100 MB, p50 < 50 ms. Run alone.

Output: ``benchmarks/results/serve_throughput.json`` and ``.md``.

Run: python benchmarks/serve_throughput.py [--rows 1000000] [--big]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import privsynth as ps


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def get(port: int, path: str, token: str) -> tuple[int, int, bytes]:
    """Status, bytes received and the first bytes of a GET, the body read in 1 MiB pieces."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
    resp = conn.getresponse()
    total, head = 0, b""
    while True:
        piece = resp.read(1 << 20)
        if not piece:
            break
        if not head:
            head = piece[:200]
        total += len(piece)
    conn.close()
    return resp.status, total, head


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--big", action="store_true", help="also stream 10M rows once")
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args()
    data, domain = ps.datasets.load_adult()
    token = secrets.token_urlsafe(32)
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for cls in (ps.synthesizers.PrivBayes, ps.synthesizers.AIM):
            print("fitting", cls.__name__, flush=True)
            paths.append(str(cls(epsilon=1.0, random_state=0).fit(data, domain).save(Path(tmp) / f"{cls.__name__.lower()}.privsynth")))
        env = {**os.environ, "PRIVSYNTH_SERVE_TOKEN": token}
        server = subprocess.Popen([sys.executable, "-m", "privsynth", "serve", *paths, "--port", str(port), "--log-level", "warning"],
                                  env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            for _ in range(300):
                try:
                    if get(port, "/healthz", token)[0] == 200:
                        break
                except OSError:
                    time.sleep(0.1)
            base = rss_mb(server.pid)
            peak = [base]
            stop = threading.Event()

            def watch() -> None:
                while not stop.is_set():
                    peak[0] = max(peak[0], rss_mb(server.pid))
                    time.sleep(0.02)

            watcher = threading.Thread(target=watch, daemon=True)
            watcher.start()
            streams = {}
            for name in ("privbayes", "aim"):
                times = []
                for k in range(3):
                    t0 = time.perf_counter()
                    status, size, head = get(port, f"/models/{name}/sample?n={args.rows}&seed={k}&format=csv", token)
                    times.append(time.perf_counter() - t0)
                    assert status == 200, head
                streams[name] = {"best_rows_per_s": args.rows / min(times), "median_rows_per_s": args.rows / statistics.median(times),
                                 "mb_per_stream": size / 1e6}
                print(name, {k: round(v) for k, v in streams[name].items()}, flush=True)
            after_1m = peak[0]
            big = None
            if args.big:
                t0 = time.perf_counter()
                status, size, _ = get(port, "/models/privbayes/sample?n=10000000&seed=9&format=csv", token)
                big = {"rows": 10_000_000, "seconds": time.perf_counter() - t0, "mb": size / 1e6, "peak_rss_mb": peak[0]}
                print("10M rows", big, flush=True)
            stop.set()
            watcher.join()
            for _ in range(10):
                get(port, "/models/privbayes/sample?n=1000&seed=1&format=json", token)
            lat = []
            for i in range(200):
                t0 = time.perf_counter()
                status, _, _ = get(port, f"/models/privbayes/sample?n=1000&seed={i}&format=json", token)
                lat.append((time.perf_counter() - t0) * 1000)
                assert status == 200
            lat.sort()
            latency = {"p50_ms": statistics.median(lat), "p95_ms": lat[int(0.95 * len(lat))]}
            print("n=1000 json", latency, flush=True)
        finally:
            server.terminate()
            server.wait(timeout=30)
    result = {"meta": {"machine": platform.machine(), "python": platform.python_version(), "rows": args.rows, "dataset": "adult"},
              "csv_streams": streams, "rss_mb": {"before": base, "peak_after_1m_streams": after_1m, "growth": after_1m - base},
              "big_stream": big, "latency_n1000_json": latency}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "serve_throughput.json").write_text(json.dumps(result, indent=1))
    lines = ["# privsynth serve (benchmarks/serve_throughput.py)", "",
             f"{platform.machine()}, Python {platform.python_version()}; Adult models at epsilon 1; server and client on the same "
             "2-core machine, plain http.client reading 1 MiB pieces. Targets: >= 200k rows/s CSV, RSS growth < 100 MB, p50 < 50 ms.",
             "", "| model | CSV rows/s (best) | median | MB per stream |", "|---|---|---|---|"]
    lines += [f"| {n} | {r['best_rows_per_s']:,.0f} | {r['median_rows_per_s']:,.0f} | {r['mb_per_stream']:.0f} |"
              for n, r in streams.items()]
    lines += ["", f"Server RSS: {base:.0f} MB before, peak {after_1m:.0f} MB during the six {args.rows:,}-row streams "
                  f"(growth {after_1m - base:.0f} MB)."]
    if big:
        lines.append(f"10M rows in one stream: {big['seconds']:.1f} s ({big['rows'] / big['seconds']:,.0f} rows/s, {big['mb']:.0f} MB), "
                     f"peak RSS {big['peak_rss_mb']:.0f} MB.")
    lines.append(f"n=1000 as JSON, 200 requests: p50 {latency['p50_ms']:.1f} ms, p95 {latency['p95_ms']:.1f} ms.")
    (out / "serve_throughput.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
