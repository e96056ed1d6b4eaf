"""Hydra entry point for related tables: a thin ``@hydra.main`` over
:func:`privsynth.relational.experiment.run_database` (config: ``configs/relational.yaml``).

    python experiments/relational.py                                    # the generated bank database, epsilon 1
    python experiments/relational.py -m privacy.epsilon=1,3 seed=0,1,2  # a sweep
    python experiments/relational.py database=files database.path=data/ database.schema=schema.yaml task=null
"""

from __future__ import annotations

import logging
import sys

import hydra
from omegaconf import DictConfig, OmegaConf

from privsynth.core.errors import PrivsynthError
from privsynth.relational.experiment import run_database

log = logging.getLogger("privsynth.experiments")


@hydra.main(version_base="1.3", config_path="pkg://privsynth.configs", config_name="relational")
def main(cfg: DictConfig) -> float | None:
    output_dir = hydra.core.hydra_config.HydraConfig.get().runtime.output_dir
    try:
        metrics = run_database(OmegaConf.to_container(cfg, resolve=True), output_dir=output_dir)  # type: ignore[arg-type]
    except (PrivsynthError, FileNotFoundError, ValueError, KeyError) as exc:
        print(f"privsynth: error: {exc}", file=sys.stderr)
        sys.exit(2)
    log.info("%s: epsilon=%s seed=%s verified=%s integrity=%s (release in %s/release)",
             "skipped (already finished)" if metrics.get("skipped") else "done", metrics["epsilon"], metrics["seed"],
             metrics["verified"], metrics["integrity"], output_dir)
    return float(metrics.get("transactions.cross_tvd", 0.0))


if __name__ == "__main__":
    main()
