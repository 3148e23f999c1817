# mnistgpu — `make` lists the targets.
GO      ?= go
BIN     ?= bin/mnistgpu
DATA    ?= data/mnist
ARGS    ?=
export CGO_ENABLED = 0

.DEFAULT_GOAL := help
.PHONY: help build test test-neon asm-check run data bench bench-gpu report docker clean cross

help: ## list the targets
	@awk 'BEGIN{FS=":.*## "} /^[a-z-]+:.*## /{printf "  make %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: ## build the static binary bin/mnistgpu (CGO_ENABLED=0)
	$(GO) build -trimpath -o $(BIN) ./cmd/mnistgpu

cross: ## check that linux/arm64 and darwin/arm64 build too
	GOOS=linux GOARCH=arm64 $(GO) build -o /dev/null ./cmd/mnistgpu
	GOOS=darwin GOARCH=arm64 $(GO) build -o /dev/null ./cmd/mnistgpu

test: ## vet and run every test (GPU tests skip without a GPU)
	$(GO) vet ./...
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

docker: ## build the NVIDIA container image mnistgpu (needs a Docker engine)
	docker build -f Dockerfile.cuda -t mnistgpu .

clean: ## remove build outputs (not data/ or runs/)
	rm -rf bin .gpu
