"""Precision and recall of identifier/PII detection per kind on generated tables with known columns.

    python benchmarks/pii_detection.py [--rows 1000] [--seeds 3]

Tables come from :func:`privsynth.datasets.make_people` (Faker; locales en_US, en_GB, de_DE, and
en_CA, en_AU, en_IE, nl_NL, it_IT, fr_FR, es_ES whose national-ID column is not scored: Faker's
formats there are not ones the detector claims to know), each once with telling column names and
once with anonymous ones (``c00``...), so the value patterns must carry the detection; plus the
Adult and census tables, where nothing but special-category columns should be flagged. Writes
``benchmarks/results/pii_detection.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from privsynth.datasets import load_adult, make_census
from privsynth.datasets.people import make_people, people_kinds
from privsynth.profiling import KINDS, detect_identifiers

LOCALES = ("en_US", "en_GB", "de_DE")
OTHER_LOCALES = ("en_CA", "en_AU", "en_IE", "nl_NL", "it_IT", "fr_FR", "es_ES")  # national IDs not scored


def tables(rows: int, seeds: int):
    """(name, DataFrame, truth {column: kind or None}) triples."""
    for seed in range(seeds):
        for locale in LOCALES + OTHER_LOCALES:
            for anonymous in (False, True):
                df = make_people(rows, random_state=seed, locale=locale, anonymous_names=anonymous)
                truth = dict(zip(df.columns, people_kinds(locale).values()))
                if locale in OTHER_LOCALES:
                    truth = {c: k for c, k in truth.items() if k != "ssn"}
                yield f"people/{locale}/seed{seed}/{'anonymous' if anonymous else 'named'}", df, truth
    adult, _ = load_adult()
    yield "adult", adult, {c: ("special_category" if c == "race" else None) for c in adult.columns}
    census, _ = make_census(rows, random_state=0)
    yield "census", census, {c: ("special_category" if c in ("race", "diagnosis") else None) for c in census.columns}


def measure(rows: int = 1000, seeds: int = 3) -> dict:
    """Per kind: true positives, false positives, false negatives, precision and recall."""
    tp, fp, fn = Counter(), Counter(), Counter()
    mistakes = []
    for name, df, truth in tables(rows, seeds):
        found = {d.column: d.kind for d in detect_identifiers(df)}
        for column, kind in truth.items():
            got = found.get(column)
            if got == kind and kind is not None:
                tp[kind] += 1
            else:
                if got is not None:
                    fp[got] += 1
                if kind is not None:
                    fn[kind] += 1
                if got != kind:
                    mistakes.append({"table": name, "column": column, "truth": kind, "detected": got})
    out = {}
    for kind in KINDS:
        t, p, n = tp[kind], fp[kind], fn[kind]
        if t + p + n:
            out[kind] = {"tp": t, "fp": p, "fn": n, "precision": t / (t + p) if t + p else None,
                         "recall": t / (t + n) if t + n else None}
    return {"per_kind": out, "mistakes": mistakes, "rows": rows, "seeds": seeds, "locales": list(LOCALES + OTHER_LOCALES)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = parser.parse_args()
    result = measure(args.rows, args.seeds)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "pii_detection.json").write_text(json.dumps(result, indent=1))
    fmt = lambda v: "-" if v is None else f"{v:.2f}"  # noqa: E731
    lines = [f"# PII detection, {args.seeds} seeds x {len(LOCALES) + len(OTHER_LOCALES)} locales x (named, anonymous columns), "
             f"{args.rows} rows each,", "# plus Adult and census (no direct identifiers). `python benchmarks/pii_detection.py`", "",
             "The patterns were tuned on these generators (en_US, en_GB, de_DE first; the other seven locales measured once",
             "before tuning: person_name recall 0.86, postcode 0.43, street_address 0.43, unique_key precision 0.47 -- every miss",
             "but Australian 4-digit postcodes still flagged as a direct identifier), so these are in-sample figures.", "",
             "| kind | TP | FP | FN | precision | recall |", "|---|---|---|---|---|---|"]
    for kind, r in result["per_kind"].items():
        lines.append(f"| {kind} | {r['tp']} | {r['fp']} | {r['fn']} | {fmt(r['precision'])} | {fmt(r['recall'])} |")
    lines += ["", f"Mistakes ({len(result['mistakes'])}):", ""]
    lines += [f"- {m['table']}: `{m['column']}` is {m['truth']}, detected {m['detected']}" for m in result["mistakes"]]
    (out / "pii_detection.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
