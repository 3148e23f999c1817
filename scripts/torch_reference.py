#!/usr/bin/env python3
"""PyTorch reference for `mnistgpu bench`: the same models, optimizer and
epoch on the same GPU, in eager mode with the data set resident on the GPU
(the fair peer of mnistgpu, which uploads MNIST once and gathers batches on
the device).

  python3 scripts/torch_reference.py --data data/mnist --json torch.json
  mnistgpu bench --compare torch.json --from bench.json

Models (as mnistgpu's defaults):
  mlp: Linear(784,128) ReLU Dropout(0.3) Linear(128,64) ReLU Dropout(0.3) Linear(64,10)
  cnn: Conv2d(1,4,3,pad 1) BatchNorm2d(4) ReLU MaxPool2d(2)
       Conv2d(4,4,3,pad 1) BatchNorm2d(4) ReLU MaxPool2d(2) Flatten Linear(196,10)
Cross-entropy on logits, SGD lr 0.05 momentum 0.9, TF32 off.

An epoch is 54,000 images: mnistgpu holds out 10% of the 60,000 training
images for validation, so this takes the first 54,000 after a seeded shuffle.
Each epoch draws a torch.randperm on the device and gathers every batch there,
the last partial batch included. One untimed warm-up epoch, then --epochs
timed epochs, each between two torch.cuda.synchronize() calls; the row holds
their median and the test accuracy (eval mode, the 10,000 test images) after
them.

Needs python3, torch and numpy only (MNIST is read from the IDX files with
gzip and numpy). The JSON has the schema `mnistgpu bench --json` writes:
  {"framework": "pytorch <version>", "device": "<GPU name>",
   "rows": [{"task", "batch_size", "seconds_per_epoch", "images_per_sec",
             "epochs", "test_accuracy"}, ...]}
"""

import argparse
import gzip
import json
import os
import platform
import statistics
import sys
import time

import numpy as np
import torch
from torch import nn

MEAN, STD = 0.1307, 0.3081
TRAIN_IMAGES = 54_000  # 60,000 less the 10% mnistgpu holds out for validation
TASKS = ("mlp", "cnn")

IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def read_idx(folder, base):
    """Reads one IDX file, gzipped (base.gz) or raw (base), as a uint8 array."""
    for name, opener in ((base + ".gz", gzip.open), (base, open)):
        path = os.path.join(folder, name)
        if os.path.exists(path):
            with opener(path, "rb") as f:
                data = f.read()
            break
    else:
        raise SystemExit(f"{folder}: no {base}.gz or {base} (install MNIST with `make data` or `mnistgpu data`)")
    if len(data) < 4:
        raise SystemExit(f"{path}: too short for an IDX file")
    zero, dtype, ndim = data[0] << 8 | data[1], data[2], data[3]
    if zero != 0 or dtype != 0x08 or ndim < 1:
        raise SystemExit(f"{path}: not an IDX file of unsigned bytes")
    header = 4 + 4 * ndim
    dims = [int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4)]
    want = header + int(np.prod(dims))
    if len(data) != want:
        raise SystemExit(f"{path}: {len(data)} bytes, want {want} for dimensions {dims}")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


def load_mnist(folder, seed, device):
    """The 54,000 training images (first after a seeded shuffle) and the 10,000
    test images, normalised, as float32 tensors on device, with int64 labels."""
    arrays = {k: read_idx(folder, v) for k, v in IDX_FILES.items()}
    n = arrays["train_images"].shape[0]
    if arrays["train_labels"].shape[0] != n or arrays["test_images"].shape[0] != arrays["test_labels"].shape[0]:
        raise SystemExit(f"{folder}: image and label counts differ")
    if n < TRAIN_IMAGES:
        raise SystemExit(f"{folder}: {n} training images, need at least {TRAIN_IMAGES}")
    keep = np.random.default_rng(seed).permutation(n)[:TRAIN_IMAGES]

    def images(a):
        x = torch.from_numpy(np.ascontiguousarray(a)).to(device)
        return ((x.float() / 255.0 - MEAN) / STD).unsqueeze(1).contiguous()  # N,1,28,28

    def labels(a):
        return torch.from_numpy(a.astype(np.int64)).to(device)

    return (
        images(arrays["train_images"][keep]),
        labels(arrays["train_labels"][keep]),
        images(arrays["test_images"]),
        labels(arrays["test_labels"]),
    )


def make_model(task):
    if task == "mlp":
        return nn.Sequential(
            nn.Flatten(),
            nn.Linear(784, 128), nn.ReLU(), nn.Dropout(0.3),
            nn.Linear(128, 64), nn.ReLU(), nn.Dropout(0.3),
            nn.Linear(64, 10),
        )
    if task == "cnn":
        return nn.Sequential(
            nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(4, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(196, 10),
        )
    raise SystemExit(f"--tasks: unknown task {task!r} (want mlp or cnn)")


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def train_epoch(model, opt, loss_fn, x, y, batch_size, gen):
    model.train()
    n = x.shape[0]
    order = torch.randperm(n, device=x.device, generator=gen)
    for i in range(0, n, batch_size):  # the last partial batch included
        idx = order[i:i + batch_size]
        loss = loss_fn(model(x[idx]), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()


@torch.no_grad()
def accuracy(model, x, y, chunk=5000):
    model.eval()
    correct = torch.zeros((), dtype=torch.int64, device=x.device)
    for i in range(0, x.shape[0], chunk):
        correct += (model(x[i:i + chunk]).argmax(1) == y[i:i + chunk]).sum()
    return correct.item() / x.shape[0]


def bench_one(task, batch_size, epochs, data, device, seed, lr, momentum):
    x, y, tx, ty = data
    torch.manual_seed(seed)
    gen = torch.Generator(device=x.device)
    gen.manual_seed(seed)
    model = make_model(task).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    loss_fn = nn.CrossEntropyLoss()

    train_epoch(model, opt, loss_fn, x, y, batch_size, gen)  # warm-up, untimed
    times = []
    for _ in range(epochs):
        sync(device)
        t0 = time.perf_counter()
        train_epoch(model, opt, loss_fn, x, y, batch_size, gen)
        sync(device)
        times.append(time.perf_counter() - t0)
    sec = statistics.median(times)
    return {
        "task": task,
        "batch_size": batch_size,
        "seconds_per_epoch": sec,
        "images_per_sec": x.shape[0] / sec,
        "epochs": epochs,
        "test_accuracy": accuracy(model, tx, ty),
    }


def device_name(device):
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def write_json(path, result):
    """Writes to a temporary name and renames, so a failed run leaves no half file."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)


def ints(flag, text):
    try:
        vals = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise SystemExit(f"{flag} {text}: want comma-separated integers")
    if not vals or min(vals) < 1:
        raise SystemExit(f"{flag} {text}: want positive integers")
    return vals


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=os.environ.get("MNISTGPU_DATA") or "data/mnist",
                   help="folder with the MNIST IDX files (default $MNISTGPU_DATA, then data/mnist)")
    p.add_argument("--batch-sizes", default="64,512", help="batch sizes to measure (default 64,512)")
    p.add_argument("--epochs", type=int, default=3, help="timed epochs, after one warm-up epoch (default 3)")
    p.add_argument("--tasks", default="mlp,cnn", help="tasks to measure (default mlp,cnn)")
    p.add_argument("--device", default="cuda", help="cuda, cuda:N or cpu (default cuda)")
    p.add_argument("--json", default="torch.json", help="write the results here (default torch.json)")
    p.add_argument("--seed", type=int, default=1, help="split, initialisation and batch order (default 1)")
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--threads", type=int, default=0, help="CPU threads for --device cpu (default: torch's)")
    a = p.parse_args(argv)

    tasks = [t.strip() for t in a.tasks.split(",") if t.strip()]
    for t in tasks:
        if t not in TASKS:
            raise SystemExit(f"--tasks: unknown task {t!r} (want mlp or cnn)")
    batch_sizes = ints("--batch-sizes", a.batch_sizes)
    if a.epochs < 1:
        raise SystemExit(f"--epochs {a.epochs}: must be at least 1")

    device = torch.device(a.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: PyTorch sees no CUDA GPU (torch.cuda.is_available() is False)")
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    # Full FP32, as mnistgpu: no TF32 in matrix products or convolutions.
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False

    data = load_mnist(a.data, a.seed, device)
    result = {"framework": f"pytorch {torch.__version__}", "device": device_name(device), "rows": []}
    print(f"{result['framework']} on {result['device']}: {data[0].shape[0]} training images per epoch, "
          f"1 warm-up + {a.epochs} timed epochs", file=sys.stderr)
    for task in tasks:
        for bs in batch_sizes:
            row = bench_one(task, bs, a.epochs, data, device, a.seed, a.lr, a.momentum)
            print(f"{task} batch {bs}: {row['seconds_per_epoch']:.3f} s/epoch, {row['images_per_sec']:.0f} images/s, "
                  f"test accuracy {row['test_accuracy']:.4f}", file=sys.stderr)
            result["rows"].append(row)
    write_json(a.json, result)

    print(f"{result['framework']}, {result['device']}")
    print(f"{'task':<6}{'batch':>7}{'s/epoch':>10}{'images/s':>12}{'test acc':>10}")
    for r in result["rows"]:
        print(f"{r['task']:<6}{r['batch_size']:>7}{r['seconds_per_epoch']:>10.3f}"
              f"{r['images_per_sec']:>12.0f}{r['test_accuracy']:>10.4f}")
    print(f"wrote {a.json}", file=sys.stderr)


if __name__ == "__main__":
    main()
