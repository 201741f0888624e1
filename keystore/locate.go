package keystore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/mailseal/mailseal"
	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/locate"
	"github.com/mailseal/mailseal/pgp"
)

// LocateOptions say how Store.Locate looks an address up.
type LocateOptions struct {
	// Methods are asked in this order: locate.MethodLocal (the keys
	// stored for the address), locate.MethodAutocrypt (the Autocrypt
	// peer state) and the network methods of package locate. nil:
	// locate.Methods.
	Methods []string
	// Import stores the keys found (by every method but local), each with
	// its provenance (source, address, URL or DNS name, DNSSEC, time).
	Import bool
	// First stops after the first method that found a key (and, with
	// Import, stored it).
	First bool
}

// Located is one method's answer for one address (locate.Found: the key's
// fingerprint, the user IDs bound to the address, the source, the fetch
// time, or the error), and what storing it did.
type Located struct {
	locate.Found
	// Imported says the key was stored by this look-up (new, or merged
	// into the stored key: Changes says what changed).
	Imported bool     `json:"imported"`
	Changes  []string `json:"changes,omitempty"`

	// source is the provenance source to record when it is not Method
	// (gossip, for a key the autocrypt method took from gossip).
	source string
}

// OK says the answer holds a key (and, if it was to be stored, that it
// was).
func (l Located) OK() bool { return l.Error == "" && l.Fingerprint != "" }

// Locate looks addr's OpenPGP keys and S/MIME certificates up by each of
// opts.Methods in order (locate.MethodSMIMEA finds certificates, the
// others OpenPGP keys) and returns every answer; with opts.Import the
// keys found on the network are stored with their provenance (a key
// already stored keeps the record it has, and is merged as an import
// would; a DANE-EE certificate's validated record found again is
// confirmed anew, Provenance.DANEEEFresh). A key that cannot be stored,
// like a method that does not exist, is an answer with an Error. The
// error return is for what stops the look-up itself: an unreadable
// keystore or Autocrypt state.
func (s *Store) Locate(ctx context.Context, l *locate.Locator, addr string, opts LocateOptions) ([]Located, error) {
	methods := opts.Methods
	if methods == nil {
		methods = locate.Methods
	}
	var out []Located
	for _, m := range methods {
		var answers []Located
		switch m {
		case locate.MethodLocal:
			local, err := s.locateLocal(addr)
			if err != nil {
				return out, err
			}
			answers = local
		case locate.MethodAutocrypt:
			a, err := s.locateAutocrypt(addr)
			if err != nil {
				return out, err
			}
			if opts.Import && a.OK() {
				s.importFound(&a)
			}
			answers = []Located{a}
		default:
			for _, f := range l.Locate(ctx, addr, []string{m}) {
				a := Located{Found: f}
				if opts.Import && a.OK() {
					s.importFound(&a)
				}
				answers = append(answers, a)
			}
		}
		out = append(out, answers...)
		if opts.First && AnyOK(answers) {
			break
		}
	}
	return out, nil
}

// AnyOK says whether one of answers found a key.
func AnyOK(answers []Located) bool {
	for _, a := range answers {
		if a.OK() {
			return true
		}
	}
	return false
}

// importFound stores a's key with its provenance.
func (s *Store) importFound(a *Located) {
	src := a.Method
	if a.source != "" {
		src = a.source
	}
	prov := Provenance{Source: src, Address: a.Address, URL: a.Source, DNSSEC: a.DNSSEC, Time: a.Fetched}
	var res []ImportResult
	var err error
	if a.Protocol == mailseal.ProtocolSMIME {
		prov.Source, prov.DANEUsage = SourceDANE, a.DANEUsage // an SMIMEA record
		res, err = s.importCertFrom(a.Key, prov)
	} else {
		res, err = s.ImportPGPFrom(bytes.NewReader(a.Key), prov)
	}
	if err != nil {
		a.Error = "not stored: " + err.Error()
		return
	}
	a.Imported = true
	for _, r := range res {
		if upper(r.Fingerprint) == a.Fingerprint {
			a.Changes = r.Changes
		}
	}
}

// importCertFrom stores the certificates in data (DER or PEM, no private
// keys) and records prov for those new to the store.
func (s *Store) importCertFrom(data []byte, prov Provenance) ([]ImportResult, error) {
	in, err := parseX509(data, nil)
	if err != nil {
		return nil, fmt.Errorf("keystore: x509: %w: %w", err, core.ErrInput)
	}
	if len(in.keys) > 0 || len(in.certs) == 0 {
		return nil, fmt.Errorf("keystore: x509: want certificates only: %w", core.ErrInput)
	}
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	return s.storeX509(in, nil, prov)
}

// locateLocal is the keystore's answer: the stored keys with a valid user
// ID bound to addr, their source the provenance record.
func (s *Store) locateLocal(addr string) ([]Located, error) {
	ents, err := s.PGPForAddress(addr)
	if err != nil && !errors.Is(err, core.ErrNoKey) {
		return nil, err
	}
	recs, rerr := s.readProvenance()
	if rerr != nil {
		return nil, rerr
	}
	if len(ents) == 0 {
		return []Located{{Found: locate.Found{Address: addr, Method: locate.MethodLocal, Source: "keystore",
			Fetched: time.Now().UTC(), Error: "no key stored for " + addr}}}, nil
	}
	var out []Located
	for _, e := range ents {
		fpr := pgp.Fingerprint(e.PrimaryKey)
		var uids []string
		for _, u := range pgp.ValidUserIDs(e, time.Now(), nil) {
			if u.Err == nil && core.SameAddress(u.Address, addr) {
				uids = append(uids, u.ID)
			}
		}
		p := recs.get(false, fpr)
		out = append(out, Located{Found: locate.Found{Address: addr, Method: locate.MethodLocal, Fingerprint: fpr,
			UserIDs: uids, MatchesAddress: len(uids) > 0, Source: "keystore (" + p.Name() + ")", Fetched: p.Time}})
	}
	return out, nil
}

// locateAutocrypt is the Autocrypt peer state's answer: the key addr sent
// in its own Autocrypt header, else the one gossiped for it, with only its
// user IDs bound to addr (locate.MinimalKey).
func (s *Store) locateAutocrypt(addr string) (Located, error) {
	a := Located{Found: locate.Found{Address: addr, Method: locate.MethodAutocrypt}}
	p, err := s.Autocrypt().Peer(addr)
	if err != nil {
		return a, err
	}
	var key []byte
	switch {
	case p != nil && len(p.PublicKey) > 0:
		key, a.Fetched = p.PublicKey, p.AutocryptTimestamp
		a.Source = "Autocrypt header of " + strings.ToLower(addr)
	case p != nil && len(p.GossipKey) > 0:
		key, a.Fetched, a.source = p.GossipKey, p.GossipTimestamp, SourceGossip
		a.Source = "Autocrypt-Gossip for " + strings.ToLower(addr)
	default:
		a.Error = "no Autocrypt key known for " + addr + " (verify and decrypt --autocrypt learn them)"
		return a, nil
	}
	min, err := locate.MinimalKey(key, addr)
	var ents openpgp.EntityList
	if err == nil {
		ents, err = pgp.ReadKeys(min)
	}
	if err == nil && len(ents) == 1 {
		a.Key, a.Fingerprint, a.MatchesAddress = min, pgp.Fingerprint(ents[0].PrimaryKey), true
		for name := range ents[0].Identities {
			a.UserIDs = append(a.UserIDs, name)
		}
	}
	if err != nil {
		a.Error = a.Source + ": " + err.Error()
	}
	return a, nil
}

// Refreshed is what Store.Refresh did for one key.
type Refreshed struct {
	Fingerprint string `json:"fingerprint"`
	// Source is the key's recorded provenance source (Provenance.Name);
	// Address and URL are what it was found by and where.
	Source  string `json:"source"`
	Address string `json:"address,omitempty"`
	URL     string `json:"url,omitempty"`
	// Changes says what the merge added ("unchanged" when nothing).
	Changes []string `json:"changes,omitempty"`
	// Skipped says why the key was not asked for (it did not come from
	// the network); Error why asking failed.
	Skipped string `json:"skipped,omitempty"`
	Error   string `json:"error,omitempty"`
}

// Refresh fetches the OpenPGP keys matching queries (all: every stored
// key) again from the source their provenance records (locate.Refresh)
// and merges what came back as an import does: new revocations, subkeys,
// user IDs and self-signatures (a later expiry) are added when validly
// bound to the key, nothing stored is removed, and the record is kept with
// its Refreshed time set. A key from a key server may come back without
// user IDs; its other packets are merged. Keys the user imported or
// generated have no source to ask: they are Skipped. A key that could not
// be refreshed has an Error; the error return is for what stops the
// refresh itself (a query matching nothing, an unreadable keystore).
func (s *Store) Refresh(ctx context.Context, l *locate.Locator, queries []string, all bool) ([]Refreshed, error) {
	var fprs []string
	seen := map[string]bool{}
	if all {
		for _, f := range s.certFingerprints() {
			fprs = append(fprs, upper(f))
		}
	}
	for _, q := range queries {
		ents, err := s.FindPGP(q)
		if err != nil {
			return nil, err
		}
		for _, e := range ents {
			fprs = append(fprs, pgp.Fingerprint(e.PrimaryKey))
		}
	}
	var out []Refreshed
	for _, fpr := range fprs {
		if seen[fpr] {
			continue
		}
		seen[fpr] = true
		p, err := s.Provenance(fpr)
		if err != nil {
			return out, err
		}
		r := Refreshed{Fingerprint: fpr, Source: p.Name(), Address: p.Address, URL: p.URL}
		if p.Source == SourceAutocrypt || p.Source == SourceGossip {
			r.Skipped = "from " + p.Name() + ": the peer's next Autocrypt header brings a new key (verify and decrypt --autocrypt)"
			out = append(out, r)
			continue
		}
		if !p.FromNetwork() || (p.Address == "" && p.Source != SourceVKS) { // a key server is asked by fingerprint
			r.Skipped = "from " + p.Name() + ": no network source recorded to refresh it from"
			out = append(out, r)
			continue
		}
		f, err := l.Refresh(ctx, p.Source, p.Address, fpr)
		if err != nil {
			r.Error = err.Error()
			out = append(out, r)
			continue
		}
		r.URL = f.Source
		res, err := s.ImportPGPFrom(bytes.NewReader(f.Key), p)
		if err != nil {
			r.Error = "not merged: " + err.Error()
			out = append(out, r)
			continue
		}
		for _, ir := range res {
			if upper(ir.Fingerprint) == fpr {
				r.Changes = ir.Changes
			}
		}
		if err := s.markRefreshed(fpr, f.Fetched); err != nil {
			return out, err
		}
		out = append(out, r)
	}
	return out, nil
}

// markRefreshed sets the Refreshed time of fpr's record.
func (s *Store) markRefreshed(fpr string, at time.Time) error {
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	return s.updateProvenance(func(recs *provenanceRecords) {
		if p, ok := recs.OpenPGP[fpr]; ok {
			p.Refreshed = at.UTC()
			recs.OpenPGP[fpr] = p
		}
	})
}

// SessionLocate makes a Session look up the keys of recipients that have
// no valid one stored (SessionOptions.Locate): their OpenPGP keys by the
// OpenPGP methods, their S/MIME certificates by locate.MethodSMIMEA.
type SessionLocate struct {
	Locator *locate.Locator
	// Methods are the network methods, in order (nil: locate.Methods);
	// the first that finds a key is the last asked.
	Methods []string
}

// sessionLocating is what a Session looked up: each address once per
// protocol.
type sessionLocating struct {
	mu     sync.Mutex
	tried  map[string]bool
	answer []Located
}

// methodsFor are the methods of m that find keys of protocol.
func methodsFor(protocol string, m []string) []string {
	var out []string
	for _, x := range methodNames(m) {
		if (x == locate.MethodSMIMEA) == (protocol == mailseal.ProtocolSMIME) {
			out = append(out, x)
		}
	}
	return out
}

// locateRecipient looks addr up (once per session and protocol) when it
// has no valid key of protocol, stores what is found, and answers
// RecipientKeys again. When still none, refused says what each method
// answered.
func (se *Session) locateRecipient(protocol, addr, refused string) ([]mailseal.Recipient, string, error) {
	methods := methodsFor(protocol, se.opts.Locate.Methods)
	if len(methods) == 0 {
		return nil, refused, nil
	}
	lc := &se.locating
	lc.mu.Lock()
	defer lc.mu.Unlock()
	key := protocol + "\x00" + strings.ToLower(addr)
	if lc.tried == nil {
		lc.tried = map[string]bool{}
	}
	if lc.tried[key] {
		return nil, refused, nil
	}
	lc.tried[key] = true
	answers, err := se.store.Locate(context.Background(), se.opts.Locate.Locator, addr,
		LocateOptions{Methods: methods, Import: true, First: true})
	for _, a := range answers {
		// Kept for Located without the key (up to 1 MiB each, stored
		// already): a batch to many addresses holds only the answers.
		a.Key = nil
		lc.answer = append(lc.answer, a)
	}
	if err != nil {
		return nil, "", err
	}
	if AnyOK(answers) {
		se.invalidate()
		keys, why, err := se.recipientKeys(protocol, addr)
		if err != nil || len(keys) > 0 {
			return keys, why, err
		}
		refused = why
	}
	var reasons []string
	for _, a := range answers {
		if a.Error != "" {
			// The error that names the address says "no usable key" once.
			reasons = append(reasons, strings.TrimSuffix(a.Error, ": "+mailseal.ErrNoKey.Error()))
		}
	}
	msg := "looked up by " + strings.Join(methods, ", ") + ": "
	if len(reasons) > 0 {
		msg += strings.Join(reasons, "; ")
	} else {
		msg += "the key found is not valid for encryption"
		if protocol == mailseal.ProtocolSMIME {
			msg = "looked up by " + strings.Join(methods, ", ") + ": the certificate found is not valid for encryption"
		}
	}
	if refused != "" {
		msg = refused + "; " + msg
	}
	return nil, msg, nil
}

func methodNames(m []string) []string {
	if m == nil {
		return locate.Methods
	}
	return m
}

// Located is the answers the session's look-ups (SessionOptions.Locate)
// had, in the order they came, from the from-th on (0: all), without the
// keys' bytes (they are stored); a caller that shows them as they come
// passes how many it has seen, so that a long batch copies each once.
func (se *Session) Located(from int) []Located {
	se.locating.mu.Lock()
	defer se.locating.mu.Unlock()
	if from < 0 || from > len(se.locating.answer) {
		from = len(se.locating.answer)
	}
	return append([]Located(nil), se.locating.answer[from:]...)
}

// DANERecords returns the zone-file lines that publish the key or
// certificate matching query in DNS, one per address it is bound to: an
// OPENPGPKEY record (RFC 7929) with the key reduced to that address's user
// ID, or, with x509, an SMIMEA record (RFC 8162) of the certificate. A key
// bound to no address is ErrNoKey.
func (s *Store) DANERecords(query string, x509 bool) ([]string, error) {
	var lines []string
	if x509 {
		cert, err := s.FindOneX509(query)
		if err != nil {
			return nil, err
		}
		for _, a := range CertEmails(cert) {
			line, err := locate.SMIMEARecordLine(a, cert.Raw)
			if err != nil {
				return nil, err
			}
			lines = append(lines, line)
		}
	} else {
		e, err := s.FindOnePGP(query)
		if err != nil {
			return nil, err
		}
		var key bytes.Buffer
		if err := e.Serialize(&key); err != nil {
			return nil, err
		}
		addrs, _ := pgp.Addresses(pgp.ValidUserIDs(e, time.Now(), nil))
		for _, a := range addrs {
			min, err := locate.MinimalKey(key.Bytes(), a)
			if err != nil {
				return nil, err
			}
			line, err := locate.OPENPGPKEYRecord(a, min)
			if err != nil {
				return nil, err
			}
			lines = append(lines, line)
		}
	}
	if len(lines) == 0 {
		return nil, fmt.Errorf("keystore: %q binds no address to publish under: %w", query, core.ErrNoKey)
	}
	return lines, nil
}
