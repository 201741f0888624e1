package locate

import (
	"bytes"
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"

	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/internal/atomicfile"
	"github.com/mailseal/mailseal/pgp"
)

const zbase32 = "ybndrfg8ejkmcpqxot1uwisza345h769"

// WKDHash is the Web Key Directory name of a local part: the z-base-32
// encoded SHA-1 of the local part with ASCII letters lower-cased (32
// characters), as gpg-wks-client --print-wkd-hash prints it.
func WKDHash(local string) string {
	sum := sha1.Sum([]byte(strings.Map(func(r rune) rune {
		if r >= 'A' && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, local)))
	var out strings.Builder
	var acc uint32
	bits := 0
	for _, b := range sum {
		acc = acc<<8 | uint32(b)
		bits += 8
		for bits >= 5 {
			bits -= 5
			out.WriteByte(zbase32[(acc>>bits)&31])
		}
	}
	if bits > 0 {
		out.WriteByte(zbase32[(acc<<(5-bits))&31])
	}
	return out.String()
}

// WKDURLs are the advanced and the direct method's URLs of addr's key.
func WKDURLs(addr string) (advanced, direct string, err error) {
	local, domain, err := splitAddr(addr)
	if err != nil {
		return "", "", err
	}
	h, q := WKDHash(local), queryEscape(local)
	advanced = "https://openpgpkey." + domain + "/.well-known/openpgpkey/" + domain + "/hu/" + h + "?l=" + q
	direct = "https://" + domain + "/.well-known/openpgpkey/hu/" + h + "?l=" + q
	return advanced, direct, nil
}

// queryEscape escapes a local part for the l= parameter as gpg and sq do:
// letters, digits and the characters a query may hold as they are
// (RFC 3986 unreserved and sub-delims but & and =), the rest (and every
// byte of a non-ASCII character) percent-encoded.
func queryEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x80 && (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~!$'()*+,;:@", c) >= 0) {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// WKD looks addr up in its domain's Web Key Directory: the advanced method
// (openpgpkey.DOMAIN) when that name resolves, else the direct one.
func (l *Locator) WKD(ctx context.Context, addr string) ([]Found, error) {
	advanced, direct, err := WKDURLs(addr)
	if err != nil {
		return nil, err
	}
	ctx, cancel := l.deadline(ctx)
	defer cancel()
	_, domain, _ := splitAddr(addr)
	u := advanced
	if _, err := l.resolver().LookupHost(ctx, "openpgpkey."+domain); err != nil {
		var de *net.DNSError
		if !errors.As(err, &de) || !de.IsNotFound {
			return nil, fmt.Errorf("wkd: resolving openpgpkey.%s: %w", domain, err)
		}
		u = direct
	}
	data, err := l.get(ctx, u)
	if err != nil {
		return nil, fmt.Errorf("wkd: %w", err)
	}
	found, err := l.keysFor(data, addr, MethodWKD, u)
	if err != nil {
		return nil, fmt.Errorf("wkd: %w", err)
	}
	return found, nil
}

// WKDPolicy is the content of the policy files GenerateWKD writes (empty:
// no policy flags; the file's presence says the directory exists).
const WKDPolicy = "# Web Key Directory policy written by mailseal\n"

// GenerateWKD writes the Web Key Directory of domain for the keys in certs
// (binary or armored transferable public keys) under dir: the advanced
// method's tree in dir/advanced (the web root of openpgpkey.DOMAIN) and
// the direct method's in dir/direct (the web root of DOMAIN), each with
// its policy file and one file per address named by its WKDHash, which
// holds every key with a user ID for that address, with only that
// address's user IDs. It returns the addresses written, sorted; keys
// without a user ID in domain are left out, and none at all is an error.
func GenerateWKD(dir, domain string, certs []byte) ([]string, error) {
	domain = strings.ToLower(strings.TrimSpace(domain))
	if domain == "" || strings.ContainsAny(domain, "/\\ @") {
		return nil, fmt.Errorf("wkd: %q is not a domain name: %w", domain, core.ErrUsage)
	}
	ents, err := readCerts(certs)
	if err != nil {
		return nil, err
	}
	// address -> the serialized key of every entity with a user ID for it.
	byAddr := map[string][]byte{} // by lower-case local part, as hashed
	var names []string
	for _, e := range ents {
		var one bytes.Buffer
		if err := e.Serialize(&one); err != nil {
			return nil, fmt.Errorf("wkd: %w", err)
		}
		seen := map[string]bool{}
		for name := range e.Identities {
			a, err := core.UserIDAddress(name)
			if err != nil {
				continue
			}
			local, d, err := splitAddr(a)
			if err != nil || d != domain || seen[strings.ToLower(local)] {
				continue
			}
			seen[strings.ToLower(local)] = true
			min, err := MinimalKey(one.Bytes(), a)
			if err != nil {
				return nil, err
			}
			key := strings.ToLower(local)
			byAddr[key] = append(byAddr[key], min...)
			names = append(names, local+"@"+domain)
		}
	}
	if len(byAddr) == 0 {
		return nil, fmt.Errorf("wkd: no key has a user ID in %s: %w", domain, core.ErrNoKey)
	}
	adv := filepath.Join(dir, "advanced", ".well-known", "openpgpkey", domain)
	dir2 := filepath.Join(dir, "direct", ".well-known", "openpgpkey")
	for local, key := range byAddr {
		for _, base := range []string{adv, dir2} {
			if err := writeFile(filepath.Join(base, "hu", WKDHash(local)), key); err != nil {
				return nil, err
			}
		}
	}
	for _, base := range []string{adv, dir2} {
		if err := writeFile(filepath.Join(base, "policy"), []byte(WKDPolicy)); err != nil {
			return nil, err
		}
	}
	sort.Strings(names)
	return names, nil
}

// MinimalKey is cert (one transferable public key, binary or armored)
// with only its valid user IDs bound to addr, as GenerateWKD publishes it
// and an OPENPGPKEY record (RFC 7929) should hold it; none is an error.
func MinimalKey(cert []byte, addr string) ([]byte, error) {
	gen := &Locator{Limits: Limits{MaxKeys: 1, MaxBytes: 1 << 30}}
	found, err := gen.keysFor(cert, addr, "", "the key")
	if err != nil {
		return nil, err
	}
	return found[0].Key, nil
}

// CheckAddress says whether addr is a mail address the methods can look
// up (a usage error if not).
func CheckAddress(addr string) error {
	_, _, err := splitAddr(addr)
	return err
}

func writeFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("wkd: %w", err)
	}
	if err := atomicfile.WriteBytes(path, 0o644, data); err != nil {
		return fmt.Errorf("wkd: %w", err)
	}
	return nil
}

// readCerts reads binary or armored public keys (every armored block) as
// every key file is read: pgp.ReadKeys.
func readCerts(data []byte) (openpgp.EntityList, error) {
	ents, err := pgp.ReadKeys(data)
	if err != nil {
		return nil, fmt.Errorf("wkd: %w", err)
	}
	return ents, nil
}
