package sop

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mailseal/mailseal/core"
)

// peer runs a SOP implementation: mailseal in-process, or sqop (Debian).
type peer struct {
	name string
	run  func(t *testing.T, stdin []byte, args ...string) ([]byte, int)
}

func mailsealPeer() peer {
	return peer{name: "mailseal", run: func(t *testing.T, stdin []byte, args ...string) ([]byte, int) {
		var out, errb bytes.Buffer
		code := Run(args, Env{Stdin: bytes.NewReader(stdin), Stdout: &out, Stderr: &errb, Policy: core.DefaultPolicy()})
		if code != 0 {
			t.Logf("mailseal sop %s: exit %d: %s", strings.Join(args, " "), code, errb.String())
		}
		return out.Bytes(), code
	}}
}

func sqopPeer(t *testing.T) peer {
	if _, err := exec.LookPath("sqop"); err != nil {
		t.Fatal("sqop (Debian package sqop) is needed for the SOP interop tests; scripts/test.sh installs it")
	}
	return peer{name: "sqop", run: func(t *testing.T, stdin []byte, args ...string) ([]byte, int) {
		cmd := exec.Command("sqop", args...)
		cmd.Stdin = bytes.NewReader(stdin)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != 0 {
			t.Logf("sqop %s: exit %d: %s", strings.Join(args, " "), code, errb.String())
		}
		return out.Bytes(), code
	}}
}

func (p peer) must(t *testing.T, stdin []byte, args ...string) []byte {
	t.Helper()
	out, code := p.run(t, stdin, args...)
	if code != 0 {
		t.Fatalf("%s sop %s: exit %d", p.name, strings.Join(args, " "), code)
	}
	return out
}

func write(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// plaintext holds CRLF, UTF-8 and binary bytes.
var plaintext = []byte("line one\r\nGrüße, 世界\r\nbinary: \x00\x01\xfe\xff\r\n")
var text = []byte("Hello, world!\nGrüße\n")

// TestInteropWithSqop runs every operation with each implementation as
// producer and each as consumer.
func TestInteropWithSqop(t *testing.T) {
	dir := t.TempDir()
	peers := []peer{mailsealPeer(), sqopPeer(t)}
	keys := map[string]string{}
	certs := map[string]string{}
	for _, p := range peers {
		k := p.must(t, nil, "generate-key", p.name+" <"+p.name+"@example.org>")
		keys[p.name] = write(t, dir, p.name+".key", k)
		certs[p.name] = write(t, dir, p.name+".cert", p.must(t, k, "extract-cert"))
	}
	for _, prod := range peers {
		for _, cons := range peers {
			pair := prod.name + "->" + cons.name
			t.Run(pair, func(t *testing.T) {
				// Detached signatures, binary and text.
				for _, as := range []string{"binary", "text"} {
					in := plaintext
					if as == "text" {
						in = text
					}
					sig := write(t, dir, pair+"-"+as+".sig", prod.must(t, in, "sign", "--as="+as, keys[prod.name]))
					out := cons.must(t, in, "verify", sig, certs[prod.name])
					if !strings.Contains(string(out), "mode:"+as) && cons.name == "mailseal" {
						t.Fatalf("%s verification: %q", as, out)
					}
					if _, code := cons.run(t, append(in, 'x'), "verify", sig, certs[prod.name]); code != exitNoSignature {
						t.Fatalf("altered data verified (exit %d)", code)
					}
				}
				// Encrypt + sign, decrypt + verify.
				ct := prod.must(t, plaintext, "encrypt", "--sign-with="+keys[prod.name], certs[cons.name])
				vout := filepath.Join(dir, pair+".ver")
				pt := cons.must(t, ct, "decrypt", "--verify-with="+certs[prod.name], "--verifications-out="+vout, keys[cons.name])
				if !bytes.Equal(pt, plaintext) {
					t.Fatalf("decrypted %q", pt)
				}
				if v, _ := os.ReadFile(vout); len(bytes.TrimSpace(v)) == 0 {
					t.Fatal("no verification line")
				}
				// Tampered ciphertext: refused, nothing released.
				bad := prod.must(t, plaintext, "encrypt", "--no-armor", certs[cons.name])
				bad[len(bad)-2] ^= 1
				if out, code := cons.run(t, bad, "decrypt", keys[cons.name]); code == 0 || len(out) != 0 {
					t.Fatalf("tampered ciphertext: exit %d, %d bytes", code, len(out))
				}
				// Session keys: the consumer reports the key; the producer,
				// given only that key, decrypts; a wrong key is refused.
				ct = prod.must(t, plaintext, "encrypt", certs[cons.name])
				skFile := filepath.Join(dir, pair+".sk")
				cons.must(t, ct, "decrypt", "--session-key-out="+skFile, keys[cons.name])
				if sk := mustRead(t, skFile); !regexp.MustCompile(`^[0-9]+:[0-9A-Fa-f]{32,64}\r?\n?$`).Match(sk) {
					t.Fatalf("session key %q", sk)
				}
				if pt := prod.must(t, ct, "decrypt", "--with-session-key="+skFile); !bytes.Equal(pt, plaintext) {
					t.Fatal("decryption with the session key")
				}
				wrong := write(t, dir, pair+".wrongsk", []byte("9:"+strings.Repeat("AB", 32)+"\n"))
				if out, code := cons.run(t, ct, "decrypt", "--with-session-key="+wrong); code != exitCannotDecrypt || len(out) != 0 {
					t.Fatalf("wrong session key: exit %d, %d bytes", code, len(out))
				}
				if cons.name == "mailseal" {
					// Several session keys: each is tried.
					if pt := cons.must(t, ct, "decrypt", "--with-session-key="+wrong, "--with-session-key="+skFile); !bytes.Equal(pt, plaintext) {
						t.Fatal("the second session key was not tried")
					}
					// Then the keys: a wrong session key does not stop them.
					if pt := cons.must(t, ct, "decrypt", "--with-session-key="+wrong, keys[cons.name]); !bytes.Equal(pt, plaintext) {
						t.Fatal("the key was not tried after the session key")
					}
				}
				// Password encryption.
				pw := write(t, dir, "pw", []byte("correct horse\n"))
				ct = prod.must(t, plaintext, "encrypt", "--with-password="+pw)
				if pt := cons.must(t, ct, "decrypt", "--with-password="+pw); !bytes.Equal(pt, plaintext) {
					t.Fatal("password decryption")
				}
				if cons.name == "mailseal" {
					// Several passwords: each is tried.
					other := write(t, dir, "otherpw", []byte("not it\n"))
					if pt := cons.must(t, ct, "decrypt", "--with-password="+other, "--with-password="+pw); !bytes.Equal(pt, plaintext) {
						t.Fatal("the second password was not tried")
					}
					if out, code := cons.run(t, ct, "decrypt", "--with-password="+other); code != exitCannotDecrypt || len(out) != 0 {
						t.Fatalf("wrong password: exit %d, %d bytes", code, len(out))
					}
				}
				// Inline signatures: cleartext and binary.
				for _, as := range []string{"clearsigned", "binary"} {
					signed := prod.must(t, text, "inline-sign", "--as="+as, keys[prod.name])
					out := cons.must(t, signed, "inline-verify", certs[prod.name])
					if !bytes.Equal(bytes.TrimRight(out, "\r\n"), bytes.TrimRight(text, "\r\n")) {
						t.Fatalf("inline-verify %s: %q", as, out)
					}
				}
				// inline-detach of a cleartext signature, then verify. (sqop
				// 0.27 cannot verify what its own inline-detach writes, so
				// only mailseal detaches here.)
				if cons.name == "mailseal" {
					for _, as := range []string{"clearsigned", "binary", "text"} {
						signed := prod.must(t, text, "inline-sign", "--as="+as, keys[prod.name])
						sigOut := filepath.Join(dir, pair+"-"+as+".detached")
						body := cons.must(t, signed, "inline-detach", "--signatures-out="+sigOut)
						for _, v := range peers {
							v.must(t, body, "verify", sigOut, certs[prod.name])
						}
					}
				}
			})
		}
	}
}

func TestKeyPasswordsAndRevocation(t *testing.T) {
	dir := t.TempDir()
	ms, sq := mailsealPeer(), sqopPeer(t)
	if _, err := exec.LookPath("gpg"); err != nil {
		t.Fatal("gpg is needed (scripts/test.sh installs gnupg)")
	}
	pw := write(t, dir, "pw", []byte("s3cret\n"))
	key := write(t, dir, "locked.key", ms.must(t, nil, "generate-key", "--with-key-password="+pw, "Carol <carol@example.org>"))
	if _, code := ms.run(t, []byte("x"), "sign", key); code != exitKeyIsProtected {
		t.Fatalf("locked key without password: exit %d", code)
	}
	sig := write(t, dir, "s.sig", ms.must(t, []byte("x"), "sign", "--with-key-password="+pw, key))
	cert := write(t, dir, "c.cert", ms.must(t, mustRead(t, key), "extract-cert"))
	sq.must(t, []byte("x"), "verify", sig, cert)
	// sqop can use the protected key with the password too.
	sq.must(t, []byte("y"), "sign", "--with-key-password="+pw, key)
	// change-key-password: the new password works, the old one not.
	pw2 := write(t, dir, "pw2", []byte("n3w\n"))
	key2 := write(t, dir, "rekeyed.key", ms.must(t, mustRead(t, key), "change-key-password", "--old-key-password="+pw, "--new-key-password="+pw2))
	if _, code := ms.run(t, []byte("x"), "sign", "--with-key-password="+pw, key2); code != exitKeyIsProtected {
		t.Fatalf("old password still works: %d", code)
	}
	ms.must(t, []byte("x"), "sign", "--with-key-password="+pw2, key2)
	// revoke-key: peers refuse to encrypt to the revoked certificate.
	rev := write(t, dir, "rev.cert", ms.must(t, mustRead(t, key2), "revoke-key", "--with-key-password="+pw2))
	// gpg sees the revocation (sqop 0.27 encrypts to revoked certificates
	// regardless, so it cannot show it).
	home := filepath.Join(dir, "gnupg")
	os.Mkdir(home, 0o700)
	if out, err := exec.Command("gpg", "--homedir", home, "--batch", "--import", rev).CombinedOutput(); err != nil {
		t.Fatalf("gpg --import: %v %s", err, out)
	}
	if out, _ := exec.Command("gpg", "--homedir", home, "--batch", "--list-keys", "carol@example.org").CombinedOutput(); !bytes.Contains(out, []byte("revoked")) {
		t.Fatalf("gpg does not see the revocation:\n%s", out)
	}
	if _, code := ms.run(t, []byte("x"), "encrypt", rev); code != exitCertCannotEncrypt {
		t.Fatalf("mailseal encrypted to a revoked certificate: %d", code)
	}
}

func TestExitCodesAndArmor(t *testing.T) {
	dir := t.TempDir()
	ms := mailsealPeer()
	key := write(t, dir, "k", ms.must(t, nil, "generate-key", "Dave <dave@example.org>"))
	other := write(t, dir, "o", ms.must(t, nil, "generate-key", "Eve <eve@example.org>"))
	cert := write(t, dir, "c", ms.must(t, mustRead(t, key), "extract-cert"))
	for _, tc := range []struct {
		args []string
		in   []byte
		want int
	}{
		{[]string{"frobnicate"}, nil, exitUnsupportedSubcmd},
		{[]string{"--help"}, nil, exitOK},
		{[]string{"-h"}, nil, exitOK},
		{[]string{"sign", "--frob", key}, nil, exitUnsupportedOption},
		{[]string{"sign"}, nil, exitMissingArg},
		{[]string{"verify", filepath.Join(dir, "nope"), cert}, nil, exitMissingInput},
		{[]string{"extract-cert"}, []byte("garbage"), exitBadData},
		{[]string{"decrypt", other}, ms.must(t, []byte("x"), "encrypt", cert), exitCannotDecrypt},
		{[]string{"sign", "--as=text", key}, []byte{0xff, 0xfe}, exitExpectedText},
		{[]string{"generate-key", "--profile=nope", "x"}, nil, exitUnsupportedProfile},
		{[]string{"encrypt", "--session-key-out=" + filepath.Join(dir, "sk"), cert}, []byte("x"), exitUnsupportedOption},
		{[]string{"decrypt", "--verifications-out=" + filepath.Join(dir, "v"), key}, nil, exitIncompleteVerify},
	} {
		if _, code := ms.run(t, tc.in, tc.args...); code != tc.want {
			t.Errorf("sop %s: exit %d, want %d", strings.Join(tc.args, " "), code, tc.want)
		}
	}
	// Output files are never overwritten.
	existing := write(t, dir, "exists", []byte("keep"))
	signed := ms.must(t, text, "inline-sign", "--as=clearsigned", key)
	if _, code := ms.run(t, signed, "inline-detach", "--signatures-out="+existing); code != exitOutputExists {
		t.Errorf("existing output: exit %d", code)
	}
	// armor and dearmor round trip, with the right block type.
	bin := ms.must(t, nil, "generate-key", "--no-armor", "F <f@example.org>")
	arm := ms.must(t, bin, "armor")
	if !bytes.HasPrefix(arm, []byte("-----BEGIN PGP PRIVATE KEY BLOCK-----")) {
		t.Fatalf("armor: %.40q", arm)
	}
	if back := ms.must(t, arm, "dearmor"); !bytes.Equal(back, bin) {
		t.Fatal("dearmor(armor(x)) != x")
	}
	// --armor (pgpainless-cli's spelling of the default) and --no-armor: the last counts.
	if out := ms.must(t, []byte("x"), "sign", "--no-armor", "--armor", key); !bytes.HasPrefix(out, []byte("-----BEGIN PGP SIGNATURE-----")) {
		t.Errorf("--no-armor --armor: %.30q", out)
	}
	if out := ms.must(t, []byte("x"), "sign", "--armor", "--no-armor", key); bytes.HasPrefix(out, []byte("-----BEGIN")) {
		t.Errorf("--armor --no-armor: armored")
	}
	if _, code := ms.run(t, nil, "extract-cert", "--armor=yes"); code != exitUnsupportedOption {
		t.Errorf("--armor=yes: exit %d", code)
	}
	// --label names the block type whatever the data looks like.
	for label, want := range map[string]string{"sig": "PGP SIGNATURE", "cert": "PGP PUBLIC KEY BLOCK",
		"key": "PGP PRIVATE KEY BLOCK", "message": "PGP MESSAGE", "auto": "PGP PRIVATE KEY BLOCK"} {
		out := ms.must(t, bin, "armor", "--label="+label)
		if !bytes.HasPrefix(out, []byte("-----BEGIN "+want+"-----")) {
			t.Errorf("armor --label=%s: %.40q", label, out)
		}
		if back := ms.must(t, out, "dearmor"); !bytes.Equal(back, bin) {
			t.Errorf("dearmor(armor --label=%s) != x", label)
		}
	}
	if _, code := ms.run(t, bin, "armor", "--label=frob"); code != exitUnsupportedOption {
		t.Errorf("armor --label=frob: exit %d", code)
	}
	if out := ms.must(t, nil, "list-profiles", "generate-key"); !bytes.Contains(out, []byte("rfc9580")) {
		t.Fatalf("profiles: %s", out)
	}
	v6 := write(t, dir, "v6", ms.must(t, nil, "generate-key", "--profile=rfc9580", "G <g@example.org>"))
	v6c := write(t, dir, "v6c", ms.must(t, mustRead(t, v6), "extract-cert"))
	ct := ms.must(t, plaintext, "encrypt", v6c)
	skFile := filepath.Join(dir, "v6.sk")
	if pt := ms.must(t, ct, "decrypt", "--session-key-out="+skFile, v6); !bytes.Equal(pt, plaintext) {
		t.Fatal("v6 round trip")
	}
	if pt := ms.must(t, ct, "decrypt", "--with-session-key="+skFile); !bytes.Equal(pt, plaintext) {
		t.Fatal("v6 (SEIPDv2) decryption with the session key")
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// A message gpg encrypted with a password alone (no encrypted session
// key): a wrong password is often seen only as damaged data, which must
// not stop the passwords after it from being tried.
func TestManyWrongPasswordsBeforeTheRightOne(t *testing.T) {
	if _, err := exec.LookPath("gpg"); err != nil {
		t.Fatal("gpg is needed (scripts/test.sh installs gnupg)")
	}
	dir := t.TempDir()
	plaintext := bytes.Repeat([]byte("a password-only message\n"), 150)
	in := write(t, dir, "plain", plaintext)
	ct := filepath.Join(dir, "msg.gpg")
	if out, err := exec.Command("gpg", "--homedir", dir, "--batch", "--yes", "--pinentry-mode", "loopback", "--passphrase", "right one",
		"--s2k-mode", "1", "--symmetric", "-o", ct, in).CombinedOutput(); err != nil {
		t.Fatalf("gpg --symmetric: %v\n%s", err, out)
	}
	data, err := os.ReadFile(ct)
	if err != nil {
		t.Fatal(err)
	}
	var args []string
	args = append(args, "decrypt")
	for i := 0; i < 300; i++ {
		args = append(args, "--with-password="+write(t, dir, fmt.Sprintf("wrong%d", i), []byte(fmt.Sprintf("wrong %d", i))))
	}
	right := write(t, dir, "right", []byte("right one"))
	ms := mailsealPeer()
	if out, code := ms.run(t, data, append(args, "--with-password="+right)...); code != 0 || !bytes.Equal(out, plaintext) {
		t.Fatalf("300 wrong passwords, then the right one: exit %d, %d bytes", code, len(out))
	}
	if out, code := ms.run(t, data, args...); code != exitCannotDecrypt || len(out) != 0 {
		t.Fatalf("only wrong passwords: exit %d, %d bytes", code, len(out))
	}
}

// A certificate file of several armored blocks (cat a.asc b.asc) is one
// keyring: every certificate in it is read, and dearmor gives the blocks'
// binary data one after the other.
func TestConcatenatedArmoredCerts(t *testing.T) {
	dir := t.TempDir()
	ms := mailsealPeer()
	var keys, certs [][]byte
	for _, uid := range []string{"Ann <ann@example.org>", "Ben <ben@example.org>"} {
		k := ms.must(t, nil, "generate-key", uid)
		keys, certs = append(keys, k), append(certs, ms.must(t, k, "extract-cert"))
	}
	both := write(t, dir, "both", append(append(append([]byte{}, certs[0]...), "\nand the next one:\n"...), certs[1]...))
	ct := ms.must(t, plaintext, "encrypt", both)
	for i, k := range keys {
		if pt := ms.must(t, ct, "decrypt", write(t, dir, fmt.Sprint("k", i), k)); !bytes.Equal(pt, plaintext) {
			t.Fatalf("key %d: wrong plaintext", i)
		}
	}
	want := append(ms.must(t, certs[0], "dearmor"), ms.must(t, certs[1], "dearmor")...)
	if got := ms.must(t, mustRead(t, both), "dearmor"); !bytes.Equal(got, want) {
		t.Fatalf("dearmor of two blocks: %d bytes, want %d", len(got), len(want))
	}
}
