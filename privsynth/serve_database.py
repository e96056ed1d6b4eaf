"""``privsynth serve`` for database models (related tables, :mod:`privsynth.relational`).

Endpoints, beside the single-table ones of :mod:`privsynth.serve` (same bearer token):

* ``GET /databases`` -- each database model's name, tables, person table, epsilon/delta, validity;
* ``GET /databases/{name}/certificate`` -- the database certificate, its recomputation
  (``verification``) and its person-level check (``person_level``: the events are the tables'
  own at their rows per person);
* ``GET /databases/{name}/sample?persons=&seed=`` -- a zip of one CSV per table, keys resolving;
* ``GET /databases/{name}/sample?persons=&seed=&table=accounts`` -- one table as CSV. The same
  ``(persons, seed)`` gives the same database, so tables fetched one request at a time join;
  ``table=`` therefore needs a ``seed``.

Sampling is post-processing of the certified model: no privacy cost.
"""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations at definition time.
import io
import zipfile
from typing import TYPE_CHECKING, Annotated, Any, Callable, Mapping

if TYPE_CHECKING:
    from fastapi import FastAPI

    from privsynth.relational import RelationalSynthesizer

__all__ = ["add_database_routes", "describe_database"]


def describe_database(name: str, model: "RelationalSynthesizer") -> dict[str, Any]:
    cert = model.certificate_
    return {"name": name, "synthesizer": "RelationalSynthesizer", "tables": list(model.schema_.names),
            "person_table": model.schema_.person, "epsilon": cert.spent.epsilon, "delta": cert.spent.delta, "valid": cert.valid,
            "signed_by": getattr(model, "signed_by_", None), "certificate": f"/databases/{name}/certificate",
            "sample": f"/databases/{name}/sample?persons=100&seed=0"}


def add_database_routes(app: "FastAPI", databases: Mapping[str, "RelationalSynthesizer"], authorize: Callable[..., None], *,
                        max_persons: int, acquire: Callable[[], bool], release: Callable[[], None]) -> None:
    """Add the database endpoints to ``app`` (``acquire``/``release``: the server's stream slots)."""
    from fastapi import Depends, HTTPException, Query
    from fastapi.responses import Response

    from privsynth.privacy.certificate import verify
    from privsynth.relational import verify_database

    def database_named(name: str) -> "RelationalSynthesizer":
        if name not in databases:
            raise HTTPException(404, f"No database model named {name!r} on this server; GET /databases lists them "
                                     f"({sorted(databases)}).")
        return databases[name]

    @app.get("/databases", summary="The database models served", dependencies=[Depends(authorize)])
    def list_databases() -> list[dict[str, Any]]:
        return [describe_database(name, model) for name, model in databases.items()]

    @app.get("/databases/{name}/certificate", summary="A database certificate, recomputed", dependencies=[Depends(authorize)])
    def database_certificate(name: str) -> dict[str, Any]:
        model = database_named(name)
        person_level = verify_database(model.certificate_)
        return {"database": name, "certificate": model.certificate_.to_dict(), "verification": verify(model.certificate_).to_dict(),
                "person_level": {"ok": person_level.ok, "problems": list(person_level.problems)},
                "signed_by": getattr(model, "signed_by_", None)}

    @app.get("/databases/{name}/sample", summary="A synthetic database (zip of CSVs) or one of its tables (CSV)",
             dependencies=[Depends(authorize)])
    def database_sample(name: str,
                        persons: Annotated[int | None, Query(description="Persons (default: the model's DP count)")] = None,
                        seed: Annotated[int | None, Query(description="Public sampling seed: the same seed, the same database")] = None,
                        table: Annotated[str | None, Query(description="Return only this table, as CSV (needs seed)")] = None,
                        ) -> Any:
        model = database_named(name)
        if persons is not None and not 0 <= persons <= max_persons:
            raise HTTPException(400, f"persons must be between 0 and {max_persons} (this server's --max-rows), got {persons}.")
        if seed is not None and not 0 <= seed < 2**63:
            raise HTTPException(400, f"seed must be between 0 and 2**63 - 1, got {seed}.")
        if table is not None and table not in model.schema_.names:
            raise HTTPException(400, f"table must be one of {list(model.schema_.names)}, got {table!r}.")
        if table is not None and seed is None:
            raise HTTPException(400, "table= returns one table of the database a seed defines; give seed= so that the "
                                     "tables you fetch one by one join.")
        if not acquire():
            raise HTTPException(429, "This server is at its limit of concurrent sampling requests; retry in a moment.",
                                headers={"Retry-After": "1"})
        try:
            db = model.sample(persons, random_state=seed)
        finally:
            release()
        headers = {"X-Privsynth-Epsilon": f"{model.certificate_.spent.epsilon:.6g}",
                   "X-Privsynth-Certificate": f"/databases/{name}/certificate"}
        if table is not None:
            headers["Content-Disposition"] = f'attachment; filename="{name}.{table}.csv"'
            return Response(db[table].to_csv(index=False), media_type="text/csv; charset=utf-8", headers=headers)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for table_name, frame in db.items():
                archive.writestr(f"{table_name}.csv", frame.to_csv(index=False))
            archive.writestr("certificate.json", model.certificate_.to_json())
        headers["Content-Disposition"] = f'attachment; filename="{name}.zip"'
        return Response(buffer.getvalue(), media_type="application/zip", headers=headers)
