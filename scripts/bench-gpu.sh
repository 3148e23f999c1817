#!/usr/bin/env bash
# bench-gpu.sh BIN: mnistgpu's training throughput on the GPU and, when
# PyTorch is installed, PyTorch's on the same GPU (scripts/torch_reference.py),
# printed side by side with the ratio. What `make bench-gpu` runs.
#
#   scripts/bench-gpu.sh bin/mnistgpu
#   BENCH_ARGS="--epochs 5 --tasks cnn" BENCH_OUT=/tmp/b scripts/bench-gpu.sh bin/mnistgpu
#
# Environment:
#   BENCH_ARGS  extra arguments for `mnistgpu bench`; its --tasks, --batch-sizes,
#               --epochs and --gpu are passed on to the PyTorch run too
#   TORCH_ARGS  extra arguments for torch_reference.py only
#   DATA        the MNIST folder for both (default $MNISTGPU_DATA, then data/mnist)
#   BENCH_OUT   where bench.json, torch.json and the logs go (default bench-out)
#   PYTHON      a Python with torch and numpy to try first
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
if [[ $BIN != */* ]]; then
	BIN=./$BIN
fi

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DATA=${DATA:-${MNISTGPU_DATA:-data/mnist}}
BENCH_OUT=${BENCH_OUT:-bench-out}
mkdir -p "$BENCH_OUT"

# Word-split the extra arguments (no quoting inside them).
read -r -a bench_args <<<"${BENCH_ARGS:-}"
read -r -a torch_args <<<"${TORCH_ARGS:-}"

# Measure the same thing in PyTorch: forward the flags both programs share.
shared=()
i=0
while ((i < ${#bench_args[@]})); do
	arg=${bench_args[i]}
	case $arg in
	--tasks | --batch-sizes | --epochs)
		((i + 1 < ${#bench_args[@]})) && shared+=("$arg" "${bench_args[i + 1]}")
		i=$((i + 1))
		;;
	--tasks=* | --batch-sizes=* | --epochs=*)
		shared+=("$arg")
		;;
	--gpu)
		((i + 1 < ${#bench_args[@]})) && shared+=(--device "cuda:${bench_args[i + 1]}")
		i=$((i + 1))
		;;
	--gpu=*)
		shared+=(--device "cuda:${arg#--gpu=}")
		;;
	esac
	i=$((i + 1))
done

echo "== mnistgpu bench --device cuda ($BENCH_OUT/bench.json)"
"$BIN" bench --device cuda --data "$DATA" --json "$BENCH_OUT/bench.json" \
	${bench_args[@]+"${bench_args[@]}"} 2>&1 | tee "$BENCH_OUT/bench.log"

# A Python with PyTorch (and numpy): $PYTHON, python3, then the GPU machine's venv.
py=""
for cand in "${PYTHON:-}" python3 /opt/torch/.venv/bin/python3; do
	[[ -n $cand ]] || continue
	command -v "$cand" >/dev/null 2>&1 || continue
	if "$cand" -c 'import torch, numpy' >/dev/null 2>&1; then
		py=$cand
		break
	fi
done
if [[ -z $py ]]; then
	echo
	echo "PyTorch not found: comparison skipped"
	echo "(tried \$PYTHON, python3 and /opt/torch/.venv/bin/python3 with 'import torch, numpy')"
	exit 0
fi

echo
echo "== PyTorch on the same GPU: $py $here/torch_reference.py ($BENCH_OUT/torch.json)"
"$py" "$here/torch_reference.py" --data "$DATA" --json "$BENCH_OUT/torch.json" \
	${shared[@]+"${shared[@]}"} ${torch_args[@]+"${torch_args[@]}"} 2>&1 | tee "$BENCH_OUT/torch.log"

echo
echo "== mnistgpu beside PyTorch ($BENCH_OUT/compare.txt)"
"$BIN" bench --compare "$BENCH_OUT/torch.json" --from "$BENCH_OUT/bench.json" | tee "$BENCH_OUT/compare.txt"
