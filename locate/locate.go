// Package locate finds recipients' OpenPGP keys on the network: the Web
// Key Directory (WKD, advanced and direct method), DANE OPENPGPKEY records
// (RFC 7929; SMIMEA, RFC 8162, for certificates) and a Verifying Key
// Server (VKS, keys.openpgp.org). Each answer says where it came from
// (Found.Source, Found.Method, Found.DNSSEC) so that the keystore can
// record the key's provenance.
//
// Everything goes through two small interfaces, so that tests (and
// callers with their own network stack) never touch the real network: an
// HTTP client (NewHTTPClient takes the dialer and the CA roots) and a
// Resolver (net.DefaultResolver, or DNS, a client for a resolver the user
// names). Every request has a timeout; answers are capped in size
// (Limits.MaxBytes) and in the number of keys (Limits.MaxKeys); a redirect
// to another host is refused; of each key only the user IDs bound to the
// address looked up are kept, and a key with none is refused.
package locate

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/internal/armor"
	"github.com/mailseal/mailseal/pgp"
)

// The methods Locate knows, by the names the CLI and the keystore's
// provenance records use.
const (
	MethodWKD  = "wkd"
	MethodDANE = "dane"
	MethodVKS  = "vks"
	// MethodSMIMEA finds S/MIME certificates (DANE SMIMEA records); the
	// others find OpenPGP keys.
	MethodSMIMEA = "smimea"
	// MethodLocal is the keystore's own answer, MethodAutocrypt the
	// Autocrypt peer state it keeps (what verify/decrypt --autocrypt
	// learned); ParseMethods accepts them, the keystore answers them
	// (keystore.Store.Locate), Locate does not.
	MethodLocal     = "local"
	MethodAutocrypt = "autocrypt"
)

// Methods is every method, in the order DefaultMethods tries them.
var Methods = []string{MethodWKD, MethodDANE, MethodVKS, MethodSMIMEA}

// DefaultVKS is the Verifying Key Server used when Locator.VKS is empty.
const DefaultVKS = "https://keys.openpgp.org"

// Limits bound what one answer may hold.
type Limits struct {
	MaxBytes int64         // one HTTP body or the key data of one DNS answer (default 1 MiB)
	MaxKeys  int           // keys in one answer (default 16)
	Timeout  time.Duration // one method for one address, all requests included (default 15 s)
}

// DefaultLimits are the limits of the zero Limits.
func DefaultLimits() Limits {
	return Limits{MaxBytes: 1 << 20, MaxKeys: 16, Timeout: 15 * time.Second}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxBytes <= 0 {
		l.MaxBytes = d.MaxBytes
	}
	if l.MaxKeys <= 0 {
		l.MaxKeys = d.MaxKeys
	}
	if l.Timeout <= 0 {
		l.Timeout = d.Timeout
	}
	return l
}

// Resolver says whether a host name resolves. net.DefaultResolver and DNS
// implement it.
type Resolver interface {
	LookupHost(ctx context.Context, host string) ([]string, error)
}

// A Locator looks keys up. The zero Locator uses the system's resolver,
// a default HTTP client (NewHTTPClient(nil, nil)), keys.openpgp.org and
// DefaultLimits; it has no DNS client for DANE (set DNS).
type Locator struct {
	HTTP     *http.Client // nil: NewHTTPClient(nil, nil)
	Resolver Resolver     // for WKD's advanced method; nil: DNS if set, else net.DefaultResolver
	DNS      *DNS         // DANE records (and AD bits); nil: DANE fails with a usage error
	VKS      string       // base URL of the key server; "": DefaultVKS
	Limits   Limits
	Now      func() time.Time // the fetch time recorded; nil: time.Now
}

// Found is one method's answer for one address: a key, or why there is
// none (Error). For an OpenPGP key, Key holds the certificate (binary,
// transferable public key) with only the user IDs bound to Address; for an
// S/MIME certificate (Protocol "smime"), its DER, and UserIDs are the
// addresses it is bound to.
type Found struct {
	Address string `json:"address"`
	Method  string `json:"method"`
	// Protocol is "smime" for a certificate (MethodSMIMEA), empty for an
	// OpenPGP key.
	Protocol       string   `json:"protocol,omitempty"`
	Fingerprint    string   `json:"fingerprint,omitempty"`
	UserIDs        []string `json:"user_ids,omitempty"`
	MatchesAddress bool     `json:"matches_address"`
	Source         string   `json:"source,omitempty"` // the URL or the DNS name asked
	DNSSEC         bool     `json:"dnssec,omitempty"` // DANE: the named resolver set the AD bit
	// DANEUsage is an SMIMEA record's certificate usage: UsagePKIXEE or
	// UsageDANEEE.
	DANEUsage uint8     `json:"dane_usage,omitempty"`
	Fetched   time.Time `json:"fetched,omitzero"`
	Error     string    `json:"error,omitempty"`
	Key       []byte    `json:"-"`
}

// NewHTTPClient returns the HTTP client lookups use: dial connects (nil: a
// net.Dialer with a 10 s timeout); roots verifies servers (nil: the system
// roots). Redirects are followed only within the same host and https (at
// most 3); requests time out after 30 s in all.
func NewHTTPClient(dial func(ctx context.Context, network, addr string) (net.Conn, error), roots *x509.CertPool) *http.Client {
	tr := &http.Transport{
		TLSClientConfig:        &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:    10 * time.Second,
		ResponseHeaderTimeout:  15 * time.Second,
		MaxResponseHeaderBytes: 64 << 10,
		ForceAttemptHTTP2:      true,
	}
	if dial == nil {
		tr.DialContext = (&net.Dialer{Timeout: 10 * time.Second}).DialContext
		tr.Proxy = http.ProxyFromEnvironment
	} else {
		tr.DialContext = dial
	}
	return &http.Client{
		Transport: tr,
		Timeout:   30 * time.Second,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 3 {
				return errors.New("more than 3 redirects")
			}
			if req.URL.Scheme != "https" || !strings.EqualFold(req.URL.Host, via[0].URL.Host) {
				return fmt.Errorf("refused a redirect to another host (%s)", req.URL.Redacted())
			}
			return nil
		},
	}
}

// HostDialer is a dialer for NewHTTPClient that connects to the address
// hosts gives for a host name ("127.0.0.1:8443", or an address without a
// port to keep the port asked for), and to every other host as usual: for
// tests and for private setups where a directory or key server is reached
// at another address than DNS says. The TLS certificate is still checked
// against the host name asked for.
func HostDialer(hosts map[string]string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	d := &net.Dialer{Timeout: 10 * time.Second}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		for h, to := range hosts {
			if !strings.EqualFold(h, host) {
				continue
			}
			if _, _, err := net.SplitHostPort(to); err != nil {
				to = net.JoinHostPort(to, port)
			}
			return d.DialContext(ctx, network, to)
		}
		return d.DialContext(ctx, network, addr)
	}
}

func (l *Locator) client() *http.Client {
	if l.HTTP != nil {
		return l.HTTP
	}
	return NewHTTPClient(nil, nil)
}

func (l *Locator) resolver() Resolver {
	if l.Resolver != nil {
		return l.Resolver
	}
	if l.DNS != nil {
		return l.DNS
	}
	return net.DefaultResolver
}

func (l *Locator) now() time.Time {
	if l.Now != nil {
		return l.Now()
	}
	return time.Now()
}

// Locate asks each of methods (nil: Methods) for addr's key, one after
// the other, and returns every answer: the keys found and, for methods
// that found none, why. It stops at nothing: a caller that wants the first
// key takes the first Found without an Error.
func (l *Locator) Locate(ctx context.Context, addr string, methods []string) []Found {
	if methods == nil {
		methods = Methods
	}
	var out []Found
	for _, m := range methods {
		var found []Found
		var err error
		switch m {
		case MethodWKD:
			found, err = l.WKD(ctx, addr)
		case MethodDANE:
			found, err = l.DANE(ctx, addr)
		case MethodVKS:
			found, err = l.VKSByEmail(ctx, addr)
		case MethodSMIMEA:
			found, err = l.SMIMEA(ctx, addr)
		case MethodLocal, MethodAutocrypt:
			err = fmt.Errorf("the keystore answers the method %q (keystore.Store.Locate): %w", m, core.ErrUsage)
		default:
			err = fmt.Errorf("unknown method %q (the methods are %s): %w", m, strings.Join(Methods, ", "), core.ErrUsage)
		}
		if err != nil {
			out = append(out, Found{Address: addr, Method: m, Error: err.Error(), Fetched: l.now().UTC()})
			continue
		}
		out = append(out, found...)
	}
	return out
}

// ParseMethods reads a comma-separated list of methods ("" is Methods);
// MethodLocal and MethodAutocrypt are among them.
func ParseMethods(s string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return Methods, nil
	}
	var out []string
	for _, m := range strings.Split(s, ",") {
		m = strings.ToLower(strings.TrimSpace(m))
		ok := m == MethodLocal || m == MethodAutocrypt
		for _, k := range Methods {
			ok = ok || m == k
		}
		if !ok {
			return nil, fmt.Errorf("unknown lookup method %q (the methods are %s, %s, %s): %w", m, MethodLocal, MethodAutocrypt, strings.Join(Methods, ", "), core.ErrUsage)
		}
		out = append(out, m)
	}
	return out, nil
}

// get fetches url with the limits: a status other than 200 is an error
// (404 says "no key"), a body over MaxBytes is refused.
func (l *Locator) get(ctx context.Context, url string) ([]byte, error) {
	lim := l.Limits.withDefaults()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", "mailseal")
	resp, err := l.client().Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return nil, fmt.Errorf("%s: no key (404): %w", url, core.ErrNoKey)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", url, resp.Status)
	}
	if resp.ContentLength > lim.MaxBytes {
		return nil, fmt.Errorf("%s: refused an answer of %d bytes (more than %s)", url, resp.ContentLength, core.SizeName(lim.MaxBytes))
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, lim.MaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", url, err)
	}
	if int64(len(data)) > lim.MaxBytes {
		return nil, fmt.Errorf("%s: refused an answer of more than %s", url, core.SizeName(lim.MaxBytes))
	}
	return data, nil
}

// keysFor reads the keys in data (binary or armored), refuses more than
// MaxKeys, and keeps of each key only the user IDs bound to addr. A key
// with none is left out; when none is left the error says why.
func (l *Locator) keysFor(data []byte, addr, method, source string) ([]Found, error) {
	bin, err := l.binaryKeys(data, source)
	if err != nil {
		return nil, err
	}
	ents, err := openpgp.ReadKeyRing(bytes.NewReader(bin))
	if err != nil {
		return nil, fmt.Errorf("%s: unreadable key: %w", source, err)
	}
	var out []Found
	var others []string
	for _, e := range ents {
		if e.PrivateKey != nil {
			return nil, fmt.Errorf("%s: the answer holds a secret key; refused", source)
		}
		// Only user IDs whose self-signature verifies and is not revoked
		// (go-crypto's reader keeps any that merely names the key as
		// its issuer: a forged one would say the key is addr's).
		valid := map[string]bool{}
		for _, u := range pgp.ValidUserIDs(e, time.Now(), nil) {
			valid[u.ID] = true
		}
		var kept []string
		for name := range e.Identities {
			a, err := core.UserIDAddress(name)
			if valid[name] && err == nil && core.SameAddress(a, addr) {
				kept = append(kept, name)
			} else {
				delete(e.Identities, name)
				others = append(others, name)
			}
		}
		if len(kept) == 0 {
			continue
		}
		var b bytes.Buffer
		if err := e.Serialize(&b); err != nil {
			return nil, fmt.Errorf("%s: %w", source, err)
		}
		out = append(out, Found{
			Address: addr, Method: method, Source: source, Fetched: l.now().UTC(),
			Fingerprint: strings.ToUpper(fmt.Sprintf("%x", e.PrimaryKey.Fingerprint)),
			UserIDs:     kept, MatchesAddress: true, Key: b.Bytes(),
		})
	}
	if len(out) == 0 {
		if len(others) > 0 {
			return nil, fmt.Errorf("%s: no user ID of the key is bound to %s (it has %q); refused", source, addr, others)
		}
		return nil, fmt.Errorf("%s: no key with a valid user ID for %s", source, addr)
	}
	return out, nil
}

// binaryKeys reads key data, binary or armored (its public key blocks),
// into binary and refuses more than MaxKeys keys.
func (l *Locator) binaryKeys(data []byte, source string) ([]byte, error) {
	lim := l.Limits.withDefaults()
	bin := data
	if len(data) > 0 && data[0]&0x80 == 0 {
		blocks, err := armor.DecodeAll(data)
		if err != nil {
			return nil, fmt.Errorf("%s: neither binary OpenPGP data nor ASCII armor: %w", source, err)
		}
		var b bytes.Buffer
		for _, bl := range blocks {
			if bl.Type == "PGP PUBLIC KEY BLOCK" {
				b.Write(bl.Data)
			}
		}
		bin = b.Bytes()
	}
	if len(bin) == 0 {
		return nil, fmt.Errorf("%s: no OpenPGP key in the answer", source)
	}
	if n := countPrimaryKeys(bin, lim.MaxKeys+1); n > lim.MaxKeys {
		return nil, fmt.Errorf("%s: refused an answer of more than %d keys", source, lim.MaxKeys)
	}
	return bin, nil
}

// countPrimaryKeys counts public key packets in bin, stopping at stop.
func countPrimaryKeys(bin []byte, stop int) int {
	n := 0
	pr := packet.NewOpaqueReader(bytes.NewReader(bin))
	for n < stop {
		p, err := pr.Next()
		if err != nil {
			break
		}
		if p.Tag == 6 || p.Tag == 5 { // public key, secret key
			n++
		}
	}
	return n
}

// deadline applies the per-method timeout.
func (l *Locator) deadline(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, l.Limits.withDefaults().Timeout)
}

// splitAddr splits a mail address into its local part and its domain
// (lower-cased).
func splitAddr(addr string) (local, domain string, err error) {
	i := strings.LastIndexByte(addr, '@')
	if i <= 0 || i == len(addr)-1 || strings.ContainsAny(addr, " \t\r\n<>") {
		return "", "", fmt.Errorf("%q is not a mail address: %w", addr, core.ErrUsage)
	}
	return addr[:i], strings.ToLower(addr[i+1:]), nil
}

// Refresh fetches the key with fingerprint fpr again by method, as it was
// found for addr: WKD and DANE ask for addr again and keep the answer
// with that fingerprint; VKS asks by fingerprint (a key server gives out
// only verified user IDs, so the key may come back without any: that is
// accepted, its other packets are what a refresh is for). Of the key only
// user IDs bound to addr are kept.
func (l *Locator) Refresh(ctx context.Context, method, addr, fpr string) (Found, error) {
	fpr = strings.ToUpper(fpr)
	var found []Found
	var err error
	switch method {
	case MethodWKD:
		found, err = l.WKD(ctx, addr)
	case MethodDANE:
		found, err = l.DANE(ctx, addr)
	case MethodVKS:
		return l.VKSByFingerprint(ctx, fpr, addr)
	default:
		return Found{}, fmt.Errorf("cannot refresh from %q (the methods are %s): %w", method, strings.Join(Methods, ", "), core.ErrUsage)
	}
	if err != nil {
		return Found{}, err
	}
	for _, f := range found {
		if f.Fingerprint == fpr {
			return f, nil
		}
	}
	return Found{}, fmt.Errorf("%s: the answer for %s no longer holds the key %s: %w", method, addr, fpr, core.ErrNoKey)
}
