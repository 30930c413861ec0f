#!/usr/bin/env python3
"""How a gang trial's step time scales with its GPUs: a model, not a measurement.

A gang trains data-parallel: each step, every member computes the gradients of its shard of the
global batch, then the gradients are summed with an all-reduce after backward (ensweep does not
overlap the two). So

    step(N) = compute(global_batch / N) + allreduce(gradient_bytes, N)

and a ring all-reduce of S bytes over N GPUs moves 2 (N - 1) / N * S bytes through every GPU's
link, taking S * 2 (N - 1) / N / busbw (NCCL's "bus bandwidth", what nccl-tests reports), plus a
latency term that is negligible at these sizes.

The parameter counts are read from torchvision (18 outputs, as ensweep's heads); the bandwidths
are nominal figures for link classes, to be replaced by a measured busbw on a real cluster
(`all_reduce_perf` from nccl-tests). The compute estimate uses published forward MACs at 224 x 224
scaled by pixel count, 3x for forward + backward, and an assumed sustained rate: it is only there
to put the communication figures beside something; measure the step on the GPU instead when one
is at hand.

Usage: /usr/bin/python3 bench/trainer/gang_model.py [--batch 32] [--size 384x512] [--tflops 250]
"""
import argparse

# busbw in GB/s (10^9 bytes/s) per GPU, nominal.
LINKS = [
    ("NVLink 4 (8x H100 SXM, one node)", 450.0),
    ("PCIe 4 x16, no NVLink (one node)", 20.0),
    ("InfiniBand NDR 400 Gb/s, one NIC per GPU (across nodes)", 48.0),
    ("InfiniBand HDR 200 Gb/s, one NIC per GPU (across nodes)", 24.0),
    ("100 GbE, one GPU per node (across nodes)", 12.0),
]

# Forward multiply-accumulates per 224 x 224 image (torchvision's published figures).
FORWARD_GMACS_224 = {"resnet18": 1.81, "resnet34": 3.66, "resnet152": 11.51}


def gradient_bytes(name):
    import torchvision.models as models

    model = getattr(models, name)(num_classes=18)
    return 4 * sum(p.numel() for p in model.parameters() if p.requires_grad)


def allreduce_ms(nbytes, n, busbw_gbs):
    if n == 1:
        return 0.0
    return nbytes * 2 * (n - 1) / n / (busbw_gbs * 1e9) * 1e3


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=32, help="global batch per step")
    ap.add_argument("--size", default="384x512", help="image height x width")
    ap.add_argument("--tflops", type=float, default=250.0,
                    help="assumed sustained training rate of one GPU, TFLOP/s")
    args = ap.parse_args()
    h, w = (int(x) for x in args.size.split("x"))
    gangs = [1, 2, 4, 8]
    print(f"global batch {args.batch}, images {h}x{w}, assumed {args.tflops:g} TFLOP/s per GPU\n")
    for name in FORWARD_GMACS_224:
        nbytes = gradient_bytes(name)
        flops = FORWARD_GMACS_224[name] * 1e9 * 2 * 3 * (h * w) / (224 * 224) * args.batch
        compute = [flops / n / (args.tflops * 1e12) * 1e3 for n in gangs]
        print(f"### {name}: {nbytes / 1e6:.1f} MB of fp32 gradients per step\n")
        print("| all-reduce per step, speed-up over 1 GPU | " + " | ".join(f"{n} GPU{'s' if n > 1 else ''}" for n in gangs) + " |")
        print("|---|" + "---|" * len(gangs))
        print("| compute per step (estimate) | " + " | ".join(f"{c:.1f} ms" for c in compute) + " |")
        for link, bw in LINKS:
            cells = []
            for n, c in zip(gangs, compute):
                comm = allreduce_ms(nbytes, n, bw)
                cells.append(f"{comm:.1f} ms, {compute[0] / (c + comm):.1f}x")
            print(f"| {link} | " + " | ".join(cells) + " |")
        print()


if __name__ == "__main__":
    main()
