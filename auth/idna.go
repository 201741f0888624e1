package auth

import (
	"context"
	"fmt"
	"net"
	"strings"

	"golang.org/x/net/idna"
)

// ASCIIDomain is d as DNS and the alignment checks need it: lower case,
// without a final dot, every U-label (bücher) turned into its A-label
// (xn--bcher-kva) by IDNA's lookup rules (UTS 46, RFC 5891), so that a
// From, a DKIM d= or a MAIL FROM domain written either way is looked up
// and compared the same (RFC 8616). ASCII labels are kept as they are:
// "_domainkey" and "_dmarc" are no host names, yet are looked up. An
// error says that a label is no valid internationalized name.
func ASCIIDomain(d string) (string, error) {
	a, err := asciiDomain(d)
	if err != nil {
		return "", err
	}
	// IDNA maps other full stops (。．｡) to ".": the same rules then hold
	// for them, and a name with an empty label is none.
	a = strings.TrimSuffix(a, ".")
	if a == "" || strings.HasPrefix(a, ".") || strings.HasSuffix(a, ".") || strings.Contains(a, "..") {
		return "", fmt.Errorf("the domain %q has an empty label", shorten(d))
	}
	return a, nil
}

func asciiDomain(d string) (string, error) {
	if isASCII(d) {
		return strings.ToLower(d), nil
	}
	labels := strings.Split(d, ".")
	for i, l := range labels {
		if isASCII(l) {
			labels[i] = strings.ToLower(l)
			continue
		}
		a, err := idna.Lookup.ToASCII(l)
		if err != nil {
			return "", fmt.Errorf("the domain %q is no valid internationalized domain name: %v", shorten(d), err)
		}
		labels[i] = strings.ToLower(a)
	}
	return strings.Join(labels, "."), nil
}

// AddressDomain is the domain of the address addr, after its last @ (a
// quoted local part may hold one), in ASCII form (ASCIIDomain): the form
// in which the domain checks look it up and name it.
func AddressDomain(addr string) (string, error) {
	at := strings.LastIndexByte(addr, '@')
	if at < 0 || at == len(addr)-1 {
		return "", fmt.Errorf("%q has no domain", shorten(addr))
	}
	return ASCIIDomain(addr[at+1:])
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// normDomain is d in ASCII form, or d in lower case when it is no valid
// internationalized name (its lookups then find nothing).
func normDomain(d string) string {
	if a, err := ASCIIDomain(d); err == nil {
		return a
	}
	return strings.ToLower(strings.TrimSuffix(d, "."))
}

// aLabels looks names up in ASCII form (ASCIIDomain): the libraries
// (go-msgauth's DKIM and DMARC lookups, the SPF checker) ask for names as
// the message wrote them, and a U-label sent to DNS as UTF-8 finds nothing.
type aLabels struct{ Resolver }

// asciiNames is res asking for names in ASCII form.
func asciiNames(res Resolver) Resolver {
	if _, ok := res.(aLabels); ok {
		return res
	}
	return aLabels{res}
}

func (r aLabels) name(name string) (string, error) {
	a, err := ASCIIDomain(name)
	if err != nil {
		return "", &net.DNSError{Err: err.Error(), Name: name, IsNotFound: true}
	}
	return a, nil
}

func (r aLabels) LookupTXT(ctx context.Context, name string) ([]string, error) {
	a, err := r.name(name)
	if err != nil {
		return nil, err
	}
	return r.Resolver.LookupTXT(ctx, a)
}

func (r aLabels) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	a, err := r.name(name)
	if err != nil {
		return nil, err
	}
	return r.Resolver.LookupMX(ctx, a)
}

func (r aLabels) LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error) {
	a, err := r.name(host)
	if err != nil {
		return nil, err
	}
	return r.Resolver.LookupIPAddr(ctx, a)
}
