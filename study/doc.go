// Package study is the seed's deep-learning study as mnistgpu runs it. The
// work lives in its subpackages, one job each:
//
//   - runs: one training run and its folder; evaluation and prediction
//     from a checkpoint; running a list of runs on parallel workers.
//   - sweep: grids of runs with repeats, shards and merging.
//   - report: the whole study as index.html and README.md.
//   - bench: training throughput, comparable with PyTorch's.
//
// internal/mdtable renders their tables; internal/studytest holds the
// tests' shared helpers.
package study
