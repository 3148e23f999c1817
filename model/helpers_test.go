package model

import "mnistgpu/dataset"

// syntheticSet makes n random size×size images with labels 0..9.
func syntheticSet(n, size int) *dataset.Set {
	px := make([]uint8, n*size*size)
	for i := range px {
		px[i] = uint8(i * 7919 % 251)
	}
	lab := make([]uint8, n)
	for i := range lab {
		lab[i] = uint8(i % 10)
	}
	return &dataset.Set{Images: &dataset.Images{N: n, Rows: size, Cols: size, Pixels: px}, Labels: lab}
}
