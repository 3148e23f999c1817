#!/usr/bin/env bash
# gpu-check.sh — the GPU check in two halves.
#
#   scripts/gpu-check.sh build    here (no GPU, Go installed): static binaries
#                                 and the MNIST files into .gpu/
#   scripts/gpu-check.sh device   on the GPU machine, from the repository root,
#                                 with $OUT set: devices, parity tests and
#                                 benchmarks, a 3-epoch CNN and MLP run, and a
#                                 short table printed last
#
# The device half needs no Go: it runs what the build half left in .gpu/
# (carry ".gpu"). Every step has a timeout and a failed step does not stop the
# next one; the whole device half finishes in under 6 minutes. At most 8
# files are left under $OUT: devices.txt, parity.log, train-cnn.log,
# train-mlp.log, cnn-metrics.json, mlp-metrics.json and summary.txt (the table
# and both history.csv files).
set -u

mode=${1:-}
here=$(pwd)

build() {
	set -e
	mkdir -p .gpu/data
	echo "== building static binaries (CGO_ENABLED=0) into .gpu/"
	CGO_ENABLED=0 go build -trimpath -o .gpu/mnistgpu ./cmd/mnistgpu
	CGO_ENABLED=0 go test -c -o .gpu/cuda.test ./kernels/cuda
	files="train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz"
	missing=0
	for f in $files; do
		if [ -f "data/mnist/$f" ]; then
			cp "data/mnist/$f" .gpu/data/
		else
			missing=1
		fi
	done
	if [ "$missing" = 1 ]; then
		echo "== data/mnist incomplete: fetching MNIST into .gpu/data"
		go run ./scripts/fetch-mnist .gpu/data
	fi
	set +e
	size=$(du -sk .gpu | awk '{print $1}')
	echo "== .gpu holds $((size / 1024)) MiB:"
	ls -la .gpu .gpu/data
	if [ "$size" -gt 62000 ]; then
		echo "WARNING: .gpu is over ~60 MiB; carry allows 64 MiB in all" >&2
	fi
	cat <<'EOF'
== ready. Run on the GPU machine (device tool):
   command: bash scripts/gpu-check.sh device
   carry:   [".gpu"]
   timeout_s: 420
EOF
}

# step NAME SECONDS LOG CMD...: runs CMD with a timeout, output to LOG (and a
# tail to stdout), and records the exit status.
declare -A status
step() {
	local name=$1 secs=$2 log=$3
	shift 3
	echo "== $name (timeout ${secs}s) → $log"
	local t0=$SECONDS
	timeout --kill-after=10 "$secs" "$@" >"$log" 2>&1
	local rc=$?
	status[$name]="rc=$rc, $((SECONDS - t0))s"
	if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
		status[$name]="TIMED OUT after ${secs}s"
	fi
	tail -n 25 "$log"
	echo "== $name: ${status[$name]}"
}

device() {
	: "${OUT:?OUT must be set to the folder that comes back}"
	mkdir -p "$OUT"
	local scratch
	scratch=$(mktemp -d)
	export MNISTGPU_REQUIRE_GPU=1      # the GPU tests fail instead of skipping
	export MNISTGPU_CUDA_VERBOSE=1     # the tests' devices log what they load and choose
	export MNISTGPU_DATA="$here/.gpu/data"
	chmod +x .gpu/mnistgpu .gpu/cuda.test 2>/dev/null

	{
		echo "## nvidia-smi -L"
		timeout 10 nvidia-smi -L 2>&1 || true
		echo "## mnistgpu devices"
	} >"$OUT/devices.txt"
	step devices 30 "$scratch/devices.log" .gpu/mnistgpu devices
	cat "$scratch/devices.log" >>"$OUT/devices.txt"

	# Parity tests (every op against the CPU device), then the benchmarks.
	# TestFakeGPU is the no-GPU emulation: not wanted here.
	step parity 140 "$OUT/parity.log" .gpu/cuda.test -test.v -test.run . -test.skip TestFakeGPU \
		-test.bench 'Gemm|Conv' -test.benchtime 200x -test.timeout 130s
	# A crash (a bad call into a library kills the process) leaves the tests
	# after it unreported: run each of those alone, so the log says which
	# one crashed and what the others do.
	if ! grep -qE '^(PASS|FAIL)$' "$OUT/parity.log"; then
		echo "== parity run did not finish: running the unreported GPU tests one by one" | tee -a "$OUT/parity.log"
		for tst in $(.gpu/cuda.test -test.list '^TestGPU' 2>/dev/null); do
			grep -qE "^--- (PASS|FAIL|SKIP): $tst " "$OUT/parity.log" && continue
			[ $SECONDS -gt 190 ] && { echo "=== out of time for $tst" >>"$OUT/parity.log"; continue; }
			echo "=== alone: $tst" >>"$OUT/parity.log"
			timeout --kill-after=5 30 .gpu/cuda.test -test.v -test.run "^$tst\$" >>"$OUT/parity.log" 2>&1
			echo "=== alone: $tst exit $?" >>"$OUT/parity.log"
		done
	fi

	for task in cnn mlp; do
		local secs=85
		[ "$task" = mlp ] && secs=70
		step "train-$task" $secs "$OUT/train-$task.log" .gpu/mnistgpu train $task --epochs 3 --device cuda \
			--data .gpu/data --no-figures --out "$scratch/$task"
		cp "$scratch/$task/metrics.json" "$OUT/$task-metrics.json" 2>/dev/null
	done

	# The table, last.
	{
		echo "## steps"
		for s in devices parity train-cnn train-mlp; do
			printf '%-10s %s\n' "$s" "${status[$s]:-not run}"
		done
		echo
		echo "## parity: $(grep -c '^--- PASS' "$OUT/parity.log") passed, $(grep -c '^--- FAIL' "$OUT/parity.log") failed, $(grep -c '^--- SKIP' "$OUT/parity.log") skipped"
		grep -E '^--- FAIL|^Benchmark' "$OUT/parity.log"
		echo
		for task in cnn mlp; do
			echo "## $task history.csv"
			cat "$scratch/$task/history.csv" 2>/dev/null || echo "(none)"
		done
		echo
		echo "## result"
		python3 - "$scratch" <<'EOF' 2>&1 || echo "(python3 failed; see the histories above)"
import csv, json, os, sys
scratch = sys.argv[1]
print(f"{'task':<6} {'test acc':>9} {'s/epoch (2-3)':>14} {'images/s':>10}")
for task in ("cnn", "mlp"):
    acc = sec = ips = None
    try:
        m = json.load(open(os.path.join(scratch, task, "metrics.json")))
        acc = m.get("test_accuracy", m.get("accuracy"))
    except Exception:
        pass
    try:
        rows = list(csv.DictReader(open(os.path.join(scratch, task, "history.csv"))))
        tail = rows[1:3] if len(rows) >= 3 else rows[-1:]
        sec = sum(float(r["seconds"]) for r in tail) / len(tail)
        if tail and "images_per_sec" in tail[0]:
            ips = sum(float(r["images_per_sec"]) for r in tail) / len(tail)
    except Exception:
        pass
    f = lambda v, fmt: format(v, fmt) if v is not None else "-"
    print(f"{task:<6} {f(acc, '.4f'):>9} {f(sec, '.3f'):>14} {f(ips, '.0f'):>10}")
EOF
	} >"$OUT/summary.txt" 2>&1
	rm -rf "$scratch"
	echo
	cat "$OUT/summary.txt"
}

case "$mode" in
build) build ;;
device) device ;;
*)
	echo "usage: scripts/gpu-check.sh build|device" >&2
	exit 2
	;;
esac
