#!/usr/bin/env bash
# bench-cpu-vs-torch.sh BIN: mnistgpu against PyTorch on the same CPU at the
# same thread count, alternating the two programs round by round so that
# both see the same machine load, then a table of the medians over rounds.
#
#   scripts/bench-cpu-vs-torch.sh bin/mnistgpu
#   ROUNDS=5 THREADS=2 EPOCHS=2 scripts/bench-cpu-vs-torch.sh bin/mnistgpu
#
# Each round runs `mnistgpu bench --device cpu --threads T` and then
# `/usr/bin/python3 scripts/torch_reference.py --device cpu --threads T` for
# both tasks at batch 64 and 512. Both sides get OMP_NUM_THREADS and
# OPENBLAS_NUM_THREADS = T; the PyTorch command also runs with
# OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset (some machines set them for old
# OpenBLAS builds, and they can slow PyTorch's linear layers). PyTorch's build
# configuration (torch.__config__.show()) is saved beside the results.
#
# Environment:
#   ROUNDS       rounds (default 3)
#   THREADS      threads on both sides (default 2)
#   EPOCHS       timed epochs per measurement, after one warm-up (default 3)
#   BATCH_SIZES  default 64,512
#   TASKS        default mlp,cnn
#   DATA         the MNIST folder (default $MNISTGPU_DATA, then data/mnist)
#   BENCH_OUT    where the JSON files, logs and table go (default bench-cpu-out)
#   PYTHON       the Python with torch (default /usr/bin/python3: Debian's
#                python3-torch, `apt-get install python3-torch
#                libopenblas0-pthread`: without an optimised BLAS, Debian's
#                torch falls back on the reference BLAS, which the script
#                warns about)
set -euo pipefail

usage() {
	echo "usage: $0 BIN   (the mnistgpu binary, e.g. bin/mnistgpu)" >&2
	exit 2
}
[[ $# -eq 1 ]] || usage
BIN=$1
[[ -x $BIN ]] || {
	echo "$0: $BIN: not an executable file (build it with make build)" >&2
	exit 2
}
[[ $BIN == */* ]] || BIN=./$BIN

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROUNDS=${ROUNDS:-3}
THREADS=${THREADS:-2}
EPOCHS=${EPOCHS:-3}
BATCH_SIZES=${BATCH_SIZES:-64,512}
TASKS=${TASKS:-mlp,cnn}
DATA=${DATA:-${MNISTGPU_DATA:-data/mnist}}
BENCH_OUT=${BENCH_OUT:-bench-cpu-out}
PYTHON=${PYTHON:-/usr/bin/python3}

for v in ROUNDS THREADS EPOCHS; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || {
		echo "$0: $v=${!v}: want a positive integer" >&2
		exit 2
	}
done
"$PYTHON" -c 'import torch, numpy' 2>/dev/null || {
	echo "$0: $PYTHON cannot import torch and numpy (Debian: apt-get install python3-torch)" >&2
	exit 1
}
mkdir -p "$BENCH_OUT"

export OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS
# PyTorch's build, its threads, and the BLAS library it loaded: Debian's
# python3-torch links the generic libblas.so.3, which is the slow reference
# BLAS unless an optimised one (libopenblas0-pthread) provides it.
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$PYTHON" - >"$BENCH_OUT/torch-config.txt" <<'EOF'
import torch
print(torch.__config__.show())
print("threads:", torch.get_num_threads())
torch.ones(64, 64) @ torch.ones(64, 64)
libs = sorted({l.split()[-1] for l in open("/proc/self/maps") if "blas" in l or "lapack" in l})
print("blas libraries loaded:", *libs, sep="\n  ")
EOF
if grep -q '/blas/libblas' "$BENCH_OUT/torch-config.txt"; then
	echo "$0: warning: PyTorch loaded the reference BLAS (see $BENCH_OUT/torch-config.txt); its linear layers will be slow: apt-get install libopenblas0-pthread" >&2
fi
{
	echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "cpu: $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ //' || uname -m)"
	echo "cores: $(nproc)"
	echo "threads: $THREADS, rounds: $ROUNDS, epochs: $EPOCHS, batch sizes: $BATCH_SIZES, tasks: $TASKS"
	echo "mnistgpu: $("$BIN" --version 2>/dev/null || echo "$BIN") (commit $(git -C "$here/.." rev-parse --short HEAD 2>/dev/null || echo unknown))"
} >"$BENCH_OUT/machine.txt"

for r in $(seq 1 "$ROUNDS"); do
	echo "round $r/$ROUNDS: mnistgpu" >&2
	"$BIN" bench --device cpu --threads "$THREADS" --tasks "$TASKS" --batch-sizes "$BATCH_SIZES" \
		--epochs "$EPOCHS" --data "$DATA" --json "$BENCH_OUT/mnistgpu-$r.json" >"$BENCH_OUT/mnistgpu-$r.log" 2>&1 || {
		echo "$0: mnistgpu bench failed (see $BENCH_OUT/mnistgpu-$r.log)" >&2
		exit 1
	}
	echo "round $r/$ROUNDS: pytorch" >&2
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$PYTHON" "$here/torch_reference.py" --device cpu --threads "$THREADS" \
		--tasks "$TASKS" --batch-sizes "$BATCH_SIZES" --epochs "$EPOCHS" --data "$DATA" \
		--json "$BENCH_OUT/torch-$r.json" >"$BENCH_OUT/torch-$r.log" 2>&1 || {
		echo "$0: torch_reference.py failed (see $BENCH_OUT/torch-$r.log)" >&2
		exit 1
	}
done

# The table: medians over rounds of seconds per epoch and test accuracy.
"$PYTHON" - "$BENCH_OUT" "$ROUNDS" <<'EOF' | tee "$BENCH_OUT/table.md"
import json, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
def load(name):
    runs = [json.load(open(f"{out}/{name}-{r}.json")) for r in range(1, rounds + 1)]
    rows = {}
    for run in runs:
        for row in run["rows"]:
            rows.setdefault((row["task"], row["batch_size"]), []).append(row)
    return runs[0], rows
ours, our_rows = load("mnistgpu")
ref, ref_rows = load("torch")
med = lambda rows, k: statistics.median(r[k] for r in rows)
path = ours.get("kernel_path", "")
print(f"mnistgpu: {ours['device']}{', kernels ' + path if path else ''} | {ref['framework']}: {ref['device']}")
print(f"median of {rounds} alternating rounds; speed-up = PyTorch s/epoch / mnistgpu s/epoch (each column's median)")
print()
print("| task | batch | mnistgpu s/epoch | PyTorch s/epoch | speed-up | speed-up range | mnistgpu acc | PyTorch acc |")
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
for key in sorted(our_rows, key=lambda k: (k[0] != "mlp", k[1])):
    if key not in ref_rows:
        continue
    a, b = our_rows[key], ref_rows[key]
    ratios = [y["seconds_per_epoch"] / x["seconds_per_epoch"] for x, y in zip(a, b)]
    sa, sb = med(a, "seconds_per_epoch"), med(b, "seconds_per_epoch")
    print(f"| {key[0].upper()} | {key[1]} | {sa:.3f} | {sb:.3f} | {sb / sa:.2f}× | {min(ratios):.2f}–{max(ratios):.2f}× "
          f"| {med(a, 'test_accuracy'):.4f} | {med(b, 'test_accuracy'):.4f} |")
EOF
echo "wrote $BENCH_OUT/table.md, torch-config.txt and machine.txt" >&2
