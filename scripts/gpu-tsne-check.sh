#!/usr/bin/env bash
# gpu-tsne-check.sh — the GPU t-SNE check (issue 10 item 2) in two halves.
#
#   scripts/gpu-tsne-check.sh build    here (no GPU, Go installed): the static
#                                      test binary of kernels/cuda into .gpu/
#   scripts/gpu-tsne-check.sh device   on the GPU machine, from the repository
#                                      root, with $OUT set
#
# The device half needs no Go (carry ".gpu") and finishes in about 2 minutes:
#   1. the t-SNE GPU tests (gradient against float64, neighbours, 300-point
#      parity with the CPU's exact t-SNE);
#   2. TestTSNEGPU10k: 10,000 points on the GPU against the CPU's Barnes-Hut
#      t-SNE, trustworthiness (k = 10) within 0.005 (the log line gives both,
#      the final KL and both wall times);
#   3. the benchmarks: BenchmarkTSNEGPU (end to end, target <= 0.3 s),
#      BenchmarkTSNEGPUSteps (the 1000 iterations alone) and
#      BenchmarkTSNEGPUNeighbors (the kNN alone).
# It leaves tsne.log and tsne-summary.txt under $OUT.
set -u

mode=${1:-}

build() {
	set -e
	mkdir -p .gpu
	CGO_ENABLED=0 go test -c -o .gpu/cuda.test ./kernels/cuda
	ls -la .gpu/cuda.test
	cat <<'EOT'
== ready. Run on the GPU machine (device tool):
   command: bash scripts/gpu-tsne-check.sh device
   carry:   [".gpu"]
   timeout_s: 300
EOT
}

device() {
	: "${OUT:?OUT must be set to the folder that comes back}"
	mkdir -p "$OUT"
	export MNISTGPU_REQUIRE_GPU=1 MNISTGPU_TSNE_10K=1
	chmod +x .gpu/cuda.test 2>/dev/null
	log="$OUT/tsne.log"
	{
		timeout 10 nvidia-smi -L 2>&1 || true
		nproc
	} >"$log"
	timeout --kill-after=10 120 .gpu/cuda.test -test.v -test.run '^(TestGPUTSNE|TestTSNEGPU10k$)' \
		-test.timeout 110s >>"$log" 2>&1
	echo "== tests exit $?" >>"$log"
	timeout --kill-after=10 150 .gpu/cuda.test -test.run '^$' -test.bench 'TSNEGPU' \
		-test.benchtime 5x -test.count 3 -test.timeout 140s >>"$log" 2>&1
	echo "== benchmarks exit $?" >>"$log"
	grep -E '^(--- |Benchmark|==)|trustworthiness' "$log" | tee "$OUT/tsne-summary.txt"
}

case "$mode" in
build) build ;;
device) device ;;
*)
	echo "usage: scripts/gpu-tsne-check.sh build|device" >&2
	exit 2
	;;
esac
