"""Checks a module written by `ensweep export` with the system Python's torch alone.

  check_export.py png SRC_EVAL DST_EVAL
      copies a mask eval folder (info.csv, images/) with every image re-encoded as PNG under its
      own name (ensweep reads the format from the bytes), so that ensweep and PIL decode the same
      pixels at full size.
  check_export.py inputs MODEL INPUTS_NPY PROBS_NPY
      runs the module on the uint8 images `ensweep predict --save-inputs` wrote (already at the
      study's size) and compares with predict's probabilities.
  check_export.py images MODEL EVAL_DIR PROBS_NPY
      runs the module on the eval folder's images as PIL decodes them at full size (the module
      resizes) and compares with predict's probabilities on that folder.

Prints the largest absolute difference; exit status 0 when it is under 1e-5, 1 when not,
3 when torch, numpy or PIL cannot be imported (the caller skips the check).
"""
import csv
import os
import shutil
import sys

try:
    import numpy as np
    import torch
    from PIL import Image
except ImportError as error:  # the check needs the system's python3-torch, numpy and PIL
    print("cannot import: %s" % error)
    sys.exit(3)


def eval_images(folder):
    with open(os.path.join(folder, "info.csv"), newline="") as f:
        return [os.path.join(folder, "images", row["ImageID"]) for row in csv.DictReader(f)]


def compare(model_path, batch, probs_path):
    torch.set_num_threads(1)
    model = torch.jit.load(model_path)
    with torch.no_grad():
        out = model(torch.from_numpy(batch)).numpy()
    expected = np.load(probs_path)
    if out.shape != expected.shape:
        print("shape %s, expected %s" % (out.shape, expected.shape))
        return 1
    diff = float(np.abs(out.astype(np.float64) - expected.astype(np.float64)).max())
    print("max abs difference %.3g over %d x %d" % (diff, out.shape[0], out.shape[1]))
    return 0 if diff < 1e-5 else 1


def main(argv):
    if argv[1] == "png":
        src, dst = argv[2], argv[3]
        os.makedirs(os.path.join(dst, "images"), exist_ok=True)
        shutil.copy(os.path.join(src, "info.csv"), os.path.join(dst, "info.csv"))
        for path in eval_images(src):
            Image.open(path).convert("RGB").save(
                os.path.join(dst, "images", os.path.basename(path)), format="PNG")
        return 0
    if argv[1] == "inputs":
        return compare(argv[2], np.load(argv[3]), argv[4])
    if argv[1] == "images":
        images = [np.asarray(Image.open(p).convert("RGB")) for p in eval_images(argv[3])]
        return compare(argv[2], np.stack(images), argv[4])
    print("unknown mode " + argv[1])
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
