#!/usr/bin/python3
"""Writes a torchvision backbone's weights to a file ensweep's worker loads (pretrained: true),
or with --torchscript the backbone itself as TorchScript (backbone: torchscript:<file>).

The file is torch.save of a plain dict {state-dict name: tensor} (zip format), which LibTorch
reads with torch::pickle_load; names and shapes are torchvision's. Run it with a Python that
has torchvision (on Debian: /usr/bin/python3 with python3-torchvision):

    /usr/bin/python3 tools/export_torchvision_weights.py --arch resnet34 --out weights/
        # ImageNet weights (downloads them once into torch's cache; needs the network)
    /usr/bin/python3 tools/export_torchvision_weights.py --arch resnet18 --random --seed 0 \\
        --out /tmp/resnet18.pt --check-input /tmp/x.npy --check-logits /tmp/logits.npy
        # random weights, plus an input batch and the model's logits for a conformance check

    /usr/bin/python3 tools/export_torchvision_weights.py --arch convnext_tiny --torchscript \\
        --out backbones/convnext_tiny.ts.pt
        # any torchvision model, classifier removed, scripted: a trial with
        # backbone: torchscript:backbones/convnext_tiny.ts.pt trains it with a fresh head

--out may be a folder: the file is then <folder>/<arch>.pt, the name `weights: <folder>` finds.
With --torchscript, --check-logits receives the scripted backbone's output (its features).
"""
import argparse
import os
import sys

import numpy as np
import torch
import torchvision


def build(arch, random_weights):
    if not hasattr(torchvision.models, arch):
        sys.exit(f"unknown torchvision model '{arch}'")
    constructor = getattr(torchvision.models, arch)
    if random_weights:
        return constructor(weights=None)
    return constructor(weights="DEFAULT")


def strip_classifier(model):
    """Replaces the model's final classifier with Identity, so that it returns features."""
    for name in ("fc", "classifier", "head", "heads"):
        if hasattr(model, name):
            setattr(model, name, torch.nn.Identity())
            return
    sys.exit("cannot find the classifier (fc, classifier, head or heads) to remove")


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", required=True, help="torchvision model name, e.g. resnet34")
    parser.add_argument("--out", required=True, help="output file, or a folder for <arch>.pt")
    parser.add_argument("--random", action="store_true", help="random weights, no download")
    parser.add_argument("--seed", type=int, default=0, help="seed for --random and --check-input")
    parser.add_argument("--check-input", help="write a random input: 2 rows of flattened (3, H, W) float32 (.npy)")
    parser.add_argument("--check-logits", help="write the model's eval-mode logits for it (.npy)")
    parser.add_argument("--size", default="96x128", help="check input WIDTHxHEIGHT")
    parser.add_argument("--torchscript", action="store_true",
                        help="write the backbone (classifier replaced by Identity) as TorchScript")
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    model = build(args.arch, args.random)
    model.eval()
    if args.random:
        # Non-trivial BatchNorm statistics, so that a conformance check exercises them.
        with torch.no_grad():
            for module in model.modules():
                if isinstance(module, torch.nn.BatchNorm2d):
                    module.running_mean.uniform_(-0.1, 0.1)
                    module.running_var.uniform_(0.5, 1.5)
                    module.weight.uniform_(0.5, 1.5)
                    module.bias.uniform_(-0.1, 0.1)

    out = args.out
    if os.path.isdir(out) or out.endswith(os.sep):
        os.makedirs(out, exist_ok=True)
        out = os.path.join(out, args.arch + ".pt")
    if args.torchscript:
        strip_classifier(model)
        scripted = torch.jit.script(model)
        scripted.save(out)
        print(f"wrote {args.arch} without its classifier as TorchScript to {out}")
    else:
        state = {name: tensor.detach().clone().contiguous() for name, tensor in
                 model.state_dict().items()}
        torch.save(state, out)
        print(f"wrote {len(state)} tensors of {args.arch} to {out}")

    if args.check_input:
        width, height = (int(v) for v in args.size.split("x"))
        x = torch.randn(2, 3, height, width, dtype=torch.float32)
        np.save(args.check_input, x.reshape(2, -1).numpy())  # rows: flattened (3, H, W) images
        if args.check_logits:
            with torch.no_grad():
                np.save(args.check_logits, model(x).numpy().astype(np.float32))


if __name__ == "__main__":
    main()
