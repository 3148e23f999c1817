// Package dataset reads MNIST-format data sets (MNIST, Fashion-MNIST and
// anything else in the same IDX files), finds them on disk, checks and
// installs the standard MNIST files, and makes the deterministic
// train/validation/test splits and per-epoch batch orders that training uses.
//
// Pixels stay uint8 in memory (70,000 28x28 images are 55 MB); Normalize maps
// one to the float32 a model sees.
package dataset

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
)

// IDX magic numbers: two zero bytes, the element type (0x08, unsigned byte)
// and the number of dimensions.
const (
	// ImagesMagic is the magic number of an IDX file of uint8 images
	// (three dimensions: count, rows, columns).
	ImagesMagic = 0x00000803
	// LabelsMagic is the magic number of an IDX file of uint8 labels
	// (one dimension: count).
	LabelsMagic = 0x00000801
)

// NumClasses is the number of classes; every label is below it.
const NumClasses = 10

// maxPayload bounds the payload an IDX header may announce (4 GiB), so that
// a damaged header fails cleanly instead of exhausting memory.
const maxPayload = 1 << 32

// initialCap bounds the buffer allocated up front from a header's claim;
// the buffer grows past it only as data actually arrives.
const initialCap = 1 << 20

// Images is a set of equally sized greyscale images.
type Images struct {
	// N is the number of images.
	N int
	// Rows and Cols are the height and width of every image.
	Rows, Cols int
	// Pixels holds the N images one after another, each row-major:
	// pixel (r, c) of image i is Pixels[i*Rows*Cols + r*Cols + c].
	Pixels []uint8
}

// Size is the number of pixels in one image, Rows*Cols.
func (im *Images) Size() int { return im.Rows * im.Cols }

// ReadImages reads an IDX image file (magic 0x00000803), gzip-compressed or
// raw: a file that starts with the gzip magic bytes 1f 8b is decompressed,
// whatever its name. It checks the magic number, that rows and columns are
// positive, and that the file holds exactly count*rows*cols pixel bytes.
// Errors are one line and start with path.
func ReadImages(path string) (*Images, error) {
	f, r, err := openIDX(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()

	var hdr [16]byte
	if err := readHeader(r, hdr[:]); err != nil {
		return nil, idxErr(path, err)
	}
	magic := binary.BigEndian.Uint32(hdr[0:])
	if magic != ImagesMagic {
		return nil, fmt.Errorf("%s: wrong magic number 0x%08x, want 0x%08x (an IDX image file)%s",
			path, magic, ImagesMagic, magicHint(magic))
	}
	n := uint64(binary.BigEndian.Uint32(hdr[4:]))
	rows := uint64(binary.BigEndian.Uint32(hdr[8:]))
	cols := uint64(binary.BigEndian.Uint32(hdr[12:]))
	if rows == 0 || cols == 0 {
		return nil, fmt.Errorf("%s: image size %dx%d: rows and columns must be positive", path, rows, cols)
	}
	if rows*cols > maxPayload || n > maxPayload/(rows*cols) {
		return nil, fmt.Errorf("%s: header claims %d images of %dx%d, more than %d bytes: damaged header?",
			path, n, rows, cols, uint64(maxPayload))
	}
	want := int64(n * rows * cols)
	px, err := readPayload(r, want)
	if err != nil {
		return nil, idxErr(path, err)
	}
	if int64(len(px)) < want {
		return nil, fmt.Errorf("%s: truncated: holds %d of the %d pixel bytes of %d images of %dx%d",
			path, len(px), want, n, rows, cols)
	}
	return &Images{N: int(n), Rows: int(rows), Cols: int(cols), Pixels: px}, nil
}

// ReadLabels reads an IDX label file (magic 0x00000801), gzip-compressed or
// raw (detected as in ReadImages). It checks the magic number, that the file
// holds exactly count label bytes, and that every label is below NumClasses.
// Errors are one line and start with path.
func ReadLabels(path string) ([]uint8, error) {
	f, r, err := openIDX(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()

	var hdr [8]byte
	if err := readHeader(r, hdr[:]); err != nil {
		return nil, idxErr(path, err)
	}
	magic := binary.BigEndian.Uint32(hdr[0:])
	if magic != LabelsMagic {
		return nil, fmt.Errorf("%s: wrong magic number 0x%08x, want 0x%08x (an IDX label file)%s",
			path, magic, LabelsMagic, magicHint(magic))
	}
	n := int64(binary.BigEndian.Uint32(hdr[4:]))
	labels, err := readPayload(r, n)
	if err != nil {
		return nil, idxErr(path, err)
	}
	if int64(len(labels)) < n {
		return nil, fmt.Errorf("%s: truncated: holds %d of %d labels", path, len(labels), n)
	}
	for i, l := range labels {
		if l >= NumClasses {
			return nil, fmt.Errorf("%s: label %d at index %d is out of range 0-%d", path, l, i, NumClasses-1)
		}
	}
	return labels, nil
}

// magicHint names the IDX file a wrong magic number belongs to, if any.
func magicHint(magic uint32) string {
	switch magic {
	case ImagesMagic:
		return "; that is an IDX image file's"
	case LabelsMagic:
		return "; that is an IDX label file's"
	}
	return ""
}

// openIDX opens path and returns the file, to close, and a reader of its
// decompressed contents.
func openIDX(path string) (*os.File, io.Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err // *PathError: "open PATH: ..."
	}
	br := bufio.NewReaderSize(f, 1<<16)
	magic, err := br.Peek(2)
	if err != nil && err != io.EOF {
		f.Close()
		return nil, nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			f.Close()
			return nil, nil, idxErr(path, gzipError{err})
		}
		return f, gzipReader{zr}, nil
	}
	return f, br, nil
}

// gzipError marks an error that came from gzip decompression, so that it is
// reported as damaged compressed data rather than a short IDX payload.
type gzipError struct{ err error }

func (e gzipError) Error() string { return e.err.Error() }
func (e gzipError) Unwrap() error { return e.err }

// gzipReader passes io.EOF through and wraps every other error in gzipError.
type gzipReader struct{ r io.Reader }

func (g gzipReader) Read(p []byte) (int, error) {
	n, err := g.r.Read(p)
	if err != nil && err != io.EOF {
		err = gzipError{err}
	}
	return n, err
}

// errEmpty is returned by readHeader for a file with no bytes at all.
var errEmpty = errors.New("empty file")

// shortHeaderError reports an IDX header cut short.
type shortHeaderError struct{ got, want int }

func (e shortHeaderError) Error() string {
	return fmt.Sprintf("truncated: holds %d bytes, less than the %d-byte IDX header", e.got, e.want)
}

// readHeader fills hdr from r.
func readHeader(r io.Reader, hdr []byte) error {
	n, err := io.ReadFull(r, hdr)
	switch {
	case err == io.EOF:
		return errEmpty
	case err == io.ErrUnexpectedEOF:
		return shortHeaderError{n, len(hdr)}
	}
	return err
}

// extraDataError reports bytes after the payload an IDX header announced.
type extraDataError struct{ extra, want int64 }

func (e extraDataError) Error() string {
	return fmt.Sprintf("%d extra bytes after the %d payload bytes the header announces", e.extra, e.want)
}

// readPayload reads exactly want bytes and then expects the end of r. A
// short read returns the bytes there are and no error; the caller reports it.
// Bytes past want are an extraDataError.
func readPayload(r io.Reader, want int64) ([]byte, error) {
	buf := make([]byte, 0, min(want, initialCap))
	for int64(len(buf)) < want {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, int(min(want-int64(len(buf)), int64(len(buf)))))
		}
		m, err := r.Read(buf[len(buf):min(int64(cap(buf)), want)])
		buf = buf[:len(buf)+m]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
	// The payload is complete: the stream must end here. Reading to the end
	// also makes gzip verify its checksum.
	extra, err := io.Copy(io.Discard, r)
	if err != nil {
		return nil, err
	}
	if extra > 0 {
		return nil, extraDataError{extra, want}
	}
	return buf, nil
}

// idxErr prefixes err with path, describing gzip failures as damage.
func idxErr(path string, err error) error {
	var gz gzipError
	if errors.As(err, &gz) {
		return fmt.Errorf("%s: truncated or corrupt gzip data: %w", path, gz.err)
	}
	var pe *os.PathError
	if errors.As(err, &pe) {
		return err
	}
	return fmt.Errorf("%s: %w", path, err)
}
