#!/usr/bin/python3
"""PyTorch peer of an ensweep trial, for bench/trainer/best_epoch.sh: the same recipe on the same
images and the same person split, written with torch and PIL alone.

    best_epoch_peer.py TRAIN VAL_INDEX_CSV EPOCHS SEED [LR]

TRAIN is a mask-format training folder (train.csv + images/), VAL_INDEX_CSV the val_index.csv of an
ensweep trial on it (the validation images and their labels; every other image trains). The recipe
is ensweep's custom_cnn (four 3x3 conv + BatchNorm + ReLU + 2x2 max-pool stages of 32, 64, 128, 256
channels, global average pool, a linear 18-way head, torchvision's initialisation), 48x64 inputs
(area-averaged resize), ImageNet normalisation, horizontal flips with p 0.5, batch 32 reshuffled
every epoch, SGD with momentum 0.9 and weight decay 5e-4, a cosine rate set per batch, cross
entropy. Prints one line per epoch: `epoch N val_macro_f1 F`, macro F1 over the classes present in
the truth or the predictions, as ensweep computes it."""
import csv
import math
import os
import sys

import numpy as np
import torch
from PIL import Image
from torch import nn

train_dir, val_index, epochs, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
lr = float(sys.argv[5]) if len(sys.argv) > 5 else 0.05
torch.manual_seed(seed)
np.random.seed(seed)
torch.set_num_threads(int(os.environ.get("THREADS", "1")))
WIDTH, HEIGHT = 48, 64
MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)


def label_of(folder, name):
    # The competition's 18 classes: mask state * 6 + gender * 3 + age band.
    _, gender, _, age = folder.split("_")
    mask = 0 if name.startswith("mask") else 1 if name.startswith("incorrect") else 2
    age = int(age)
    band = 0 if age < 30 else 1 if age < 60 else 2
    return mask * 6 + (gender == "female") * 3 + band


def load(path):
    image = Image.open(path).convert("RGB").resize((WIDTH, HEIGHT), Image.BOX)
    return (np.asarray(image, np.float32) / 255.0 - MEAN) / STD


val_rows = list(csv.DictReader(open(val_index)))
val_paths = {os.path.realpath(r["path"]) for r in val_rows}
train_x, train_y = [], []
with open(os.path.join(train_dir, "train.csv")) as f:
    for row in csv.DictReader(f):
        folder = os.path.join(train_dir, "images", row["path"])
        for name in sorted(os.listdir(folder)):
            path = os.path.join(folder, name)
            if name.startswith(".") or os.path.realpath(path) in val_paths:
                continue
            train_x.append(load(path))
            train_y.append(label_of(row["path"], name))
val_x = np.stack([load(r["path"]) for r in val_rows])
val_y = np.array([int(r["label"]) for r in val_rows])
for r in val_rows:  # the peer's labels are ensweep's
    parts = r["path"].split(os.sep)
    assert label_of(parts[-2], parts[-1]) == int(r["label"]), r["path"]
train_x = torch.from_numpy(np.stack(train_x)).permute(0, 3, 1, 2).contiguous()
train_y = torch.tensor(train_y)
val_x = torch.from_numpy(val_x).permute(0, 3, 1, 2).contiguous()


def stage(cin, cout):
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True), nn.MaxPool2d(2)]


model = nn.Sequential(*stage(3, 32), *stage(32, 64), *stage(64, 128), *stage(128, 256),
                      nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(256, 18))
for m in model.modules():
    if isinstance(m, nn.Conv2d):
        nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=5e-4)
loss_fn = nn.CrossEntropyLoss()


def macro_f1(truth, predicted, k=18):
    scores = []
    for c in range(k):
        tp = np.sum((truth == c) & (predicted == c))
        denominator = np.sum(truth == c) + np.sum(predicted == c)
        if denominator:
            scores.append(2.0 * tp / denominator)
    return float(np.mean(scores)) if scores else 0.0


n = len(train_y)
batches = [(s, min(s + 32, n)) for s in range(0, n, 32)]
if len(batches) > 1 and batches[-1][1] - batches[-1][0] == 1:  # no batch of one image
    batches[-2] = (batches[-2][0], n)
    batches.pop()
for epoch in range(1, epochs + 1):
    model.train()
    order = torch.randperm(n)
    for b, (start, end) in enumerate(batches):
        t = (epoch - 1) + b / len(batches)
        for group in optimizer.param_groups:
            group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * min(t / epochs, 1.0)))
        index = order[start:end]
        x = train_x[index]
        flip = torch.rand(len(index)) < 0.5
        x[flip] = x[flip].flip(3)
        optimizer.zero_grad()
        loss_fn(model(x), train_y[index]).backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        predicted = torch.cat([model(val_x[i:i + 256]) for i in range(0, len(val_x), 256)])
    print(f"epoch {epoch} val_macro_f1 {macro_f1(val_y, predicted.argmax(1).numpy()):.6f}",
          flush=True)
