"""Hydra configs compose and instantiate; the entry point sweeps (joblib launcher), reruns a
killed sweep cleanly, and refuses bad configs with one line."""

import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest

hydra = pytest.importorskip("hydra")
from hydra import compose, initialize_config_module  # noqa: E402
from hydra.utils import instantiate  # noqa: E402

from privsynth.synthesizers import ALL_NAMES, Synthesizer, synthesizer_class  # noqa: E402

RUN = Path(__file__).resolve().parents[1] / "experiments" / "run.py"
GROUPS = ("dataset", "synthesizer", "privacy", "evaluation", "hardware")


def options(group):
    return sorted(p.name[:-5] for p in (resources.files("privsynth.configs") / group).iterdir() if p.name.endswith(".yaml"))


def test_every_config_option_composes_and_instantiates():
    """Every group has a ``_target_``: dataset -> DatasetSpec, evaluation -> Evaluation,
    hardware -> Hardware, synthesizer -> a Synthesizer."""
    from privsynth.datasets import DatasetSpec
    from privsynth.pipeline import Evaluation, Hardware

    targets = {"dataset": DatasetSpec, "evaluation": Evaluation, "hardware": Hardware, "synthesizer": Synthesizer}
    with initialize_config_module(config_module="privsynth.configs", version_base="1.3"):
        for group in GROUPS:
            for option in options(group):
                cfg = compose(config_name="config", overrides=[f"{group}={option}"])
                for name, cls in targets.items():
                    assert "_target_" in cfg[name], f"{name}={option}"
                    assert isinstance(instantiate(cfg[name], **({"random_state": 0} if name == "synthesizer" else {})), cls)
                dpsgd = cfg.synthesizer._target_.split(".")[-1] in ("DPVAE", "DPGAN", "DPTransformer", "DPDiffusion")
                if group != "privacy" or option != "pure" or not dpsgd:
                    assert instantiate(cfg.synthesizer).epsilon == cfg.privacy.epsilon
            if group == "synthesizer":
                for option in ("dpvae", "dpgan", "dptransformer", "dpdiffusion"):
                    cfg = compose(config_name="config", overrides=[f"synthesizer={option}"])
                    assert instantiate(cfg.synthesizer).delta == cfg.privacy.delta > 0  # DP-SGD follows privacy.delta
        for experiment in options("experiment"):
            cfg = compose(config_name="config", overrides=[f"+experiment={experiment}"], return_hydra_config=True)
            assert cfg.sweep_name
    assert {synthesizer_class(n).__name__ for n in ALL_NAMES} == {
        instantiate(compose_one(o)).__class__.__name__ for o in options("synthesizer")}


def compose_one(option):
    with initialize_config_module(config_module="privsynth.configs", version_base="1.3"):
        return compose(config_name="config", overrides=[f"synthesizer={option}"]).synthesizer


def sweep(tmp_path, *extra):
    cmd = [sys.executable, str(RUN), "-m", "+experiment=local_parallel", "dataset=census", "dataset.rows=600", "evaluation=fast",
           "synthesizer=independent,privbayes", "privacy.epsilon=1,3", f"hydra.sweep.dir={tmp_path}", *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=tmp_path)


@pytest.mark.slow
def test_tiny_sweep_with_joblib_then_rerun_after_a_kill(tmp_path):
    first = sweep(tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    markers = sorted(tmp_path.rglob("run.json"))
    assert len(markers) == 4
    # simulate a run killed mid-way: its marker never got written, its release is half there
    killed = markers[0].parent
    markers[0].unlink()
    (killed / "synthetic.parquet").write_text("half")
    second = sweep(tmp_path)
    assert second.returncode == 0, second.stderr[-2000:]
    log = second.stdout + second.stderr
    assert log.count("skipped (already finished)") == 3 and log.count("done:") == 1
    assert len(list(tmp_path.rglob("run.json"))) == 4
    report = subprocess.run([sys.executable, "-m", "privsynth", "report", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert report.returncode == 0 and "4 runs" in report.stdout
    assert (tmp_path / "report" / "tvd_2.png").exists()


@pytest.mark.slow
def test_dpsgd_job_on_the_ddp_hardware_group(tmp_path):
    """hardware=ddp spawns the torch.distributed workers inside the job (gloo on this CPU)."""
    cmd = [sys.executable, str(RUN), "dataset=census", "dataset.rows=600", "synthesizer=dpgan", "synthesizer.epochs=1",
           "synthesizer.sampling_rate=0.2", "synthesizer.generator_dim=[16]", "synthesizer.discriminator_dim=[16]", "hardware=ddp",
           "hardware.device=cpu", "evaluation=fast", f"hydra.run.dir={tmp_path}"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    import privsynth as ps

    model = ps.load(tmp_path / "release" / "model.privsynth")
    assert model.devices == 2 and model.generator_dim == [16] and ps.verify(model.certificate_).ok
    assert len(model.sample(5)) == 5


@pytest.mark.parametrize("args, key", [
    (["synthesizer=nope"], "synthesizer"),
    (["dataset=census", "privacy.epsilon=-1"], "privacy.epsilon"),
    pytest.param(["dataset=adult", "dataset.data_dir=/no/such/folder"], "dataset.data_dir", marks=pytest.mark.slow),
    (["dataset=file"], "dataset.path"),
    pytest.param(["dataset=mine"], "dataset", marks=pytest.mark.slow),
])
def test_bad_config_is_one_line_and_exit_2(tmp_path, args, key):
    result = subprocess.run([sys.executable, str(RUN), *args, f"hydra.run.dir={tmp_path}"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "config error" in lines[0] and key in lines[0], result.stderr


def test_own_data_with_the_file_dataset_and_a_config_dir(tmp_path):
    """The two documented routes to your own data: dataset=file with paths, and your own
    dataset/NAME.yaml in a --config-dir (accepted by the entry point's own option check)."""
    from privsynth.datasets import make_census

    df, domain = make_census(500, random_state=0)
    df.to_csv(tmp_path / "mine.csv", index=False)
    domain.to_file(tmp_path / "mine.yaml")
    (tmp_path / "conf" / "dataset").mkdir(parents=True)
    template = (resources.files("privsynth.configs") / "dataset" / "file.yaml").read_text()
    (tmp_path / "conf" / "dataset" / "mine.yaml").write_text(
        template.replace("path: null", f"path: {tmp_path / 'mine.csv'}").replace("domain: null", f"domain: {tmp_path / 'mine.yaml'}")
        .replace("name: file", "name: mine"))
    for args in (["dataset=file", f"dataset.path={tmp_path / 'mine.csv'}", f"dataset.domain={tmp_path / 'mine.yaml'}"],
                 ["--config-dir", str(tmp_path / "conf"), "dataset=mine"]):
        out = tmp_path / ("run_" + args[0].strip("-").replace("=", "_"))
        result = subprocess.run([sys.executable, str(RUN), *args, "evaluation=fast", f"hydra.run.dir={out}"],
                                capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr[-2000:]
        assert (out / "release" / "certificate.json").is_file()


@pytest.mark.parametrize("name", options("synthesizer"))
def test_synthesizer_configs_state_the_constructors_defaults(name):
    """A config's literal values are the class's defaults (``progress`` aside): a default changed
    in the code and not in the config (DPDiffusion's sampling steps once) would make sweeps run
    another model than the docs describe."""
    import inspect

    import yaml

    config = yaml.safe_load((resources.files("privsynth.configs") / "synthesizer" / f"{name}.yaml").read_text())
    defaults = inspect.signature(synthesizer_class(name).__init__).parameters
    for key, value in config.items():
        if key in defaults and key != "progress" and not (isinstance(value, str) and value.startswith("${")):
            default = defaults[key].default
            assert value == (list(default) if isinstance(default, tuple) else default), (name, key)
