"""``privsynth serve``: an HTTP service that hands out synthetic rows from certified model files.

Endpoints (OpenAPI docs at ``/docs``, schema at ``/openapi.json``):

* ``GET /healthz`` -- liveness, no token needed: ``{"status": "ok", "models": 2, "active_streams": 0}``;
* ``GET /models`` -- each model's name, synthesizer, columns, epsilon/delta, validity and signer;
* ``GET /models/{name}/certificate`` -- the certificate, its recomputation (``verification``) and signer;
* ``GET /databases...`` -- database models (related tables): :mod:`privsynth.serve_database`;
* ``GET /models/{name}/sample?n=&seed=&format=csv|jsonl|json|parquet&where=`` -- ``n`` rows,
  generated and sent in chunks (memory does not grow with ``n``). ``seed`` is a *public* sampling
  seed: the same ``(n, seed, where)`` gives the same rows from the same model file; without it
  every request gets fresh rows. ``where`` (repeatable) adds conditions in the language of the
  domain's business rules (``where=age >= 65``), enforced by rejection; a row is returned only
  where every condition is *true* (a missing value never meets one). Conditions are parsed in
  linear time and bounded in length and nesting (:mod:`privsynth.core.rule_parser`); a bad one
  is a 400 naming it. The stream slot is taken before any work on a request.

Every endpoint but ``/healthz`` and the docs needs ``Authorization: Bearer <token>``; the token
comes from the ``PRIVSYNTH_SERVE_TOKEN`` environment variable or ``--token-file`` (never from
the command line, where other users of the machine could read it). Limits: at most
``max_rows`` rows per request and ``max_concurrent`` sampling streams at once (then 429 with
``Retry-After``). Errors are 4xx JSON ``{"detail": "..."}`` that say what to change.

Model files are loaded once, at start-up, under the trust policy (signature, ``max_epsilon``,
``max_delta``, valid certificate): a file that fails it stops the server from starting, naming the file.
Serving samples is post-processing of the certified model: no privacy cost, however many rows
are served.

Needs the ``serve`` extra: ``pip install 'privsynth[serve]'`` (FastAPI and uvicorn).

Example:
    >>> import privsynth as ps
    >>> df, domain = ps.datasets.make_census(500, random_state=0)
    >>> model = ps.synthesizers.IndependentMarginals(epsilon=1.0, random_state=0).fit(df, domain)
    >>> app = create_app({"census": model}, token="s3cret")  # doctest: +SKIP
    >>> # uvicorn.run(app, host="127.0.0.1", port=8000)
"""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations (Request,
# Query) at definition time, and those types are imported inside create_app (the serve extra).
import hmac
import io
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Callable, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd

from privsynth.core.errors import DomainError, PrivsynthError
from privsynth.privacy.budget import MAX_DELTA

if TYPE_CHECKING:
    from fastapi import FastAPI

    from privsynth.core.signing import KeyLike
    from privsynth.synthesizers.base import Synthesizer

__all__ = ["create_app", "load_models", "read_token", "FORMATS", "TOKEN_ENV"]

#: Environment variable holding the bearer token.
TOKEN_ENV = "PRIVSYNTH_SERVE_TOKEN"
#: Output formats: media type and file suffix.
FORMATS = {"csv": ("text/csv; charset=utf-8", "csv"), "jsonl": ("application/x-ndjson", "jsonl"),
           "json": ("application/json", "json"), "parquet": ("application/vnd.apache.parquet", "parquet")}
#: Most where= conditions one request may give (each is at most privsynth.core.rule_parser.MAX_RULE_CHARS long).
MAX_WHERE = 32
#: Rows generated and sent per chunk (65,536 streamed Adult CSV ~10% faster but grew the server by 93 MB, 32,768 by 63 MB).
CHUNK_ROWS = 32_768


def _require_extra() -> None:
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise ImportError("privsynth serve needs the 'serve' extra: pip install 'privsynth[serve]' (FastAPI and uvicorn).") from exc


def read_token(token_file: str | os.PathLike | None = None, environ: Mapping[str, str] | None = None) -> str | None:
    """The bearer token: the content of ``token_file`` (stripped), else ``$PRIVSYNTH_SERVE_TOKEN``.

    Raises:
        ValueError: the file is empty or the token shorter than 16 characters (guessable).

    Example:
        >>> read_token(environ={"PRIVSYNTH_SERVE_TOKEN": "correct-horse-battery-staple"})
        'correct-horse-battery-staple'
    """
    environ = os.environ if environ is None else environ
    if token_file is not None:
        token, where = Path(token_file).read_text(encoding="utf-8").strip(), f"the token file {str(token_file)!r}"
    elif environ.get(TOKEN_ENV):
        token, where = environ[TOKEN_ENV].strip(), f"${TOKEN_ENV}"
    else:
        return None
    if len(token) < 16:
        raise ValueError(f"The bearer token in {where} has {len(token)} characters; use at least 16 random ones "
                         "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))').")
    return token


def load_models(specs: Sequence[str | os.PathLike], *, trusted_keys: "Sequence[KeyLike] | None" = None,
                max_epsilon: float | None = None, max_delta: float | None = MAX_DELTA,
                require_valid: bool = True) -> dict[str, "Synthesizer"]:
    """Load model files under the trust policy; each is served as ``NAME=PATH`` or by its file stem.

    Raises:
        ValueError: two models would have the same name, or a name is not URL-safe.
        TrustError, IntegrityError, FileNotFoundError: a file fails the policy or cannot be read.
    """
    from privsynth.relational import is_database_model
    from privsynth.relational import load as load_database
    from privsynth.synthesizers.model_file import load

    models: dict[str, Any] = {}
    for spec in specs:
        text = str(spec)
        name, path = text.split("=", 1) if "=" in text and not Path(text).exists() else (Path(text).stem.split(".")[0], text)
        if not name.replace("-", "").replace("_", "").isalnum():
            raise ValueError(f"Model name {name!r} (from {text!r}) must be letters, digits, '-' or '_'; serve it as NAME=PATH.")
        if name in models:
            raise ValueError(f"Two model files would be served as {name!r}; name them: {name}=PATH other-name=PATH.")
        loader = load_database if is_database_model(path) else load  # a database model: served under /databases
        models[name] = loader(path, trusted_keys=trusted_keys, max_epsilon=max_epsilon, max_delta=max_delta, require_valid=require_valid)
    if not models:
        raise ValueError("Give at least one model file to serve.")
    return models


# -- encoding chunks ------------------------------------------------------------------------------
def _arrow_table(frame: pd.DataFrame) -> Any:
    import pyarrow as pa

    table = pa.Table.from_pandas(frame, preserve_index=False)
    return table.cast(pa.schema([pa.field(f.name, pa.string()) if pa.types.is_dictionary(f.type) else f for f in table.schema]))


class _Encoder:
    """Bytes of one format, chunk by chunk: header/opening with the first chunk, footer at the end."""

    def __init__(self, fmt: str) -> None:
        self.fmt, self.first, self._sink = fmt, True, io.BytesIO()
        self._writer: Any = None

    def chunk(self, frame: pd.DataFrame) -> bytes:
        first, self.first = self.first, False
        if self.fmt == "csv":
            import pyarrow.csv as pacsv

            buffer = io.BytesIO()
            pacsv.write_csv(_arrow_table(frame), buffer, pacsv.WriteOptions(include_header=first, quoting_style="needed"))
            return buffer.getvalue()
        if self.fmt in ("jsonl", "json"):
            lines = frame.to_json(orient="records", lines=True, date_format="iso")
            if self.fmt == "jsonl":
                return lines.encode()
            body = ",".join(line for line in lines.split("\n") if line)
            return (("[" if first else ",") + body).encode() if body else (b"[" if first else b"")
        import pyarrow.parquet as pq

        table = _arrow_table(frame)
        if self._writer is None:
            self._writer = pq.ParquetWriter(self._sink, table.schema)
        self._writer.write_table(table)
        return self._drain()

    def end(self) -> bytes:
        if self.fmt == "json":
            return b"[]" if self.first else b"]"
        if self.fmt == "parquet" and self._writer is not None:
            self._writer.close()
            return self._drain()
        return b""

    def _drain(self) -> bytes:
        data = self._sink.getvalue()
        self._sink.seek(0)
        self._sink.truncate()
        return data


def sample_stream(model: "Synthesizer", n: int, *, seed: int | None, fmt: str, where: Sequence[str] = (),
                  chunk_rows: int = CHUNK_ROWS) -> Iterator[bytes]:
    """The encoded rows of ``model.sample`` in chunks of ``chunk_rows`` (one generator for all
    chunks, so a public ``seed`` fixes every row)."""
    rng = np.random.default_rng(seed)
    encoder, left = _Encoder(fmt), n
    while left > 0 or encoder.first:
        size = min(left, chunk_rows)
        yield encoder.chunk(model.sample(size, random_state=rng, conditions=list(where) or None))
        left -= size
    yield encoder.end()


# -- the application -------------------------------------------------------------------------------
@dataclass
class _Streams:
    """Sampling streams running now, bounded by ``limit`` (thread-safe)."""

    limit: int
    active: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def try_acquire(self) -> bool:
        with self._lock:
            if self.active >= self.limit:
                return False
            self.active += 1
            return True

    def release(self) -> None:
        with self._lock:
            self.active -= 1


def _describe(name: str, model: "Synthesizer") -> dict[str, Any]:
    cert = model.certificate_
    return {"name": name, "synthesizer": type(model).__name__, "columns": list(model.domain_.names),
            "epsilon": cert.spent.epsilon, "delta": cert.spent.delta, "valid": cert.valid,
            "signed_by": getattr(model, "signed_by_", None), "certificate": f"/models/{name}/certificate",
            "sample": f"/models/{name}/sample?n=1000&format=csv"}


def create_app(models: Mapping[str, "Synthesizer"], *, token: str | None, max_rows: int = 10_000_000, max_concurrent: int = 4,
               chunk_rows: int = CHUNK_ROWS) -> "FastAPI":
    """The FastAPI application serving ``models`` (name -> fitted synthesizer).

    Args:
        models: What to serve (see :func:`load_models`).
        token: The bearer token every endpoint but ``/healthz`` and the docs requires; ``None``
            serves without authentication (only for a trusted local network).
        max_rows: Most rows one request may ask for.
        max_concurrent: Most sampling streams at once; more get 429.
        chunk_rows: Rows generated and sent per chunk.
    """
    _require_extra()
    from fastapi import Depends, FastAPI, HTTPException, Query, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse, StreamingResponse

    from privsynth import __version__
    from privsynth.privacy.certificate import verify
    from privsynth.serve_database import add_database_routes

    streams = _Streams(int(max_concurrent))
    databases: dict[str, Any] = {name: model for name, model in models.items() if hasattr(model, "schema_")}
    models = {name: model for name, model in models.items() if name not in databases}
    app = FastAPI(title="privsynth sampling service", version=__version__,
                  description="Synthetic rows from certified differentially private models. Serving rows is post-processing: "
                              "it spends no privacy budget. Send `Authorization: Bearer <token>`.")

    @app.exception_handler(RequestValidationError)
    async def _bad_parameter(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [f"{'.'.join(str(p) for p in e['loc'][1:]) or e['loc'][0]}: {e['msg']} (got {e.get('input')!r})" for e in exc.errors()]
        return JSONResponse({"detail": "; ".join(problems)}, status_code=422)

    def authorize(request: Request) -> None:
        if token is None:
            return
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not given:
            raise HTTPException(401, "Missing bearer token: send the header 'Authorization: Bearer <token>'.",
                                headers={"WWW-Authenticate": "Bearer"})
        if not hmac.compare_digest(given.strip().encode(), token.encode()):
            raise HTTPException(401, "The bearer token is not valid for this server.",
                                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})

    def model_named(name: str) -> "Synthesizer":
        if name in databases:
            raise HTTPException(404, f"{name!r} is a database model: GET /databases/{name}/sample.")
        if name not in models:
            raise HTTPException(404, f"No model named {name!r} on this server; GET /models lists them ({sorted(models)}).")
        return models[name]

    @app.get("/healthz", summary="Liveness (no token needed)")
    def healthz() -> dict[str, Any]:
        return {"status": "ok", "models": len(models), "databases": len(databases), "active_streams": streams.active}

    add_database_routes(app, databases, authorize, max_persons=max_rows, acquire=streams.try_acquire, release=streams.release)

    @app.get("/models", summary="The models served", dependencies=[Depends(authorize)])
    def list_models() -> list[dict[str, Any]]:
        return [_describe(name, model) for name, model in models.items()]

    @app.get("/models/{name}/certificate", summary="A model's privacy certificate, recomputed", dependencies=[Depends(authorize)])
    def certificate(name: str) -> dict[str, Any]:
        model = model_named(name)
        return {"model": name, "certificate": model.certificate_.to_dict(), "verification": verify(model.certificate_).to_dict(),
                "signed_by": getattr(model, "signed_by_", None)}

    @app.get("/models/{name}/sample", summary="Stream synthetic rows", dependencies=[Depends(authorize)],
             responses={200: {"content": {media: {} for media, _ in FORMATS.values()}}})
    def sample(name: str,
               n: Annotated[int, Query(description=f"Rows to return, 0..max_rows ({max_rows})")] = 1000,
               seed: Annotated[int | None, Query(description="Public sampling seed: the same seed, the same rows; none: fresh")] = None,
               format: Annotated[str, Query(description="csv, jsonl, json or parquet")] = "csv",
               where: Annotated[list[str] | None, Query(description="Condition every row meets, e.g. `age >= 65` (repeatable)")] = None,
               ) -> Any:
        model = model_named(name)
        if not 0 <= n <= max_rows:
            raise HTTPException(400, f"n must be between 0 and {max_rows} (this server's --max-rows), got {n}; "
                                     "ask for more in several requests.")
        if seed is not None and not 0 <= seed < 2**63:
            raise HTTPException(400, f"seed must be between 0 and 2**63 - 1, got {seed}.")
        if format not in FORMATS:
            raise HTTPException(400, f"format must be one of {sorted(FORMATS)}, got {format!r}.")
        if len(where or ()) > MAX_WHERE:
            raise HTTPException(400, f"At most {MAX_WHERE} where= conditions per request; combine them with 'and'.")
        if not streams.try_acquire():  # before any work on the request: --max-concurrent bounds the parsing too
            raise HTTPException(429, f"This server runs at most {streams.limit} sampling streams at once (--max-concurrent); "
                                "retry in a moment.", headers={"Retry-After": "1"})
        if where:
            try:  # refuse a bad or unsatisfiable condition before the stream starts
                model.sample(100, random_state=0, conditions=list(where))
            except (DomainError, PrivsynthError) as exc:
                streams.release()
                raise HTTPException(400, f"where: {exc}") from None
            except BaseException:
                streams.release()
                raise
        media, suffix = FORMATS[format]
        headers = {"Content-Disposition": f'attachment; filename="{name}.{suffix}"',
                   "X-Privsynth-Epsilon": f"{model.certificate_.spent.epsilon:.6g}",
                   "X-Privsynth-Certificate": f"/models/{name}/certificate"}
        return _ReleasingStream(sample_stream(model, n, seed=seed, fmt=format, where=where or (), chunk_rows=chunk_rows),
                                streams.release, media_type=media, headers=headers)

    class _ReleasingStream(StreamingResponse):
        """A streaming response that frees its stream slot however it ends (done, error, or the
        client gone mid-stream), and closes the row generator."""

        def __init__(self, content: Iterator[bytes], on_close: Callable[[], None], **kwargs: Any) -> None:
            super().__init__(content, **kwargs)
            self._content, self._on_close = content, on_close

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            try:
                await super().__call__(scope, receive, send)
            finally:
                self._on_close()
                close = getattr(self._content, "close", None)
                if close is not None:
                    try:
                        close()
                    except ValueError:  # still running in a worker thread: it stops at its next chunk
                        pass

    return app


def serve(models: Mapping[str, "Synthesizer"], *, host: str = "127.0.0.1", port: int = 8000, token: str | None,
          max_rows: int = 10_000_000, max_concurrent: int = 4, log_level: str = "info") -> None:
    """Run the service with uvicorn until interrupted."""
    import uvicorn

    uvicorn.run(create_app(models, token=token, max_rows=max_rows, max_concurrent=max_concurrent), host=host, port=port,
                log_level=log_level)


def describe_models(models: Mapping[str, "Synthesizer"]) -> str:
    """One line per model for the start-up banner."""
    return "\n".join(f"  {name}: {type(m).__name__}, epsilon {m.certificate_.spent.epsilon:g}, "
                     f"{'valid' if m.certificate_.valid else 'INVALID'} certificate, "
                     f"{'signed by ' + str(m.signed_by_) if getattr(m, 'signed_by_', None) else 'unsigned'}"
                     for name, m in models.items())
