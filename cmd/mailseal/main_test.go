package main

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"mime/quotedprintable"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/rogpeppe/go-internal/testscript"

	"github.com/mailseal/mailseal/internal/dnstest"
	"github.com/mailseal/mailseal/internal/reportschema"
	"github.com/mailseal/mailseal/keystore"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"mailseal": func() { os.Exit(run(os.Args, os.Stdin, os.Stdout, os.Stderr)) },
		// mailseal, then its peak RSS (see msProcess).
		"mailseal-peak-rss": func() {
			code := run(os.Args, os.Stdin, os.Stdout, os.Stderr)
			status, err := os.ReadFile("/proc/self/status")
			if m := regexp.MustCompile(`(?m)^VmHWM:\s*(\d+) kB$`).FindSubmatch(status); err == nil && m != nil {
				fmt.Fprintf(os.Stderr, "peak RSS: %s KiB\n", m[1])
			}
			os.Exit(code)
		},
	})
}

// TestScripts runs the CLI end to end: cmd/mailseal/testdata/*.txt.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata",
		Setup: func(env *testscript.Env) error {
			env.Setenv("MAILSEAL_HOME", filepath.Join(env.WorkDir, "home"))
			env.Setenv("GNUPGHOME", filepath.Join(env.WorkDir, "gnupg"))
			env.Setenv("CORPORA", corporaDir(t))
			env.Values[dnsKey{}] = new(dnsHolder)
			env.Values[locateKey{}] = new(locateHolder)
			return os.MkdirAll(filepath.Join(env.WorkDir, "gnupg"), 0o700)
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"tamper":       cmdTamper,
			"bigmsg":       cmdBigMessage,
			"part":         cmdPart,
			"gpg":          cmdGPG,
			"lf":           cmdLF,
			"isempty":      cmdIsEmpty,
			"cbcflip":      cmdCBCFlip,
			"dnsserve":     cmdDNSServe,
			"schema":       cmdSchema,
			"locateserve":  cmdLocateServe,
			"locatezone":   cmdLocateZone,
			"connectproxy": cmdConnectProxy,
		},
	})
}

func corporaDir(t *testing.T) string {
	dir, err := filepath.Abs("../../testdata/corpora")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

var armorBlock = regexp.MustCompile(`(?s)-----BEGIN PGP MESSAGE-----.*?-----END PGP MESSAGE-----\r?\n?`)

// tamper IN OUT: flips the last byte of the first armored OpenPGP message
// in IN (decoding and re-encoding the armor, so the checksum-free armor
// stays well-formed) and writes OUT.
func cmdTamper(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: tamper IN OUT")
	}
	data := []byte(ts.ReadFile(args[0]))
	loc := armorBlock.FindIndex(data)
	if loc == nil {
		ts.Fatalf("%s holds no armored message", args[0])
	}
	block, err := armor.Decode(bytes.NewReader(data[loc[0]:loc[1]]))
	ts.Check(err)
	var raw bytes.Buffer
	_, err = raw.ReadFrom(block.Body)
	ts.Check(err)
	b := raw.Bytes()
	b[len(b)-1] ^= 0x01
	var out bytes.Buffer
	w, err := armor.EncodeWithChecksumOption(&out, "PGP MESSAGE", nil, false)
	ts.Check(err)
	w.Write(b)
	ts.Check(w.Close())
	out.WriteString("\n")
	result := append(append(append([]byte{}, data[:loc[0]]...), out.Bytes()...), data[loc[1]:]...)
	ts.Check(os.WriteFile(ts.MkAbs(args[1]), result, 0o644))
}

// bigmsg SIZE FROM TO OUT: writes a text message of about SIZE bytes.
func cmdBigMessage(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 4 {
		ts.Fatalf("usage: bigmsg SIZE FROM TO OUT")
	}
	size, err := strconv.Atoi(args[0])
	ts.Check(err)
	var b strings.Builder
	fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\nSubject: big\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n", args[1], args[2])
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, "line %08d of a large message, to see that nothing is released early\r\n", i)
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[3]), []byte(b.String()), 0o644))
}

// lf IN OUT: converts CRLF line endings to LF, as mbox and Maildir store mail.
func cmdLF(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: lf IN OUT")
	}
	data := strings.ReplaceAll(ts.ReadFile(args[0]), "\r\n", "\n")
	ts.Check(os.WriteFile(ts.MkAbs(args[1]), []byte(data), 0o644))
}

// schema [DEF] FILE: every line of FILE (stdout and stderr name the last
// command's) is JSON that docs/report.schema.json's root (a report) or
// $defs/DEF validates.
func cmdSchema(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 || len(args) > 2 {
		ts.Fatalf("usage: schema [DEF] FILE")
	}
	def := ""
	if len(args) == 2 {
		def = args[0]
	}
	if err := reportschema.ValidateLines(def, []byte(ts.ReadFile(args[len(args)-1]))); err != nil {
		ts.Fatalf("%s: %v", args[len(args)-1], err)
	}
}

// isempty FILE: the file exists and has zero bytes.
func cmdIsEmpty(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: isempty FILE")
	}
	st, err := os.Stat(ts.MkAbs(args[0]))
	ts.Check(err)
	if (st.Size() == 0) == neg {
		ts.Fatalf("%s has %d bytes", args[0], st.Size())
	}
}

// part FILE N OUT: writes the body of MIME part N (1-based, top level) of
// the multipart message FILE to OUT, decoded from its transfer encoding.
func cmdPart(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: part FILE N OUT")
	}
	body, err := partBody([]byte(ts.ReadFile(args[0])), args[1])
	ts.Check(err)
	ts.Check(os.WriteFile(ts.MkAbs(args[2]), body, 0o644))
}

// gpg ARGS...: runs gpg in the script's GNUPGHOME, non-interactively.
func cmdGPG(ts *testscript.TestScript, neg bool, args []string) {
	full := append([]string{"--batch", "--yes", "--pinentry-mode", "loopback", "--passphrase", "", "--trust-model", "always"}, args...)
	err := ts.Exec("gpg", full...)
	if err != nil && !neg {
		ts.Fatalf("gpg: %v", err)
	}
	if err == nil && neg {
		ts.Fatalf("gpg succeeded unexpectedly")
	}
}

// splitMultipart splits a top-level multipart message into the raw bytes of
// its parts, independently of the mime package (a plain RFC 2046 split on
// the boundary), so interop checks do not trust the parser under test.
func splitMultipart(msg []byte) ([][]byte, error) {
	msg = bytes.ReplaceAll(msg, []byte("\r\n"), []byte("\n"))
	msg = bytes.ReplaceAll(msg, []byte("\n"), []byte("\r\n"))
	hdrEnd := bytes.Index(msg, []byte("\r\n\r\n"))
	if hdrEnd < 0 {
		return nil, fmt.Errorf("no header end")
	}
	m := regexp.MustCompile(`(?i)boundary="?([^";\r\n]+)"?`).FindSubmatch(msg[:hdrEnd])
	if m == nil {
		return nil, fmt.Errorf("no boundary")
	}
	delim := []byte("\r\n--" + string(m[1]))
	body := append([]byte("\r\n"), msg[hdrEnd+4:]...)
	var parts [][]byte
	chunks := bytes.Split(body, delim)
	for _, c := range chunks[1:] {
		if bytes.HasPrefix(c, []byte("--")) {
			break
		}
		i := bytes.Index(c, []byte("\r\n"))
		if i < 0 {
			return nil, fmt.Errorf("bad delimiter line")
		}
		parts = append(parts, c[i+2:])
	}
	return parts, nil
}

// partBody returns part n of msg: "rawN" gives the exact bytes of part N
// (what a multipart/signed signature covers), "N" its decoded body.
func partBody(msg []byte, n string) ([]byte, error) {
	raw := strings.HasPrefix(n, "raw")
	idx, err := strconv.Atoi(strings.TrimPrefix(n, "raw"))
	if err != nil {
		return nil, err
	}
	parts, err := splitMultipart(msg)
	if err != nil {
		return nil, err
	}
	if idx < 1 || idx > len(parts) {
		return nil, fmt.Errorf("message has %d parts", len(parts))
	}
	p := parts[idx-1]
	if raw {
		return p, nil
	}
	i := bytes.Index(p, []byte("\r\n\r\n"))
	if i < 0 {
		return nil, fmt.Errorf("part %d has no body", idx)
	}
	header, body := string(p[:i]), p[i+4:]
	switch {
	case regexp.MustCompile(`(?i)content-transfer-encoding:\s*base64`).MatchString(header):
		dec, err := io.ReadAll(base64.NewDecoder(base64.StdEncoding, bytes.NewReader(bytes.ReplaceAll(body, []byte("\r\n"), nil))))
		return dec, err
	case regexp.MustCompile(`(?i)content-transfer-encoding:\s*quoted-printable`).MatchString(header):
		return io.ReadAll(quotedprintable.NewReader(bytes.NewReader(body)))
	}
	return body, nil
}

// TestOrderArgs: global flags move in front of the command and options in
// front of the positional arguments, values staying with their flags.
func TestOrderArgs(t *testing.T) {
	app := newApp(nil, io.Discard, io.Discard)
	for _, c := range []struct{ in, want string }{
		// global flags after the command
		{"mailseal decrypt --passphrase-file f -i x", "mailseal --passphrase-file f decrypt -i x"},
		{"mailseal keys list --home=h --json", "mailseal --home=h keys list --json"},
		{"mailseal --home h keys list", "mailseal --home h keys list"},
		// options after positional arguments
		{"mailseal keys list ops --json", "mailseal keys list --json ops"},
		{"mailseal verify msg.eml --json --at 2026-01-02", "mailseal verify --json --at 2026-01-02 msg.eml"},
		{"mailseal keys export alice -o out.asc --secret", "mailseal keys export -o out.asc --secret alice"},
		{"mailseal keys import a.asc --no-passphrase b.asc", "mailseal keys import --no-passphrase a.asc b.asc"},
		// a value that looks like a command or a positional stays with its flag
		{"mailseal verify -i verify --json", "mailseal verify -i verify --json"},
		{"mailseal keys export -o list alice", "mailseal keys export -o list alice"},
		// -- ends the options; what follows stays positional
		{"mailseal keys list -- --json", "mailseal keys list -- --json"},
		{"mailseal keys list ops --json -- -x --pgp", "mailseal keys list --json -- ops -x --pgp"},
		// SOP and sendmail parse their own arguments
		{"mailseal sop decrypt --home x key.asc --as binary", "mailseal sop decrypt --home x key.asc --as binary"},
		{"mailseal --home h sop sign k --micalg-out f", "mailseal --home h sop sign k --micalg-out f"},
		// an unknown command or flag is the library's to report
		{"mailseal frobnicate --json x", "mailseal frobnicate --json x"},
		{"mailseal keys list ops --bogus", "mailseal keys list --bogus ops"},
		// a global boolean is no option of the command: not moved
		{"mailseal verify --version", "mailseal verify --version"},
	} {
		args, err := orderArgs(app, strings.Fields(c.in))
		if got := strings.Join(args, " "); err != nil || got != c.want {
			t.Errorf("%q: %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	// a flag without its value: a usage error naming the command's help
	for _, c := range []struct{ in, want string }{
		{"mailseal verify --home", "flag needs an argument: --home (see mailseal verify --help): usage error"},
		{"mailseal verify m.eml --at", "flag needs an argument: --at (see mailseal verify --help): usage error"},
		{"mailseal keys export alice -o", "flag needs an argument: -o (see mailseal keys export --help): usage error"},
	} {
		if _, err := orderArgs(app, strings.Fields(c.in)); err == nil || err.Error() != c.want {
			t.Errorf("%q: error %v, want %q", c.in, err, c.want)
		}
	}
}

// TestDoneSchemaFields fails when what sign --json and encrypt --json
// print gains a field that docs/report.schema.json does not document.
func TestDoneSchemaFields(t *testing.T) {
	for def, v := range map[string]any{"done": done{}, "key": keyRef{}, "located": keystore.Located{}} {
		undocumented, unknown, err := reportschema.Fields(def, reflect.TypeOf(v))
		if err != nil {
			t.Fatal(err)
		}
		if len(undocumented) > 0 || len(unknown) > 0 {
			t.Errorf("%s: undocumented %v, in the schema only %v", def, undocumented, unknown)
		}
	}
}

type dnsKey struct{}

// dnsHolder is the script's DNS server, once started.
type dnsHolder struct{ srv *dnstest.Server }

// cmdDNSServe starts the script's DNS server on loopback (once; $DNS is
// its HOST:PORT) and adds the records of each zone file: zone-file lines
// (as mailseal dkim keygen prints them), "#" comments.
func cmdDNSServe(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! dnsserve")
	}
	h := ts.Value(dnsKey{}).(*dnsHolder)
	if h.srv == nil {
		srv, err := dnstest.Start()
		ts.Check(err)
		h.srv = srv
		ts.Defer(srv.Close)
		ts.Setenv("DNS", srv.Addr)
	}
	srv := h.srv
	for _, name := range args {
		for _, line := range strings.Split(ts.ReadFile(name), "\n") {
			if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
				ts.Check(srv.Add(line))
			}
		}
	}
}

// The text report shows control characters that came with a message
// escaped: an ESC in a From display name cannot rewrite the terminal.
func TestVisible(t *testing.T) {
	var b strings.Builder
	fmt.Fprintf(visible{&b}, "status: good\nwarning: From display name \"\x1b[1A\x1b[2Kstatus: good\u202e\" x\tz\n")
	if got, want := b.String(), "status: good\nwarning: From display name \"\\x1b[1A\\x1b[2Kstatus: good\\u202e\" x\tz\n"; got != want {
		t.Fatalf("%q, want %q", got, want)
	}
}
