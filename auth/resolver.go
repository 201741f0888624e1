package auth

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Resolver is the DNS the checks look up through: TXT records (DKIM keys,
// SPF and DMARC policies), addresses, MX and PTR names (SPF mechanisms).
// It is the method set of *net.Resolver, which is one.
//
// Errors should be *net.DNSError: IsNotFound for a name or record that
// does not exist (a permanent answer), IsTimeout or IsTemporary for a
// lookup that may succeed later (the result is then temperror).
type Resolver interface {
	LookupTXT(ctx context.Context, name string) ([]string, error)
	LookupMX(ctx context.Context, name string) ([]*net.MX, error)
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
	LookupAddr(ctx context.Context, addr string) ([]string, error)
}

// System is the system's resolver (net.DefaultResolver).
func System() Resolver { return net.DefaultResolver }

// Offline is a resolver that looks nothing up: every lookup fails as a
// temporary error, so DKIM, SPF and DMARC results are temperror (or none
// where nothing needed DNS).
func Offline() Resolver { return offline{} }

type offline struct{}

func (offline) err(name string) error {
	return &net.DNSError{Err: "offline: no DNS lookups", Name: name, IsTemporary: true}
}
func (o offline) LookupTXT(_ context.Context, name string) ([]string, error) {
	return nil, o.err(name)
}
func (o offline) LookupMX(_ context.Context, name string) ([]*net.MX, error) {
	return nil, o.err(name)
}
func (o offline) LookupIPAddr(_ context.Context, name string) ([]net.IPAddr, error) {
	return nil, o.err(name)
}
func (o offline) LookupAddr(_ context.Context, name string) ([]string, error) {
	return nil, o.err(name)
}

// DefaultTimeout is how long one query to a named server may take
// (NewDNSResolver with a zero timeout).
const DefaultTimeout = 5 * time.Second

// DNSResolver asks one DNS server (a recursive resolver) directly, over UDP
// with EDNS0 and over TCP when the answer is truncated. Every query ends
// within its timeout or the context's deadline, whichever comes first, as
// a temporary error.
type DNSResolver struct {
	server  string
	timeout time.Duration
}

// NewDNSResolver asks the server at hostPort ("192.0.2.53:53", "[::1]:53";
// a host without a port means port 53).
func NewDNSResolver(hostPort string, timeout time.Duration) (*DNSResolver, error) {
	if _, _, err := net.SplitHostPort(hostPort); err != nil {
		if strings.Count(hostPort, ":") > 1 && !strings.HasPrefix(hostPort, "[") {
			hostPort = "[" + hostPort + "]"
		}
		hostPort = net.JoinHostPort(strings.Trim(hostPort, "[]"), "53")
		if _, _, err := net.SplitHostPort(hostPort); err != nil {
			return nil, fmt.Errorf("resolver %q: want HOST:PORT", hostPort)
		}
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &DNSResolver{server: hostPort, timeout: timeout}, nil
}

// maxAnswers bounds the records taken from one answer.
const maxAnswers = 100

func (r *DNSResolver) query(ctx context.Context, name string, qtype uint16) ([]dns.RR, error) {
	dnsErr := func(msg string, temp, timeout, notFound bool) error {
		return &net.DNSError{Err: msg, Name: name, Server: r.server, IsTemporary: temp, IsTimeout: timeout, IsNotFound: notFound}
	}
	if _, ok := dns.IsDomainName(name); !ok || len(name) > 253 {
		return nil, dnsErr("not a domain name", false, false, true)
	}
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.SetEdns0(4096, false)
	c := &dns.Client{Net: "udp", UDPSize: 4096}
	in, _, err := c.ExchangeContext(ctx, m, r.server)
	if err == nil && in.Truncated {
		c = &dns.Client{Net: "tcp"}
		in, _, err = c.ExchangeContext(ctx, m, r.server)
	}
	if err != nil {
		var ne net.Error
		timeout := errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
		return nil, dnsErr(err.Error(), true, timeout, false)
	}
	switch in.Rcode {
	case dns.RcodeSuccess:
	case dns.RcodeNameError:
		return nil, dnsErr("no such host", false, false, true)
	default:
		return nil, dnsErr("server answered "+dns.RcodeToString[in.Rcode], true, false, false)
	}
	var out []dns.RR
	for _, rr := range in.Answer {
		if rr.Header().Rrtype == qtype && len(out) < maxAnswers {
			out = append(out, rr)
		}
	}
	if len(out) == 0 && qtype != dns.TypeA && qtype != dns.TypeAAAA {
		return nil, dnsErr("no such record", false, false, true)
	}
	return out, nil
}

// LookupTXT returns each TXT record's strings joined, as net.LookupTXT does.
func (r *DNSResolver) LookupTXT(ctx context.Context, name string) ([]string, error) {
	v, _, err := r.lookupTTL(ctx, lookupTXT, name)
	txts, _ := v.([]string)
	return txts, err
}

// LookupMX returns the MX records of name.
func (r *DNSResolver) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	v, _, err := r.lookupTTL(ctx, lookupMX, name)
	mxs, _ := v.([]*net.MX)
	return mxs, err
}

// LookupIPAddr returns the A and AAAA addresses of host.
func (r *DNSResolver) LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error) {
	v, _, err := r.lookupTTL(ctx, lookupIP, host)
	addrs, _ := v.([]net.IPAddr)
	return addrs, err
}

// LookupAddr returns the names of an address (PTR records).
func (r *DNSResolver) LookupAddr(ctx context.Context, addr string) ([]string, error) {
	v, _, err := r.lookupTTL(ctx, lookupAddr, addr)
	names, _ := v.([]string)
	return names, err
}

// lookupTTL answers a lookup of kind with the time the answer may be
// kept: the smallest TTL of the records it was made of (for a Cache).
func (r *DNSResolver) lookupTTL(ctx context.Context, kind lookupKind, name string) (any, time.Duration, error) {
	ttl := time.Duration(-1)
	query := func(name string, qtype uint16) ([]dns.RR, error) {
		rrs, err := r.query(ctx, name, qtype)
		for _, rr := range rrs {
			if t := time.Duration(rr.Header().Ttl) * time.Second; ttl < 0 || t < ttl {
				ttl = t
			}
		}
		return rrs, err
	}
	switch kind {
	case lookupTXT:
		rrs, err := query(name, dns.TypeTXT)
		if err != nil {
			return nil, 0, err
		}
		out := make([]string, 0, len(rrs))
		for _, rr := range rrs {
			out = append(out, strings.Join(rr.(*dns.TXT).Txt, ""))
		}
		return out, ttl, nil
	case lookupMX:
		rrs, err := query(name, dns.TypeMX)
		if err != nil {
			return nil, 0, err
		}
		out := make([]*net.MX, 0, len(rrs))
		for _, rr := range rrs {
			mx := rr.(*dns.MX)
			out = append(out, &net.MX{Host: mx.Mx, Pref: mx.Preference})
		}
		return out, ttl, nil
	case lookupIP:
		var out []net.IPAddr
		for _, t := range []uint16{dns.TypeA, dns.TypeAAAA} {
			rrs, err := query(name, t)
			if err != nil {
				return nil, 0, err
			}
			for _, rr := range rrs {
				switch a := rr.(type) {
				case *dns.A:
					out = append(out, net.IPAddr{IP: a.A})
				case *dns.AAAA:
					out = append(out, net.IPAddr{IP: a.AAAA})
				}
			}
		}
		if len(out) == 0 {
			return nil, 0, &net.DNSError{Err: "no such host", Name: name, Server: r.server, IsNotFound: true}
		}
		return out, ttl, nil
	default: // lookupAddr
		arpa, err := dns.ReverseAddr(name)
		if err != nil {
			return nil, 0, &net.DNSError{Err: "not an IP address", Name: name}
		}
		rrs, err := query(arpa, dns.TypePTR)
		if err != nil {
			return nil, 0, err
		}
		out := make([]string, 0, len(rrs))
		for _, rr := range rrs {
			out = append(out, rr.(*dns.PTR).Ptr)
		}
		return out, ttl, nil
	}
}
