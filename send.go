package mailseal

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/mail"
	"strings"
	"time"

	"github.com/mailseal/mailseal/autocrypt"
	"github.com/mailseal/mailseal/mime"
	"github.com/mailseal/mailseal/pgp"
)

// SendOptions steer PlanSend.
type SendOptions struct {
	// Order is the protocol preference where a recipient has keys of both
	// (Protocols); a single protocol means every recipient gets that one.
	Order []string
	// Sign signs every copy with the sender's key of its protocol.
	Sign bool
	// AllowPlaintext sends recipients without a key a signed, unencrypted
	// copy each instead of refusing the whole send.
	AllowPlaintext bool
	// EnvelopeFrom is the SMTP MAIL FROM address; default the From address.
	EnvelopeFrom string
	// Rcpt are envelope recipients besides the header ones (sendmail -t
	// semantics: those not in To or Cc are hidden, like Bcc).
	Rcpt []string
	// NoHeaderRecipients takes the recipients from Rcpt only.
	NoHeaderRecipients bool
	// Policy checks keys and algorithms (nil: DefaultPolicy()).
	Policy *Policy
	// Now stamps a message without a Date field (zero: the current time).
	Now time.Time
	// Domain is the mail domain of system mail: a bare local part (root)
	// in From, To, Cc, Bcc, the envelope sender or Rcpt becomes
	// root@Domain, in the header as in the envelope. Without Domain (and
	// SystemFrom for the sender) such an address is a usage error.
	Domain string
	// SystemFrom is the sender of system mail: a From that is a bare local
	// part ("root (Cron Daemon)") or missing becomes this address (the
	// comment or display name kept as its name), and so does the envelope
	// sender of such a message (also a bare one given, as cron's -f root).
	// A From with a domain is left as it is.
	SystemFrom string
	// SignerQuery picks the signing key of system mail by a query
	// (fingerprint, address, name, as keys list takes it): of a message
	// whose From is a bare local part or missing. Other mail is signed by
	// its From address's own key, whatever SignerQuery says. keys must be a
	// SignerMatcher.
	SignerQuery string
	// KeepSubject leaves the Subject of the encrypted copies readable
	// outside (WithKeepSubject).
	KeepSubject bool
	// Autocrypt adds an Autocrypt header (Level 1) with the sender's
	// OpenPGP certificate, reduced to what Autocrypt carries, to every
	// copy; AutocryptMutual says prefer-encrypt=mutual in it. A message
	// that has an Autocrypt field already keeps it and gets none added; a
	// sender without an OpenPGP key gets a warning instead.
	Autocrypt, AutocryptMutual bool
}

// A SignerMatcher finds a signing key by a query (keystore.Session is
// one); PlanSend needs it for SendOptions.SignerQuery.
type SignerMatcher interface {
	// SignerMatching returns the unlocked key of protocol that matches
	// query, or an error wrapping ErrNoKey.
	SignerMatching(query, protocol string) (Signer, error)
}

// A SendPlan is a message made ready to send, and the copies to submit:
// one per protocol for the visible recipients (To, Cc), one per hidden
// recipient (Bcc), so that no copy shows who else got one in secret.
type SendPlan struct {
	// Message is the message every copy is made from: without Bcc, with a
	// Message-ID and a Date, so that the copies carry the same header.
	Message *mime.Message
	// From is the single From address; EnvelopeFrom the SMTP sender.
	From, EnvelopeFrom string
	// MessageID is the Message-ID field every copy carries: with the
	// recipients of a copy, it names the copy for an outbox that delivers
	// each once.
	MessageID string
	Copies    []Copy
	// Warnings say what the plan could not do as one would wish (a copy
	// not encrypted to the sender, who has no key of its protocol).
	Warnings    []string
	signers     map[string]Signer
	policy      Policy
	keepSubject bool
}

// A Copy is one message to submit.
type Copy struct {
	Protocol string
	// Rcpt are its SMTP recipients.
	Rcpt []string
	// Plaintext: signed, not encrypted (SendOptions.AllowPlaintext).
	Plaintext bool
	// Keys are what it is encrypted to: the recipients' and the sender's.
	Keys []Recipient
}

// PlanSend decides who gets which copy of m, and finds every key the
// copies need (unlocking the signers) before anything is written: it fails
// with ErrNoKey, naming them, when recipients have no key and
// AllowPlaintext is not set. Close the plan when done.
func PlanSend(m *mime.Message, keys KeyFinder, opts SendOptions) (*SendPlan, error) {
	if err := isMessage(m); err != nil {
		return nil, err
	}
	if d := opts.Domain; d != "" && (strings.ContainsAny(d, "@<>,;:()\"\\ \t\r\n") || strings.Trim(d, ".") != d) {
		return nil, fmt.Errorf("domain %q is not a mail domain (example.org): %w", d, ErrUsage)
	}
	if f := opts.SystemFrom; f != "" {
		if a, err := mail.ParseAddress(f); err != nil || a.Address != f || a.Name != "" {
			return nil, fmt.Errorf("from %q is not a bare address (cron@example.org): %w", f, ErrUsage)
		}
	}
	var matcher SignerMatcher
	if opts.SignerQuery != "" {
		var ok bool
		if matcher, ok = keys.(SignerMatcher); !ok {
			return nil, fmt.Errorf("a signer query needs a KeyFinder that is a SignerMatcher: %w", ErrUsage)
		}
	}
	fixed, systemFrom, err := systemMail(m, opts)
	if err != nil {
		return nil, err
	}
	if fixed != nil {
		defer fixed.Close()
		m = fixed
	}
	if !systemFrom {
		// The signer query is system mail's: a From that names a person
		// is signed by that address's own key, never by the host's, so
		// that whoever can run sendmail cannot have any From signed.
		matcher = nil
	}
	from, err := SenderAddress(m)
	if err != nil {
		return nil, err
	}
	rcpt := make([]string, len(opts.Rcpt))
	for i, r := range opts.Rcpt {
		if rcpt[i] = qualify(strings.TrimSpace(r), opts.Domain); rcpt[i] != "" && !strings.Contains(rcpt[i], "@") {
			return nil, fmt.Errorf("recipient %q has no domain: set domain in the config (the mail domain for bare names such as root), or give --domain: %w", r, ErrUsage)
		}
	}
	visible, hidden, err := sendRecipients(m, rcpt, !opts.NoHeaderRecipients)
	if err != nil {
		return nil, err
	}
	if len(visible)+len(hidden) == 0 {
		return nil, fmt.Errorf("no recipients: the message has no To, Cc or Bcc: %w", ErrUsage)
	}
	order := opts.Order
	if len(order) == 0 {
		order = Protocols(false)
	}
	plan := &SendPlan{From: from, EnvelopeFrom: from, signers: map[string]Signer{}, policy: DefaultPolicy(), keepSubject: opts.KeepSubject}
	if ef := opts.EnvelopeFrom; ef != "" {
		switch {
		case strings.Contains(ef, "@"):
			plan.EnvelopeFrom = ef
		case opts.SystemFrom != "": // a bare sender (cron's -f root) is system mail
			plan.EnvelopeFrom = opts.SystemFrom
		case opts.Domain != "":
			plan.EnvelopeFrom = qualify(ef, opts.Domain)
		default:
			return nil, fmt.Errorf("envelope sender %q has no domain: set domain or from in the config, or give --domain or --from: %w", ef, ErrUsage)
		}
	}
	if opts.Policy != nil {
		plan.policy = *opts.Policy
	}
	// choose is the first protocol of order in which addr has keys.
	// refused says why an address's stored keys cannot be used (revoked,
	// expired, no encryption subkey), by protocol.
	refused := map[string][]string{}
	choose := func(addr string) (string, []Recipient, error) {
		for _, p := range order {
			found, why, err := keys.RecipientKeys(p, addr)
			if err != nil || len(found) > 0 {
				return p, found, err
			}
			if why != "" {
				refused[addr] = append(refused[addr], why)
			}
		}
		return "", nil, nil
	}
	groups := map[string]int{} // protocol → index of its copy
	var missing []string
	for _, addr := range visible {
		p, found, err := choose(addr)
		if err != nil {
			return nil, err
		}
		if p == "" {
			missing = append(missing, addr)
			continue
		}
		i, ok := groups[p]
		if !ok {
			i = len(plan.Copies)
			groups[p] = i
			plan.Copies = append(plan.Copies, Copy{Protocol: p})
		}
		plan.Copies[i].Rcpt = append(plan.Copies[i].Rcpt, addr)
		plan.Copies[i].Keys = append(plan.Copies[i].Keys, found...)
	}
	for _, addr := range hidden {
		p, found, err := choose(addr)
		if err != nil {
			return nil, err
		}
		if p == "" {
			missing = append(missing, addr)
			continue
		}
		plan.Copies = append(plan.Copies, Copy{Protocol: p, Rcpt: []string{addr}, Keys: found})
	}
	if len(missing) > 0 {
		if !opts.AllowPlaintext {
			// Importing helps only those with no key stored; a stored key
			// that cannot be used says why.
			none, why := splitRefused(missing, func(a string) []string { return refused[a] })
			var parts []string
			if len(none) > 0 {
				parts = append(parts, fmt.Sprintf("no %s key is stored for %s (import their key or certificate)", protocolNames(order), strings.Join(none, ", ")))
			}
			if len(why) > 0 {
				parts = append(parts, "no usable key for "+strings.Join(why, "; "))
			}
			return nil, fmt.Errorf("%s; nothing was sent (or give --allow-plaintext to send them a signed, unencrypted copy): %w",
				strings.Join(parts, "; "), ErrNoKey)
		}
		p, err := signingProtocol(keys, from, order)
		if matcher != nil {
			p, err = matchingProtocol(matcher, opts.SignerQuery, order)
		}
		if err != nil {
			return nil, fmt.Errorf("the sender %s has no key to sign the unencrypted copies with: %w", from, ErrNoKey)
		}
		// Each gets their own copy, so no hidden recipient shows.
		for _, addr := range missing {
			plan.Copies = append(plan.Copies, Copy{Protocol: p, Rcpt: []string{addr}, Plaintext: true})
		}
	}
	// The sender can read what they sent, where they have a key.
	for i := range plan.Copies {
		cp := &plan.Copies[i]
		if cp.Plaintext {
			continue
		}
		self, _, err := keys.RecipientKeys(cp.Protocol, from)
		if err != nil {
			return nil, err
		}
		if len(self) == 0 {
			what := map[string]string{ProtocolOpenPGP: "OpenPGP encryption key", ProtocolSMIME: "valid S/MIME certificate"}[cp.Protocol]
			plan.Warnings = append(plan.Warnings, fmt.Sprintf("the sender %s has no %s; the copy to %s is not encrypted to the sender", from, what, strings.Join(cp.Rcpt, ", ")))
		}
		cp.Keys = dedupe(append(cp.Keys, self...))
	}
	for _, cp := range plan.Copies {
		if (opts.Sign || cp.Plaintext) && plan.signers[cp.Protocol] == nil {
			var s Signer
			var err error
			if matcher != nil {
				s, err = matcher.SignerMatching(opts.SignerQuery, cp.Protocol)
			} else {
				s, err = keys.Signer(cp.Protocol, from)
			}
			if err != nil {
				return nil, err
			}
			plan.signers[cp.Protocol] = s
		}
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	var extra string
	if opts.Autocrypt {
		var warning string
		if extra, warning, err = autocryptField(m, keys, from, opts.AutocryptMutual, now); err != nil {
			return nil, err
		}
		if warning != "" {
			plan.Warnings = append(plan.Warnings, warning)
		}
	}
	if plan.Message, err = prepareForSend(m, from, now, extra); err != nil {
		return nil, err
	}
	plan.MessageID = strings.TrimSpace(plan.Message.Root.Header.Get("Message-ID"))
	return plan, nil
}

// matchingProtocol is the first protocol of order in which query names a
// signing key.
func matchingProtocol(m SignerMatcher, query string, order []string) (string, error) {
	var first error
	for _, p := range order {
		_, err := m.SignerMatching(query, p)
		if err == nil {
			return p, nil
		}
		if first == nil {
			first = err
		}
	}
	return "", first
}

// Write writes copy c of the plan: encrypted to its keys (and signed if
// the plan signs), or for a plaintext copy only signed.
func (p *SendPlan) Write(w io.Writer, c Copy) error {
	signer := p.signers[c.Protocol]
	if c.Plaintext {
		return Sign(w, p.Message, signer, WithPolicy(p.policy))
	}
	opts := []Option{WithPolicy(p.policy), WithKeepSubject(p.keepSubject)}
	if signer != nil {
		opts = append(opts, SignWith(signer))
	}
	return Encrypt(w, p.Message, c.Keys, opts...)
}

// Close releases the prepared message.
func (p *SendPlan) Close() error { return p.Message.Close() }

// sendRecipients returns the visible (To, Cc) and hidden (Bcc, and
// envelope recipients not in To/Cc) addresses, each once.
func sendRecipients(m *mime.Message, extra []string, fromHeaders bool) (visible, hidden []string, err error) {
	seen := map[string]bool{}
	key := func(a string) string { return strings.ToLower(a) }
	var shown []string
	for _, field := range []string{"To", "Cc"} {
		if m.Root.Header.Get(field) == "" {
			continue
		}
		list, err := m.Root.Header.Addresses(field)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", field, err)
		}
		shown = append(shown, list...)
	}
	if fromHeaders {
		for _, a := range shown {
			if !seen[key(a)] {
				seen[key(a)] = true
				visible = append(visible, a)
			}
		}
		if m.Root.Header.Get("Bcc") != "" {
			list, err := m.Root.Header.Addresses("Bcc")
			if err != nil {
				return nil, nil, fmt.Errorf("Bcc: %w", err)
			}
			for _, a := range list {
				if !seen[key(a)] {
					seen[key(a)] = true
					hidden = append(hidden, a)
				}
			}
		}
	}
	shownSet := map[string]bool{}
	for _, a := range shown {
		shownSet[key(a)] = true
	}
	for _, a := range extra {
		a = strings.TrimSpace(a)
		if a == "" || seen[key(a)] {
			continue
		}
		seen[key(a)] = true
		if shownSet[key(a)] {
			visible = append(visible, a)
		} else {
			hidden = append(hidden, a)
		}
	}
	return visible, hidden, nil
}

// prepareForSend returns the message without Bcc, with a Message-ID and a
// Date if it had none, so that every copy carries identical headers.
func prepareForSend(m *mime.Message, from string, now time.Time, extra string) (*mime.Message, error) {
	var head bytes.Buffer
	for _, f := range m.Root.Header.NonContentFields() {
		if strings.EqualFold(f.Key, "Bcc") {
			continue
		}
		head.Write(f.Raw)
	}
	if m.Root.Header.Get("Message-ID") == "" {
		var rnd [12]byte
		rand.Read(rnd[:])
		domain := "localhost"
		if i := strings.LastIndexByte(from, '@'); i >= 0 {
			domain = from[i+1:]
		}
		fmt.Fprintf(&head, "Message-ID: <%s@%s>\r\n", hex.EncodeToString(rnd[:]), domain)
	}
	if m.Root.Header.Get("Date") == "" {
		fmt.Fprintf(&head, "Date: %s\r\n", now.Format(time.RFC1123Z))
	}
	head.WriteString(extra)
	return mime.Parse(io.MultiReader(&head, m.Content(false)), mime.DefaultLimits(), 8<<20)
}

// autocryptField is the Autocrypt header field for the sender's OpenPGP
// certificate, or "" with a warning saying why there is none.
func autocryptField(m *mime.Message, keys KeyFinder, from string, mutual bool, now time.Time) (field, warning string, err error) {
	if len(m.Root.Header.Values(autocrypt.FieldAutocrypt)) > 0 {
		return "", "the message has an Autocrypt header already; none was added", nil
	}
	found, _, err := keys.RecipientKeys(ProtocolOpenPGP, from)
	if err != nil {
		return "", "", err
	}
	for _, r := range found {
		if pr, ok := r.(pgp.Recipient); ok && pr.Entity != nil {
			data, err := autocrypt.KeyData(pr.Entity, from, now)
			if err != nil {
				continue
			}
			return autocrypt.Header{Addr: strings.ToLower(from), PreferEncrypt: mutual, KeyData: data}.Field(autocrypt.FieldAutocrypt), "", nil
		}
	}
	return "", fmt.Sprintf("no Autocrypt header: the sender %s has no valid OpenPGP encryption key", from), nil
}
