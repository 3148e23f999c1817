package dataset

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// The four files of an MNIST-format data set, without the ".gz" that each
// may carry.
const (
	// TrainImagesFile holds the training images.
	TrainImagesFile = "train-images-idx3-ubyte"
	// TrainLabelsFile holds the training labels.
	TrainLabelsFile = "train-labels-idx1-ubyte"
	// TestImagesFile holds the test images.
	TestImagesFile = "t10k-images-idx3-ubyte"
	// TestLabelsFile holds the test labels.
	TestLabelsFile = "t10k-labels-idx1-ubyte"
)

// fileNames lists the four files in a fixed order.
func fileNames() [4]string {
	return [4]string{TrainImagesFile, TrainLabelsFile, TestImagesFile, TestLabelsFile}
}

// DefaultDir is where Locate looks last, relative to the working directory,
// and where `make data` installs MNIST.
const DefaultDir = "data/mnist"

// EnvVar names the environment variable Locate consults after --data.
const EnvVar = "MNISTGPU_DATA"

// Set is a labelled set of images.
type Set struct {
	// Images holds the pixels.
	Images *Images
	// Labels holds one label per image, each below NumClasses.
	Labels []uint8
	// Index, when not nil, gives for each image its position in the data
	// it came from: i for the i-th standard training image and
	// len(train)+i for the i-th standard test image. MakeSplits sets it;
	// Load leaves it nil.
	Index []int32
}

// Len is the number of images; 0 for a nil Set.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return len(s.Labels)
}

// Image returns the pixels of image i, Rows*Cols bytes, row-major. The
// slice shares memory with the Set.
func (s *Set) Image(i int) []uint8 {
	n := s.Images.Size()
	return s.Images.Pixels[i*n : (i+1)*n : (i+1)*n]
}

// FindFile returns the path of the data set file base (one of the four file
// constants) in dir: dir/base.gz when it exists, else dir/base. When neither
// exists it returns an error naming both.
func FindFile(dir, base string) (string, error) {
	var missing string
	for _, name := range []string{base + ".gz", base} {
		p := filepath.Join(dir, name)
		fi, err := os.Stat(p)
		if err == nil && fi.Mode().IsRegular() {
			return p, nil
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("stat %s: %w", p, err)
		}
		missing = p
	}
	return "", fmt.Errorf("%s: missing %s[.gz]", dir, filepath.Base(missing))
}

// Load reads the training and test sets from dir, which holds the four files
// TrainImagesFile, TrainLabelsFile, TestImagesFile and TestLabelsFile, each
// gzip-compressed with a ".gz" suffix or raw without it; when both forms are
// present the ".gz" one is read (it is the one Verify can check). It checks
// that each image file and its label file hold the same number of items,
// that neither set is empty, and that training and test images have the same
// size. Any counts and image size are accepted, so Fashion-MNIST works as is.
func Load(dir string) (train, test *Set, err error) {
	train, err = loadSet(dir, TrainImagesFile, TrainLabelsFile)
	if err != nil {
		return nil, nil, err
	}
	test, err = loadSet(dir, TestImagesFile, TestLabelsFile)
	if err != nil {
		return nil, nil, err
	}
	tr, te := train.Images, test.Images
	if tr.Rows != te.Rows || tr.Cols != te.Cols {
		return nil, nil, fmt.Errorf("%s: training images are %dx%d but test images are %dx%d",
			dir, tr.Rows, tr.Cols, te.Rows, te.Cols)
	}
	return train, test, nil
}

// loadSet reads one image file and its label file from dir.
func loadSet(dir, imagesBase, labelsBase string) (*Set, error) {
	ip, err := FindFile(dir, imagesBase)
	if err != nil {
		return nil, err
	}
	lp, err := FindFile(dir, labelsBase)
	if err != nil {
		return nil, err
	}
	images, err := ReadImages(ip)
	if err != nil {
		return nil, err
	}
	labels, err := ReadLabels(lp)
	if err != nil {
		return nil, err
	}
	if images.N != len(labels) {
		return nil, fmt.Errorf("%s holds %d images but %s holds %d labels", ip, images.N, lp, len(labels))
	}
	if images.N == 0 {
		return nil, fmt.Errorf("%s: holds no images", ip)
	}
	return &Set{Images: images, Labels: labels}, nil
}

// Locate finds the data directory. It tries, in order: flagDir (the --data
// flag) when it is not empty, then the directory named by the environment
// variable EnvVar when it is set and not empty, then DefaultDir. The first of
// these that is given decides: a --data or $MNISTGPU_DATA directory that
// lacks the files is an error rather than a reason to fall back, so that a
// run never silently uses other data than the one asked for. A directory
// qualifies when it holds all four files (FindFile); their contents are
// checked by Load.
//
// how says where dir came from: "--data", "$MNISTGPU_DATA" or "default".
// The error says what was tried and how to get the data.
func Locate(flagDir string) (dir, how string, err error) {
	type candidate struct{ dir, how string }
	var c candidate
	switch env := os.Getenv(EnvVar); {
	case flagDir != "":
		c = candidate{flagDir, "--data"}
	case env != "":
		c = candidate{env, "$" + EnvVar}
	default:
		c = candidate{DefaultDir, "default"}
	}
	var missing []string
	for _, base := range fileNames() {
		if _, err := FindFile(c.dir, base); err != nil {
			missing = append(missing, strings.SplitN(base, "-idx", 2)[0])
		}
	}
	if len(missing) == 0 {
		return c.dir, c.how, nil
	}
	why := "missing " + strings.Join(missing, ", ")
	if fi, err := os.Stat(c.dir); errors.Is(err, fs.ErrNotExist) {
		why = "no such directory"
	} else if err != nil {
		why = err.Error()
	} else if !fi.IsDir() {
		why = "not a directory"
	}
	var where, fetch string
	switch c.how {
	case "--data":
		where, fetch = "--data "+c.dir, "mnistgpu data "+c.dir
	case "$" + EnvVar:
		where, fetch = "$"+EnvVar+"="+c.dir, "mnistgpu data $"+EnvVar
	default:
		where, fetch = "./"+DefaultDir+" (no --data or $"+EnvVar+")", "mnistgpu data"
	}
	// One short line; the four file names are in `mnistgpu data --help`.
	return "", "", fmt.Errorf("no MNIST data in %s: %s; run `%s` or pass --data DIR", where, why, fetch)
}
