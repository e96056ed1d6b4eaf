"""``privsynth verify``: a model file or a release certificate -- hashes, signature, the recomputed
spend, and for a release its data file and the model file it names."""

from __future__ import annotations

import argparse
from pathlib import Path

from privsynth.cli_relational import is_database_model
from privsynth.cli_support import EXIT_OK, Failure, existing, read_document
from privsynth.core.errors import IntegrityError
from privsynth.core.io import file_sha256
from privsynth.privacy.accountants import NEIGHBOURING_PERSON

__all__ = ["cmd_verify"]


def cmd_verify(args: argparse.Namespace) -> int:
    from privsynth.privacy.certificate import Certificate, check_document_signature, check_policy, verify
    from privsynth.relational import load as load_database
    from privsynth.relational import verify_database
    from privsynth.synthesizers.model_file import load

    path = existing(args.path, "file")
    trusted = args.trusted_key
    if path.suffix == ".json":
        doc = read_document(path)
        signer = check_document_signature(doc, trusted, what=f"Certificate {str(path)!r}")
        cert = Certificate.from_dict(doc)
        _check_release_file(path, doc.get("release"))
        _check_model_beside(path, doc.get("release"), cert)
    else:
        loader = load_database if is_database_model(path) else load
        model = loader(path, trusted_keys=trusted, max_delta=None)  # the policy is checked below, with the rest
        cert, signer = model.certificate_, model.signed_by_
        print(f"model file hashes OK (file sha256 {file_sha256(path)})")
    if signer is None:
        print("not signed (pass --trusted-key to require a signature by a key you trust)")
    else:
        vouched = " (a trusted key)" if trusted else " (signature valid; no --trusted-key given, so the signer is not vouched for)"
        print(f"signed by {signer}{vouched}")
    result = verify(cert)
    print(f"recomputed epsilon={result.recomputed_epsilon:.9g} at delta={result.recomputed_delta:.3g}, claimed epsilon="
          f"{result.claimed_epsilon:.9g} (limit {cert.limit.epsilon:.9g}, delta {cert.limit.delta:.3g}, accountant "
          f"{cert.accountant.get('name')})")
    problems = list(result.problems)
    if cert.neighbouring == NEIGHBOURING_PERSON:  # a database: its events must be the tables' own, at person level
        database = verify_database(cert)
        problems += [p for p in database.problems if p not in problems]
        if database.ok:
            bounds = ", ".join(f"{t} {info.get('rows_per_person')}" for t, info in cert.parameters.get("tables", {}).items())
            print(f"person level: the events are the tables' row-level charges at their rows per person ({bounds})")
    if problems:
        for problem in problems:
            print(f"FAILED: {problem}")
        raise Failure("verification failed")
    check_policy(cert, max_epsilon=args.max_epsilon, max_delta=args.max_delta, require_valid=args.require_valid, what=f"{str(path)!r}")
    if signer is not None and trusted:
        print(f"VERIFIED: consistent, and authentic (signed by the trusted key {signer})")
    else:
        why = "it is not signed" if signer is None else "its signer is not one you named with --trusted-key"
        print(f"CONSISTENT, NOT AUTHENTICATED: the events compose to the claimed epsilon, but {why}, and anyone can write a "
              "consistent certificate with any epsilon. Pass --trusted-key KEY.pub to check who wrote it.")
    return EXIT_OK


def _check_release_file(cert_path: Path, release: object) -> None:
    """If the certificate names its data file(s) and they are beside it, their hashes must match."""
    if isinstance(release, dict) and isinstance(release.get("tables"), dict):  # a database release: one file per table
        for entry in release["tables"].values():
            _check_release_file(cert_path, entry)
        return
    if not isinstance(release, dict) or not release.get("file"):
        return
    data = cert_path.with_name(str(release["file"]))
    if not data.is_file():
        print(f"release data {data.name!r} not found beside the certificate; its hash was not checked")
        return
    if file_sha256(data) != release.get("sha256"):
        raise IntegrityError(f"The release data {str(data)!r} does not match the sha256 in its certificate: it was changed.")
    print(f"release data {data.name!r} matches the certificate ({release.get('rows')} rows)")


def _check_model_beside(cert_path: Path, release: object, cert) -> None:
    """If the release certificate names the model file it was sampled from and that file is
    beside it, the file must match the recorded sha256 and carry the same certificate."""
    from privsynth.relational import load as load_database
    from privsynth.synthesizers.model_file import load

    if not isinstance(release, dict) or not release.get("model"):
        return
    model_path = cert_path.with_name(Path(str(release["model"])).name)
    if not model_path.is_file():
        print(f"model file {model_path.name!r} not found beside the certificate; the two certificates were not compared")
        return
    if release.get("model_sha256") and file_sha256(model_path) != release["model_sha256"]:
        raise IntegrityError(f"The model file {str(model_path)!r} does not match the model_sha256 in the release certificate.")
    model = (load_database if is_database_model(model_path) else load)(model_path, max_delta=None)
    if model.certificate_.to_dict() != cert.to_dict():
        raise IntegrityError(f"The release certificate {str(cert_path)!r} differs from the certificate in the model file "
                             f"{str(model_path)!r} it names: one of them was changed.")
    signer = f", signed by {model.signed_by_}" if model.signed_by_ else ", unsigned"
    print(f"model file {model_path.name!r} matches the release certificate (same sha256, same certificate{signer})")
