package mailseal

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/mime"
	"github.com/mailseal/mailseal/smime"
)

// A KeyFinder finds the keys of addresses, one protocol at a time.
// keystore.Session implements it; the protocol choice on top of it (which
// protocol a message or a recipient gets) is ChooseRecipients,
// ChooseSigner and PlanSend.
type KeyFinder interface {
	// RecipientKeys returns the keys of protocol to encrypt to addr: the
	// valid ones bound to it. When there are none it returns none and why
	// the candidates were refused ("" when there were none), not an error.
	RecipientKeys(protocol, addr string) (keys []Recipient, refused string, err error)
	// Signer returns the key of protocol that signs as the address from,
	// unlocked: an error wrapping ErrNoKey when there is none, ErrUsage
	// when several could.
	Signer(protocol, from string) (Signer, error)
	// HasSigner reports whether from has a secret key of protocol, without
	// unlocking it.
	HasSigner(protocol, from string) (bool, error)
}

// Protocols is the order protocols are tried in when keys decide: OpenPGP
// first, or S/MIME first with preferSMIME.
func Protocols(preferSMIME bool) []string {
	if preferSMIME {
		return []string{ProtocolSMIME, ProtocolOpenPGP}
	}
	return []string{ProtocolOpenPGP, ProtocolSMIME}
}

// SenderAddress is the single From address of m, the one a signer is
// chosen for.
func SenderAddress(m *mime.Message) (string, error) {
	if err := isMessage(m); err != nil {
		return "", err
	}
	from, err := m.Root.Header.Addresses("From")
	if err != nil || len(from) != 1 {
		return "", fmt.Errorf("the message needs exactly one From address to pick the sender's key (or give --signer): %w", ErrUsage)
	}
	return from[0], nil
}

// RecipientAddresses are the addresses in m's To, Cc and Bcc, the extra
// ones, and with self the sender's (so the sender can read what they sent).
func RecipientAddresses(m *mime.Message, extra []string, self bool) ([]string, error) {
	if err := isMessage(m); err != nil {
		return nil, err
	}
	var addrs []string
	for _, field := range []string{"To", "Cc", "Bcc"} {
		if m.Root.Header.Get(field) == "" {
			continue
		}
		list, err := m.Root.Header.Addresses(field)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", field, err)
		}
		addrs = append(addrs, list...)
	}
	addrs = append(addrs, extra...)
	if self {
		from, err := SenderAddress(m)
		if err != nil {
			return nil, fmt.Errorf("the message needs exactly one From address to encrypt to the sender (or give --no-self): %w", ErrUsage)
		}
		addrs = append(addrs, from)
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("no recipients: the message has no To, Cc or Bcc and no --to was given: %w", ErrUsage)
	}
	// Each address once (the sender is often among the recipients too):
	// the first spelling is kept.
	seen := make(map[string]bool, len(addrs))
	unique := addrs[:0]
	for _, a := range addrs {
		if k := core.AddressKey(a); !seen[k] {
			seen[k] = true
			unique = append(unique, a)
		}
	}
	return unique, nil
}

// Selection is the protocol and keys one message is encrypted with.
type Selection struct {
	Protocol   string
	Recipients []Recipient
	// Warnings are what the checks had to say about keys they accepted
	// (an S/MIME certificate whose revocation status is unknown).
	Warnings []string
}

// ChooseRecipients picks the keys to encrypt one message to addrs with:
// the first protocol of order in which every address has a valid key. When
// none covers them all, the error (ErrNoKey) names the addresses each
// protocol lacks and, for a single protocol, why their keys were refused.
// A nil order is Protocols(false).
func ChooseRecipients(keys KeyFinder, addrs []string, order []string) (*Selection, error) {
	if order == nil {
		order = Protocols(false)
	}
	lacking := map[string][]string{}
	for _, p := range order {
		sel, missing, refused, err := recipientsIn(keys, p, addrs)
		if err != nil {
			return nil, err
		}
		if len(missing) == 0 {
			return sel, nil
		}
		if len(order) == 1 {
			return nil, missingKeys(p, missing, refused)
		}
		lacking[p] = missing
	}
	return nil, fmt.Errorf("no single protocol covers every recipient: no OpenPGP key for %s; no S/MIME certificate for %s (give --pgp or --smime to see why, or use mailseal send, which encrypts each recipient's copy with the protocol they have a key for): %w",
		strings.Join(lacking[ProtocolOpenPGP], ", "), strings.Join(lacking[ProtocolSMIME], ", "), ErrNoKey)
}

// recipientsIn collects the keys of protocol p for addrs, each key once,
// and the addresses without one with the reason their keys were refused.
func recipientsIn(keys KeyFinder, p string, addrs []string) (*Selection, []string, map[string]string, error) {
	sel := &Selection{Protocol: p}
	seen := map[string]bool{}
	warned := map[string]bool{}
	var missing []string
	refused := map[string]string{}
	for _, addr := range addrs {
		found, why, err := keys.RecipientKeys(p, addr)
		if err != nil {
			return nil, nil, nil, err
		}
		if len(found) == 0 {
			missing = append(missing, addr)
			refused[addr] = why
			continue
		}
		for _, r := range found {
			if f := r.Fingerprint(); !seen[f] {
				seen[f] = true
				sel.Recipients = append(sel.Recipients, r)
				if sr, ok := r.(smime.Recipient); ok {
					for _, w := range sr.Warnings {
						if !warned[w] {
							warned[w] = true
							sel.Warnings = append(sel.Warnings, w)
						}
					}
				}
			}
		}
	}
	return sel, missing, refused, nil
}

// missingKeys is the error for recipients without a key of protocol p.
func missingKeys(p string, missing []string, refused map[string]string) error {
	sort.Strings(missing)
	absent, why := splitRefused(missing, func(a string) []string {
		if r := refused[a]; r != "" {
			return []string{r}
		}
		return nil
	})
	if p == ProtocolOpenPGP {
		// "import their key" only where no key is stored; a stored key that
		// is refused says why (revoked, expired, no encryption key).
		msg := "no valid OpenPGP encryption key for " + strings.Join(missing, ", ")
		if len(absent) > 0 {
			msg += " (none is stored for " + strings.Join(absent, ", ") + ": import their key with mailseal keys import)"
		}
		if len(why) > 0 {
			msg += "; " + strings.Join(why, "; ")
		}
		return fmt.Errorf("%s: %w", msg, ErrNoKey)
	}
	msg := fmt.Sprintf("no valid S/MIME certificate for %s (import their certificate with mailseal keys import, and trust its CA with mailseal keys trust)", strings.Join(missing, ", "))
	if len(why) > 0 {
		msg += "; " + strings.Join(why, "; ")
	}
	return fmt.Errorf("%s: %w", msg, ErrNoKey)
}

// splitRefused parts recipients without a usable key into those with no
// key stored (absent: importing one helps) and those whose stored keys are
// refused, each "addr: reasons" (why: importing does not help), for the
// errors of encrypt (missingKeys) and send (PlanSend).
func splitRefused(missing []string, reasons func(addr string) []string) (absent, why []string) {
	for _, a := range missing {
		if r := reasons(a); len(r) > 0 {
			why = append(why, a+": "+strings.Join(r, "; "))
		} else {
			absent = append(absent, a)
		}
	}
	return absent, why
}

// ChooseSigner picks the key to sign as from: of the first protocol in
// order in which from has a secret key. A nil order is Protocols(false).
func ChooseSigner(keys KeyFinder, from string, order []string) (Signer, error) {
	if order == nil {
		order = Protocols(false)
	}
	if len(order) == 1 {
		return keys.Signer(order[0], from)
	}
	p, err := signingProtocol(keys, from, order)
	if errors.Is(err, ErrNoKey) {
		return nil, fmt.Errorf("no OpenPGP key or S/MIME certificate with a private key for the sender %s (generate or import one, or give --signer): %w", from, ErrNoKey)
	}
	if err != nil {
		return nil, err
	}
	return keys.Signer(p, from)
}

// signingProtocol is the first protocol of order in which from can sign.
func signingProtocol(keys KeyFinder, from string, order []string) (string, error) {
	for _, p := range order {
		ok, err := keys.HasSigner(p, from)
		if err != nil {
			return "", err
		}
		if ok {
			return p, nil
		}
	}
	return "", fmt.Errorf("the sender %s has no key to sign with: %w", from, ErrNoKey)
}
