"""Who may import whom (DESIGN.md): nothing in privsynth imports Hydra/OmegaConf or pickle;
core and privacy never import torch; the rooms only import downwards."""

import ast
import re
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "privsynth"
ROOMS = ["core", "privacy", "mechanisms", "profiling", "synthesizers"]


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
    for name in ("_encoding.py", "_calibration.py", "_numpy_net.py", "_plan.py", "_dpsgd_plan.py"):
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
