"""Model files of single-table synthesizers: :func:`load` (verify, then rebuild) and
:func:`restore_model` (rebuild one fitted synthesizer from its saved document, also used for the
tables of a database model)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

from privsynth.core.domain import Domain
from privsynth.core.errors import DomainError, IntegrityError
from privsynth.core.io import open_bundle
from privsynth.core.signing import KeyLike, check_signature
from privsynth.privacy.budget import MAX_DELTA
from privsynth.privacy.certificate import Certificate, check_policy
from privsynth.synthesizers.names import synthesizer_class

if TYPE_CHECKING:
    from privsynth.synthesizers.base import Synthesizer

__all__ = ["load", "restore_model"]
#: Constructor parameters that are secrets: never read back from a model file.
_SECRET_PARAMETERS = ("random_state",)


def load(path: str | Path, *, trusted_keys: Sequence[KeyLike] | None = None, max_epsilon: float | None = None,
         max_delta: float | None = MAX_DELTA, require_valid: bool = False) -> "Synthesizer":
    """Load a model file written by :meth:`Synthesizer.save`, verifying it first.

    Args:
        path: The model file.
        trusted_keys: Public keys (``.pub`` files of ``privsynth keygen``, or key objects) whose
            signatures you trust. When given, an unsigned file or one signed by another key is
            refused. ``None`` accepts unsigned files (a signature present is still checked).
        max_epsilon: Refuse a model whose certificate, recomputed with a fresh accountant, spends
            more than this (or does not verify).
        max_delta: Refuse a model whose guarantee holds only at a larger delta (default
            :data:`~privsynth.privacy.budget.MAX_DELTA`, 1e-4; ``None``: any), or whose
            certificate's arithmetic does not hold.
        require_valid: Refuse a model whose certificate is not valid (inferred domain, leaks).

    Raises:
        IntegrityError: the file is corrupt, tampered with (the signature no longer matches
            included), unsafe, of an unknown format, or names a synthesizer this privsynth does
            not know.
        TrustError: the file fails the trust policy above.
    """
    bundle = open_bundle(path)
    signer = check_signature(bundle.manifest, bundle.signature, trusted_keys, what=f"Model file {str(path)!r}")
    documents, arrays = bundle.documents, bundle.arrays
    if documents.get("model", {}).get("class") == "RelationalSynthesizer":
        raise IntegrityError(f"Model file {str(path)!r} holds a database model (related tables); load it with "
                             "privsynth.relational.load(path).")
    try:
        model, cert_doc, domain_doc = documents["model"], documents["certificate"], documents["domain"]
        cls = synthesizer_class(model["class"])
    except (KeyError, ValueError) as exc:
        raise IntegrityError(f"Model file lacks {exc} or names an unknown synthesizer.") from None
    certificate = Certificate.from_dict(cert_doc)
    check_policy(certificate, max_epsilon=max_epsilon, max_delta=max_delta, require_valid=require_valid, what=f"Model file {str(path)!r}")
    try:
        domain = Domain.from_dict(domain_doc)
    except DomainError as exc:
        raise IntegrityError(f"The model's domain is malformed: {exc}") from None
    if certificate.domain_fingerprint != domain.fingerprint():
        raise IntegrityError("The model's domain does not match the fingerprint in its certificate.")
    synth = restore_model(cls, model, domain, arrays, certificate, what=f"Model file {str(path)!r}")
    synth.signed_by_ = signer
    return synth


def restore_model(cls: Any, model: Mapping[str, Any], domain: Domain, arrays: Mapping[str, np.ndarray],
                  certificate: Certificate, *, what: str) -> "Synthesizer":
    """A fitted ``cls`` from its saved parameters and state (a model file's ``model`` document)."""
    params = {k: v for k, v in model.get("params", {}).items() if k in cls._param_names() and k not in _SECRET_PARAMETERS}
    written_by = certificate.versions.get("privsynth", "an unknown version")
    state_version = model.get("state_version", 1)
    if not isinstance(state_version, int) or state_version > cls.state_version:
        raise IntegrityError(f"{what} holds the {cls.__name__} model of layout {state_version!r}, written by privsynth "
                             f"{written_by}; this privsynth reads layouts up to {cls.state_version}: upgrade privsynth.")
    synth = cls(**params)
    synth.domain_ = domain
    try:
        synth._restore(model.get("state", {}), arrays)
    except (KeyError, TypeError, ValueError) as exc:
        raise IntegrityError(
            f"{what} holds the {cls.__name__} model written by privsynth {written_by} in a layout this privsynth "
            f"cannot read (missing or malformed {exc}); refit the model with this version (docs/model-format.md lists "
            "what each version reads).") from None
    synth.certificate_ = certificate
    synth.signed_by_ = None
    return synth
