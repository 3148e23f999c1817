#!/usr/bin/env bash
# gpu-step-check.sh — what issue 9 (the fused, graph-replayed GPU training
# step) still owes a real GPU: its tests, kernels per step, and epoch times
# with and without CUDA graphs beside PyTorch eager, and the determinism of
# the fused+graph path. Built on gpu-check.sh's build half.
#
#   scripts/gpu-check.sh build         here (no GPU): .gpu/ (binary, cuda.test, MNIST)
#   scripts/gpu-step-check.sh device   on an H100/H200 (device tool, carry ".gpu",
#                                      timeout_s 540), $OUT set
#
# Leaves under $OUT: step-tests.log, bench-graph.json, bench-nograph.json,
# bench.log, torch.json (when PyTorch is there), determinism.txt and
# summary.txt (printed last). Every step has a timeout; a failed step does
# not stop the next one. About 5 minutes on an H100.
set -u

: "${OUT:?OUT must be set to the folder that comes back}"
[ -x .gpu/mnistgpu ] && [ -x .gpu/cuda.test ] || {
	echo "no .gpu/mnistgpu or .gpu/cuda.test: run scripts/gpu-check.sh build first and carry .gpu" >&2
	exit 2
}
mkdir -p "$OUT"
scratch=$(mktemp -d)
export MNISTGPU_REQUIRE_GPU=1
export MNISTGPU_DATA="$PWD/.gpu/data"
declare -A status
step() {
	local name=$1 secs=$2 log=$3
	shift 3
	echo "== $name (timeout ${secs}s) → $log"
	local t0=$SECONDS
	timeout --kill-after=10 "$secs" "$@" >>"$log" 2>&1
	local rc=$?
	status[$name]="rc=$rc, $((SECONDS - t0))s"
	[ $rc -eq 124 ] || [ $rc -eq 137 ] && status[$name]="TIMED OUT after ${secs}s"
	tail -n 12 "$log"
	echo "== $name: ${status[$name]}"
}

# 1. The step's tests on the GPU: fused-op parity, step ops, graph epoch ==
#    direct epoch bit for bit, kernels per step, capture failure, GPU vs CPU.
step tests 150 "$OUT/step-tests.log" .gpu/cuda.test -test.v -test.timeout 140s \
	-test.run '^TestGPU(Dense|DenseGather|ActPool|BNActPool|PoolActBN|ConvBias|ConvBNActPool|ConvBNActPoolGather|StepOps|GraphEpoch|StepLaunches|CaptureFails|ModelSteps)$'

# 2. Epoch times, graphs on and off (the table prints ms/epoch, path,
#    kernels/step and host calls/step).
args=(bench --device cuda --data .gpu/data --tasks mlp,cnn --batch-sizes 64,512 --epochs 3)
step bench-graph 120 "$OUT/bench.log" .gpu/mnistgpu "${args[@]}" --json "$OUT/bench-graph.json"
MNISTGPU_CUDA_GRAPHS=0 step bench-nograph 120 "$OUT/bench.log" .gpu/mnistgpu "${args[@]}" --json "$OUT/bench-nograph.json"

# 3. PyTorch eager on the same card, when it is installed.
py=""
for cand in "${PYTHON:-}" python3 /opt/torch/.venv/bin/python3; do
	[ -n "$cand" ] && command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import torch, numpy' >/dev/null 2>&1 && {
		py=$cand
		break
	}
done
if [ -n "$py" ]; then
	step torch 150 "$OUT/bench.log" "$py" scripts/torch_reference.py --data .gpu/data --tasks mlp,cnn \
		--batch-sizes 64,512 --epochs 3 --json "$OUT/torch.json"
fi

# 4. Determinism: the same seed twice per task on the default path must
#    write byte-identical weights.
: >"$OUT/determinism.txt"
for task in mlp cnn; do
	for run in 1 2; do
		step "det-$task-$run" 60 "$scratch/det.log" .gpu/mnistgpu train $task --epochs 1 --device cuda \
			--data .gpu/data --no-figures --out "$scratch/$task-$run"
	done
	a=$(sha256sum "$scratch/$task-1/model.safetensors" 2>/dev/null | cut -c1-16)
	b=$(sha256sum "$scratch/$task-2/model.safetensors" 2>/dev/null | cut -c1-16)
	same=DIFFERENT
	[ -n "$a" ] && [ "$a" = "$b" ] && same=identical
	echo "$task: $a $b $same" >>"$OUT/determinism.txt"
done

{
	echo "## steps"
	for s in "${!status[@]}"; do printf '%-16s %s\n' "$s" "${status[$s]}"; done | sort
	echo
	echo "## tests: $(grep -c '^--- PASS' "$OUT/step-tests.log") passed, $(grep -c '^--- FAIL' "$OUT/step-tests.log") failed"
	grep -E '^--- FAIL|kernels per step' "$OUT/step-tests.log"
	echo
	echo "## graphs on"
	.gpu/mnistgpu bench --from "$OUT/bench-graph.json" 2>&1
	echo "## graphs off (MNISTGPU_CUDA_GRAPHS=0)"
	.gpu/mnistgpu bench --from "$OUT/bench-nograph.json" 2>&1
	if [ -f "$OUT/torch.json" ]; then
		echo "## beside PyTorch eager"
		.gpu/mnistgpu bench --compare "$OUT/torch.json" --from "$OUT/bench-graph.json" 2>&1
	fi
	echo "## determinism (sha256 of model.safetensors, two runs)"
	cat "$OUT/determinism.txt"
} >"$OUT/summary.txt" 2>&1
rm -rf "$scratch"
echo
cat "$OUT/summary.txt"
