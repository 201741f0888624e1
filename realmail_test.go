package mailseal_test

import (
	"bufio"
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"
	"github.com/mailseal/mailseal"
	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/internal/pkcs12"
	"github.com/mailseal/mailseal/mime"
	"github.com/mailseal/mailseal/pgp"
	"github.com/mailseal/mailseal/smime"
)

// The real-mail corpus (issue 14): signed and encrypted messages other mail
// clients and libraries wrote, with their keys and the verdict each must get.
// testdata/realmail/README.md says where each source comes from and how its
// keys are laid out; testdata/realmail/manifest.tsv has one row per message.
const realmailDir = "testdata/realmail"

// realmailData is where the corpus's messages and keys are: third-party
// data that is not committed here (see testdata/realmail/README.md), but
// installed beside the project in ../shared/corpora/realmail, or wherever
// MAILSEAL_REALMAIL names.
func realmailData() string {
	if d := os.Getenv("MAILSEAL_REALMAIL"); d != "" {
		return d
	}
	return filepath.Join("..", "shared", "corpora", "realmail")
}

// realmailColumns is the manifest's header line, in order.
var realmailColumns = []string{"path", "source", "protocol", "op", "want", "signer", "at", "class", "todo", "note"}

// realmailRow is one manifest line.
type realmailRow struct {
	line                             int
	path, source, protocol, op, want string
	signer, at, class, todo, note    string
}

func readRealmailManifest(t *testing.T) []realmailRow {
	t.Helper()
	f, err := os.Open(filepath.Join(realmailDir, "manifest.tsv"))
	if err != nil {
		t.Fatalf("the real-mail manifest: %v", err)
	}
	defer f.Close()
	var rows []realmailRow
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		fields := strings.Split(sc.Text(), "\t")
		if n == 1 {
			if !reflect.DeepEqual(fields, realmailColumns) {
				t.Fatalf("manifest.tsv header is %q, want %q", fields, realmailColumns)
			}
			continue
		}
		if len(fields) != len(realmailColumns) {
			t.Fatalf("manifest.tsv line %d has %d columns, want %d (tab-separated; use - for none)", n, len(fields), len(realmailColumns))
		}
		r := realmailRow{line: n, path: fields[0], source: fields[1], protocol: fields[2], op: fields[3], want: fields[4],
			signer: fields[5], at: fields[6], class: fields[7], todo: fields[8], note: fields[9]}
		if r.protocol != "openpgp" && r.protocol != "smime" {
			t.Fatalf("manifest.tsv line %d: protocol %q, want openpgp or smime", n, r.protocol)
		}
		if r.op != "verify" && r.op != "decrypt" {
			t.Fatalf("manifest.tsv line %d: op %q, want verify or decrypt", n, r.op)
		}
		if !knownStatus(r.want) {
			t.Fatalf("manifest.tsv line %d: want %q is not a core.Status", n, r.want)
		}
		if r.note == "" || r.note == "-" {
			t.Fatalf("manifest.tsv line %d: the note must say how %q was established", n, r.want)
		}
		rows = append(rows, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("reading manifest.tsv: %v", err)
	}
	return rows
}

func knownStatus(s string) bool {
	switch core.Status(s) {
	case core.StatusGood, core.StatusBad, core.StatusRefused, core.StatusUntrusted, core.StatusUnknownSigner,
		core.StatusSenderMismatch, core.StatusPartial, core.StatusUnsigned, core.StatusError:
		return true
	}
	return false
}

// TestRealMail opens every message of the corpus with its source's keys and
// compares the verdict with the manifest's. A row with a todo is a known
// failure: it must still fail, so that a fix is noticed and its row cleared.
func TestRealMail(t *testing.T) {
	rows := readRealmailManifest(t)
	data := realmailData()
	if _, err := os.Stat(filepath.Join(data, rows[0].source)); err != nil {
		t.Skipf("the real-mail corpus data is not installed (%v): put it in ../shared/corpora/realmail or name its directory in MAILSEAL_REALMAIL; testdata/realmail/README.md says what it is", err)
	}
	keys := map[string]mailseal.Keys{}
	type tally struct{ rows, matched, todo int }
	perSource := map[string]*tally{}
	for _, r := range rows {
		k, ok := keys[r.source]
		if !ok {
			var err error
			if k, err = loadRealmailKeys(filepath.Join(data, r.source, "keys")); err != nil {
				t.Fatalf("keys of source %s: %v", r.source, err)
			}
			keys[r.source] = k
		}
		s := perSource[r.source]
		if s == nil {
			s = &tally{}
			perSource[r.source] = s
		}
		s.rows++
		class := r.class
		if class == "-" {
			class = "other"
		}
		r := r
		t.Run(class+"/"+r.path, func(t *testing.T) {
			got, signers, detail := openRealmail(t, data, r, k)
			ok := got == r.want && (r.signer == "-" || hasSigner(signers, r.signer))
			what := fmt.Sprintf("status %s, signers %v (%s)", got, signers, detail)
			switch {
			case r.todo == "" && ok:
				s.matched++
			case r.todo == "":
				t.Errorf("%s: %s; want %s, signer %s (%s)", r.path, what, r.want, r.signer, r.note)
			case ok:
				t.Errorf("%s gives %s as wanted: fixed? clear the todo column of %s (todo was: %s)", r.path, what, r.path, r.todo)
			default:
				s.todo++
				t.Logf("todo (%s): %s", r.todo, what)
			}
		})
	}
	names := make([]string, 0, len(perSource))
	for n := range perSource {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		s := perSource[n]
		t.Logf("source %-20s %3d messages: %3d matched, %3d todo", n, s.rows, s.matched, s.todo)
	}
}

// openRealmail opens one corpus message and returns its status, the
// addresses of its signers and what else the report or error said.
func openRealmail(t *testing.T, data string, r realmailRow, keys mailseal.Keys) (status string, signers [][]string, detail string) {
	t.Helper()
	opts := mailseal.OpenOptions{Decrypt: r.op == "decrypt"}
	if r.at != "-" {
		at, err := time.Parse(time.RFC3339, r.at)
		if err != nil {
			t.Fatalf("manifest.tsv line %d: at %q is not RFC 3339: %v", r.line, r.at, err)
		}
		opts.At = at
	}
	f, err := os.Open(filepath.Join(data, r.path))
	if err != nil {
		t.Fatalf("manifest.tsv line %d: %v", r.line, err)
	}
	defer f.Close()
	m, err := mime.Parse(f, mime.DefaultLimits(), 1<<20)
	if err != nil {
		return string(core.StatusError), nil, "parse: " + err.Error()
	}
	defer m.Close()
	o, err := mailseal.Open(m, keys, opts)
	if err != nil {
		return string(core.StatusError), nil, "open: " + err.Error()
	}
	for _, s := range o.Signers {
		signers = append(signers, s.Emails)
	}
	detail = o.Error
	if len(o.Warnings) > 0 {
		detail += fmt.Sprintf(" warnings %q", o.Warnings)
	}
	for _, s := range o.Signers {
		if s.Error != "" {
			detail += "; signer: " + s.Error
		}
	}
	return string(o.Status), signers, detail
}

func hasSigner(signers [][]string, addr string) bool {
	for _, emails := range signers {
		for _, e := range emails {
			if strings.EqualFold(e, addr) {
				return true
			}
		}
	}
	return false
}

// loadRealmailKeys reads a source's keys directory (see the README's "Keys"
// section): OpenPGP keys and keyrings, armored or binary; X.509 certificates
// (those under anchors/ are trust anchors, the others intermediates or
// recipients), PEM private keys and PKCS#12 files, whose password is in the
// file p12-password; an OpenPGP passphrase in pgp-passphrase.
func loadRealmailKeys(dir string) (mailseal.Keys, error) {
	var (
		entities openpgp.EntityList
		trust    smime.Trust
		certs    []*x509.Certificate
		privs    []crypto.PrivateKey
		ids      []smime.Identity
	)
	read := func(name string) ([]byte, error) {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if os.IsNotExist(err) {
			return nil, nil
		}
		return bytes.TrimSpace(b), err
	}
	p12pass, err := read("p12-password")
	if err != nil {
		return mailseal.Keys{}, err
	}
	pgpPass, err := read("pgp-passphrase")
	if err != nil {
		return mailseal.Keys{}, err
	}
	err = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) && path == dir {
				return filepath.SkipDir
			}
			return err
		}
		name := d.Name()
		if d.IsDir() || name == "README.md" || name == "p12-password" || name == "pgp-passphrase" {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		anchor := filepath.Base(filepath.Dir(path)) == "anchors"
		switch {
		case pkcs12.IsPFX(data) && (strings.HasSuffix(name, ".p12") || strings.HasSuffix(name, ".pfx")):
			f, err := pkcs12.Decode(data, string(p12pass))
			if err != nil {
				return fmt.Errorf("%s (password from p12-password): %w", path, err)
			}
			for _, c := range f.Certs {
				certs = append(certs, c.Cert)
			}
			for _, k := range f.Keys {
				privs = append(privs, k.Key)
			}
		case bytes.Contains(data, []byte("-----BEGIN PGP")):
			el, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(data))
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			entities = append(entities, el...)
		case bytes.Contains(data, []byte("-----BEGIN ")):
			for rest := data; ; {
				var b *pem.Block
				if b, rest = pem.Decode(rest); b == nil {
					break
				}
				switch {
				case b.Type == "CERTIFICATE":
					c, err := x509.ParseCertificate(b.Bytes)
					if err != nil {
						return fmt.Errorf("%s: %w", path, err)
					}
					if anchor {
						trust.Roots = append(trust.Roots, c)
					} else {
						certs = append(certs, c)
					}
				case b.Type == "X509 CRL":
					l, err := x509.ParseRevocationList(b.Bytes)
					if err != nil {
						return fmt.Errorf("%s: %w", path, err)
					}
					trust.CRLs = append(trust.CRLs, l)
				case strings.HasSuffix(b.Type, "PRIVATE KEY"):
					k, err := parsePrivateKey(b)
					if err != nil {
						return fmt.Errorf("%s: %w", path, err)
					}
					privs = append(privs, k)
				}
			}
		default: // binary OpenPGP keyring
			el, err := openpgp.ReadKeyRing(bytes.NewReader(data))
			if err != nil {
				return fmt.Errorf("%s: neither PEM, PKCS#12 nor OpenPGP: %w", path, err)
			}
			entities = append(entities, el...)
		}
		return nil
	})
	if err != nil {
		return mailseal.Keys{}, err
	}
	for _, c := range append(certs, trust.Roots...) {
		if k := keyFor(c, privs); k != nil {
			ids = append(ids, smime.Identity{Cert: c, Key: k})
		}
	}
	trust.Intermediates = certs
	var secrets openpgp.EntityList
	for _, e := range entities {
		if e.PrivateKey != nil {
			secrets = append(secrets, e)
		}
	}
	return mailseal.Keys{
		OpenPGP: pgp.Keyring{
			Certs:   entities,
			Secrets: secrets,
			Unlock: func(e *openpgp.Entity) error {
				if len(pgpPass) == 0 {
					return fmt.Errorf("%s has no pgp-passphrase file: %w", dir, core.ErrLocked)
				}
				return e.DecryptPrivateKeys(pgpPass)
			},
		},
		SMIMETrust:      func() (smime.Trust, error) { return trust, nil },
		SMIMEIdentities: func() ([]smime.Identity, error) { return ids, nil },
	}, nil
}

func parsePrivateKey(b *pem.Block) (crypto.PrivateKey, error) {
	switch b.Type {
	case "RSA PRIVATE KEY":
		return x509.ParsePKCS1PrivateKey(b.Bytes)
	case "EC PRIVATE KEY":
		return x509.ParseECPrivateKey(b.Bytes)
	case "PRIVATE KEY":
		return x509.ParsePKCS8PrivateKey(b.Bytes)
	}
	return nil, fmt.Errorf("PEM %q: not a private key this test reads (convert it to PKCS#8)", b.Type)
}

// keyFor returns the private key among privs that belongs to c, or nil.
func keyFor(c *x509.Certificate, privs []crypto.PrivateKey) crypto.PrivateKey {
	type publicKeyer interface{ Public() crypto.PublicKey }
	type equaler interface{ Equal(crypto.PublicKey) bool }
	for _, k := range privs {
		p, ok := k.(publicKeyer)
		if !ok {
			continue
		}
		if e, ok := p.Public().(equaler); ok && e.Equal(c.PublicKey) {
			return k
		}
	}
	return nil
}
