package dataset

import (
	"fmt"
	"math"
	"math/rand/v2"
	"mnistgpu/internal/splitmix"
	"slices"
)

// Normalisation constants: the mean and standard deviation of the MNIST
// training pixels scaled to [0, 1], as PyTorch's MNIST examples use them.
const (
	// Mean is the mean training pixel value in [0, 1].
	Mean = 0.1307
	// Std is the standard deviation of the training pixel values in [0, 1].
	Std = 0.3081
)

// Normalize maps a pixel byte to the value a model sees: (px/255 - Mean) / Std.
func Normalize(px uint8) float32 {
	return (float32(px)/255 - Mean) / Std
}

// PCG stream constants: each use of the seed draws from its own stream, so
// that changing one step of the split cannot shift another's randomness.
const (
	streamPool  = 0x706f6f6c73706c74 // "poolsplt": re-splitting train+test
	streamVal   = 0x76616c5f73706c74 // "val_splt": carving validation
	streamEpoch = 0x65706f63686f7264 // "epochord": per-epoch batch order
)

// Split is the data one run trains, validates and tests on.
type Split struct {
	// Train is the set the model is fitted to.
	Train *Set
	// Val is held out of Train for validation; empty (Len 0), not nil,
	// when the validation fraction is 0.
	Val *Set
	// Test is the test set.
	Test *Set
}

// CheckSplitOptions checks MakeSplits' options without any data, so a bad
// flag is reported before anything is loaded.
func CheckSplitOptions(valFrac, trainRatio float64, subset int) error {
	if !(valFrac >= 0 && valFrac < 1) { // also rejects NaN
		return fmt.Errorf("--val-split %g: must be at least 0 and less than 1", valFrac)
	}
	if !(trainRatio == 0 || trainRatio > 0 && trainRatio < 1) {
		return fmt.Errorf("--train-ratio %g: must be 0 (the standard split) or more than 0 and less than 1", trainRatio)
	}
	if subset < 0 {
		return fmt.Errorf("--subset %d: must not be negative (0 keeps every training image)", subset)
	}
	return nil
}

// MakeSplits derives the sets of one run from the standard training and test
// sets (as Load returns them), deterministically for seed. In order:
//
//  1. If trainRatio > 0, the training and test sets are pooled (70,000
//     images for MNIST), shuffled, and re-split: round(trainRatio*pool)
//     images become the training set and the rest the test set. trainRatio
//     must then be less than 1 and leave both sets non-empty; 0 keeps the
//     standard split (6/7 reproduces its sizes, but not its images).
//  2. round(valFrac*len(train)) images, chosen at random, move from the
//     training set to the validation set. valFrac must be in [0, 1) and
//     leave at least one training image.
//  3. If subset > 0, only the first subset images of what remains of the
//     training set are kept (all of them when there are fewer). subset must
//     not be negative. Validation and test are not cut.
//
// Every resulting set keeps the relative order its images had in the pooled
// data (standard training images first, then test images), so with
// trainRatio 0 and valFrac 0 the sets equal the inputs, and subset then
// keeps the first images of the standard training set. The results are new
// Sets with their own copies of the pixels; each has Index set to the
// images' positions in the pooled data, which identifies every image.
func MakeSplits(train, test *Set, valFrac, trainRatio float64, subset int, seed uint64) (Split, error) {
	if err := checkSet("training", train); err != nil {
		return Split{}, err
	}
	if err := checkSet("test", test); err != nil {
		return Split{}, err
	}
	tr, te := train.Images, test.Images
	if tr.Rows != te.Rows || tr.Cols != te.Cols {
		return Split{}, fmt.Errorf("split: training images are %dx%d but test images are %dx%d",
			tr.Rows, tr.Cols, te.Rows, te.Cols)
	}
	if err := CheckSplitOptions(valFrac, trainRatio, subset); err != nil {
		return Split{}, err
	}

	nTrain, nTest := train.Len(), test.Len()
	if nTrain+nTest > math.MaxInt32 {
		return Split{}, fmt.Errorf("split: %d images are more than %d", nTrain+nTest, math.MaxInt32)
	}
	trainIdx := iota32(0, nTrain)
	testIdx := iota32(nTrain, nTrain+nTest)

	// 1. Re-split the pool.
	if trainRatio > 0 {
		pool := nTrain + nTest
		k := int(math.Round(trainRatio * float64(pool)))
		if k < 1 || k >= pool {
			return Split{}, fmt.Errorf("--train-ratio %g: leaves %d of %d images for training and %d for testing; both must be non-empty",
				trainRatio, k, pool, pool-k)
		}
		all := iota32(0, pool)
		shuffle(all, rand.New(rand.NewPCG(seed, streamPool)))
		trainIdx, testIdx = sorted(all[:k]), sorted(all[k:])
	}

	// 2. Carve validation out of training.
	var valIdx []int32
	if valFrac > 0 {
		n := len(trainIdx)
		k := int(math.Round(valFrac * float64(n)))
		if k >= n {
			return Split{}, fmt.Errorf("--val-split %g: takes %d of %d training images and leaves none to train on",
				valFrac, k, n)
		}
		perm := slices.Clone(trainIdx)
		shuffle(perm, rand.New(rand.NewPCG(seed, streamVal)))
		valIdx, trainIdx = sorted(perm[:k]), sorted(perm[k:])
	}

	// 3. Subset.
	if subset > 0 && subset < len(trainIdx) {
		trainIdx = trainIdx[:subset]
	}

	return Split{
		Train: gather(train, test, trainIdx),
		Val:   gather(train, test, valIdx),
		Test:  gather(train, test, testIdx),
	}, nil
}

// checkSet reports a nil, malformed or empty Set.
func checkSet(what string, s *Set) error {
	switch {
	case s == nil || s.Images == nil:
		return fmt.Errorf("split: no %s set", what)
	case s.Images.N != len(s.Labels) || len(s.Images.Pixels) != s.Images.N*s.Images.Size():
		return fmt.Errorf("split: %s set has %d images, %d labels and %d pixel bytes for %dx%d images",
			what, s.Images.N, len(s.Labels), len(s.Images.Pixels), s.Images.Rows, s.Images.Cols)
	case s.Len() == 0:
		return fmt.Errorf("split: %s set is empty", what)
	}
	return nil
}

// iota32 returns lo, lo+1, ..., hi-1.
func iota32(lo, hi int) []int32 {
	s := make([]int32, hi-lo)
	for i := range s {
		s[i] = int32(lo + i)
	}
	return s
}

// sorted returns a sorted copy of s.
func sorted(s []int32) []int32 {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// shuffle permutes s uniformly at random (Fisher-Yates).
func shuffle(s []int32, r *rand.Rand) {
	r.Shuffle(len(s), func(i, j int) { s[i], s[j] = s[j], s[i] })
}

// gather builds a new Set from the images at pooled positions idx, where
// positions below train.Len() are training images and the rest test images.
func gather(train, test *Set, idx []int32) *Set {
	size := train.Images.Size()
	out := &Set{
		Images: &Images{
			N:      len(idx),
			Rows:   train.Images.Rows,
			Cols:   train.Images.Cols,
			Pixels: make([]uint8, len(idx)*size),
		},
		Labels: make([]uint8, len(idx)),
		Index:  slices.Clone(idx),
	}
	if out.Index == nil {
		out.Index = []int32{}
	}
	nTrain := train.Len()
	for i, j := range idx {
		src, k := train, int(j)
		if k >= nTrain {
			src, k = test, k-nTrain
		}
		copy(out.Images.Pixels[i*size:(i+1)*size], src.Image(k))
		out.Labels[i] = src.Labels[k]
	}
	return out
}

// Permutation returns the order in which to visit n images in one epoch: a
// uniformly random permutation of 0..n-1 that depends only on (seed, epoch),
// different for every epoch. It returns an empty slice when n <= 0.
func Permutation(n int, seed uint64, epoch int) []int32 {
	if n <= 0 {
		return []int32{}
	}
	p := iota32(0, n)
	shuffle(p, rand.New(rand.NewPCG(seed, streamEpoch^splitmix.Mix64(uint64(epoch)))))
	return p
}
