"""Ed25519 signatures for model files and certificates (the ``cryptography`` package).

The sha256 manifest of a model file only detects accidental change: anyone can write a new file
with a smaller epsilon and consistent hashes. A signature by a key the reader trusts closes that
gap. Keys are PEM files: ``privsynth keygen --out NAME`` writes ``NAME.key`` (private, mode 0600:
keep it secret) and ``NAME.pub`` (public: give it to whoever must trust your releases).

A signature is a small JSON document::

    {"algorithm": "ed25519", "key_id": "ed25519:<sha256 of the raw public key, 32 hex>",
     "public_key": "<base64 raw key>", "signature": "<base64>"}

It names the signer's public key, but a reader decides trust by its *own* list of trusted keys,
never by the key a file carries: :func:`check_signature` verifies with the trusted key whose id
matches, and refuses a file signed by anyone else.
"""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path
from typing import Any, Iterable, Mapping, Union

from privsynth.core.errors import IntegrityError, TrustError

__all__ = [
    "ALGORITHM",
    "generate_keypair",
    "load_private_key",
    "load_public_key",
    "key_id",
    "sign",
    "check_signature",
    "KeyLike",
]

ALGORITHM = "ed25519"
KeyLike = Union[str, os.PathLike, bytes, Any]


def _crypto():
    try:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ed25519
    except ImportError as exc:  # pragma: no cover - cryptography is a core dependency
        raise ImportError("Signing needs the 'cryptography' package: pip install cryptography.") from exc
    return ed25519, serialization, InvalidSignature


def _raw_public(public_key: Any) -> bytes:
    _, serialization, _ = _crypto()
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(public_key: Any) -> str:
    """A short stable name for a public key: ``ed25519:`` + the first 32 hex digits of the
    sha256 of its raw bytes."""
    return f"{ALGORITHM}:" + hashlib.sha256(_raw_public(public_key)).hexdigest()[:32]


def generate_keypair(prefix: str | os.PathLike, *, overwrite: bool = False) -> tuple[Path, Path, str]:
    """Write a new Ed25519 key pair: ``<prefix>.key`` (private PEM, mode 0600) and ``<prefix>.pub``.

    Returns:
        ``(private_path, public_path, key_id)``.

    Raises:
        FileExistsError: a file of that name exists and ``overwrite`` is false.

    Example:
        >>> import tempfile, os
        >>> key, pub, kid = generate_keypair(os.path.join(tempfile.mkdtemp(), "release"))
        >>> kid.startswith("ed25519:") and key_id(load_public_key(pub)) == kid
        True
    """
    ed25519, serialization, _ = _crypto()
    prefix = Path(prefix)
    private_path, public_path = prefix.with_name(prefix.name + ".key"), prefix.with_name(prefix.name + ".pub")
    for path in (private_path, public_path):
        if path.exists() and not overwrite:
            raise FileExistsError(f"{str(path)!r} exists; choose another name or delete it first (keys are never overwritten silently).")
    key = ed25519.Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    public_pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    private_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(private_pem)
    public_path.write_bytes(public_pem)
    return private_path, public_path, key_id(key.public_key())


def load_private_key(spec: KeyLike) -> Any:
    """An Ed25519 private key from a PEM file path, PEM bytes, or a key object."""
    ed25519, serialization, _ = _crypto()
    if isinstance(spec, ed25519.Ed25519PrivateKey):
        return spec
    data = spec if isinstance(spec, bytes) else _read(spec, "signing key")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise IntegrityError(f"Could not read the signing key ({exc}); pass the .key file written by `privsynth keygen`.") from None
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise IntegrityError(f"The signing key is a {type(key).__name__}; privsynth signs with Ed25519 keys (`privsynth keygen`).")
    return key


def load_public_key(spec: KeyLike) -> Any:
    """An Ed25519 public key from a PEM file path (``.pub``), PEM bytes, 32 raw bytes, or a key object."""
    ed25519, serialization, _ = _crypto()
    if isinstance(spec, ed25519.Ed25519PublicKey):
        return spec
    if isinstance(spec, ed25519.Ed25519PrivateKey):
        return spec.public_key()
    data = spec if isinstance(spec, bytes) else _read(spec, "trusted key")
    try:
        key = ed25519.Ed25519PublicKey.from_public_bytes(data) if len(data) == 32 else serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        raise IntegrityError(f"Could not read the trusted key ({exc}); pass the .pub file written by `privsynth keygen`.") from None
    if not isinstance(key, ed25519.Ed25519PublicKey):
        raise IntegrityError(f"The trusted key is a {type(key).__name__}; privsynth verifies Ed25519 keys (`privsynth keygen`).")
    return key


def _read(path: Any, what: str) -> bytes:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"The {what} file {str(path)!r} does not exist.")
    return path.read_bytes()


def sign(payload: bytes, private_key: KeyLike) -> dict[str, str]:
    """Sign ``payload`` with an Ed25519 private key; returns the signature document."""
    key = load_private_key(private_key)
    public = key.public_key()
    return {
        "algorithm": ALGORITHM,
        "key_id": key_id(public),
        "public_key": base64.b64encode(_raw_public(public)).decode("ascii"),
        "signature": base64.b64encode(key.sign(payload)).decode("ascii"),
    }


def check_signature(payload: bytes, signature: Mapping[str, Any] | None, trusted_keys: Iterable[KeyLike] | None, *,
                    what: str = "the file") -> str | None:
    """Check ``signature`` over ``payload``; returns the signer's key id (``None`` if unsigned and
    no trust was asked for).

    With ``trusted_keys=None`` a signature is checked against the key it carries (it detects
    tampering, not who signed). With a list of trusted keys, the file must be signed by one of
    them.

    Raises:
        TrustError: trust was asked for and the file is unsigned or signed by an untrusted key.
        IntegrityError: the signature is malformed or does not match the payload (the file was
            changed after signing).
    """
    trusted = None if trusted_keys is None else [load_public_key(k) for k in trusted_keys]
    if signature is None:
        if trusted is not None:
            raise TrustError(f"{what} is not signed, so it cannot be trusted; sign it with `--sign-key` (privsynth keygen) "
                             "or load it without trusted_keys.")
        return None
    ed25519, _, InvalidSignature = _crypto()
    try:
        if signature.get("algorithm") != ALGORITHM:
            raise ValueError(f"unknown algorithm {signature.get('algorithm')!r}")
        carried = ed25519.Ed25519PublicKey.from_public_bytes(base64.b64decode(signature["public_key"], validate=True))
        raw_sig = base64.b64decode(signature["signature"], validate=True)
        claimed_id = str(signature["key_id"])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise IntegrityError(f"{what} has a malformed signature ({exc}).") from None
    if key_id(carried) != claimed_id:
        raise IntegrityError(f"{what} has a signature whose key id does not match its key: it was tampered with.")
    if trusted is None:
        key = carried
    else:
        matches = [k for k in trusted if key_id(k) == claimed_id]
        if not matches:
            raise TrustError(f"{what} is signed by {claimed_id}, which is not among the trusted keys "
                             f"({', '.join(key_id(k) for k in trusted) or 'none given'}).")
        key = matches[0]
    try:
        key.verify(raw_sig, payload)
    except InvalidSignature:
        raise IntegrityError(f"{what}'s signature by {claimed_id} does not match its contents: it was changed after signing.") from None
    return claimed_id
