#!/usr/bin/env python3
"""PyTorch reference for bench/training/training-bench.ts: trains the SAME architectures as
src/server/training (probe MLP with Adam; ResNet with SGD + momentum + weight decay and
RandomResizedCrop + flip done per batch) on the SAME data and batch size, and prints one JSON
line with training samples/s (optimizer steps incl. batch preparation; validation excluded).

Data files are raw little-endian arrays written by the bench:
  mlp: --data float32 [N, dim] (L2-normalised), --labels int32 [N]
  cnn: --data uint8 [N, side, side, 3] (already resized to side = round(size*256/224)), --labels int32 [N]
"""
import argparse
import json
import math
import sys
import time

try:
    import numpy as np
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError as e:  # the bench reports torch: null with this reason
    print(json.dumps({"error": f"cannot import torch/numpy: {e}"}))
    sys.exit(2)

MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1) * 255
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1) * 255


class Probe(nn.Module):
    def __init__(self, dim, hidden, classes, dropout):
        super().__init__()
        if hidden > 0:
            self.net = nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, classes))
        else:
            self.net = nn.Linear(dim, classes)

    def forward(self, x):
        return self.net(x)


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.b1 = nn.BatchNorm2d(cout)
        self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.b2 = nn.BatchNorm2d(cout)
        self.proj = None
        if stride != 1 or cin != cout:
            self.proj = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        h = F.relu(self.b1(self.c1(x)))
        h = self.b2(self.c2(h))
        return F.relu(h + (self.proj(x) if self.proj is not None else x))


class ResNet(nn.Module):
    """Mirror of src/server/training/resnet.ts (tfjs 'same' padding = these paddings for odd kernels)."""

    def __init__(self, blocks, width, stem, classes):
        super().__init__()
        if stem == "imagenet":
            self.stem = nn.Sequential(nn.Conv2d(3, width, 7, 2, 3, bias=False), nn.BatchNorm2d(width), nn.ReLU(), nn.MaxPool2d(3, 2, 1))
        else:
            self.stem = nn.Sequential(nn.Conv2d(3, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU())
        layers, cin = [], width
        for s, n in enumerate(blocks):
            cout = width * 2 ** s
            for b in range(n):
                layers.append(Block(cin, cout, 2 if s > 0 and b == 0 else 1))
                cin = cout
        self.blocks = nn.Sequential(*layers)
        self.fc = nn.Linear(cin, classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        x = self.blocks(self.stem(x))
        return self.fc(x.mean(dim=(2, 3)))


def crop_boxes(rng, n, side, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3)):
    """torchvision RandomResizedCrop.get_params, as normalised [y1, x1, y2, x2] (same as the TS side)."""
    out = np.zeros((n, 4), dtype=np.float32)
    for k in range(n):
        for _ in range(10):
            target = side * side * rng.uniform(*scale)
            aspect = math.exp(rng.uniform(math.log(ratio[0]), math.log(ratio[1])))
            w = round(math.sqrt(target * aspect))
            h = round(math.sqrt(target / aspect))
            if 0 < w <= side and 0 < h <= side:
                top = rng.integers(0, side - h + 1)
                left = rng.integers(0, side - w + 1)
                break
        else:
            top, left, h, w = 0, 0, side, side
        out[k] = [top / (side - 1), left / (side - 1), (top + h - 1) / (side - 1), (left + w - 1) / (side - 1)]
    return out


def augment(batch_u8, size, rng):
    """cropAndResize (bilinear, corner-aligned like tf.image.cropAndResize) + random flip + ImageNet normalisation."""
    n, side = batch_u8.shape[0], batch_u8.shape[1]
    x = torch.from_numpy(batch_u8).permute(0, 3, 1, 2).float()
    b = torch.from_numpy(crop_boxes(rng, n, side))
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = b[:, 3] - b[:, 1]
    theta[:, 0, 2] = b[:, 1] + b[:, 3] - 1
    theta[:, 1, 1] = b[:, 2] - b[:, 0]
    theta[:, 1, 2] = b[:, 0] + b[:, 2] - 1
    grid = F.affine_grid(theta, (n, 3, size, size), align_corners=True)
    x = F.grid_sample(x, grid, mode="bilinear", align_corners=True)
    flip = torch.from_numpy(rng.random(n) < 0.5).view(n, 1, 1, 1)
    x = torch.where(flip, x.flip(3), x)
    return (x - MEAN) / STD


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--kind", choices=["mlp", "cnn"], required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--labels", required=True)
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--dim", type=int, default=0)
    p.add_argument("--side", type=int, default=0)
    p.add_argument("--size", type=int, default=0)
    p.add_argument("--classes", type=int, required=True)
    p.add_argument("--batch-size", type=int, required=True)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--lr", type=float, required=True)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--dropout", type=float, default=0.2)
    p.add_argument("--blocks", default="1,1,1")
    p.add_argument("--width", type=int, default=16)
    p.add_argument("--stem", default="cifar")
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--weight-decay", type=float, default=2e-4)
    p.add_argument("--threads", type=int, default=0, help="0 = torch's default")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()

    if a.threads > 0:
        torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    labels = torch.from_numpy(np.fromfile(a.labels, dtype="<i4").astype(np.int64))
    if a.kind == "mlp":
        data = torch.from_numpy(np.fromfile(a.data, dtype="<f4").reshape(a.n, a.dim))
        model = Probe(a.dim, a.hidden, a.classes, a.dropout)
        opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    else:
        data = np.fromfile(a.data, dtype=np.uint8).reshape(a.n, a.side, a.side, 3)
        model = ResNet([int(b) for b in a.blocks.split(",")], a.width, a.stem, a.classes)
        opt = torch.optim.SGD(model.parameters(), lr=a.lr, momentum=a.momentum, weight_decay=a.weight_decay)

    model.train()
    epochs = []
    for _ in range(a.epochs):
        order = rng.permutation(a.n)
        t0 = time.perf_counter()
        loss_sum = 0.0
        for s in range(0, a.n, a.batch_size):
            idx = order[s : s + a.batch_size]
            x = data[idx] if a.kind == "mlp" else augment(data[idx], a.size, rng)
            y = labels[idx]
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            loss_sum += loss.item() * len(idx)
        epochs.append({"seconds": time.perf_counter() - t0, "samples": a.n, "loss": loss_sum / a.n})

    steady = epochs[1:] or epochs
    print(json.dumps({
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "samplesPerSec": sum(e["samples"] for e in steady) / sum(e["seconds"] for e in steady),
        "epochs": epochs,
    }))


if __name__ == "__main__":
    main()
