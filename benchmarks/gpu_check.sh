#!/usr/bin/env bash
# One-command GPU check (a few minutes, no downloads; needs only the repository and its wheels):
#   1. DP-SGD step throughput vs non-private on the GPU (benchmarks/dpsgd_throughput.py),
#   2. short DPVAE and DPGAN fits on Adult (or the built-in data if ../shared/data is absent) on the GPU,
#   3. a DDP smoke test: devices=<number of GPUs> with NCCL if there are several, else gloo on CPU.
# Results land in benchmarks/results/ (dpsgd_throughput_cuda.*, gpu_check.json); record the card in your note.
set -euo pipefail
cd "$(dirname "$0")/.."
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || echo "nvidia-smi not available"
python benchmarks/dpsgd_throughput.py --device cuda --steps 20
python - <<'PY'
import json, time
import torch
import privsynth as ps
from privsynth.synthesizers import DPGAN, DPVAE

try:
    data, domain = ps.datasets.load_adult()
    name = "adult"
except FileNotFoundError:
    data, domain = ps.datasets.make_census(20000, random_state=0)
    name = "census (built-in)"
results = {"card": torch.cuda.get_device_name(0), "gpus": torch.cuda.device_count(), "dataset": name, "fits": []}
for cls in (DPVAE, DPGAN):
    for eps in (1.0, 3.0):
        t0 = time.perf_counter()
        syn = cls(epsilon=eps, epochs=5, sampling_rate=0.02, device="cuda", progress=False).fit(data, domain)
        fit_s = time.perf_counter() - t0
        out = syn.sample(syn.n_hat_)
        row = {"synthesizer": cls.__name__, "epsilon": eps, "fit_s": fit_s, "steps": syn.steps_, "engine": syn.engine_,
               "spent": syn.certificate_.spent.epsilon, "verified": ps.verify(syn.certificate_).ok,
               "tvd_2": ps.evaluation.marginal_tvd(data, out, domain, order=2).average}
        results["fits"].append(row)
        print(row, flush=True)
n = torch.cuda.device_count()
t0 = time.perf_counter()
ddp = DPGAN(epsilon=1.0, epochs=1, sampling_rate=0.1, devices=max(n, 2), device="cuda" if n > 1 else "cpu",
            progress=False).fit(data.iloc[:5000], domain)
results["ddp"] = {"devices": max(n, 2), "backend": "nccl" if n > 1 else "gloo (cpu)", "seconds": time.perf_counter() - t0,
                  "verified": ps.verify(ddp.certificate_).ok}
print(results["ddp"])
json.dump(results, open("benchmarks/results/gpu_check.json", "w"), indent=1)
PY
