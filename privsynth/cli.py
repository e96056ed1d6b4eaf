"""The ``privsynth`` command: fit, sample, certificate, verify, keygen, demo, report.

Exit codes: 0 success; 1 a certificate or model file failed verification or the trust policy
(unsigned, untrusted signer, over ``--max-epsilon``); 2 bad arguments or bad input (a clear
one-line message, no traceback).
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path
from typing import Sequence

from privsynth.core.domain import Domain
from privsynth.core.errors import IntegrityError, PrivsynthError
from privsynth.core.io import file_sha256

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class _Failure(Exception):
    """Verification failed (exit 1)."""


def _read_document(path: Path) -> dict:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise IntegrityError(f"{str(path)!r} is not a privsynth certificate (invalid JSON: {exc}).") from None
    if not isinstance(doc, dict):
        raise IntegrityError(f"{str(path)!r} is not a privsynth certificate.")
    return doc


def _cmd_fit(args: argparse.Namespace) -> int:
    from privsynth.datasets.loaders import read_table
    from privsynth.synthesizers import synthesizer_class

    domain = Domain.from_file(args.domain)
    read_kwargs = {"sep": args.sep} if args.sep else {}
    data = read_table(args.data, domain, clip=args.clip, na_values=args.na_values or (), encoding=args.encoding, **read_kwargs)
    cls = synthesizer_class(args.synthesizer)
    params = {} if args.delta is None else {"delta": args.delta}  # default: the synthesizer's own (0, 1e-9 or 1e-5)
    synth = cls(epsilon=args.epsilon, accountant=args.accountant, random_state=args.seed, secure=args.secure, **params)
    synth.fit(data, domain)
    path = synth.save(args.out, sign_key=args.sign_key)
    print(synth.certificate_.summary())
    signed = f", signed by {_key_id(args.sign_key)}" if args.sign_key else ""
    print(f"model written to {path} (sha256 {file_sha256(path)}{signed})")
    return EXIT_OK


def _key_id(private_key_path: str) -> str:
    from privsynth.core.signing import key_id, load_private_key

    return key_id(load_private_key(private_key_path).public_key())


def _cmd_sample(args: argparse.Namespace) -> int:
    from privsynth.synthesizers.base import load

    synth = load(args.model, trusted_keys=args.trusted_key, max_epsilon=args.max_epsilon)
    out = Path(args.out)
    df = synth.sample(args.n, random_state=args.seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() in (".parquet", ".pq"):
        df.to_parquet(out, index=False)
    else:
        df.to_csv(out, index=False)
    cert_path = out.with_name(out.stem + ".certificate.json")
    release = {"file": out.name, "sha256": file_sha256(out), "rows": int(args.n), "model_sha256": file_sha256(args.model),
               "sample_seed": args.seed}
    synth.certificate_.to_file(cert_path, release=release, sign_key=args.sign_key)
    print(f"{args.n} synthetic records written to {out}; certificate to {cert_path}")
    return EXIT_OK


def _cmd_certificate(args: argparse.Namespace) -> int:
    from privsynth.privacy.certificate import Certificate
    from privsynth.synthesizers.base import load

    path = Path(args.path)
    if not path.is_file():
        raise FileNotFoundError(f"{str(path)!r} does not exist.")
    cert = Certificate.from_dict(_read_document(path)) if path.suffix == ".json" else load(path).certificate_
    print(cert.to_json() if args.json else cert.summary())
    return EXIT_OK


def _cmd_verify(args: argparse.Namespace) -> int:
    from privsynth.privacy.certificate import Certificate, check_document_signature, check_policy, verify
    from privsynth.synthesizers.base import load

    path = Path(args.path)
    if not path.is_file():
        raise FileNotFoundError(f"{str(path)!r} does not exist.")
    trusted = args.trusted_key
    if path.suffix == ".json":
        doc = _read_document(path)
        signer = check_document_signature(doc, trusted, what=f"Certificate {str(path)!r}")
        cert = Certificate.from_dict(doc)
        _check_release_file(path, doc.get("release"))
    else:
        model = load(path, trusted_keys=trusted)
        cert, signer = model.certificate_, model.signed_by_
        print(f"model file hashes OK (file sha256 {file_sha256(path)})")
    if signer is None:
        print("not signed (pass --trusted-key to require a signature by a key you trust)")
    else:
        vouched = " (a trusted key)" if trusted else " (signature valid; no --trusted-key given, so the signer is not vouched for)"
        print(f"signed by {signer}{vouched}")
    check_policy(cert, max_epsilon=args.max_epsilon, require_valid=args.require_valid, what=f"{str(path)!r}")
    result = verify(cert)
    print(f"recomputed epsilon={result.recomputed_epsilon:.9g}, claimed epsilon={result.claimed_epsilon:.9g} "
          f"(limit {cert.limit.epsilon:.9g}, delta {cert.limit.delta:.3g}, accountant {cert.accountant.get('name')})")
    if not result.ok:
        for problem in result.problems:
            print(f"FAILED: {problem}")
        raise _Failure("verification failed")
    print("VERIFIED")
    return EXIT_OK


def _check_release_file(cert_path: Path, release: object) -> None:
    """If the certificate names its data file and the file is beside it, its hash must match."""
    if not isinstance(release, dict) or not release.get("file"):
        return
    data = cert_path.with_name(str(release["file"]))
    if not data.is_file():
        print(f"release data {data.name!r} not found beside the certificate; its hash was not checked")
        return
    if file_sha256(data) != release.get("sha256"):
        raise IntegrityError(f"The release data {str(data)!r} does not match the sha256 in its certificate: it was changed.")
    print(f"release data {data.name!r} matches the certificate ({release.get('rows')} rows)")


def _cmd_keygen(args: argparse.Namespace) -> int:
    from privsynth.core.signing import generate_keypair

    private, public, kid = generate_keypair(args.out)
    print(f"key {kid}\n  private: {private} (keep it secret: it signs releases)\n  public:  {public} (give it to whoever must trust them)")
    return EXIT_OK


def _cmd_demo(args: argparse.Namespace) -> int:
    from privsynth.datasets import make_census
    from privsynth.evaluation import marginal_tvd
    from privsynth.privacy.certificate import verify
    from privsynth.synthesizers import synthesizer_class

    df, domain = make_census(args.rows, random_state=args.seed)
    print(f"privsynth demo: built-in census data ({args.rows} records, {len(domain)} columns), "
          f"synthesizer {args.synthesizer}, as many synthetic records as its DP record count")
    for eps in args.epsilons:
        synth = synthesizer_class(args.synthesizer)(epsilon=eps).fit(df, domain)
        out = synth.sample(max(1, synth.n_hat_))
        cert = synth.certificate_
        tvd1 = marginal_tvd(df, out, domain, order=1).average
        tvd2 = marginal_tvd(df, out, domain, order=2).average
        status = "verified" if verify(cert).ok else "NOT VERIFIED"
        print(f"epsilon={eps:<6g} spent epsilon={cert.spent.epsilon:.4f} delta={cert.spent.delta:.1g} "
              f"({len(cert.entries)} mechanism calls, certificate {status})  1-way TVD={tvd1:.3f}  2-way TVD={tvd2:.3f}")
    return EXIT_OK


def _cmd_report(args: argparse.Namespace) -> int:
    from privsynth.report import write_report

    result = write_report(args.sweep_dir, args.out)
    print(f"{len(result.table)} runs -> {result.csv}, {result.markdown}; {len(result.plots)} plots")
    for run in result.flagged:
        print(f"FLAGGED (certificate does not verify): {run}")
    for run in result.unfinished:
        print(f"unfinished (ignored): {run}")
    return EXIT_FAILED if result.flagged else EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    from privsynth.synthesizers.names import ALL_NAMES, BASIC_NAMES

    parser = argparse.ArgumentParser(
        prog="privsynth",
        description="Differentially private synthetic data with verifiable certificates.",
        epilog="Exit codes: 0 success, 1 verification failed, 2 bad arguments or input.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("fit", help="fit a synthesizer on a CSV/Parquet file under a declared domain")
    p.add_argument("--data", required=True, help="CSV or Parquet file with the private records")
    p.add_argument("--domain", required=True, help="public domain file (.yaml or .json)")
    p.add_argument("--synthesizer", choices=list(ALL_NAMES), default="privbayes")
    p.add_argument("--epsilon", type=float, required=True)
    p.add_argument("--delta", type=float, default=None,
                   help="default: the synthesizer's own -- 0 (pure DP), 1e-9 for mst/aim, 1e-5 for dpvae/dpgan")
    p.add_argument("--accountant", choices=["rdp", "pld"], default="rdp")
    p.add_argument("--seed", type=int, default=None,
                   help="SECRET seed that makes the fit reproducible (research only): written nowhere, and the guarantee "
                        "holds only while it stays secret; omit it for fresh OS entropy")
    p.add_argument("--secure", action="store_true", help="exact samplers on the OS CSPRNG for every private draw (final releases)")
    p.add_argument("--clip", action="store_true", help="clip numbers to the domain's public bounds instead of failing")
    p.add_argument("--sep", default=None, help="CSV separator (default ',')")
    p.add_argument("--na-values", action="append", default=None, help="extra strings meaning 'missing' (repeatable)")
    p.add_argument("--encoding", default="utf-8", help="text encoding of a CSV (default utf-8; e.g. latin-1)")
    p.add_argument("--sign-key", default=None, help="Ed25519 private key (privsynth keygen) to sign the model file with")
    p.add_argument("--out", required=True, help="model file to write (e.g. adult.privsynth)")
    p.set_defaults(func=_cmd_fit)

    p = sub.add_parser("sample", help="sample records from a model file; writes the certificate beside them")
    p.add_argument("model")
    p.add_argument("-n", type=int, required=True, help="number of records")
    p.add_argument("--out", required=True, help="output .csv or .parquet")
    p.add_argument("--seed", type=int, default=None, help="public sampling seed (recorded); omit for new rows every call")
    p.add_argument("--trusted-key", action="append", default=None, help="refuse a model not signed by this public key (repeatable)")
    p.add_argument("--max-epsilon", type=float, default=None, help="refuse a model that spends more")
    p.add_argument("--sign-key", default=None, help="Ed25519 private key to sign the certificate of the sample with")
    p.set_defaults(func=_cmd_sample)

    p = sub.add_parser("certificate", help="print the certificate of a model file or certificate JSON")
    p.add_argument("path")
    p.add_argument("--json", action="store_true", help="print the full JSON")
    p.set_defaults(func=_cmd_certificate)

    p = sub.add_parser("verify", help="check a model file or certificate: hashes, signature, recomputed epsilon")
    p.add_argument("path", help="model file or certificate JSON")
    p.add_argument("--trusted-key", action="append", default=None,
                   help="public key (.pub) whose signature you trust; the file must be signed by one (repeatable)")
    p.add_argument("--max-epsilon", type=float, default=None, help="fail if the recomputed epsilon is above this")
    p.add_argument("--require-valid", action="store_true", help="fail on an invalid certificate (inferred domain, leaks)")
    p.set_defaults(func=_cmd_verify)

    p = sub.add_parser("keygen", help="create an Ed25519 key pair for signing releases")
    p.add_argument("--out", required=True, help="path prefix: writes PREFIX.key (private) and PREFIX.pub (public)")
    p.set_defaults(func=_cmd_keygen)

    p = sub.add_parser("demo", help="fit on the built-in data at a few epsilons and print certificates and fidelity")
    p.add_argument("--rows", type=int, default=5000)
    p.add_argument("--epsilons", type=float, nargs="+", default=[0.3, 1.0, 3.0])
    p.add_argument("--synthesizer", choices=list(BASIC_NAMES), default="privbayes")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("report", help="collect a sweep's runs into a table and trade-off plots")
    p.add_argument("sweep_dir", help="folder of a sweep (e.g. multirun/default)")
    p.add_argument("--out", default=None, help="where to write (default SWEEP_DIR/report)")
    p.set_defaults(func=_cmd_report)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``privsynth`` command; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("default")
            return int(args.func(args))
    except _Failure:
        return EXIT_FAILED
    except IntegrityError as exc:
        print(f"privsynth: error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except (PrivsynthError, FileNotFoundError, FileExistsError, ValueError, TypeError, ImportError, json.JSONDecodeError) as exc:
        print(f"privsynth: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
