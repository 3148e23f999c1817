#!/usr/bin/env python3
"""Loads mnistgpu checkpoints into the same models written in PyTorch and
checks that they reach the test accuracy mnistgpu measured.

    python3 scripts/torch_load_check.py --data data/mnist runs/cnn-... runs/mlp-...

Each argument is a run folder holding model.safetensors and metrics.json. The
module names (fc1, conv1, bn1, ...) are mnistgpu's, so load_state_dict runs
with strict=True: a missing, extra or misshapen tensor fails the check. Exits 1
when a run's accuracy differs from its metrics.json by more than --tolerance.
"""

import argparse
import json
import os
import sys

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_reference import read_idx, MEAN, STD  # noqa: E402


ACT = {"relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh}


class MLP(nn.Module):
    def __init__(self, hidden, act, classes=10, dropout=0.3):
        super().__init__()
        self.act = ACT[act]
        widths = [784] + hidden
        for i in range(len(hidden)):
            setattr(self, f"fc{i + 1}", nn.Linear(widths[i], widths[i + 1]))
        setattr(self, f"fc{len(hidden) + 1}", nn.Linear(widths[-1], classes))
        self.n = len(hidden) + 1
        self.drop = nn.Dropout(dropout)

    def forward(self, x):
        x = x.flatten(1)
        for i in range(1, self.n):
            x = self.drop(self.act(getattr(self, f"fc{i}")(x)))
        return getattr(self, f"fc{self.n}")(x)


class CNN(nn.Module):
    def __init__(self, channels, kernel, act, batchnorm, classes=10):
        super().__init__()
        self.act, self.batchnorm = ACT[act], batchnorm
        c, size = 1, 28
        for i, out in enumerate(channels):
            setattr(self, f"conv{i + 1}", nn.Conv2d(c, out, kernel, padding=(kernel - 1) // 2))
            if batchnorm:
                setattr(self, f"bn{i + 1}", nn.BatchNorm2d(out))
            c, size = out, size // 2
        self.fc1 = nn.Linear(c * size * size, classes)
        self.n = len(channels)

    def forward(self, x):
        for i in range(1, self.n + 1):
            x = getattr(self, f"conv{i}")(x)
            if self.batchnorm:
                x = getattr(self, f"bn{i}")(x)
            x = nn.functional.max_pool2d(self.act(x), 2)
        return self.fc1(x.flatten(1))


def load_safetensors(path):
    """The tensors and metadata of a safetensors file, with the safetensors
    package when it is installed and a small reader of the format otherwise."""
    with open(path, "rb") as f:
        raw = f.read()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {})
    try:
        from safetensors.torch import load_file
        return load_file(path), meta, "safetensors " + __import__("safetensors").__version__
    except ImportError:
        pass
    data = raw[8 + n:]
    dtypes = {"F32": np.float32, "I64": np.int64}
    out = {}
    for name, t in header.items():
        a, b = t["data_offsets"]
        out[name] = torch.from_numpy(np.frombuffer(data[a:b], dtype=dtypes[t["dtype"]]).reshape(t["shape"]).copy())
    return out, meta, "own reader"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--tolerance", type=float, default=0.002)
    ap.add_argument("runs", nargs="+")
    args = ap.parse_args()
    x = torch.from_numpy(read_idx(args.data, "t10k-images-idx3-ubyte").copy()).float()
    x = ((x / 255.0 - MEAN) / STD).unsqueeze(1)
    y = torch.from_numpy(read_idx(args.data, "t10k-labels-idx1-ubyte").astype(np.int64))
    bad = 0
    for run in args.runs:
        state, meta, how = load_safetensors(os.path.join(run, "model.safetensors"))
        arch = json.loads(meta["arch"])
        if arch["task"] == "mlp":
            model = MLP(arch["hidden"], arch["activation"], dropout=arch["dropout"])
        else:
            model = CNN(arch["channels"], arch["kernel"], arch["activation"], arch["batchnorm"])
        model.load_state_dict(state, strict=True)
        model.eval()
        with torch.no_grad():
            acc = (model(x).argmax(1) == y).float().mean().item()
        want = json.load(open(os.path.join(run, "metrics.json")))["accuracy"]
        ok = abs(acc - want) <= args.tolerance
        bad += not ok
        print(f"{run}: {arch['task']} loaded strictly ({how}); PyTorch test accuracy {acc:.4f}, mnistgpu {want:.4f}: {'OK' if ok else 'MISMATCH'}")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
