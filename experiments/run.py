"""Hydra entry point: a thin ``@hydra.main`` over :func:`privsynth.pipeline.run_config`.

    python experiments/run.py                                   # one run (configs/config.yaml)
    python experiments/run.py -m synthesizer=privbayes,dpgaussiancopula privacy.epsilon=0.3,1,3 seed=0,1,2
    python experiments/run.py -m +experiment=adult_epsilon_sweep

Configs are read from the installed package (``privsynth.configs``, the repository's
``configs/`` folder), so this file works from any directory once privsynth is installed; add
your own config folder with ``--config-dir`` (e.g. ``DIR/dataset/mydata.yaml``, copied from
``configs/dataset/file.yaml``, then ``dataset=mydata``), or point the ``file`` dataset at your
data: ``dataset=file dataset.path=data.csv dataset.domain=domain.yaml``. Bad configs end with one ``config error`` line
naming the key and exit code 2.
"""

from __future__ import annotations

import logging
import sys

import hydra
from hydra.types import RunMode
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from privsynth.core.errors import PrivsynthError
from privsynth.pipeline import ConfigError, run_config

log = logging.getLogger("privsynth.experiments")


def make_factory(cfg: DictConfig):
    """``seed -> synthesizer`` from the synthesizer group. The pipeline passes ``seed=None``
    (fresh OS entropy) unless the config says ``reproducible: true``, and applies the
    ``hardware`` group to synthesizers that take a ``device``."""

    def factory(seed: int | None):
        return instantiate(cfg.synthesizer, random_state=None if seed is None else int(seed), _convert_="all")

    return factory


@hydra.main(version_base="1.3", config_path="pkg://privsynth.configs", config_name="config")
def main(cfg: DictConfig) -> float | None:
    hydra_cfg = hydra.core.hydra_config.HydraConfig.get()
    output_dir = hydra_cfg.runtime.output_dir
    sweep = {"name": cfg.get("sweep_name"), "overrides": list(hydra_cfg.overrides.task)}
    if hydra_cfg.mode == RunMode.MULTIRUN:  # tracked runs of one sweep share a parent run
        sweep["dir"] = hydra_cfg.sweep.dir
    try:
        plain = OmegaConf.to_container(cfg, resolve=True)
        report = run_config(plain, make_synthesizer=make_factory(cfg), output_dir=output_dir, sweep=sweep)
    except ConfigError as exc:
        print(f"privsynth: config error: {exc}", file=sys.stderr)
        sys.exit(2)
    except (PrivsynthError, FileNotFoundError, ValueError) as exc:
        print(f"privsynth: error: {exc}", file=sys.stderr)
        sys.exit(2)
    state = "skipped (already finished)" if report.skipped else "done"
    log.info("%s: %s epsilon=%s seed=%s verified=%s (release in %s/release; metrics.json holds the evaluation on real data)",
             state, report.summary["synthesizer"], report.summary["epsilon"], report.summary["seed"], report.summary["verified"],
             output_dir)
    return report.metrics.get("tvd_2")


GROUPS = ("dataset", "synthesizer", "privacy", "evaluation", "hardware", "tracking", "experiment")


def _config_dirs(argv: list[str]) -> list[str]:
    """Folders given with ``--config-dir``/``-cd`` (Hydra adds them to the search path)."""
    dirs = []
    for i, arg in enumerate(argv):
        if arg in ("--config-dir", "-cd") and i + 1 < len(argv):
            dirs.append(argv[i + 1])
        elif arg.startswith("--config-dir="):
            dirs.append(arg.split("=", 1)[1])
    return dirs


def check_group_overrides(argv: list[str]) -> None:
    """Refuse an unknown config-group option with one line naming the key and the choices
    (before Hydra, whose own message is a screenful). Options in a ``--config-dir`` count."""
    from importlib import resources
    from pathlib import Path

    roots = [resources.files("privsynth.configs"), *(Path(d) for d in _config_dirs(argv))]
    for arg in argv:
        key, sep, value = arg.lstrip("+").partition("=")
        if not sep or key not in GROUPS:
            continue
        choices = sorted({p.name[:-5] for root in roots if (root / key).is_dir()
                          for p in (root / key).iterdir() if p.name.endswith(".yaml")})
        unknown = [v for v in value.split(",") if v and v not in choices]
        if unknown:
            print(f"privsynth: config error: {key}: unknown option {unknown[0]!r}; choose from {choices}"
                  " (add your own with --config-dir DIR holding DIR/" + key + "/NAME.yaml).", file=sys.stderr)
            sys.exit(2)


if __name__ == "__main__":
    check_group_overrides(sys.argv[1:])
    main()
