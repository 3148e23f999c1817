// Package plots draws the figures of mnistgpu's report from plain numbers
// and images: training curves, confusion matrices, grids of test images,
// convolution filters, ROC curves, 2-D (t-SNE) scatter plots and bar charts
// with error bars.
//
// Every function writes one file: SVG when the path ends in ".svg", PNG at
// DPI dots per inch when it ends in ".png" or has no extension (any other
// extension is an error). Files are written to a temporary file in the same
// folder and renamed into place. Inputs are validated: mismatched lengths,
// empty data and out-of-range labels give errors, never panics.
//
// Classes and series take their colours from ClassColor (matplotlib's
// tab10), so class 3 has the same colour in the ROC curves and in the t-SNE
// plot. The package imports nothing else of mnistgpu.
package plots
