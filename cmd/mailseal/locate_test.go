package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"
	"github.com/rogpeppe/go-internal/testscript"

	"github.com/mailseal/mailseal"
	"github.com/mailseal/mailseal/internal/locatetest"
)

type locateKey struct{}

// locateHolder is the script's loopback Internet, once started.
type locateHolder struct{ net *locatetest.Net }

// cmdLocateServe starts the script's loopback Internet (internal/locatetest)
// once: an HTTPS server with a test CA's certificate for each HOST, serving
// the files under WEBDIR/HOST (read when asked, so files written later are
// served), plus a Verifying Key Server's upload and request-verify on every
// host (the upload is kept as WEBDIR/HOST/uploaded.asc); and a DNS server.
// It sets $HTTPS_ADDR (the server's 127.0.0.1:PORT), $HTTPS_CA (the test
// CA, PEM) and $LOCATE_DNS (the DNS server's 127.0.0.1:PORT).
func cmdLocateServe(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: locateserve WEBDIR HOST...")
	}
	h := ts.Value(locateKey{}).(*locateHolder)
	if h.net != nil {
		ts.Fatalf("locateserve: already started")
	}
	root := ts.MkAbs(args[0])
	n := locatetest.New(scriptTB{ts}, args[1:]...)
	h.net = n
	n.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := strings.ToLower(r.Host)
		if i := strings.LastIndexByte(host, ':'); i >= 0 {
			host = host[:i]
		}
		dir := filepath.Join(root, host)
		switch r.URL.Path {
		case "/vks/v1/upload":
			vksUpload(w, r, dir)
			return
		case "/vks/v1/request-verify":
			vksRequestVerify(w, r)
			return
		}
		http.FileServer(http.Dir(dir)).ServeHTTP(w, r)
	})
	ca := filepath.Join(ts.Getenv("WORK"), "locate-ca.pem")
	ts.Check(os.WriteFile(ca, n.CAPEM, 0o644))
	ts.Setenv("HTTPS_CA", ca)
	ts.Setenv("HTTPS_ADDR", n.HTTPS.Listener.Addr().String())
	ts.Setenv("LOCATE_DNS", n.DNSAddr)
}

// cmdLocateZone adds the records of zone files (zone-file lines, as dane
// record prints them; "#" comments) to the DNS server of locateserve;
// -ad makes every answer carry the AD bit from now on.
func cmdLocateZone(ts *testscript.TestScript, neg bool, args []string) {
	h := ts.Value(locateKey{}).(*locateHolder)
	if neg || h.net == nil {
		ts.Fatalf("usage: locatezone [-ad] FILE... (after locateserve)")
	}
	if len(args) > 0 && args[0] == "-ad" {
		h.net.SetAD(true)
		args = args[1:]
	}
	for _, name := range args {
		for _, line := range strings.Split(ts.ReadFile(name), "\n") {
			if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
				ts.Check(h.net.AddRR(line))
			}
		}
	}
}

// vksUpload answers /vks/v1/upload as keys.openpgp.org does: the key's
// fingerprint, each address "unpublished", and a token.
func vksUpload(w http.ResponseWriter, r *http.Request, dir string) {
	var req struct {
		Keytext string `json:"keytext"`
	}
	if r.Method != http.MethodPost || json.NewDecoder(r.Body).Decode(&req) != nil {
		http.Error(w, `{"error":"bad request"}`, http.StatusBadRequest)
		return
	}
	ents, err := openpgp.ReadArmoredKeyRing(strings.NewReader(req.Keytext))
	if err != nil || len(ents) != 1 {
		http.Error(w, `{"error":"not one key"}`, http.StatusBadRequest)
		return
	}
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "uploaded.asc"), []byte(req.Keytext), 0o644)
	status := map[string]string{}
	for name := range ents[0].Identities {
		if a, err := mailseal.UserIDAddress(name); err == nil {
			status[a] = "unpublished"
		}
	}
	json.NewEncoder(w).Encode(map[string]any{"key_fpr": fmt.Sprintf("%X", ents[0].PrimaryKey.Fingerprint), "status": status, "token": "tok"})
}

// vksRequestVerify answers /vks/v1/request-verify: each address asked
// for is "pending".
func vksRequestVerify(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Token     string   `json:"token"`
		Addresses []string `json:"addresses"`
	}
	if json.NewDecoder(r.Body).Decode(&req) != nil || req.Token != "tok" {
		http.Error(w, `{"error":"bad token"}`, http.StatusBadRequest)
		return
	}
	sort.Strings(req.Addresses)
	status := map[string]string{}
	for _, a := range req.Addresses {
		status[a] = "pending"
	}
	var b bytes.Buffer
	json.NewEncoder(&b).Encode(map[string]any{"status": status})
	w.Write(b.Bytes())
}

// scriptTB is a test script as locatetest.New needs it.
type scriptTB struct{ ts *testscript.TestScript }

func (scriptTB) Helper()             {}
func (s scriptTB) Fatal(args ...any) { s.ts.Fatalf("%s", fmt.Sprint(args...)) }
func (s scriptTB) Cleanup(f func())  { s.ts.Defer(f) }

// cmdConnectProxy starts an HTTP proxy that answers CONNECT for any host by
// connecting to the HTTPS server of locateserve, as a proxy would to the
// host's address: a program that takes a proxy (gpg's dirmngr) reaches the
// script's hosts without DNS. It sets $CONNECT_PROXY (127.0.0.1:PORT) and
// writes each CONNECT target, a line each, to $WORK/proxy.log.
func cmdConnectProxy(ts *testscript.TestScript, neg bool, args []string) {
	h := ts.Value(locateKey{}).(*locateHolder)
	if neg || len(args) != 0 || h.net == nil {
		ts.Fatalf("usage: connectproxy (after locateserve)")
	}
	upstream := h.net.HTTPS.Listener.Addr().String()
	logFile := filepath.Join(ts.Getenv("WORK"), "proxy.log")
	var mu sync.Mutex
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	ts.Check(err)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect {
			http.Error(w, "CONNECT only", http.StatusMethodNotAllowed)
			return
		}
		mu.Lock()
		if f, err := os.OpenFile(logFile, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
			fmt.Fprintln(f, r.Host)
			f.Close()
		}
		mu.Unlock()
		up, err := net.Dial("tcp", upstream)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		w.WriteHeader(http.StatusOK)
		c, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			up.Close()
			return
		}
		go func() { io.Copy(up, buf); up.Close() }()
		io.Copy(c, up)
		c.Close()
	})}
	go srv.Serve(ln)
	ts.Defer(func() { srv.Close() })
	ts.Setenv("CONNECT_PROXY", ln.Addr().String())
}
