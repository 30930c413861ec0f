#!/usr/bin/python3
"""PyTorch peer of worker_test "[step-bench]": forward + cross-entropy + backward + SGD step of a
torchvision model (18 classes) on a fixed 32 x 3 x 128 x 96 batch. Prints step_images_per_s."""
import sys
import time

import torch
import torchvision

arch = sys.argv[1] if len(sys.argv) > 1 else "resnet18"
threads = int(sys.argv[2]) if len(sys.argv) > 2 else 2
steps = int(sys.argv[3]) if len(sys.argv) > 3 else 10
torch.set_num_threads(threads)
torch.manual_seed(0)
model = getattr(torchvision.models, arch)(weights=None, num_classes=18)
model.train()
optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
images = torch.randn(32, 3, 128, 96)
labels = torch.randint(0, 18, (32,))


def step():
    optimizer.zero_grad()
    loss = torch.nn.functional.cross_entropy(model(images), labels)
    loss.backward()
    optimizer.step()


for _ in range(3):
    step()
start = time.perf_counter()
for _ in range(steps):
    step()
print(f"step_images_per_s {32 * steps / (time.perf_counter() - start):.2f}")
print(f"threads {torch.get_num_threads()}")
