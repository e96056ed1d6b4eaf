"""The model file format: one zip of JSON documents and one ``.npz`` of plain arrays, with a
manifest of sha256 hashes. Nothing is ever pickled or unpickled.

Layout (format ``privsynth-model``, version 2)::

    manifest.json      {"format", "format_version", "files": {member: sha256}}
    <name>.json        one per document (model, certificate, domain, ...)
    arrays.npz         numeric arrays, loaded with allow_pickle=False
    signature.json     optional: an Ed25519 signature of manifest.json's bytes (privsynth.core.signing),
                       so it covers every member -- the model, its certificate and its domain

Version 1 files (no signature member) are still read. :func:`read_bundle` refuses -- with
:class:`IntegrityError` -- anything that is not a zip, lacks
or has an unknown manifest, has a member whose hash differs, has members not in the manifest,
or contains a pickle. The zip itself is written canonically (stored, fixed timestamps, sorted
members), so the same model gives the same bytes and a change to *any* byte -- content or zip
metadata -- is detected: the file must equal the canonical layout of its own members.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from privsynth.core.errors import IntegrityError
from privsynth.core.signing import KeyLike, sign

__all__ = ["Bundle", "write_bundle", "open_bundle", "read_bundle", "MODEL_FORMAT", "FORMAT_VERSION", "file_sha256"]

MODEL_FORMAT = "privsynth-model"
FORMAT_VERSION = 2
_READABLE_VERSIONS = (1, 2)
_ARRAYS = "arrays.npz"
_MANIFEST = "manifest.json"
_SIGNATURE = "signature.json"
_MAX_MEMBER_BYTES = 4 * 2**30
_PICKLE_SUFFIXES = (".pkl", ".pickle", ".pt", ".pth", ".joblib")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_sha256(path: str | Path) -> str:
    """sha256 of a whole file (e.g. to pin a model file you publish)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _npz_bytes(arrays: Mapping[str, np.ndarray]) -> bytes:
    clean = {}
    for name, arr in arrays.items():
        a = np.asarray(arr)
        if a.dtype == object:
            raise TypeError(f"Array {name!r} has dtype object, which would need pickle; store numbers or strings.")
        clean[name] = a
    buf = io.BytesIO()
    np.savez(buf, **clean)  # type: ignore[arg-type]  # numpy's stub types the keyword arrays as a flag
    return buf.getvalue()


@dataclass(frozen=True)
class Bundle:
    """A verified model file: its documents, arrays, the manifest's bytes (what a signature
    covers) and the signature document, if any."""

    documents: dict
    arrays: dict
    manifest: bytes
    signature: dict | None = None


def write_bundle(path: str | Path, *, documents: Mapping[str, Mapping[str, Any]], arrays: Mapping[str, np.ndarray],
                 sign_key: KeyLike | None = None) -> Path:
    """Write JSON ``documents`` and ``arrays`` to a model file at ``path`` (atomically), signed
    with the Ed25519 ``sign_key`` if given.

    Example:
        >>> import tempfile, os
        >>> p = os.path.join(tempfile.mkdtemp(), "m.privsynth")
        >>> _ = write_bundle(p, documents={"model": {"a": 1}}, arrays={"x": np.arange(3)})
        >>> docs, arrs = read_bundle(p)
        >>> docs["model"], arrs["x"].tolist()
        ({'a': 1}, [0, 1, 2])
    """
    path = Path(path)
    members: dict[str, bytes] = {}
    for name, doc in documents.items():
        if not name.isidentifier():
            raise ValueError(f"Document names must be identifiers, got {name!r}.")
        members[f"{name}.json"] = json.dumps(doc, indent=1, sort_keys=True, allow_nan=True).encode("utf-8")
    members[_ARRAYS] = _npz_bytes(arrays)
    manifest = {
        "format": MODEL_FORMAT,
        "format_version": FORMAT_VERSION,
        "files": {name: _sha256(data) for name, data in members.items()},
    }
    members[_MANIFEST] = json.dumps(manifest, indent=1, sort_keys=True).encode("utf-8")
    if sign_key is not None:
        members[_SIGNATURE] = json.dumps(sign(members[_MANIFEST], sign_key), indent=1, sort_keys=True).encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(_canonical_zip(members))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _canonical_zip(members: Mapping[str, bytes]) -> bytes:
    """The one byte layout privsynth writes for these members: manifest first, then sorted
    names, stored (uncompressed), fixed timestamps and attributes."""
    order = [_MANIFEST] + sorted(n for n in members if n != _MANIFEST)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        for name in order:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED
            info.external_attr = 0o644 << 16
            info.create_system = 3
            zf.writestr(info, members[name])
    return buf.getvalue()


def _looks_like_pickle(name: str, data: bytes) -> bool:
    return name.lower().endswith(_PICKLE_SUFFIXES) or (len(data) > 1 and data[0] == 0x80 and data[1] <= 5)


def read_bundle(path: str | Path) -> tuple[dict[str, dict[str, Any]], dict[str, np.ndarray]]:
    """Read and verify a model file; returns ``(documents, arrays)`` (see :func:`open_bundle`)."""
    bundle = open_bundle(path)
    return bundle.documents, bundle.arrays


def open_bundle(path: str | Path) -> Bundle:
    """Read and verify a model file's hashes and layout.

    A signature, if present, is returned for :func:`privsynth.core.signing.check_signature`;
    this function does not judge it.

    Raises:
        IntegrityError: the file is missing, not a zip, of an unknown format or version,
            tampered with (a hash differs, members added or removed), or contains a pickle.
    """
    path = Path(path)
    if not path.is_file():
        raise IntegrityError(f"Model file {str(path)!r} does not exist.")
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            for info in infos:
                if info.file_size > _MAX_MEMBER_BYTES:
                    raise IntegrityError(f"Member {info.filename!r} is implausibly large; refusing to read it.")
            names = [i.filename for i in infos]
            if _MANIFEST not in names:
                raise IntegrityError(f"{str(path)!r} has no manifest.json: it is not a privsynth model file.")
            blobs = {name: zf.read(name) for name in names}
        raw = path.read_bytes()
    except IntegrityError:
        raise
    except zipfile.BadZipFile as exc:
        raise IntegrityError(f"{str(path)!r} is not a valid privsynth model file (bad zip: {exc}).") from None
    except Exception as exc:  # noqa: BLE001 - a corrupt zip raises zlib, struct, OS and other errors
        raise IntegrityError(f"{str(path)!r} is corrupt ({type(exc).__name__}: {exc}).") from None
    for name, data in blobs.items():
        if _looks_like_pickle(name, data):
            raise IntegrityError(
                f"{str(path)!r} contains a pickle ({name!r}); privsynth never unpickles, since "
                "unpickling runs arbitrary code. Re-save the model with privsynth."
            )
    raw_manifest = blobs.pop(_MANIFEST)
    try:
        manifest = json.loads(raw_manifest)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise IntegrityError("manifest.json is not valid JSON.") from None
    if not isinstance(manifest, dict) or manifest.get("format") != MODEL_FORMAT:
        found = manifest.get("format") if isinstance(manifest, dict) else None
        raise IntegrityError(f"Unknown file format {found!r}; expected {MODEL_FORMAT!r}.")
    version = manifest.get("format_version")
    if version not in _READABLE_VERSIONS:
        raise IntegrityError(
            f"Model format version {version!r} is not supported by this privsynth (it reads versions "
            f"{', '.join(map(str, _READABLE_VERSIONS))}); upgrade privsynth or re-save the model."
        )
    raw_signature = blobs.pop(_SIGNATURE, None) if version >= 2 else None
    expected = manifest.get("files")
    if not isinstance(expected, dict) or set(expected) != set(blobs):
        raise IntegrityError("The model file's members do not match its manifest (files were added or removed).")
    for name, data in blobs.items():
        if _sha256(data) != expected[name]:
            raise IntegrityError(f"Member {name!r} does not match its sha256 in the manifest: the file was modified.")
    layout = {**blobs, _MANIFEST: raw_manifest, **({_SIGNATURE: raw_signature} if raw_signature is not None else {})}
    if _canonical_zip(layout) != raw:
        raise IntegrityError("The file's zip layout differs from the one privsynth writes: it was modified or repacked.")
    signature = None
    if raw_signature is not None:
        try:
            signature = json.loads(raw_signature)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise IntegrityError("signature.json is not valid JSON.") from None
        if not isinstance(signature, dict):
            raise IntegrityError("signature.json must hold a JSON object.")
    documents: dict[str, dict[str, Any]] = {}
    for name, data in blobs.items():
        if name.endswith(".json"):
            try:
                documents[name[: -len(".json")]] = json.loads(data)
            except (json.JSONDecodeError, UnicodeDecodeError):
                raise IntegrityError(f"{name!r} is not valid JSON.") from None
    if _ARRAYS not in blobs:
        raise IntegrityError("The model file has no arrays.npz.")
    try:
        with np.load(io.BytesIO(blobs[_ARRAYS]), allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except ValueError as exc:
        raise IntegrityError(f"arrays.npz holds something that is not a plain array ({exc}).") from None
    return Bundle(documents=documents, arrays=arrays, manifest=raw_manifest, signature=signature)
