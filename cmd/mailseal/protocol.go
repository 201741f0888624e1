package main

import (
	"strings"

	"github.com/mailseal/mailseal"
)

// smimeOnlyFlags imply S/MIME.
var smimeOnlyFlags = []string{"opaque", "pss", "skid", "cipher", "rsa-oaep"}

// protocolOrder reads the protocol flags: --pgp or --smime (which an
// S/MIME-only option implies) gives one protocol; otherwise --protocol
// says which to try first where keys decide.
func (s *session) protocolOrder() ([]string, error) {
	if s.order != nil {
		return s.order, nil
	}
	for _, f := range smimeOnlyFlags {
		if s.c.IsSet(f) && s.c.Bool("pgp") {
			return nil, usageErr("--%s is an S/MIME option; it does not go with --pgp", f)
		}
	}
	switch {
	case s.c.Bool("pgp") && s.c.Bool("smime"):
		return nil, usageErr("--pgp and --smime exclude each other")
	case s.c.Bool("pgp"):
		return []string{mailseal.ProtocolOpenPGP}, nil
	case s.c.Bool("smime"):
		return []string{mailseal.ProtocolSMIME}, nil
	}
	for _, f := range smimeOnlyFlags {
		if s.c.IsSet(f) {
			return []string{mailseal.ProtocolSMIME}, nil
		}
	}
	switch strings.ToLower(s.c.String("protocol")) {
	case "", "openpgp", "pgp":
		return mailseal.Protocols(false), nil
	case "smime", "s/mime":
		return mailseal.Protocols(true), nil
	}
	return nil, usageErr("--protocol %q: openpgp or smime", s.c.String("protocol"))
}
