package x509path

import (
	"bytes"
	"fmt"
	"net/url"
	"strings"
)

// boundConstraints is a name constraints extension and the CA certificate
// it came from (described for error messages).
type boundConstraints struct {
	nc   *nameConstraints
	from string
}

// checkNameConstraints checks the subject DN, subject emailAddress
// attributes and subjectAltName entries of ci against every name
// constraints extension collected so far (RFC 5280 §6.1.3 (b), (c)).
func checkNameConstraints(ci *certInfo, all []boundConstraints) error {
	if len(all) == 0 {
		return nil
	}
	var names []generalName
	if len(ci.subject) > 0 {
		names = append(names, generalName{kind: gnDirectory, dn: ci.subject})
	}
	for _, email := range nameAttributes(ci.cert.RawSubject, oidEmailAddress) {
		names = append(names, generalName{kind: gnRFC822, text: email})
	}
	names = append(names, ci.sans...)
	for _, b := range all {
		nc := b.nc
		for _, name := range names {
			for _, ex := range nc.excluded {
				if ex.kind == name.kind && nameWithin(name, ex) {
					return fmt.Errorf("%s is in an excluded subtree of %s", describeName(name), b.from)
				}
			}
			constrained, permitted := false, false
			for _, p := range nc.permitted {
				if p.kind != name.kind {
					continue
				}
				constrained = true
				if nameWithin(name, p) {
					permitted = true
					break
				}
			}
			if constrained && !permitted {
				return fmt.Errorf("%s is outside the permitted subtrees of %s", describeName(name), b.from)
			}
		}
	}
	return nil
}

func describeName(g generalName) string {
	switch g.kind {
	case gnDirectory:
		return "directory name"
	case gnRFC822:
		return fmt.Sprintf("email address %q", g.text)
	case gnDNS:
		return fmt.Sprintf("DNS name %q", g.text)
	case gnURI:
		return fmt.Sprintf("URI %q", g.text)
	case gnIP:
		return "IP address"
	}
	return fmt.Sprintf("name of type %d", g.kind)
}

// nameWithin reports whether name lies in the subtree base (same kind).
func nameWithin(name, base generalName) bool {
	switch name.kind {
	case gnDirectory:
		return name.dn.hasPrefix(base.dn)
	case gnRFC822:
		return emailWithin(name.text, base.text)
	case gnDNS:
		return dnsWithin(name.text, base.text)
	case gnURI:
		return uriWithin(name.text, base.text)
	case gnIP:
		return ipWithin(name.bytes, base.bytes)
	}
	return bytes.Equal(name.bytes, base.bytes)
}

// emailWithin: a constraint with '@' is one mailbox, one starting with '.'
// any host in that domain, otherwise all mailboxes on exactly that host.
func emailWithin(email, constraint string) bool {
	at := strings.LastIndexByte(email, '@')
	if at < 0 {
		return false
	}
	host := email[at+1:]
	switch {
	case strings.Contains(constraint, "@"):
		cat := strings.LastIndexByte(constraint, '@')
		return email[:at] == constraint[:cat] && strings.EqualFold(host, constraint[cat+1:])
	case strings.HasPrefix(constraint, "."):
		return len(host) > len(constraint) && strings.EqualFold(host[len(host)-len(constraint):], constraint)
	default:
		return strings.EqualFold(host, constraint)
	}
}

// dnsWithin: the name is the constraint or a subdomain of it.
func dnsWithin(name, constraint string) bool {
	constraint = strings.TrimPrefix(constraint, ".")
	if constraint == "" {
		return true
	}
	if strings.EqualFold(name, constraint) {
		return true
	}
	return len(name) > len(constraint) && strings.EqualFold(name[len(name)-len(constraint):], constraint) &&
		name[len(name)-len(constraint)-1] == '.'
}

// uriWithin applies the constraint to the URI's host: a leading '.' means
// any subdomain, otherwise exactly that host.
func uriWithin(uri, constraint string) bool {
	u, err := url.Parse(uri)
	if err != nil || u.Host == "" {
		return false
	}
	host := u.Hostname()
	if strings.HasPrefix(constraint, ".") {
		return len(host) > len(constraint) && strings.EqualFold(host[len(host)-len(constraint):], constraint)
	}
	return strings.EqualFold(host, constraint)
}

// ipWithin: the constraint is address followed by mask.
func ipWithin(ip, constraint []byte) bool {
	if len(constraint) != 2*len(ip) || len(ip) == 0 {
		return false
	}
	addr, mask := constraint[:len(ip)], constraint[len(ip):]
	for i := range ip {
		if ip[i]&mask[i] != addr[i]&mask[i] {
			return false
		}
	}
	return true
}
