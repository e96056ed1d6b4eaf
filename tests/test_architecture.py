"""Who may import whom (DESIGN.md): nothing in privsynth imports Hydra/OmegaConf or pickle;
core and privacy never import torch; the rooms only import downwards."""

import ast
import re
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "privsynth"
ROOMS = ["core", "privacy", "mechanisms", "profiling", "synthesizers", "relational"]


def imports_of(path: Path, *, module_level: bool = False) -> set[str]:
    """Modules ``path`` imports (``module_level``: only those run when it loads, not inside functions)."""
    def walk(node):
        for child in ast.iter_child_nodes(node):
            if not (module_level and isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))):
                yield child
                yield from walk(child)

    names = set()
    for node in walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def modules(sub: str = ""):
    return sorted((PKG / sub).rglob("*.py"))


def test_no_hydra_or_pickle_anywhere():
    for path in modules():
        for name in imports_of(path):
            top = name.split(".")[0]
            assert top not in {"hydra", "omegaconf"}, f"{path} imports {name}"
            assert top not in {"pickle", "cloudpickle", "dill", "joblib.externals"}, f"{path} imports {name}"
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"allow_pickle\s*=\s*True|weights_only\s*=\s*False", text), path


def test_core_and_privacy_never_import_torch():
    for sub in ("core", "privacy"):
        for path in modules(sub):
            assert not any(n.split(".")[0] in {"torch", "opacus"} for n in imports_of(path)), path


def test_rooms_only_import_downwards():
    for i, room in enumerate(ROOMS):
        above = {f"privsynth.{r}" for r in ROOMS[i + 1 :]} | {"privsynth.pipeline", "privsynth.cli"}
        for path in modules(room):
            bad = [n for n in imports_of(path) if any(n == a or n.startswith(a + ".") for a in above)]
            assert not bad, f"{path} imports {bad}"
    for path in modules("evaluation"):
        assert not any(n.startswith(("privsynth.mechanisms", "privsynth.privacy.ledger")) for n in imports_of(path)), path


def test_no_global_numpy_random():
    for path in modules():
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"np\.random\.(seed|rand|randn|randint|laplace|normal|choice|uniform|shuffle)\(", text), path


def test_packaged_subpackages_are_listed():
    tomllib = pytest.importorskip("tomllib")
    config = tomllib.loads((PKG.parent / "pyproject.toml").read_text())
    listed = set(config["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(PKG.parent).parts) for p in PKG.rglob("__init__.py")}
    assert found | {"privsynth.configs"} == listed


def test_one_table_of_synthesizer_names_and_no_back_edge():
    """Synthesizers are found by the strings of privsynth.synthesizers.names (no decorator
    registry), and no module inside synthesizers/ imports the package that re-exports them."""
    from privsynth.synthesizers import Synthesizer
    from privsynth.synthesizers.names import SYNTHESIZERS, synthesizer_class

    for path in modules("synthesizers"):
        if path.name == "__init__.py":
            continue
        assert "privsynth.synthesizers" not in imports_of(path), f"{path} imports the package"
        assert "_REGISTRY" not in path.read_text(encoding="utf-8") and "@register" not in path.read_text(encoding="utf-8")
    for name, (module, cls, _) in SYNTHESIZERS.items():
        assert isinstance(module, str) and isinstance(cls, str)
        if name not in ("dpvae", "dpgan"):
            assert issubclass(synthesizer_class(name), Synthesizer)


def test_the_numpy_sampling_modules_need_no_torch():
    for name in ("_encoding.py", "_calibration.py", "_numpy_net.py", "_numpy_transformer.py", "_plan.py", "_dpsgd_plan.py"):
        assert not any(n.split(".")[0] in {"torch", "opacus"} for n in imports_of(PKG / "synthesizers" / name)), name


def test_the_graphical_room_never_sees_data():
    """graphical/ is post-processing: it imports only core's errors and numpy, never the dataset,
    mechanisms, privacy or synthesizer code (DESIGN.md rooms); torch only in its optional backend,
    imported when that backend is asked for."""
    for path in modules("graphical"):
        inside = [n for n in imports_of(path) if n.startswith("privsynth")]
        assert all(n.startswith("privsynth.graphical") or n == "privsynth.core.errors" for n in inside), (path, inside)
        assert not any(n.split(".")[0] == "pandas" for n in imports_of(path)), path
        torch_allowed = path.name == "backend.py"
        assert torch_allowed or not any(n.split(".")[0] == "torch" for n in imports_of(path)), path
        assert not any(n.split(".")[0] == "torch" for n in imports_of(path, module_level=True)), path


_ENGINES = {"duckdb", "pyspark", "pyarrow.parquet", "pyarrow.csv", "pyarrow.dataset", "sqlite3"}
#: Outside privsynth/data, the places that may still read a file, and why.
_ALLOWED = {
    ("datasets/loaders.py", "load_arx_hierarchies"): "public generalization hierarchies, not records",
    ("datasets/loaders.py", "download_adult"): "converting the public UCI download into the shipped CSV layout",
    ("serve.py", "*"): "writes releases (pyarrow writers), reads none",
    ("tracking.py", "*"): "MLflow's run store, not records",
}


def _reads(path: Path):
    """(function, call) for every call in ``path`` that reads records from a file or engine."""
    def visit(node, where):
        for child in ast.iter_child_nodes(node):
            inner = child.name if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) else where
            if isinstance(child, ast.Call):
                callee = child.func.attr if isinstance(child.func, ast.Attribute) else getattr(child.func, "id", "")
                owner = child.func.value if isinstance(child.func, ast.Attribute) else None
                owner_name = getattr(owner, "id", getattr(owner, "attr", ""))
                if callee in ("read_csv", "read_parquet", "read_feather", "read_json", "read_excel", "read_sql", "ParquetFile") \
                        or (callee in ("connect", "sql") and owner_name in ("duckdb", "spark", "con", "session")):
                    yield where, callee
            yield from visit(child, inner)

    yield from visit(ast.parse(path.read_text(encoding="utf-8")), "<module>")


def test_only_the_data_room_reads_records():
    """DESIGN.md: privsynth/data is the only code that reads records (files, DuckDB, Spark);
    everything else gets a Table or a DataFrame from it."""
    for path in modules():
        rel = path.relative_to(PKG).as_posix()
        if rel.startswith("data/"):
            continue
        engines = [n for n in imports_of(path) if any(n == e or n.startswith(e + ".") for e in _ENGINES)]
        allowed_file = (rel, "*") in _ALLOWED
        assert allowed_file or not engines, f"{rel} imports {engines}: read records through privsynth.data"
        for func, call in _reads(path):
            assert allowed_file or (rel, func) in _ALLOWED, f"{rel}: {func}() calls {call}: read records through privsynth.data"


def test_the_data_room_uses_only_core():
    for path in modules("data"):
        inside = [n for n in imports_of(path) if n.startswith("privsynth.")]
        assert all(n.startswith(("privsynth.core", "privsynth.data")) for n in inside), (path, inside)
        assert not any(n.split(".")[0] in {"torch", "opacus"} for n in imports_of(path)), path


def test_the_marginal_synthesizers_only_count():
    """They ask the Table for counts; none of them encodes or validates records itself."""
    for name in ("independent.py", "privbayes.py", "mst.py", "aim.py", "copula.py"):
        text = (PKG / "synthesizers" / name).read_text(encoding="utf-8")
        assert "to_frame(" not in text and "encode(" not in text and "validate(" not in text, name
