"""The PyTorch peer of `ensweep predict`: a module written by `ensweep export`, loaded with
torch.jit.load alone, run on a mask eval folder's images (PIL decode, batches of BATCH) with
THREADS intra-op threads. Prints `images N` and `images_per_s X`, the rate over the whole
run (decode included, interpreter start excluded: the clock starts before the imports' work).

  peer.py MODEL EVAL_DIR THREADS BATCH OUT_NPY
"""
import csv
import os
import sys
import time

start = time.perf_counter()
import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402


def main(model_path, eval_dir, threads, batch, out_path):
    torch.set_num_threads(threads)
    model = torch.jit.load(model_path)
    with open(os.path.join(eval_dir, "info.csv"), newline="") as f:
        paths = [os.path.join(eval_dir, "images", r["ImageID"]) for r in csv.DictReader(f)]
    outputs = []
    with torch.no_grad():
        for first in range(0, len(paths), batch):
            images = [np.asarray(Image.open(p).convert("RGB")) for p in paths[first:first + batch]]
            outputs.append(model(torch.from_numpy(np.stack(images))).numpy())
    np.save(out_path, np.concatenate(outputs))
    seconds = time.perf_counter() - start
    print("images %d" % len(paths))
    print("images_per_s %.1f" % (len(paths) / seconds))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
