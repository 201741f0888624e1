package locate

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/internal/upperhex"
	"github.com/mailseal/mailseal/internal/x509path"
	"github.com/mailseal/mailseal/smime"
)

// DNS is a client for one DNS resolver (Addr, "host:port"), over UDP with
// a retry over TCP when the answer is truncated. It asks with the DO bit
// and reports the AD bit of each answer: Validating says the user named
// this resolver as one that validates DNSSEC (and that the path to it is
// trusted), and only then is an AD bit believed (Found.DNSSEC).
type DNS struct {
	Addr       string
	Validating bool
	Timeout    time.Duration // one exchange (default 5 s)
}

// ResolverAt is a client for the DNS resolver at addr ("HOST" or
// "HOST:PORT", port 53 by default). Its AD bit is believed (Validating)
// only when the caller says the resolver validates DNSSEC (validates) and
// HOST is a loopback address (127.0.0.0/8, ::1), written as one: an answer
// from anywhere else crossed a network on which anyone could set the bit,
// the reason glibc's resolver clears it unless told trust-ad. Loopback
// alone is not enough: a stub or forwarder on this machine
// (systemd-resolved at 127.0.0.53 without DNSSEC=yes, Docker's 127.0.0.11,
// dnsmasq) may pass on an AD bit it did not check, so only the user can
// say that the resolver named is one that validates (unbound does out of
// the box). validates with any other HOST is an error.
func ResolverAt(addr string, validates bool) (*DNS, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host, addr = addr, net.JoinHostPort(addr, "53")
	}
	if ip := net.ParseIP(host); validates && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("DNS resolver %q: an AD bit is believed only from a validating resolver on this machine, named by its loopback address: run one (such as unbound) and give --resolver 127.0.0.1 (or ::1, not localhost), or drop --resolver-validates (answers then count as not validated)", addr)
	}
	return &DNS{Addr: addr, Validating: validates}, nil
}

func (d *DNS) exchange(ctx context.Context, name string, qtype uint16) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.SetEdns0(4096, true)
	m.AuthenticatedData = true
	timeout := d.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	c := &dns.Client{Net: "udp", Timeout: timeout}
	r, _, err := c.ExchangeContext(ctx, m, d.Addr)
	if err == nil && r.Truncated {
		c.Net = "tcp"
		r, _, err = c.ExchangeContext(ctx, m, d.Addr)
	}
	if err != nil {
		return nil, fmt.Errorf("dns %s %s at %s: %w", name, dns.TypeToString[qtype], d.Addr, err)
	}
	if r.Id != m.Id {
		return nil, fmt.Errorf("dns %s: answer to another question", name)
	}
	return r, nil
}

// LookupHost resolves host's A and AAAA records; a name that does not
// exist, or has neither, is a *net.DNSError with IsNotFound.
func (d *DNS) LookupHost(ctx context.Context, host string) ([]string, error) {
	var addrs []string
	for _, t := range []uint16{dns.TypeA, dns.TypeAAAA} {
		r, err := d.exchange(ctx, host, t)
		if err != nil {
			return nil, err
		}
		switch r.Rcode {
		case dns.RcodeSuccess, dns.RcodeNameError:
		default:
			return nil, &net.DNSError{Err: dns.RcodeToString[r.Rcode], Name: host, Server: d.Addr}
		}
		for _, rr := range r.Answer {
			switch rr := rr.(type) {
			case *dns.A:
				addrs = append(addrs, rr.A.String())
			case *dns.AAAA:
				addrs = append(addrs, rr.AAAA.String())
			}
		}
	}
	if len(addrs) == 0 {
		return nil, &net.DNSError{Err: "no such host", Name: host, Server: d.Addr, IsNotFound: true}
	}
	return addrs, nil
}

// records asks for name's records of qtype: the answers of that type and
// whether the resolver set the AD bit.
func (d *DNS) records(ctx context.Context, name string, qtype uint16) ([]dns.RR, bool, error) {
	r, err := d.exchange(ctx, name, qtype)
	if err != nil {
		return nil, false, err
	}
	switch r.Rcode {
	case dns.RcodeSuccess:
	case dns.RcodeNameError:
		return nil, r.AuthenticatedData, fmt.Errorf("dns %s: no such name: %w", name, core.ErrNoKey)
	default:
		return nil, false, fmt.Errorf("dns %s: %s", name, dns.RcodeToString[r.Rcode])
	}
	var out []dns.RR
	for _, rr := range r.Answer {
		if rr.Header().Rrtype == qtype && strings.EqualFold(rr.Header().Name, dns.Fqdn(name)) {
			out = append(out, rr)
		}
	}
	if len(out) == 0 {
		return nil, r.AuthenticatedData, fmt.Errorf("dns %s: no %s record: %w", name, dns.TypeToString[qtype], core.ErrNoKey)
	}
	return out, r.AuthenticatedData, nil
}

// OPENPGPKEYName is the DNS name of addr's OPENPGPKEY record (RFC 7929):
// the SHA-256 of the local part, truncated to 28 octets, in hex, under
// _openpgpkey.DOMAIN.
func OPENPGPKEYName(addr string) (string, error) {
	return daneName(addr, "_openpgpkey")
}

// SMIMEAName is the DNS name of addr's SMIMEA records (RFC 8162), the same
// hash under _smimecert.DOMAIN.
func SMIMEAName(addr string) (string, error) {
	return daneName(addr, "_smimecert")
}

func daneName(addr, label string) (string, error) {
	local, domain, err := splitAddr(addr)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(local))
	return hex.EncodeToString(sum[:28]) + "." + label + "." + domain + ".", nil
}

// DANE looks addr's OPENPGPKEY record up with l.DNS. Found.DNSSEC is set
// when the resolver is Validating and set the AD bit.
func (l *Locator) DANE(ctx context.Context, addr string) ([]Found, error) {
	if l.DNS == nil {
		return nil, fmt.Errorf("dane: no DNS resolver given: add --resolver 127.0.0.1 --resolver-validates (a validating resolver on this machine, such as unbound; without --resolver-validates answers count as not validated): %w", core.ErrUsage)
	}
	name, err := OPENPGPKEYName(addr)
	if err != nil {
		return nil, err
	}
	ctx, cancel := l.deadline(ctx)
	defer cancel()
	rrs, ad, err := l.DNS.records(ctx, name, dns.TypeOPENPGPKEY)
	if err != nil {
		return nil, fmt.Errorf("dane: %w", err)
	}
	lim := l.Limits.withDefaults()
	if len(rrs) > lim.MaxKeys {
		return nil, fmt.Errorf("dane: %s: refused an answer of %d records (more than %d)", name, len(rrs), lim.MaxKeys)
	}
	var data []byte
	for _, rr := range rrs {
		k, err := base64.StdEncoding.DecodeString(rr.(*dns.OPENPGPKEY).PublicKey)
		if err != nil {
			return nil, fmt.Errorf("dane: %s: %w", name, err)
		}
		data = append(data, k...)
		if int64(len(data)) > lim.MaxBytes {
			return nil, fmt.Errorf("dane: %s: refused an answer of more than %s", name, core.SizeName(lim.MaxBytes))
		}
	}
	found, err := l.keysFor(data, addr, MethodDANE, strings.TrimSuffix(name, "."))
	if err != nil {
		return nil, fmt.Errorf("dane: %w", err)
	}
	for i := range found {
		found[i].DNSSEC = ad && l.DNS.Validating
	}
	return found, nil
}

// SMIMEA is one SMIMEA record's content (RFC 8162, the TLSA fields).
type SMIMEA struct {
	Usage, Selector, MatchingType uint8
	Data                          []byte // a DER certificate when Selector and MatchingType are 0
}

// The SMIMEA certificate usages (RFC 6698 §2.1.1, which RFC 8162 takes).
const (
	UsagePKIXEE = 1 // the certificate must also pass PKIX validation
	UsageDANEEE = 3 // the certificate is the end entity's; DNSSEC vouches for it
)

// SMIMEARecords looks addr's SMIMEA records up with l.DNS; validated says
// the resolver is Validating and set the AD bit.
func (l *Locator) SMIMEARecords(ctx context.Context, addr string) (recs []SMIMEA, validated bool, err error) {
	if l.DNS == nil {
		return nil, false, fmt.Errorf("smimea: no DNS resolver given: add --resolver 127.0.0.1 --resolver-validates (a validating resolver on this machine, such as unbound; without --resolver-validates answers count as not validated): %w", core.ErrUsage)
	}
	name, err := SMIMEAName(addr)
	if err != nil {
		return nil, false, err
	}
	ctx, cancel := l.deadline(ctx)
	defer cancel()
	rrs, ad, err := l.DNS.records(ctx, name, dns.TypeSMIMEA)
	if err != nil {
		return nil, false, fmt.Errorf("smimea: %w", err)
	}
	lim := l.Limits.withDefaults()
	if len(rrs) > lim.MaxKeys {
		return nil, false, fmt.Errorf("smimea: %s: refused an answer of %d records (more than %d)", name, len(rrs), lim.MaxKeys)
	}
	var total int64
	for _, rr := range rrs {
		s := rr.(*dns.SMIMEA)
		d, err := hex.DecodeString(s.Certificate)
		if err != nil {
			return nil, false, fmt.Errorf("smimea: %s: %w", name, err)
		}
		if total += int64(len(d)); total > lim.MaxBytes {
			return nil, false, fmt.Errorf("smimea: %s: refused an answer of more than %s", name, core.SizeName(lim.MaxBytes))
		}
		recs = append(recs, SMIMEA{Usage: s.Usage, Selector: s.Selector, MatchingType: s.MatchingType, Data: d})
	}
	return recs, ad && l.DNS.Validating, nil
}

// SMIMEA looks addr's S/MIME certificate up in its SMIMEA records (RFC
// 8162) with l.DNS: each answer's Key is a DER certificate, Protocol is
// "smime", DANEUsage the record's usage, DNSSEC whether a validating
// resolver vouched for the answer.
//
// Only records that carry a whole end-entity certificate (selector 0,
// matching type 0) are used: usage 1 (PKIX-EE: the certificate must still
// validate to the user's trust anchors to be encrypted to) and usage 3
// (DANE-EE: the record itself vouches for the certificate, so it counts
// only when DNSSEC-validated; without DNSSEC anyone on the path could have
// written it). A record that names a CA (usage 0 or 2) or only a hash of
// the certificate is passed over, as is a CA certificate (cA or
// keyCertSign: stored, it would join every path search) and a certificate
// not bound to addr
// (RFC 8550: its rfc822Name subjectAltNames or, without any, its subject's
// emailAddress); when none is left the error says why.
func (l *Locator) SMIMEA(ctx context.Context, addr string) ([]Found, error) {
	recs, validated, err := l.SMIMEARecords(ctx, addr)
	if err != nil {
		return nil, err
	}
	name, _ := SMIMEAName(addr)
	name = strings.TrimSuffix(name, ".")
	var out []Found
	var why []string
	seen := map[string]int{} // fingerprint → index in out
	for _, r := range recs {
		switch {
		case r.Usage != UsagePKIXEE && r.Usage != UsageDANEEE:
			why = append(why, fmt.Sprintf("usage %d names a CA, not the certificate", r.Usage))
			continue
		case r.Selector != 0 || r.MatchingType != 0:
			why = append(why, fmt.Sprintf("a record %d %d %d holds only the key or a hash, not the whole certificate", r.Usage, r.Selector, r.MatchingType))
			continue
		case r.Usage == UsageDANEEE && !validated:
			why = append(why, "a DANE-EE record (usage 3) that no validating resolver vouched for (run one on this machine and name it with --resolver 127.0.0.1 --resolver-validates)")
			continue
		}
		c, err := x509path.ParseCertificate(r.Data)
		if err != nil {
			why = append(why, "an unreadable certificate: "+err.Error())
			continue
		}
		if !x509path.EndEntity(c) {
			// Stored, it would be an intermediate for every path search.
			why = append(why, fmt.Sprintf("certificate %s is a CA certificate, not an end entity's", smime.Fingerprint(c)))
			continue
		}
		emails := x509path.Emails(c)
		bound := false
		for _, e := range emails {
			if core.SameAddress(e, addr) {
				bound = true
			}
		}
		if !bound {
			why = append(why, fmt.Sprintf("certificate %s is not bound to %s (it names %q)", smime.Fingerprint(c), addr, emails))
			continue
		}
		fpr := smime.Fingerprint(c)
		if i, ok := seen[fpr]; ok {
			if r.Usage == UsageDANEEE {
				out[i].DANEUsage = UsageDANEEE // the stronger claim of two records for one certificate
			}
			continue
		}
		seen[fpr] = len(out)
		out = append(out, Found{
			Address: addr, Method: MethodSMIMEA, Protocol: "smime", Source: name, Fetched: l.now().UTC(),
			Fingerprint: fpr, UserIDs: emails, MatchesAddress: true, DNSSEC: validated,
			DANEUsage: r.Usage, Key: c.Raw,
		})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("smimea: %s: no usable record: %s: %w", name, strings.Join(why, "; "), core.ErrNoKey)
	}
	return out, nil
}

// OPENPGPKEYRecord is the zone line publishing key (binary transferable
// public key) for addr (RFC 7929).
func OPENPGPKEYRecord(addr string, key []byte) (string, error) {
	name, err := OPENPGPKEYName(addr)
	if err != nil {
		return "", err
	}
	rr := &dns.OPENPGPKEY{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeOPENPGPKEY, Class: dns.ClassINET, Ttl: 3600},
		PublicKey: base64.StdEncoding.EncodeToString(key)}
	return rr.String(), nil
}

// SMIMEARecordLine is the zone line publishing a DER certificate for addr
// (RFC 8162): usage 3 (DANE-EE), selector 0 (the whole certificate),
// matching type 0 (exact).
func SMIMEARecordLine(addr string, der []byte) (string, error) {
	name, err := SMIMEAName(addr)
	if err != nil {
		return "", err
	}
	rr := &dns.SMIMEA{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeSMIMEA, Class: dns.ClassINET, Ttl: 3600},
		Usage: 3, Selector: 0, MatchingType: 0, Certificate: upperhex.Encode(der)}
	return rr.String(), nil
}
