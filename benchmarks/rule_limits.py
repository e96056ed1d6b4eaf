"""Hostile ``where=`` conditions against a real ``privsynth serve`` (issue #21, item 3).

On 785087b the ``if ... then`` regex backtracked in O(N^3): a 2.5 KB ``where=`` held the server
for 32 s, and deep nesting or 1,200-term sums were HTTP 500. This script starts a server on a
local port and times, beside a plain request in the same run (the baseline), the answers to: a
1 MB condition, a 10 KB one, the old regex's worst case, deep nesting, a long sum and a type
error; then checks that the server still serves. It also times the parser alone on 1 MB.

Output: ``benchmarks/results/rule_limits.json`` and ``.md``.

Run: python benchmarks/rule_limits.py
"""

from __future__ import annotations

import http.client
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import privsynth as ps
from privsynth.core.errors import DomainError
from privsynth.core.rules import parse_rules

TOKEN = "benchmark-token-0123456789"


def _get(port: int, path: str) -> tuple[int, bytes, float]:
    """Status, body and seconds; status 0 when the server closed the connection (uvicorn does
    that, with or without a 400, for a request line over its HTTP parser's limit)."""
    t0 = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request("GET", path, headers={"Authorization": f"Bearer {TOKEN}"})
        resp = conn.getresponse()
        status, body = resp.status, resp.read()
    except (ConnectionError, http.client.HTTPException) as exc:
        status, body = 0, f"connection closed by the server ({type(exc).__name__})".encode()
    finally:
        conn.close()
    return status, body, time.perf_counter() - t0


def _asgi_get(app, path: str, query: bytes) -> tuple[int, bytes]:
    """One GET straight into the ASGI application (no HTTP parser, no client URL limits)."""
    import asyncio

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": query, "root_path": "",
             "headers": [(b"host", b"local"), (b"authorization", f"Bearer {TOKEN}".encode())],
             "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}
    sent: list = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


def _in_process(model: Path) -> dict:
    """The application itself answering a 1 MB condition (uvicorn's HTTP parser, in front of it
    in a real server, closes a connection whose request line passes its 16 KB limit)."""
    from privsynth.serve import create_app

    app = create_app({"census": ps.load(model)}, token=TOKEN)
    query = f"n=10&where={quote('a' * 2**20)}".encode()
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        status, body = _asgi_get(app, "/models/census/sample", query)
        times.append(time.perf_counter() - t0)
    return {"request": "1 MB condition, straight into the ASGI application", "where_bytes": 2**20, "status": status,
            "median_ms": 1000 * sorted(times)[2], "detail": json.loads(body)["detail"][:90]}


def main() -> None:
    data, domain = ps.datasets.make_census(2000, random_state=0)
    folder = Path(tempfile.mkdtemp())
    ps.synthesizers.PrivBayes(epsilon=1.0, progress=False).fit(data, domain).save(folder / "census.privsynth")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    proc = subprocess.Popen([sys.executable, "-m", "privsynth", "serve", str(folder / "census.privsynth"), "--port", str(port),
                             "--log-level", "warning"], env={**os.environ, "PRIVSYNTH_SERVE_TOKEN": TOKEN})
    try:
        for _ in range(600):  # wait for start-up
            if _get(port, "/healthz")[0] == 200:
                break
            time.sleep(0.1)
        cases = {
            "baseline: where=age >= 60, n=10": "age >= 60",
            "1 MB condition": "a" * 2**20,
            "10 KB condition": "a" * 10_000,
            "785087b's backtracking case ('if', 2,500 spaces, 'x': 11 s for its regex alone)": "if" + " " * 2500 + "x",
            "200 nested parentheses": "(" * 200 + "age > 1" + ")" * 200,
            "1,200-term sum": " + ".join(["age"] * 1200) + " > 1",
            "sex + 'x' == 1": "sex + 'x' == 1",
        }
        rows = []
        for name, where in cases.items():
            times, status, detail = [], 0, ""
            for _ in range(5):
                status, body, seconds = _get(port, f"/models/census/sample?n=10&seed=1&where={quote(where)}")
                times.append(seconds)
            if status != 200:
                try:
                    detail = json.loads(body)["detail"][:90]
                except (ValueError, KeyError):
                    detail = body.decode(errors="replace")[:90]
            rows.append({"request": name, "where_bytes": len(quote(where)), "status": status, "median_ms": 1000 * sorted(times)[2],
                         "detail": detail})
            print(rows[-1], flush=True)
        still = _get(port, "/models/census/sample?n=100&seed=2")
        rows.append(_in_process(folder / "census.privsynth"))
        print(rows[-1], flush=True)
        t0 = time.perf_counter()
        try:
            parse_rules(["a" * 2**20], domain)
        except DomainError:
            pass
        parser_ms = 1000 * (time.perf_counter() - t0)
    finally:
        proc.terminate()
        proc.wait(30)
    out = Path("benchmarks/results")
    out.mkdir(parents=True, exist_ok=True)
    meta = {"machine": platform.platform(), "rows": rows, "served_after": still[0], "parser_1mb_ms": parser_ms}
    (out / "rule_limits.json").write_text(json.dumps(meta, indent=1))
    lines = ["# Hostile where= conditions against a real privsynth serve (median of 5 requests)", "",
             "| request | where= bytes | status | median ms | detail |", "|---|---|---|---|---|"]
    lines += [f"| {r['request']} | {r['where_bytes']:,} | {r['status']} | {r['median_ms']:.1f} | {r['detail']} |" for r in rows]
    lines += ["", f"Afterwards a plain request got HTTP {still[0]}. The parser alone refuses a 1 MB rule in {parser_ms:.2f} ms.",
              "", "Run: `python benchmarks/rule_limits.py`"]
    (out / "rule_limits.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
