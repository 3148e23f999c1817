// Package dockerfile holds no code, only tests: no Docker engine runs on the
// project's machines or in CI, so its tests read Dockerfile.cuda (and
// .dockerignore and README.md) at the module root and hold them to what the
// image must be: a golang build stage of go.mod's Go version that builds the
// static binary and installs MNIST, and a pinned nvidia/cuda cuDNN runtime
// stage that runs mnistgpu as a non-root user in /runs.
package dockerfile
