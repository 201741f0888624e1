package keystore

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/internal/atomicfile"
	"github.com/mailseal/mailseal/locate"
)

// The sources a key or certificate can come from (Provenance.Source).
const (
	SourceImport    = "import"    // imported by the user (keys import)
	SourceGenerate  = "generate"  // generated in this keystore
	SourceWKD       = "wkd"       // a Web Key Directory
	SourceDANE      = "dane"      // a DNS OPENPGPKEY or SMIMEA record
	SourceVKS       = "vks"       // a Verifying Key Server (keys.openpgp.org)
	SourceAutocrypt = "autocrypt" // an Autocrypt header of a message (reserved)
	SourceGossip    = "gossip"    // an Autocrypt-Gossip header (reserved)
)

// Provenance records how a key or certificate arrived in the keystore and
// when. A key stored before records were kept has none; it counts as
// imported by the user (Source "import", Time zero). New sources add
// fields (an Autocrypt record will name its message); readers ignore
// fields they do not know.
type Provenance struct {
	Source string `json:"source"`
	// Address is the address the key was looked up for (network sources).
	Address string `json:"address,omitempty"`
	// URL is where it came from: the URL, or the DNS name asked.
	URL string `json:"url,omitempty"`
	// DNSSEC says a resolver the user named and said validates
	// (--resolver-validates) set the AD bit of the DANE answer.
	DNSSEC bool `json:"dnssec"`
	// DNSSECConfirmed is when such a resolver last vouched for the record:
	// the look-up that stored it, or a later one that found the same
	// validated record (DANEEEFresh). A record read with DNSSEC but
	// without this time was stored before --resolver-validates existed,
	// when any resolver on loopback was believed; it counts as not
	// validated.
	DNSSECConfirmed time.Time `json:"dnssec_confirmed,omitzero"`
	// DANEUsage is the usage of the SMIMEA record a certificate came in
	// (locate.UsagePKIXEE or locate.UsageDANEEE); 0 for anything else.
	DANEUsage uint8 `json:"dane_usage,omitempty"`
	// Time is when the key arrived (for network sources, when it was
	// fetched); Refreshed the last keys refresh that reached the source.
	Time      time.Time `json:"time,omitzero"`
	Refreshed time.Time `json:"refreshed,omitzero"`
	// Accepted says the user accepted a key from the network (keys
	// accept), at AcceptedTime.
	Accepted     bool      `json:"accepted,omitempty"`
	AcceptedTime time.Time `json:"accepted_time,omitzero"`
}

// FromNetwork says the key was found, not given by the user.
func (p Provenance) FromNetwork() bool {
	switch p.Source {
	case SourceImport, SourceGenerate, "":
		return false
	}
	return true
}

// TrustedForSignatures says whether good signatures by the key count as
// good: keys the user imported, generated or accepted, and keys from DANE
// records a validating resolver vouched for (DNSSEC). Other keys found on
// the network encrypt at once but their signatures are "untrusted" until
// the user accepts the key (keys accept).
func (p Provenance) TrustedForSignatures() bool {
	return !p.FromNetwork() || p.Accepted || (p.Source == SourceDANE && p.DNSSEC)
}

// DANEEEMaxAge is how long a DANE-EE record vouches for its certificate
// after DNSSEC last confirmed it (Provenance.DNSSECConfirmed). A record
// its owner withdrew (a lost key, a new certificate) stops counting within
// this time, as an OCSP answer or a CRL would; a look-up (keys locate
// --import --methods smimea, or encrypt/send --locate) confirms it again.
// The bound is the record's, not the zone's: someone between a validating
// resolver and the zone can replay an older signed answer until its
// RRSIG expires (often two to four weeks).
const DANEEEMaxAge = 7 * 24 * time.Hour

// DANEEE says the record is of a DANE-EE certificate (an SMIMEA record
// of usage 3) for addr that a validating resolver vouched for: the
// certificate may be encrypted to for addr without a path to a trust
// anchor, DNSSEC being what binds it to the address (RFC 8162), until
// DANEEEMaxAge after it was last confirmed (see DANEEEFresh).
func (p Provenance) DANEEE(addr string) bool {
	return p.Source == SourceDANE && p.DNSSEC && p.DANEUsage == locate.UsageDANEEE && core.SameAddress(p.Address, addr)
}

// DANEEEFresh says whether a DANE-EE record (DANEEE) still vouches at now,
// and when it was last confirmed. A confirmation time more than a minute
// after now (a clock that was wrong) does not vouch either.
func (p Provenance) DANEEEFresh(now time.Time) (bool, time.Time) {
	c := p.DNSSECConfirmed
	return !now.Before(c.Add(-time.Minute)) && now.Sub(c) <= DANEEEMaxAge, c
}

// Name is the short form the verify report shows (core.Signature.Source):
// the source, "+dnssec" for a validated DANE record, " (accepted)" once
// accepted.
func (p Provenance) Name() string {
	n := p.Source
	if n == "" {
		n = SourceImport
	}
	if p.Source == SourceDANE && p.DNSSEC {
		n += "+dnssec"
	}
	if p.Accepted {
		n += " (accepted)"
	}
	return n
}

// provenanceRecords is the sidecar file provenance.json: records by
// fingerprint (upper-case hex: the OpenPGP primary key's; an X.509
// certificate's SHA-256), one map per kind of key. It is replaced
// atomically under the writer lock.
type provenanceRecords struct {
	OpenPGP map[string]Provenance `json:"openpgp"`
	X509    map[string]Provenance `json:"x509"`
}

func (s *Store) provenanceFile() string { return filepath.Join(s.dir, "provenance.json") }

// maxProvenanceFile bounds the sidecar file read.
const maxProvenanceFile = 64 << 20

func (s *Store) readProvenance() (*provenanceRecords, error) {
	recs := &provenanceRecords{OpenPGP: map[string]Provenance{}, X509: map[string]Provenance{}}
	data, err := s.readProvenanceFile()
	if err != nil || data == nil {
		return recs, err
	}
	if err := json.Unmarshal(data, recs); err != nil {
		return nil, s.provenanceError(err)
	}
	if recs.OpenPGP == nil {
		recs.OpenPGP = map[string]Provenance{}
	}
	if recs.X509 == nil {
		recs.X509 = map[string]Provenance{}
	}
	for _, m := range []map[string]Provenance{recs.OpenPGP, recs.X509} {
		for fpr, p := range m {
			m[fpr] = p.read()
		}
	}
	return recs, nil
}

// read is p as read from the file: DNSSEC without DNSSECConfirmed
// counts as not validated (see DNSSECConfirmed).
func (p Provenance) read() Provenance {
	if p.DNSSEC && p.DNSSECConfirmed.IsZero() {
		p.DNSSEC = false
	}
	return p
}

// readProvenanceFile reads provenance.json: nil when there is none.
func (s *Store) readProvenanceFile() ([]byte, error) {
	s.provenanceReads.Add(1)
	data, err := atomicfile.ReadFile(s.provenanceFile(), maxProvenanceFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if errors.Is(err, atomicfile.ErrTooLarge) {
		return nil, fmt.Errorf("keystore: provenance: %w: %w", err, core.ErrInput)
	}
	if err != nil {
		return nil, fmt.Errorf("keystore: provenance: %w", err)
	}
	return data, nil
}

func (s *Store) provenanceError(err error) error {
	return fmt.Errorf("keystore: %s: %v (restore it from a backup or repair it; the signatures of keys whose records cannot be read do not count as trusted, and removing the file would count every key, network keys too, as imported by you): %w", s.provenanceFile(), err, core.ErrInput)
}

// provenanceIndex is provenance.json for look-ups, which want one record
// or a few: each record is kept as its JSON text and decoded when asked
// for. Decoding all 4,000 records of 2,000 keys of each kind (their
// times above all) was most of a new process's first look-up
// (BenchmarkProvenanceLookup). The file's syntax is checked whole; a
// record's content when it is asked for, with an error that names it.
// (Of a fingerprint given twice, the last record counts, as for writers;
// mailseal never writes one twice.)
type provenanceIndex struct {
	OpenPGP map[string]json.RawMessage `json:"openpgp"`
	X509    map[string]json.RawMessage `json:"x509"`
}

func (s *Store) readProvenanceIndex() (*provenanceIndex, error) {
	ix := &provenanceIndex{}
	data, err := s.readProvenanceFile()
	if err != nil || data == nil {
		return ix, err
	}
	if err := json.Unmarshal(data, ix); err != nil {
		return nil, s.provenanceError(err)
	}
	return ix, nil
}

// updateProvenance changes the records with change; the caller holds the
// writer lock.
func (s *Store) updateProvenance(change func(*provenanceRecords)) error {
	recs, err := s.readProvenance()
	if err != nil {
		return err
	}
	change(recs)
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	if err := enc.Encode(recs); err != nil {
		return err
	}
	if err := writeAtomic(s.provenanceFile(), b.Bytes(), 0o600); err != nil {
		return fmt.Errorf("keystore: provenance: %w", err)
	}
	return nil
}

// recordNew records p for the keys of results that are new; the caller
// holds the lock. Keys already stored keep the record they have.
func (s *Store) recordNew(x509 bool, results []ImportResult, p Provenance) error {
	any := false
	for _, r := range results {
		any = any || (r.Fingerprint != "" && (r.New || (p.Source == SourceDANE && p.DNSSEC)))
	}
	if !any {
		return nil
	}
	if p.Time.IsZero() {
		p.Time = time.Now().UTC()
	}
	if p.DNSSEC && p.DNSSECConfirmed.IsZero() {
		p.DNSSECConfirmed = p.Time
	}
	return s.updateProvenance(func(recs *provenanceRecords) {
		m := recs.OpenPGP
		if x509 {
			m = recs.X509
		}
		for _, r := range results {
			fpr := upper(r.Fingerprint)
			switch {
			case r.Fingerprint == "":
			case r.New:
				m[fpr] = p
			case p.Source == SourceDANE && p.DNSSEC:
				// A validated DANE answer (OPENPGPKEY or SMIMEA) for a
				// key stored from DNS for the same address: the same
				// validated record again is confirmed anew
				// (DANEEEFresh); an unvalidated record, or one of
				// another SMIMEA usage, is replaced by what the zone
				// says now: an OpenPGP key stored from an unvalidated
				// answer (or before --resolver-validates, see
				// DNSSECConfirmed) is trusted for signatures once a
				// validating resolver vouches for it, as it would be
				// had it been stored that way. A key the user imported,
				// or one from another source or address, keeps its
				// record.
				old, ok := m[fpr]
				switch {
				case !ok || old.Source != SourceDANE || !core.SameAddress(old.Address, p.Address):
				case old.DNSSEC && old.DANEUsage == p.DANEUsage:
					old.DNSSECConfirmed = p.DNSSECConfirmed
					m[fpr] = old
				default:
					m[fpr] = p
				}
			}
		}
	})
}

// Provenance is how the OpenPGP key with fingerprint fpr arrived (Source
// "import" when nothing is recorded).
func (s *Store) Provenance(fpr string) (Provenance, error) {
	return s.provenance(false, fpr)
}

// X509Provenance is how the certificate with fingerprint fpr arrived.
func (s *Store) X509Provenance(fpr string) (Provenance, error) {
	return s.provenance(true, fpr)
}

func (s *Store) provenance(x509 bool, fpr string) (Provenance, error) {
	ix, err := s.lookupProvenance()
	if err != nil {
		return Provenance{}, err
	}
	m := ix.OpenPGP
	if x509 {
		m = ix.X509
	}
	raw, ok := m[upper(fpr)]
	if !ok {
		return Provenance{Source: SourceImport}, nil
	}
	var p Provenance
	if err := json.Unmarshal(raw, &p); err != nil {
		return Provenance{}, fmt.Errorf("keystore: %s: the record of %s: %v (restore the file from a backup or repair it; while it cannot be read, this key's signatures do not count as trusted): %w", s.provenanceFile(), upper(fpr), err, core.ErrInput)
	}
	return p.read(), nil
}

// keptProvenance is provenance.json as parsed, with the file's tag.
type keptProvenance struct {
	tag  string
	recs *provenanceIndex // read only
}

// lookupProvenance is readProvenance for a look-up, which only reads the
// records and must not change them: the Store keeps what it parsed while
// the file's tag (size, modification and change times) and identity
// (device and inode: provenance.json may be a link) are unchanged, once
// the file has settled
// (keyIndexSettle: a file rewritten within the file system's timestamp
// granularity would keep its tag). A batch names the source of every
// signer's key, and parsing the records of 2,000 keys for each message
// took 4-5 ms (86 % of a batch decrypt+verify's CPU).
func (s *Store) lookupProvenance() (*provenanceIndex, error) {
	info, err := os.Stat(s.provenanceFile())
	if err != nil {
		return s.readProvenanceIndex() // missing (no records), or its error
	}
	tag := fileTag(info) + "." + fileID(info)
	s.provenanceMu.Lock()
	kept := s.provenanceKept
	s.provenanceMu.Unlock()
	if kept != nil && kept.tag == tag {
		return kept.recs, nil
	}
	recs, err := s.readProvenanceIndex()
	if err != nil {
		return nil, err
	}
	if time.Since(changedAt(info)) >= keyIndexSettle {
		// Read after the stat: if the file changed in between, what is
		// kept is newer than its tag, and is read again next time.
		s.provenanceMu.Lock()
		s.provenanceKept = &keptProvenance{tag: tag, recs: recs}
		s.provenanceMu.Unlock()
	}
	return recs, nil
}

// get is the record of fpr, Source "import" when there is none.
func (recs *provenanceRecords) get(x509 bool, fpr string) Provenance {
	m := recs.OpenPGP
	if x509 {
		m = recs.X509
	}
	if p, ok := m[upper(fpr)]; ok {
		return p
	}
	return Provenance{Source: SourceImport}
}

// ImportPGPFrom imports public keys as ImportPGP does and records p as the
// provenance of every key new to the store; keys already stored keep the
// record they have (a key the user imported stays so when it is found on
// the network too). Key data holding a secret key is refused.
func (s *Store) ImportPGPFrom(r io.Reader, p Provenance) ([]ImportResult, error) {
	if p.Source == "" {
		return nil, fmt.Errorf("keystore: import: no source given: %w", core.ErrUsage)
	}
	data, err := io.ReadAll(io.LimitReader(r, maxImport+1))
	if err != nil {
		return nil, fmt.Errorf("keystore: import: %w: %w", err, core.ErrInput)
	}
	if HasSecrets(data) {
		return nil, fmt.Errorf("keystore: import from %s: the key data holds a secret key; refused: %w", p.Source, core.ErrInput)
	}
	return s.importPGP(data, nil, p)
}

// AcceptPGP marks the one OpenPGP key matching query as accepted by the
// user: its good signatures count as good. It returns the key's
// fingerprint and its provenance after the change; for a key the user
// imported or generated nothing changes.
func (s *Store) AcceptPGP(query string) (string, Provenance, error) {
	e, err := s.FindOnePGP(query)
	if err != nil {
		return "", Provenance{}, err
	}
	fpr := upper(fmt.Sprintf("%x", e.PrimaryKey.Fingerprint))
	unlock, err := s.lock()
	if err != nil {
		return "", Provenance{}, err
	}
	defer unlock()
	// Read afresh under the lock (not as look-ups keep it), since it is
	// written back.
	recs, err := s.readProvenance()
	if err != nil {
		return fpr, Provenance{}, err
	}
	p := recs.get(false, fpr)
	if !p.FromNetwork() || p.Accepted {
		return fpr, p, nil
	}
	p.Accepted, p.AcceptedTime = true, time.Now().UTC()
	return fpr, p, s.updateProvenance(func(recs *provenanceRecords) { recs.OpenPGP[fpr] = p })
}

// forgetProvenance drops the record of a deleted key or certificate; the
// caller holds the lock.
func (s *Store) forgetProvenance(x509 bool, fpr string) error {
	recs, err := s.readProvenance()
	if err != nil {
		return err
	}
	m := recs.OpenPGP
	if x509 {
		m = recs.X509
	}
	if _, ok := m[upper(fpr)]; !ok {
		return nil
	}
	return s.updateProvenance(func(recs *provenanceRecords) {
		if x509 {
			delete(recs.X509, upper(fpr))
		} else {
			delete(recs.OpenPGP, upper(fpr))
		}
	})
}

// CertSource says how the certificate with fingerprint fpr arrived
// (Provenance.Name) and whether its good signatures count as good
// (Provenance.TrustedForSignatures); the pgp engine reports it as
// core.Signature.Source. An unreadable record file trusts nothing.
func (c *CertIndex) CertSource(fpr string) (source string, trusted bool) {
	p, err := c.s.Provenance(fpr)
	if err != nil {
		return "unknown (" + err.Error() + ")", false
	}
	return p.Name(), p.TrustedForSignatures()
}

// HasSecrets reports whether key data holds a secret key packet.
func HasSecrets(data []byte) bool {
	return anySecretPacket(data, func(rawPacket) bool { return true })
}
