package main

import (
	"fmt"

	"mnistgpu/study/report"
)

// The report's wall times as measured (docs/BENCHMARKS.md names the
// machines and commands); README.md gives the same words.
const (
	fullTime  = "28 s on an H100 with one seed per cell"
	quickTime = "33 s on a 2-core CPU"
)

// presetSummary describes a report preset in the words `report --help`
// and README.md share (a test holds README.md to them): "3 epochs for the
// main runs and 2 for the ablations on the first 10,000 training images,
// t-SNE of 1,000 points".
func presetSummary(o report.Options) string {
	return fmt.Sprintf("%s on %s, t-SNE of %s points", presetEpochs(o), presetImages(o), report.Commas(o.TSNEPoints))
}

// presetEpochs is "10 epochs", or "3 epochs for the main runs and 2 for
// the ablations" when they differ.
func presetEpochs(o report.Options) string {
	if o.AblationEpochs != o.MainEpochs {
		return fmt.Sprintf("%d epochs for the main runs and %d for the ablations", o.MainEpochs, o.AblationEpochs)
	}
	return fmt.Sprintf("%d epochs", o.MainEpochs)
}

// presetImages is "all the training images" or "the first 10,000
// training images".
func presetImages(o report.Options) string {
	if o.Subset > 0 {
		return "the first " + report.Commas(o.Subset) + " training images"
	}
	return "all the training images"
}
