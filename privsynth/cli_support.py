"""What every ``privsynth`` command shares: exit codes, the failures they map to, small checks."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from privsynth.core.errors import IntegrityError

__all__ = ["EXIT_OK", "EXIT_FAILED", "EXIT_USAGE", "Failure", "read_document", "warn", "existing", "port_free", "key_id_of"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class Failure(Exception):
    """Verification failed (exit 1)."""


def read_document(path: Path) -> dict:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise IntegrityError(f"{str(path)!r} is not a privsynth certificate (invalid JSON: {exc}).") from None
    if not isinstance(doc, dict):
        raise IntegrityError(f"{str(path)!r} is not a privsynth certificate.")
    return doc


def warn(message: str) -> None:
    print(f"privsynth: warning: {message}", file=sys.stderr)


def existing(path: str, what: str, *, folder_ok: bool = False) -> Path:
    """``path`` if it is a file (or, with ``folder_ok``, a folder); a missing one is bad input
    (exit 2), the same for every command."""
    found = Path(path)
    if not (found.is_file() or (folder_ok and found.is_dir())):
        raise FileNotFoundError(f"{what} {path!r} does not exist{' (it is a folder)' if found.is_dir() else ''}.")
    return found


def port_free(host: str, port: int) -> None:
    """A port another process listens on is bad input (exit 2), found before the models load."""
    import socket

    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
            s.bind((host, port))
    except OSError as exc:
        raise ValueError(f"--host {host} --port {port}: cannot listen there ({exc.strerror}); choose another port.") from None


def key_id_of(private_key_path: str) -> str:
    """The key id of a private key file (for a 'signed by' line)."""
    from privsynth.core.signing import key_id, load_private_key

    return key_id(load_private_key(private_key_path).public_key())
