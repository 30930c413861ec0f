#!/usr/bin/python3
"""torchvision peer of worker_test "[pipeline-bench]": every image under TRAIN/images/*/ through a
DataLoader (PIL decode, Resize to 128 x 96, RandomHorizontalFlip, ToTensor, Normalize; batch 32,
shuffled, 2 worker processes). Prints epochN_images_per_s per epoch."""
import glob
import os
import sys
import time

import torch
from PIL import Image
from torchvision import transforms

train = sys.argv[1]
epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
paths = sorted(p for p in glob.glob(os.path.join(train, "images", "*", "*"))
               if not os.path.basename(p).startswith("."))
transform = transforms.Compose([
    transforms.Resize((128, 96)),
    transforms.RandomHorizontalFlip(),
    transforms.ToTensor(),
    transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
])


class Files(torch.utils.data.Dataset):
    def __len__(self):
        return len(paths)

    def __getitem__(self, i):
        return transform(Image.open(paths[i]).convert("RGB")), 0


torch.set_num_threads(1)
loader = torch.utils.data.DataLoader(Files(), batch_size=32, shuffle=True, num_workers=2,
                                     persistent_workers=True)
for epoch in range(1, epochs + 1):
    start = time.perf_counter()
    checksum = 0.0
    for batch, _ in loader:
        checksum += float(batch[0, 0, 0, 0])
    print(f"epoch{epoch}_images_per_s {len(paths) / (time.perf_counter() - start):.1f}")
print(f"images {len(paths)}")
