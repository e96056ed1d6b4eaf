r"""The DP baselines of the margnet repository (KaiChen9909/margnet) on the benchmark tables.

MargNet (Chen, Gong, Wang 2025) and the baselines its repository ships (PrivSyn, DP-MERF, GEM,
RAP++, DP-TabDDPM, DP-CTGAN, AIM) are research code, not on the package registry. This runner
drives them from a snapshot *outside* this repository (never copied here), in their own venv, on
CPU, through the same path as the repository's ``main.py``: its DP preprocessing (``privtree``
numeric binning and the DP rare-category merge, 10% of rho), the method's fit, its sampler. Only
the glue is ours: the exported training split is written in the repository's input format
(``data/<name>/X_num_train.npy``, ``X_cat_train.npy``, ``y_train.npy``, ``domain.json``,
``info.json``), and the sampler's output files are read back as raw records with the table's
column names, to be scored by ``score.py`` like every other peer.

Choices the repository leaves to its per-dataset configs: a method whose config is per dataset
(MargNet's ``method/MargDL/config/gan/<dataset>.toml``) runs with the config the repository
ships for Adult. A classification target is the repository's label ``y``; a regression target
stays a numeric column. GEM runs at the network size its code sets for its real tables (512, 512).
DP-MERF runs without numeric binning (see ``_PREPROCESS``). On a machine without a GPU, the GPU
memory counters that MargNet and RAP++ read unconditionally are replaced by no-ops. Methods that
need files the snapshot lacks fail, and the failure is recorded (``_runner.run_all``).

Set-up (once; the mirror is what ``fetch github:KaiChen9909/margnet`` gives, or a git clone):

    mkdir -p /tmp/margnet && git --git-dir=/work/.mirror/KaiChen9909+margnet/repo archive HEAD | tar -x -C /tmp/margnet
    python -m venv /tmp/margnet-venv && /tmp/margnet-venv/bin/pip install torch==2.13.0
    /tmp/margnet-venv/bin/pip install "numpy<2" "pandas<2.3" "scipy<1.15" "scikit-learn>=1.6,<1.8" ml-dtypes==0.5.0 \
        jax==0.4.30 jaxlib==0.4.30 flax==0.8.5 chex==0.1.86 autodp==0.2 seaborn opacus optuna catboost xgboost \
        tomli tomli_w pynvml category_encoders skorch

The repository's ``requirement.txt`` pins nothing; these pins are what its code needs today: PrivSyn
and GEM use ``np.product`` / ``np.infty`` (gone in numpy 2), RAP++ imports ``jax.lib.xla_bridge``
(gone after jax 0.4), DP-MERF imports ``autodp.privacy_calibrator`` (a circular import in autodp
0.2.3.x), and ``category_encoders`` / ``skorch`` are imported but not listed. ``cupy-cuda12x`` is
listed but not needed on CPU.

Run (after ``export.py``):

    /tmp/margnet-venv/bin/python benchmarks/peers/margnet.py --repo /tmp/margnet --runs /tmp/peers --tables obesity \
        --methods marggan privsyn merf --commit $(git --git-dir=/work/.mirror/KaiChen9909+margnet/repo rev-parse HEAD)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _runner import read_raw, run_all  # noqa: E402

#: The repository's task names by the exported table's task.
_TASKS = {"binary_classification": "binclass", "multiclass_classification": "multiclass", "regression": "regression"}
#: Numeric preprocessing by method (default ``privtree``). DP-MERF's sampler emits numeric columns as
#: continuous values, which the ``privtree`` codes' decoder refuses (IndexError), so it runs with
#: ``none``: min-max scaling fitted on the data -- bounds read off the records without DP, as the
#: repository's code does in that setting.
_PREPROCESS = {"merf": "none"}
#: Methods whose hyper-parameters live in a per-dataset TOML: (folder, the dataset whose file is used).
_CONFIGS = {"marggan": ("method/MargDL/config/gan", "adult"), "margdiff": ("method/MargDL/config/diffusion", "adult")}


def write_inputs(repo: Path, name: str, meta: dict, raw: pd.DataFrame) -> tuple[list, list, list | None]:
    """The training split in the repository's input format under ``data/<name>/``; returns the
    numeric columns, the categorical ones and the classes of the label (None: no label)."""
    target, task = meta["target"], meta["task"]
    label = target if task != "regression" and target in meta["categorical"] else None
    numeric = list(meta["continuous"])
    categorical = [c for c in meta["categorical"] if c != label]
    folder = repo / "data" / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    domain: dict[str, int] = {}
    if numeric:
        np.save(folder / "X_num_train.npy", raw[numeric].to_numpy(dtype=float))
        domain.update({f"num_attr_{i + 1}": 10**6 for i in range(len(numeric))})  # the repository caps it by the data
    if categorical:
        np.save(folder / "X_cat_train.npy", raw[categorical].astype(str).to_numpy(dtype=object), allow_pickle=True)
        # the categories seen in the split: the repository caps every size by the data's (without DP) in any case
        domain.update({f"cat_attr_{i + 1}": int(raw[c].nunique()) for i, c in enumerate(categorical)})
    classes = None
    if label is not None:
        classes = sorted(raw[label].astype(str).unique())
        np.save(folder / "y_train.npy", raw[label].astype(str).map({c: i for i, c in enumerate(classes)}).to_numpy(dtype=int))
        domain["y_attr"] = len(classes)
    (folder / "domain.json").write_text(json.dumps(domain, indent=1))
    info = {"name": name, "task_type": _TASKS[task], "n_num_features": len(numeric), "n_cat_features": len(categorical),
            "n_classes": len(classes) if classes else 0, "train_size": len(raw), "val_size": 0, "test_size": 0}
    (folder / "info.json").write_text(json.dumps(info, indent=1))
    return numeric, categorical, classes


def _without_gpu_counters(torch) -> None:
    """No-op GPU memory counters: MargNet's fit reads CUDA's peak memory and RAP++ prints NVML's
    memory figures unconditionally; on a machine without a GPU both would raise."""
    from types import SimpleNamespace

    import pynvml

    torch.cuda.reset_peak_memory_stats = lambda *a, **k: None
    torch.cuda.max_memory_allocated = lambda *a, **k: 0
    pynvml.nvmlInit = lambda *a, **k: None
    pynvml.nvmlDeviceGetHandleByIndex = lambda *a, **k: None
    pynvml.nvmlDeviceGetMemoryInfo = lambda *a, **k: SimpleNamespace(used=0, free=0, total=0)


def fit_sample(repo: Path, method: str, folder: Path, epsilon: float, delta: float, seed: int) -> pd.DataFrame:
    """One fit and one release of as many rows as the training split, through the repository's own
    preprocessing, fit and sampler (``main.py``'s path without its evaluation)."""
    meta, raw = read_raw(folder)
    name = f"ps_{folder.name}"
    numeric, categorical, classes = write_inputs(repo, name, meta, raw)
    if method in _CONFIGS:
        configs, source = _CONFIGS[method]
        shutil.copyfile(repo / configs / f"{source}.toml", repo / configs / f"{name}.toml")
    os.chdir(repo)
    if str(repo) not in sys.path:
        sys.path.insert(0, str(repo))
    import torch
    from evaluator.eval_sample import eval_sampler
    from preprocess_common.load_data_common import data_preporcesser_common
    from util.rho_cdp import cdp_rho
    from util.util import algo_method, make_exp_dir

    if not torch.cuda.is_available():
        _without_gpu_counters(torch)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    args = argparse.Namespace(method=method, dataset=name, device="cpu", sample_device="cpu", epsilon=float(epsilon),
                              delta=float(delta), num_preprocess=_PREPROCESS.get(method, "privtree"), rare_threshold=0.002,
                              resample=False, graph_sample=False, pub=False, test=False, lr=None, iter=None, batch=None,
                              model_dim=(512, 512))  # GEM's size for its real tables (Adult, loan, bank)
    parent_dir, data_path = make_exp_dir(args)
    shutil.rmtree(parent_dir, ignore_errors=True)
    os.makedirs(parent_dir)
    total_rho = cdp_rho(args.epsilon, args.delta)
    prep = data_preporcesser_common(args)
    df, domain, prep_share = prep.load_data(data_path, total_rho)
    extra = {"rho_used": prep_share * total_rho} if method in ("ddpm", "ctgan") else {}
    generators = algo_method(args)(args, df=df, domain=domain, rho=(1 - prep_share) * total_rho, parent_dir=parent_dir,
                                   preprocesser=prep, df_pub=prep.load_pub_data(data_path), **extra)
    eval_sampler(method, {"parent_dir": parent_dir, "sample": {"seed": seed, "sample_num": len(raw)}}, device="cpu",
                 preprocesser=prep, **generators)
    parts = []  # the sampler's files as written (some methods release a different number of rows than asked)
    if numeric:
        parts.append(pd.DataFrame(np.load(Path(parent_dir) / "X_num_train.npy", allow_pickle=True).astype(float), columns=numeric))
    if categorical:
        parts.append(pd.DataFrame(np.load(Path(parent_dir) / "X_cat_train.npy", allow_pickle=True).astype(str), columns=categorical))
    if classes is not None:
        labels = np.load(Path(parent_dir) / "y_train.npy", allow_pickle=True)
        parts.append(pd.DataFrame({meta["target"]: [classes[int(i)] for i in labels]}))
    if len({len(p) for p in parts}) > 1:
        raise ValueError(f"the sampler wrote files of {[len(p) for p in parts]} rows; they cannot be joined into records")
    out = pd.concat(parts, axis=1)
    for c, (_, _, integer) in meta["continuous"].items():
        if integer:
            out[c] = np.round(out[c]).astype(int)
    return out[list(raw.columns)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", required=True, help="the snapshot's work tree (see the set-up above)")
    parser.add_argument("--runs", required=True, help="the folder benchmarks/peers/export.py wrote")
    parser.add_argument("--tables", nargs="+", required=True)
    parser.add_argument("--methods", nargs="+", default=["marggan", "privsyn", "merf", "gem", "rapp", "ddpm"])
    parser.add_argument("--epsilon", type=float, default=1.0)
    parser.add_argument("--delta", type=float, default=1e-9)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--commit", required=True, help="the snapshot's commit, recorded with every run "
                        "(git --git-dir=/work/.mirror/KaiChen9909+margnet/repo rev-parse HEAD)")
    args = parser.parse_args()
    repo = Path(args.repo).resolve()
    runs = str(Path(args.runs).resolve())
    run_all(f"margnet@{args.commit[:7]}", "margnet", runs, args.tables, args.methods, args.epsilon, args.delta, args.seed,
            lambda method, folder: (fit_sample(repo, method, folder, args.epsilon, args.delta, args.seed), "raw"))


if __name__ == "__main__":
    main()
