# mnistgpu — `make` lists the targets.
GO      ?= go
BIN     ?= bin/mnistgpu
DATA    ?= data/mnist
ARGS    ?=
# The CUDA 12 base of `make docker-cuda12` (internal/dockerfile's test holds it equal to Dockerfile.cuda's).
CUDA12_BASE ?= nvidia/cuda:12.9.1-cudnn-runtime-ubuntu24.04
export CGO_ENABLED = 0

.DEFAULT_GOAL := help
.PHONY: help build build-static test test-neon asm-check run data bench bench-gpu report docker docker-cuda12 clean cross

help: ## list the targets
	@awk 'BEGIN{FS=":.*## "} /^[a-z0-9-]+:.*## /{printf "  make %-13s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: ## build bin/mnistgpu without cgo (GPU or CPU; needs the system's C library loader at run time)
	$(GO) build -trimpath -o $(BIN) ./cmd/mnistgpu

build-static: ## build bin/mnistgpu-static: CPU only (-tags nocuda), fully static, for Alpine or distroless
	$(GO) build -trimpath -tags nocuda -o $(BIN)-static ./cmd/mnistgpu

cross: ## check that linux/arm64 and darwin/arm64 build too
	GOOS=linux GOARCH=arm64 $(GO) build -o /dev/null ./cmd/mnistgpu
	GOOS=darwin GOARCH=arm64 $(GO) build -o /dev/null ./cmd/mnistgpu

test: ## vet and run every test (GPU tests skip without a GPU)
	$(GO) vet ./...
	$(GO) vet -tags nocuda ./cmd/... ./kernels/open
	$(GO) test -timeout 30m ./...
	$(GO) test -tags noasm ./kernels/cpu/...

test-neon: ## the CPU kernels' tests for arm64 (NEON) under qemu-aarch64-static
	GOARCH=arm64 $(GO) test -exec qemu-aarch64-static -timeout 30m ./kernels/cpu/...
	GOARCH=arm64 $(GO) test -exec qemu-aarch64-static -tags noasm -run 'TestGemm$$|TestKernelPath' ./kernels/cpu/...

asm-check: ## regenerate the AVX2 assembly with avo and fail if it differs from the committed files
	cd kernels/cpu && $(GO) generate
	git diff --exit-code -- kernels/cpu/simd_amd64.s kernels/cpu/simd_decl_amd64.go

data: $(DATA)/train-images-idx3-ubyte.gz ## install MNIST into data/mnist from the pinned Go module

$(DATA)/train-images-idx3-ubyte.gz:
	$(GO) run ./scripts/fetch-mnist $(DATA)

run: data build ## data, build, then train the CNN with the defaults on the best device
	$(BIN) train cnn $(ARGS)

bench: data build ## training throughput on the best device (mnistgpu bench)
	$(BIN) bench $(ARGS)

bench-gpu: data build ## mnistgpu bench --device cuda, then PyTorch on the same GPU when present
	bash scripts/bench-gpu.sh $(BIN)

report: data build ## the whole study: report/index.html and report/README.md
	$(BIN) report --out report $(ARGS)

docker: ## build the NVIDIA container image mnistgpu (CUDA 13; host driver 580 or newer)
	docker build -f Dockerfile.cuda -t mnistgpu .

docker-cuda12: ## the same image on CUDA 12.9 (host driver 525 or newer, e.g. 535-570), tagged mnistgpu:cuda12
	docker build -f Dockerfile.cuda --build-arg BASE=$(CUDA12_BASE) -t mnistgpu:cuda12 .

clean: ## remove build outputs (not data/ or runs/)
	rm -rf bin .gpu
