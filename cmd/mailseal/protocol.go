package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/mailseal/mailseal"
	"github.com/mailseal/mailseal/mime"
)

// smimeOnlyFlags imply S/MIME.
var smimeOnlyFlags = []string{"opaque", "pss", "skid", "cipher", "rsa-oaep"}

// protocolOrder is --pgp, --smime, or the preference (openpgp first).
func (s *session) protocolOrder() ([]string, error) {
	switch {
	case s.c.Bool("pgp") && s.c.Bool("smime"):
		return nil, usageErr("--pgp and --smime exclude each other")
	case s.c.Bool("pgp"):
		return []string{mailseal.ProtocolOpenPGP}, nil
	case s.c.Bool("smime"):
		return []string{mailseal.ProtocolSMIME}, nil
	}
	switch strings.ToLower(s.c.String("protocol")) {
	case "", "openpgp", "pgp":
		return []string{mailseal.ProtocolOpenPGP, mailseal.ProtocolSMIME}, nil
	case "smime", "s/mime":
		return []string{mailseal.ProtocolSMIME, mailseal.ProtocolOpenPGP}, nil
	}
	return nil, usageErr("--protocol %q: openpgp or smime", s.c.String("protocol"))
}

// useSMIME decides the protocol of sign and encrypt: --pgp or --smime
// (S/MIME-only options imply --smime); otherwise, for encrypt, the first
// protocol (in preference order) in which every recipient has a valid key,
// and for sign the first in which the signer has a secret key.
func (s *session) useSMIME(m *mime.Message, encrypt bool) (bool, error) {
	for _, f := range smimeOnlyFlags {
		if s.c.IsSet(f) && s.c.Bool("pgp") {
			return false, usageErr("--%s is an S/MIME option; it does not go with --pgp", f)
		}
		if s.c.IsSet(f) && !s.c.Bool("smime") {
			return true, nil
		}
	}
	order, err := s.protocolOrder()
	if err != nil {
		return false, err
	}
	if len(order) == 1 {
		return order[0] == mailseal.ProtocolSMIME, nil
	}
	if !encrypt {
		if q := s.c.String("signer"); q != "" {
			x509, err := queryIsX509(s.c, s.store, q)
			return x509, err
		}
		from, err := senderAddress(m)
		if err != nil {
			return false, err
		}
		p, err := s.senderProtocol(order, from)
		if errors.Is(err, mailseal.ErrNoKey) {
			return false, fmt.Errorf("no OpenPGP key or S/MIME certificate with a private key for the sender %s (generate or import one, or give --signer): %w", from, mailseal.ErrNoKey)
		}
		return p == mailseal.ProtocolSMIME, err
	}
	addrs, err := recipientAddresses(m, s.c.StringSlice("to"), !s.c.Bool("no-self"))
	if err != nil {
		return false, err
	}
	lacking := map[string][]string{}
	for _, p := range order {
		for _, a := range addrs {
			ok, err := s.hasRecipientKey(p, a)
			if err != nil {
				return false, err
			}
			if !ok {
				lacking[p] = append(lacking[p], a)
			}
		}
		if len(lacking[p]) == 0 {
			return p == mailseal.ProtocolSMIME, nil
		}
	}
	return false, fmt.Errorf("no single protocol covers every recipient: no OpenPGP key for %s; no S/MIME certificate for %s (give --pgp or --smime to see why, or use mailseal send, which encrypts each recipient's copy with the protocol they have a key for): %w",
		strings.Join(lacking[mailseal.ProtocolOpenPGP], ", "), strings.Join(lacking[mailseal.ProtocolSMIME], ", "), mailseal.ErrNoKey)
}
