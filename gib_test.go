package mailseal_test

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"hash"
	"io"
	"math/big"
	mrand "math/rand"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/mailseal/mailseal"
	"github.com/mailseal/mailseal/mime"
	"github.com/mailseal/mailseal/pgp"
	"github.com/mailseal/mailseal/smime"
)

// gibMessage streams a message with an attachment of size bytes (base64,
// 76-character CRLF lines) and hashes the attachment's lines as it goes.
type gibMessage struct {
	r    io.Reader
	sum  hash.Hash
	pipe *io.PipeReader
}

func newGiBMessage(size int64) *gibMessage {
	pr, pw := io.Pipe()
	g := &gibMessage{r: pr, sum: sha256.New(), pipe: pr}
	go func() {
		w := bufio.NewWriterSize(pw, 1<<20)
		w.WriteString("From: Alice <alice@example.org>\r\nTo: Bob <bob@example.org>\r\nSubject: 1 GiB\r\n" +
			"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=gib\r\n\r\n--gib\r\n" +
			"Content-Type: text/plain\r\n\r\nThe attachment follows.\r\n--gib\r\n" +
			"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n")
		rng := mrand.New(mrand.NewSource(1))
		raw := make([]byte, 57*1024)
		line := make([]byte, 78)
		for left := size; left > 0; left -= int64(len(raw)) {
			rng.Read(raw)
			chunk := raw[:min(int64(len(raw)), left)]
			for len(chunk) > 0 {
				n := min(57, len(chunk))
				base64.StdEncoding.Encode(line, chunk[:n])
				l := base64.StdEncoding.EncodedLen(n)
				copy(line[l:], "\r\n")
				g.sum.Write(line[:l+2])
				if _, err := w.Write(line[:l+2]); err != nil {
					return
				}
				chunk = chunk[n:]
			}
		}
		w.WriteString("--gib--\r\n")
		pw.CloseWithError(w.Flush())
	}()
	return g
}

// attachmentHash hashes the base64 lines of the attachment in a message
// read from r (what follows the attachment's header, up to the closing
// boundary).
func attachmentHash(t *testing.T, r io.Reader) []byte {
	t.Helper()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	h := sha256.New()
	in := false
	for sc.Scan() {
		line := sc.Bytes()
		switch {
		case bytes.Equal(line, []byte("--gib--")):
			in = false
		case in:
			h.Write(line)
			h.Write([]byte("\r\n"))
		case bytes.HasPrefix(line, []byte("Content-Transfer-Encoding: base64")):
			sc.Scan() // the blank line
			in = true
		}
	}
	if err := sc.Err(); err != nil {
		t.Error(err)
	}
	return h.Sum(nil)
}

// heapWatch samples the heap in use until stopped and returns its peak.
func heapWatch() (stop func() uint64) {
	var peak uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			select {
			case <-done:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	return func() uint64 { close(done); wg.Wait(); return peak }
}

// A message with a 1 GiB attachment round-trips in both protocols: signed
// and encrypted, then decrypted and verified, with the same attachment
// and a good signature, in memory that does not grow with it (issue 14
// class 10). It writes about 2 GiB of temporary files.
func TestGiBRoundTrip(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 2 GiB of temporary files: not with -short")
	}
	alice, bob := newKey("Alice <alice@example.org>"), newKey("Bob <bob@example.org>")
	ca, caKey := gibCert(t, nil, nil, "")
	aliceCert, aliceKey := gibCert(t, ca, caKey, "alice@example.org")
	bobCert, bobKey := gibCert(t, ca, caKey, "bob@example.org")
	trust := func() (smime.Trust, error) { return smime.Trust{Roots: []*x509.Certificate{ca}}, nil }
	for _, c := range []struct {
		name   string
		to     mailseal.Recipient
		signer mailseal.Signer
		keys   mailseal.Keys
	}{
		{"openpgp", pgp.Recipient{Entity: bob}, pgp.Signer{Entity: alice},
			mailseal.Keys{OpenPGP: pgp.Keyring{Certs: openpgp.EntityList{alice}, Secrets: openpgp.EntityList{bob}}}},
		{"smime", smime.Recipient{Cert: bobCert}, smime.Signer{Identity: smime.Identity{Cert: aliceCert, Key: aliceKey}},
			mailseal.Keys{SMIMETrust: trust, SMIMEIdentities: func() ([]smime.Identity, error) {
				return []smime.Identity{{Cert: bobCert, Key: bobKey}}, nil
			}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			stop := heapWatch()
			src := newGiBMessage(1 << 30)
			m, err := mime.Parse(src.r, mime.DefaultLimits(), 2<<20)
			if err != nil {
				t.Fatal(err)
			}
			want := src.sum.Sum(nil)
			encrypted := filepath.Join(t.TempDir(), "encrypted.eml")
			f, err := os.Create(encrypted)
			if err != nil {
				t.Fatal(err)
			}
			bw := bufio.NewWriterSize(f, 1<<20)
			err = mailseal.Encrypt(bw, m, []mailseal.Recipient{c.to}, mailseal.SignWith(c.signer))
			m.Close()
			if err == nil {
				err = bw.Flush()
			}
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				t.Fatal(err)
			}
			st, _ := os.Stat(encrypted)
			t.Logf("encrypted message: %d bytes", st.Size())

			f, err = os.Open(encrypted)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			received, err := mime.ParseFile(f, mime.DefaultLimits(), 2<<20, mailseal.HashingOption())
			if err != nil {
				t.Fatal(err)
			}
			defer received.Close()
			pr, pw := io.Pipe()
			got := make(chan []byte, 1)
			go func() { got <- attachmentHash(t, pr); io.Copy(io.Discard, pr) }()
			opened, err := mailseal.Open(received, c.keys, mailseal.OpenOptions{Decrypt: true, Output: pw})
			pw.CloseWithError(err)
			if err != nil {
				t.Fatal(err)
			}
			if opened.Status != mailseal.StatusGood || !opened.Decrypted {
				t.Fatalf("status %s, decrypted %v: %+v", opened.Status, opened.Decrypted, opened.Report)
			}
			if h := <-got; !bytes.Equal(h, want) {
				t.Fatal("the decrypted attachment differs")
			}
			peak := stop()
			t.Logf("peak heap in use %d MiB", peak>>20)
			if peak > 256<<20 {
				t.Fatalf("peak heap %d MiB: memory grew with the message", peak>>20)
			}
		})
	}
}

// gibCert issues an S/MIME certificate (a CA's when parent is nil).
func gibCert(t *testing.T, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, email string) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour * 24)}
	if parent == nil {
		tmpl.Subject = pkix.Name{CommonName: "GiB CA"}
		tmpl.IsCA, tmpl.BasicConstraintsValid, tmpl.KeyUsage = true, true, x509.KeyUsageCertSign
		parent, parentKey = tmpl, key
	} else {
		tmpl.Subject = pkix.Name{CommonName: email}
		tmpl.EmailAddresses = []string{email}
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyAgreement
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c, key
}
