"""The scale curve: marginal synthesizers fitted from Parquet through DuckDB at 1M, 10M and 100M rows.

A ``make_census``-style 10-column table is written to Parquet in 1M-row chunks (each chunk a
fresh ``make_census`` draw, so the file is never held in memory). Each synthesizer then fits from
the file path (``fit("census.parquet", domain)``: DuckDB, out of core, memory limit 1 GB) in a
fresh process, whose peak RSS is the fit's. The in-memory path (pandas) at 1M rows is the
baseline in the same run: time and RSS ratios are what the issue's targets read.

Targets (issue #23): time at most linear in rows (100M within 100x of 1M), 100M rows in <= 10
minutes per fit, peak RSS <= 2 GiB at every size.

Output: ``benchmarks/results/<name>.json`` and ``<name>.md`` (default ``scale``).

Run: python benchmarks/scale.py [--rows 1e6 1e7 1e8] [--synthesizers privbayes mst independent dpgaussiancopula]
     [--folder /tmp/privsynth-scale] [--name scale]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

SYNTHESIZERS = {"privbayes": "PrivBayes", "mst": "MST", "independent": "IndependentMarginals",
                "dpgaussiancopula": "DPGaussianCopula", "aim": "AIM"}
_PARAMS = {"mst": {"delta": 1e-9}, "aim": {"delta": 1e-9, "max_model_size": 1.0}}


def write_parquet(rows: int, path: Path) -> float:
    """``rows`` census records to ``path`` in 1M-row chunks; seconds taken."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    import privsynth as ps

    start, writer, chunk = time.perf_counter(), None, 1_000_000
    for i in range(0, rows, chunk):
        df, domain = ps.datasets.make_census(min(chunk, rows - i), random_state=i // chunk)
        table = pa.Table.from_pandas(df.astype({c.name: str for c in domain if c.kind != "numeric"}), preserve_index=False)
        writer = writer or pq.ParquetWriter(path, table.schema, compression="zstd")
        writer.write_table(table, row_group_size=chunk)
    writer.close()
    return time.perf_counter() - start


def fit_once(name: str, source: str, engine: str) -> dict:
    """One fit (run in a child process: ``python scale.py --child``)."""
    import privsynth as ps

    domain = ps.datasets.census_domain()
    if engine == "pandas":
        import pandas as pd

        data = pd.read_parquet(source)
    else:
        data = source
    cls = getattr(ps.synthesizers, SYNTHESIZERS[name])
    params = {"progress": False} if "progress" in cls._param_names() else {}
    t0 = time.perf_counter()
    syn = cls(epsilon=1.0, random_state=0, **_PARAMS.get(name, {}), **params).fit(data, domain)
    fit_s = time.perf_counter() - t0
    sample = syn.sample(10_000, random_state=0)
    return {"fit_s": fit_s, "peak_rss_mb": peak_rss_mb(),
            "epsilon": syn.certificate_.spent.epsilon, "sample_rows": len(sample)}


def peak_rss_mb() -> float:
    """This process's peak RSS (``VmHWM``: unlike ``ru_maxrss`` it is not inherited from the parent across exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_child(name: str, source: str, engine: str, timeout: float) -> dict:
    cmd = [sys.executable, __file__, "--child", name, source, engine]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=True)
    except subprocess.TimeoutExpired:
        return {"error": f"over {timeout:.0f} s"}
    except subprocess.CalledProcessError as exc:
        return {"error": exc.stderr.strip().splitlines()[-1] if exc.stderr.strip() else f"exit {exc.returncode}"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        print(json.dumps(fit_once(sys.argv[2], sys.argv[3], sys.argv[4])))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=float, nargs="+", default=[1e6, 1e7, 1e8])
    parser.add_argument("--synthesizers", nargs="+", default=["privbayes", "mst", "independent", "dpgaussiancopula"],
                        choices=list(SYNTHESIZERS))
    parser.add_argument("--folder", default="/tmp/privsynth-scale", help="where the Parquet files are written (and reused)")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per fit before it is recorded as too slow")
    parser.add_argument("--name", default="scale")
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args()
    folder = Path(args.folder)
    folder.mkdir(parents=True, exist_ok=True)
    results = []
    sizes = [int(r) for r in args.rows]
    for rows in sizes:
        path = folder / f"census_{rows}.parquet"
        if not path.exists():
            print(f"writing {rows:,} rows to {path} ...", flush=True)
            write_parquet(rows, path)
        engines = ["duckdb"] + (["pandas"] if rows == min(sizes) else [])
        for name in args.synthesizers:
            for engine in engines:
                got = run_child(name, str(path), engine, args.timeout)
                results.append({"rows": rows, "synthesizer": name, "engine": engine, "file_mb": path.stat().st_size / 2**20, **got})
                print(json.dumps(results[-1]), flush=True)
    meta = {"machine": platform.machine(), "cpus": os.cpu_count(), "python": platform.python_version(),
            "duckdb_memory_limit": os.environ.get("PRIVSYNTH_DUCKDB_MEMORY", "1GB")}
    out = Path(args.out)
    (out / f"{args.name}.json").write_text(json.dumps({"meta": meta, "results": results}, indent=2))
    (out / f"{args.name}.md").write_text(markdown(results, sizes, meta))
    print((out / f"{args.name}.md").read_text())


def markdown(results: list[dict], sizes: list[int], meta: dict) -> str:
    lines = ["# Scale curve: fits from Parquet through DuckDB (`python benchmarks/scale.py`)", "",
             f"{meta['cpus']} CPUs, DuckDB memory limit {meta['duckdb_memory_limit']}, epsilon 1, seed 0; each fit in a fresh "
             "process (peak RSS = the fit's, imports included). `x 1M`: time over the same synthesizer's DuckDB time at "
             f"{min(sizes):,} rows.", "",
             "| synthesizer | rows | engine | fit s | x 1M | peak RSS MB |", "|---|---:|---|---:|---:|---:|"]
    base = {r["synthesizer"]: r.get("fit_s") for r in results if r["rows"] == min(sizes) and r["engine"] == "duckdb"}
    for r in results:
        if "error" in r:
            lines.append(f"| {r['synthesizer']} | {r['rows']:,} | {r['engine']} | {r['error']} | | |")
            continue
        ratio = r["fit_s"] / base[r["synthesizer"]] if base.get(r["synthesizer"]) else float("nan")
        lines.append(f"| {r['synthesizer']} | {r['rows']:,} | {r['engine']} | {r['fit_s']:.1f} | {ratio:.1f} | "
                     f"{r['peak_rss_mb']:.0f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
