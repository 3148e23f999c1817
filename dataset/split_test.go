package dataset

import (
	"encoding/binary"
	"math"
	"slices"
	"strings"
	"testing"
)

// tagged returns a set of n images of 2x3 pixels whose first four bytes hold
// the image's pooled position first+i, and whose label is (first+i)%10.
func tagged(n, first int) *Set {
	const size = 6
	s := &Set{
		Images: &Images{N: n, Rows: 2, Cols: 3, Pixels: make([]uint8, n*size)},
		Labels: make([]uint8, n),
	}
	for i := range n {
		binary.LittleEndian.PutUint32(s.Images.Pixels[i*size:], uint32(first+i))
		s.Images.Pixels[i*size+4] = 0xAA
		s.Images.Pixels[i*size+5] = byte(i)
		s.Labels[i] = uint8((first + i) % 10)
	}
	return s
}

// checkTagged verifies that every image of s carries the pixels and label of
// the pooled position its Index names, and returns those positions.
func checkTagged(t *testing.T, what string, s *Set, nTrain int) []int32 {
	t.Helper()
	if s == nil {
		t.Fatalf("%s: nil set", what)
	}
	if s.Images.N != s.Len() || len(s.Index) != s.Len() || len(s.Images.Pixels) != s.Len()*6 {
		t.Fatalf("%s: N %d, %d labels, %d indices, %d pixel bytes", what, s.Images.N, s.Len(), len(s.Index), len(s.Images.Pixels))
	}
	if s.Images.Rows != 2 || s.Images.Cols != 3 {
		t.Fatalf("%s: images are %dx%d, want 2x3", what, s.Images.Rows, s.Images.Cols)
	}
	for i := range s.Len() {
		img, j := s.Image(i), s.Index[i]
		local := int(j)
		if local >= nTrain {
			local -= nTrain
		}
		if got := binary.LittleEndian.Uint32(img); got != uint32(j) || img[4] != 0xAA || img[5] != byte(local) {
			t.Fatalf("%s: image %d has Index %d but pixels %v", what, i, j, img)
		}
		if s.Labels[i] != uint8(j%10) {
			t.Fatalf("%s: image %d has Index %d but label %d", what, i, j, s.Labels[i])
		}
	}
	return s.Index
}

func TestMakeSplitsSizes(t *testing.T) {
	const nTrain, nTest = 100, 40
	tests := []struct {
		name                 string
		valFrac, trainRatio  float64
		subset               int
		wantTrain, wantVal   int
		wantTest             int
		wantStandardTestIdxs bool // test set is exactly the standard test set
	}{
		{"standard", 0, 0, 0, 100, 0, 40, true},
		{"validation", 0.1, 0, 0, 90, 10, 40, true},
		{"validation rounds", 0.125, 0, 0, 87, 13, 40, true}, // 12.5 rounds away from zero
		{"train ratio", 0, 0.5, 0, 70, 0, 70, false},
		{"train ratio 5/7", 0, 5.0 / 7, 0, 100, 0, 40, false},
		{"train ratio and validation", 0.2, 0.5, 0, 56, 14, 70, false},
		{"subset", 0, 0, 30, 30, 0, 40, true},
		{"subset larger than the set", 0, 0, 1000, 100, 0, 40, true},
		{"subset after validation", 0.1, 0, 5, 5, 10, 40, true},
		{"everything", 0.25, 0.8, 50, 50, 28, 28, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			train, test := tagged(nTrain, 0), tagged(nTest, nTrain)
			sp, err := MakeSplits(train, test, tt.valFrac, tt.trainRatio, tt.subset, 42)
			if err != nil {
				t.Fatal(err)
			}
			if sp.Train.Len() != tt.wantTrain || sp.Val.Len() != tt.wantVal || sp.Test.Len() != tt.wantTest {
				t.Fatalf("sizes %d/%d/%d, want %d/%d/%d", sp.Train.Len(), sp.Val.Len(), sp.Test.Len(),
					tt.wantTrain, tt.wantVal, tt.wantTest)
			}
			seen := map[int32]string{}
			for _, part := range []struct {
				what string
				s    *Set
			}{{"train", sp.Train}, {"val", sp.Val}, {"test", sp.Test}} {
				idx := checkTagged(t, part.what, part.s, nTrain)
				if !slices.IsSorted(idx) {
					t.Errorf("%s: indices not in pooled order: %v", part.what, idx)
				}
				for _, j := range idx {
					if other, dup := seen[j]; dup {
						t.Fatalf("image %d is in both %s and %s", j, other, part.what)
					}
					seen[j] = part.what
				}
			}
			if tt.subset == 0 && len(seen) != nTrain+nTest {
				t.Errorf("the sets hold %d distinct images, want all %d", len(seen), nTrain+nTest)
			}
			if tt.wantStandardTestIdxs && !slices.Equal(sp.Test.Index, iota32(nTrain, nTrain+nTest)) {
				t.Errorf("test set is not the standard one: %v", sp.Test.Index)
			}
			if tt.trainRatio == 0 && tt.valFrac == 0 && !slices.Equal(sp.Train.Index, iota32(0, tt.wantTrain)) {
				t.Errorf("training set is not the first %d standard images: %v", tt.wantTrain, sp.Train.Index)
			}
		})
	}
}

func TestMakeSplitsSubsetKeepsFirst(t *testing.T) {
	train, test := tagged(100, 0), tagged(40, 100)
	full, err := MakeSplits(train, test, 0.2, 0, 0, 7)
	if err != nil {
		t.Fatal(err)
	}
	sub, err := MakeSplits(train, test, 0.2, 0, 10, 7)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(sub.Train.Index, full.Train.Index[:10]) {
		t.Errorf("subset 10 = %v, want the first 10 of %v", sub.Train.Index, full.Train.Index)
	}
	if !slices.Equal(sub.Val.Index, full.Val.Index) {
		t.Errorf("subset changed the validation set")
	}
}

func TestMakeSplitsDeterminism(t *testing.T) {
	tests := []struct {
		name                string
		valFrac, trainRatio float64
	}{
		{"validation", 0.1, 0},
		{"train ratio", 0, 0.6},
		{"both", 0.3, 0.6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			train, test := tagged(200, 0), tagged(50, 200)
			a, err := MakeSplits(train, test, tt.valFrac, tt.trainRatio, 0, 1)
			if err != nil {
				t.Fatal(err)
			}
			b, err := MakeSplits(train, test, tt.valFrac, tt.trainRatio, 0, 1)
			if err != nil {
				t.Fatal(err)
			}
			c, err := MakeSplits(train, test, tt.valFrac, tt.trainRatio, 0, 2)
			if err != nil {
				t.Fatal(err)
			}
			same := func(x, y Split) bool {
				return slices.Equal(x.Train.Index, y.Train.Index) && slices.Equal(x.Val.Index, y.Val.Index) &&
					slices.Equal(x.Test.Index, y.Test.Index) && slices.Equal(x.Train.Images.Pixels, y.Train.Images.Pixels) &&
					slices.Equal(x.Train.Labels, y.Train.Labels)
			}
			if !same(a, b) {
				t.Error("seed 1 gave two different splits")
			}
			if same(a, c) {
				t.Error("seeds 1 and 2 gave the same split")
			}
		})
	}
}

func TestMakeSplitsCopies(t *testing.T) {
	train, test := tagged(10, 0), tagged(5, 10)
	before := slices.Clone(train.Images.Pixels)
	sp, err := MakeSplits(train, test, 0, 0, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	sp.Train.Images.Pixels[0] ^= 0xff
	sp.Train.Labels[0] = 9
	if !slices.Equal(train.Images.Pixels, before) || train.Labels[0] != 0 {
		t.Error("writing to the split's training set changed the input")
	}
	if sp.Val == nil || sp.Val.Len() != 0 || sp.Val.Images == nil || sp.Val.Images.Rows != 2 {
		t.Errorf("empty validation set = %+v, want a non-nil empty set of 2x3 images", sp.Val)
	}
}

func TestMakeSplitsErrors(t *testing.T) {
	tests := []struct {
		name                string
		train, test         *Set
		valFrac, trainRatio float64
		subset              int
		wantErr             string
	}{
		{"val 1.5", tagged(10, 0), tagged(5, 10), 1.5, 0, 0, "--val-split 1.5: must be at least 0 and less than 1"},
		{"val 1", tagged(10, 0), tagged(5, 10), 1, 0, 0, "--val-split 1: must be at least 0 and less than 1"},
		{"val negative", tagged(10, 0), tagged(5, 10), -0.1, 0, 0, "--val-split -0.1: must be at least 0"},
		{"val NaN", tagged(10, 0), tagged(5, 10), math.NaN(), 0, 0, "--val-split NaN"},
		{"val leaves nothing", tagged(10, 0), tagged(5, 10), 0.97, 0, 0, "takes 10 of 10 training images and leaves none"},
		{"ratio 1", tagged(10, 0), tagged(5, 10), 0, 1, 0, "--train-ratio 1: must be 0"},
		{"ratio 1.2", tagged(10, 0), tagged(5, 10), 0, 1.2, 0, "--train-ratio 1.2: must be 0"},
		{"ratio negative", tagged(10, 0), tagged(5, 10), 0, -0.5, 0, "--train-ratio -0.5"},
		{"ratio NaN", tagged(10, 0), tagged(5, 10), 0, math.NaN(), 0, "--train-ratio NaN"},
		{"ratio leaves no test", tagged(10, 0), tagged(5, 10), 0, 0.99, 0, "leaves 15 of 15 images for training and 0 for testing"},
		{"ratio leaves no train", tagged(10, 0), tagged(5, 10), 0, 0.01, 0, "leaves 0 of 15 images for training"},
		{"subset negative", tagged(10, 0), tagged(5, 10), 0, 0, -1, "--subset -1: must not be negative"},
		{"nil train", nil, tagged(5, 10), 0, 0, 0, "no training set"},
		{"nil test", tagged(10, 0), nil, 0, 0, 0, "no test set"},
		{"empty train", tagged(0, 0), tagged(5, 10), 0, 0, 0, "training set is empty"},
		{"labels and images disagree", &Set{Images: tagged(3, 0).Images, Labels: []uint8{1}}, tagged(5, 10), 0, 0, 0,
			"training set has 3 images, 1 labels"},
		{"image sizes differ", tagged(10, 0), &Set{Images: &Images{N: 1, Rows: 3, Cols: 2, Pixels: make([]uint8, 6)}, Labels: []uint8{1}},
			0, 0, 0, "training images are 2x3 but test images are 3x2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := MakeSplits(tt.train, tt.test, tt.valFrac, tt.trainRatio, tt.subset, 1)
			if err == nil {
				t.Fatalf("no error, want %q", tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestPermutation(t *testing.T) {
	tests := []struct {
		n     int
		seed  uint64
		epoch int
	}{{1, 0, 0}, {2, 5, 3}, {1000, 1, 0}, {1000, 1, 1}, {1000, 2, 0}, {60000, 42, 17}}
	perms := map[[3]int][]int32{}
	for _, tt := range tests {
		p := Permutation(tt.n, tt.seed, tt.epoch)
		if !slices.Equal(slices.Sorted(slices.Values(p)), iota32(0, tt.n)) {
			t.Fatalf("Permutation(%d, %d, %d) is not a permutation of 0..%d", tt.n, tt.seed, tt.epoch, tt.n-1)
		}
		if again := Permutation(tt.n, tt.seed, tt.epoch); !slices.Equal(p, again) {
			t.Errorf("Permutation(%d, %d, %d) differs between calls", tt.n, tt.seed, tt.epoch)
		}
		perms[[3]int{tt.n, int(tt.seed), tt.epoch}] = p
	}
	if slices.Equal(perms[[3]int{1000, 1, 0}], perms[[3]int{1000, 1, 1}]) {
		t.Error("epochs 0 and 1 have the same order")
	}
	if slices.Equal(perms[[3]int{1000, 1, 0}], perms[[3]int{1000, 2, 0}]) {
		t.Error("seeds 1 and 2 give the same order")
	}
	if slices.Equal(perms[[3]int{1000, 1, 0}], iota32(0, 1000)) {
		t.Error("the order is not shuffled")
	}
	for _, n := range []int{0, -3} {
		if p := Permutation(n, 1, 0); p == nil || len(p) != 0 {
			t.Errorf("Permutation(%d) = %v, want an empty slice", n, p)
		}
	}
}

// TestPermutationEpochsDiffer checks that many consecutive epochs all differ
// already in their first elements, as distinct streams should.
func TestPermutationEpochsDiffer(t *testing.T) {
	seen := map[[4]int32]int{}
	for epoch := range 200 {
		p := Permutation(60000, 3, epoch)
		key := [4]int32(p[:4])
		if prev, ok := seen[key]; ok {
			t.Fatalf("epochs %d and %d start alike: %v", prev, epoch, key)
		}
		seen[key] = epoch
	}
}

func TestNormalize(t *testing.T) {
	tests := []struct {
		px   uint8
		want float64
	}{
		{0, -0.1307 / 0.3081},
		{255, (1 - 0.1307) / 0.3081},
		{128, (128.0/255 - 0.1307) / 0.3081},
	}
	for _, tt := range tests {
		if got := Normalize(tt.px); !(math.Abs(float64(got)-tt.want) <= 1e-5) {
			t.Errorf("Normalize(%d) = %v, want %v", tt.px, got, tt.want)
		}
	}
}
