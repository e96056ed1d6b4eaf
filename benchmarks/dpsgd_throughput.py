"""Samples/s of one DP-SGD step vs the same non-private step, same model, batch and process.

Models: the DPVAE network and the DPGAN discriminator at Adult's encoded width, a CTGAN-size
discriminator (256x256, batch 500), and a wide MLP (512 -> 1024 x 3, batch 4096). Modes:
``nonprivate`` (mean loss, one backward), ``bookkeeping`` (privsynth's per-sample clipping from
one backward), ``opacus-hooks`` (Opacus per-sample gradients, the reference; run in physical
chunks of ``--opacus-chunk`` records, as BatchMemoryManager would, because full per-sample
gradients of the wide MLP do not fit in memory). Reported: samples/s and slowdown = time(DP) /
time(non-private). Writes benchmarks/results/dpsgd_throughput_<device>.json and .md.

Run: python benchmarks/dpsgd_throughput.py [--device cuda] [--steps 10]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch
from torch import nn

from privsynth.mechanisms.clipping import ClippedSum, opacus_clipped_sum
from privsynth.mechanisms.dpsgd import add_noise


def mlp(sizes, act=nn.ReLU):
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(act())
    return nn.Sequential(*layers)


def models(width: int):
    return {
        "dpvae-network (Adult)": (lambda: mlp([width, 128, 128, 64, 128, 128, width]), width, 256),
        "dpgan-discriminator (Adult)": (lambda: mlp([width, 128, 128, 1], lambda: nn.LeakyReLU(0.2)), width, 256),
        "ctgan-size discriminator": (lambda: mlp([width, 256, 256, 1], lambda: nn.LeakyReLU(0.2)), width, 500),
        "wide MLP 512-1024x3": (lambda: mlp([512, 1024, 1024, 1024, 1]), 512, 4096),
    }


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_steps(step, steps, device):
    for _ in range(2):
        step()
    sync(device)
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    sync(device)
    return (time.perf_counter() - t0) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--width", type=int, default=124, help="encoded width of Adult (one-hot + numeric)")
    parser.add_argument("--opacus-chunk", type=int, default=256)
    parser.add_argument("--skip-opacus", action="store_true")
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.manual_seed(0)
    rows = []
    for name, (build, width, batch) in models(args.width).items():
        model = build().to(device)
        opt = torch.optim.SGD(model.parameters(), lr=1e-3)
        x = torch.randn(batch, width, device=device)
        y = torch.randn(batch, model[-1].out_features, device=device)

        def per_sample(m, xb, yb):
            return ((m(xb) - yb) ** 2).sum(dim=1)

        def nonprivate():
            opt.zero_grad(set_to_none=True)
            per_sample(model, x, y).mean().backward()
            opt.step()

        clipper = ClippedSum(model, "bookkeeping")
        gen = torch.Generator(device=device).manual_seed(0)

        def bookkeeping():
            opt.zero_grad(set_to_none=True)
            sums = clipper(lambda m, xb, _: per_sample(m, xb, y), [(x, 0)], 1.0)
            add_noise(sums, 1.0, float(batch), gen)
            opt.step()

        timings = {"nonprivate": time_steps(nonprivate, args.steps, device), "bookkeeping": time_steps(bookkeeping, args.steps, device)}
        if not args.skip_opacus:
            from opacus import GradSampleModule

            gsm = GradSampleModule(model, loss_reduction="sum")

            def hooks():
                sums = {p: torch.zeros_like(p) for p in model.parameters()}
                for xb, yb in zip(torch.split(x, args.opacus_chunk), torch.split(y, args.opacus_chunk)):
                    for p, s in opacus_clipped_sum(gsm, per_sample(gsm, xb, yb), 1.0).items():
                        sums[p] += s
                add_noise(sums, 1.0, float(batch), gen)
                opt.step()

            timings["opacus-hooks"] = time_steps(hooks, max(1, args.steps // 2), device)
            gsm._close()
        for mode, seconds in timings.items():
            rows.append({"model": name, "batch": batch, "mode": mode, "seconds_per_step": seconds, "samples_per_s": batch / seconds,
                         "slowdown_vs_nonprivate": seconds / timings["nonprivate"]})
            print(rows[-1], flush=True)
    cpu = f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"
    card = torch.cuda.get_device_name(device) if device.type == "cuda" else cpu
    meta = {"device": card, "torch": torch.__version__, "python": platform.python_version()}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"dpsgd_throughput_{device.type}.json").write_text(json.dumps({"meta": meta, "runs": rows}, indent=1))
    lines = [f"# DP-SGD step throughput on {card} (torch {torch.__version__})", "",
             "| model | batch | mode | samples/s | slowdown vs non-private |", "|---|---|---|---|---|"]
    lines += [f"| {r['model']} | {r['batch']} | {r['mode']} | {r['samples_per_s']:,.0f} | {r['slowdown_vs_nonprivate']:.2f}x |"
              for r in rows]
    (out / f"dpsgd_throughput_{device.type}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
