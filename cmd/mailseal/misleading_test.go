package main

import (
	"bytes"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/mailseal/mailseal"
)

// alteration is a change made to a signed message on its way, and what
// verify must say about it: the exit code, and a warning that the first
// line of the text output and the JSON report hold ("" none at all), or,
// for exit 2, the error.
type alteration struct {
	name  string
	alter func(t *testing.T, msg []byte) []byte
	code  int
	want  string
}

// alterations of a message signed by signer without Header Protection, as
// gpg and openssl write them (CRLF line endings).
func alterations(signer string) []alteration {
	shown := "From display name shows an address (ceo@example.net) that is not the sender (" + signer + ")"
	from := func(v string) func(*testing.T, []byte) []byte {
		return func(t *testing.T, msg []byte) []byte { return replaceField(t, msg, "From", v) }
	}
	atBody := func(text string) func(*testing.T, []byte) []byte {
		return func(t *testing.T, msg []byte) []byte {
			i := bytes.Index(msg, []byte("\r\n\r\n")) + 4
			return join(msg[:i], []byte(text), msg[i:])
		}
	}
	param := func(extra string) func(*testing.T, []byte) []byte {
		return func(t *testing.T, msg []byte) []byte {
			loc := regexp.MustCompile(`boundary="?[^";\r\n]+"?`).FindIndex(msg)
			if loc == nil {
				t.Fatal("no boundary parameter")
			}
			return join(msg[:loc[1]], []byte(extra), msg[loc[1]:])
		}
	}
	const refused = "readers may take the message two ways"
	return []alteration{
		{"unaltered", func(_ *testing.T, msg []byte) []byte { return msg }, 0, ""},
		{"from-quoted-address", from(`"ceo@example.net" <` + signer + `>`), 0, shown},
		{"from-encoded-word", from("=?utf-8?q?ceo=40example=2Enet?= <" + signer + ">"), 0, shown},
		// A name that is none of the signer's (issue 14: Johnny You Are Fired).
		{"from-ceo", from(`"CEO Bob Boss" <` + signer + `>`), 0, `From display name "CEO Bob Boss" is not a name on the signer's key or certificate`},
		{"from-comment", from(signer + " (ceo@example.net)"), 0, shown},
		{"reply-to", func(t *testing.T, msg []byte) []byte { return join([]byte("Reply-To: mallory@example.net\r\n"), msg) }, 0,
			"Reply-To mallory@example.net is not the sender and not covered by the signature"},
		{"preamble", atBody("Wire 10,000 EUR to the account below today.\r\n"), 0,
			`text before the first part of the multipart/signed is not covered by the signature: "Wire 10,000 EUR`},
		{"epilogue", func(_ *testing.T, msg []byte) []byte { return join(msg, []byte("\r\nP.S. Send me your password.\r\n")) }, 0,
			`text after the last part of the multipart/signed is not covered by the signature: "P.S. Send me your password."`},
		{"duplicate-boundary", param(`; boundary="other"`), 2, "gives the parameter boundary twice"},
		{"boundary-star", param(`; boundary*=us-ascii''other`), 2, "gives the parameter boundary both as boundary and as boundary*"},
		{"content-type-after", param("\r\nContent-Type: text/plain"), 2, "the message has 2 Content-Type fields: " + refused},
		{"content-type-before", func(_ *testing.T, msg []byte) []byte { return join([]byte("Content-Type: text/plain\r\n"), msg) }, 2,
			"the message has 2 Content-Type fields: " + refused},
	}
}

// replaceField replaces the value of the first header field named key.
func replaceField(t *testing.T, msg []byte, key, value string) []byte {
	t.Helper()
	loc := regexp.MustCompile(`(?mi)^` + key + `:.*\r\n`).FindIndex(msg)
	if loc == nil {
		t.Fatalf("no %s field", key)
	}
	return join(msg[:loc[0]], []byte(key+": "+value+"\r\n"), msg[loc[1]:])
}

func join(pieces ...[]byte) []byte {
	return bytes.Join(pieces, nil)
}

// checkAlterations verifies each alteration of msg with the keystore
// home and checks exit code, first line and JSON report. Warnings the
// unaltered message gets (a certificate without CRL) are expected on every
// copy.
func checkAlterations(t *testing.T, home, signer string, msg []byte) {
	verify := func(msg []byte, args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(append([]string{"mailseal", "--home", home, "verify"}, args...), bytes.NewReader(msg), &out, &errb)
		return code, out.String(), errb.String()
	}
	report := func(t *testing.T, out string) mailseal.Report {
		var rep mailseal.Report
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("report %q: %v", out, err)
		}
		return rep
	}
	msg = crlf(string(msg))
	_, out, _ := verify(msg, "--json")
	base := report(t, out).Warnings
	for _, a := range alterations(signer) {
		t.Run(a.name, func(t *testing.T) {
			altered := a.alter(t, msg)
			code, _, text := verify(altered)
			first, _, _ := strings.Cut(text, "\n")
			jcode, out, _ := verify(altered, "--json")
			rep := report(t, out)
			if code != a.code || jcode != a.code {
				t.Fatalf("exit %d (--json %d), want %d\n%s%s", code, jcode, a.code, text, out)
			}
			if a.code == 2 {
				if !strings.HasPrefix(first, "mailseal: ") || !strings.Contains(first, a.want) ||
					rep.Status != mailseal.StatusError || !strings.Contains(rep.Error, a.want) {
					t.Fatalf("first line %q, report %+v; want the error %q", first, rep, a.want)
				}
				return
			}
			if !strings.HasPrefix(first, "status: good (") || rep.Status != mailseal.StatusGood {
				t.Fatalf("first line %q, status %s; want good", first, rep.Status)
			}
			var added []string
			for _, w := range rep.Warnings {
				if !slices.Contains(base, w) {
					added = append(added, w)
				}
			}
			switch {
			case len(rep.Warnings) != len(base)+len(added):
				t.Fatalf("warnings %q, unaltered %q", rep.Warnings, base)
			case a.want == "" && len(added) > 0:
				t.Fatalf("warnings %q\n%s", added, text)
			case a.want != "" && (len(added) != 1 || !strings.HasPrefix(added[0], a.want) || !strings.Contains(first, "; warning: "+added[0])):
				t.Fatalf("first line %q, warnings %q; want %q", first, added, a.want)
			}
		})
	}
}

// Messages signed by gpg (PGP/MIME) and openssl (S/MIME), altered on
// their way: a display name or Reply-To that could mislead, text around
// the signed parts, a structure readers could take two ways.
func TestPeerSignedMessagesAltered(t *testing.T) {
	t.Run("gpg", func(t *testing.T) {
		p := newPeers(t)
		entity := crlf("Content-Type: text/plain; charset=us-ascii\n\nSigned by gpg.\n")
		sig := p.gpg(entity, "--armor", "--detach-sign", "--local-user", "greg@example.org")
		msg := join([]byte("From: Greg <greg@example.org>\r\nTo: alice@example.org\r\nSubject: gpg signed\r\nMIME-Version: 1.0\r\n"+
			"Content-Type: multipart/signed; micalg=pgp-sha512; protocol=\"application/pgp-signature\"; boundary=\"gpgb\"\r\n\r\n--gpgb\r\n"),
			entity, []byte("\r\n--gpgb\r\nContent-Type: application/pgp-signature\r\n\r\n"), crlf(string(sig)), []byte("\r\n--gpgb--\r\n"))
		checkAlterations(t, p.home, "greg@example.org", msg)
	})
	t.Run("openssl", func(t *testing.T) {
		p := newSMIMEPeers(t)
		content := p.write("content.eml", []byte(strings.ReplaceAll(smimeBody, "\r\n", "\n")))
		signed := p.openssl("cms", "-sign", "-in", content, "-md", "sha256", "-signer", p.path("bob.pem"), "-inkey", p.path("bob.key"))
		if !bytes.Contains(signed, []byte("This is an S/MIME signed message")) {
			t.Fatalf("openssl wrote no preamble notice:\n%s", signed)
		}
		checkAlterations(t, p.home, "bob@example.org", withHeaders("Bob <bob@example.org>", "alice@example.org", signed))
	})
}
