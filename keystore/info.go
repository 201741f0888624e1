package keystore

import (
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/mailseal/mailseal/internal/upperhex"
	"github.com/mailseal/mailseal/pgp"
)

// KeyInfo describes a stored OpenPGP key for listing.
type KeyInfo struct {
	Fingerprint string `json:"fingerprint"`
	Version     int    `json:"version"`
	Algorithm   string `json:"algorithm"`
	// UserIDs are the valid user IDs (self-signed, not revoked, not
	// expired), sorted.
	UserIDs []string `json:"user_ids"`
	// Emails are the addresses they bind (mailseal.UserIDAddress).
	Emails []string `json:"emails"`
	// UnboundUserIDs are those of UserIDs that name an address but bind
	// none; mailseal.UserIDAddress says why.
	UnboundUserIDs []string     `json:"unbound_user_ids,omitempty"`
	Capabilities   string       `json:"capabilities"` // C certify, S sign, E encrypt, A authenticate
	Created        time.Time    `json:"created"`
	Expires        *time.Time   `json:"expires"`
	Revoked        bool         `json:"revoked"`
	Expired        bool         `json:"expired"`
	HasSecret      bool         `json:"secret"`
	Protected      bool         `json:"protected"`
	Subkeys        []SubkeyInfo `json:"subkeys"`
	// Provenance is how and when the key arrived; SignaturesTrusted
	// whether its good signatures count as good
	// (Provenance.TrustedForSignatures).
	Provenance        Provenance `json:"provenance"`
	SignaturesTrusted bool       `json:"signatures_trusted"`
}

// SubkeyInfo describes a subkey.
type SubkeyInfo struct {
	Fingerprint  string     `json:"fingerprint"`
	Algorithm    string     `json:"algorithm"`
	Capabilities string     `json:"capabilities"`
	Created      time.Time  `json:"created"`
	Expires      *time.Time `json:"expires"`
	Revoked      bool       `json:"revoked"`
}

// ListPGP describes the keys matching query ("" for all), sorted by the
// first user ID.
func (s *Store) ListPGP(query string) ([]KeyInfo, error) {
	var certs []*openpgp.Entity
	var err error
	if query == "" {
		certs, err = s.AllPGPCerts()
	} else {
		certs, err = s.FindPGP(query)
	}
	if err != nil {
		return nil, err
	}
	recs, err := s.readProvenance()
	if err != nil {
		return nil, err
	}
	out := make([]KeyInfo, 0, len(certs))
	for _, e := range certs {
		k := s.info(e, time.Now())
		k.setProvenance(recs.get(false, k.Fingerprint))
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := strings.Join(out[i].UserIDs, ""), strings.Join(out[j].UserIDs, "")
		if a != b {
			return a < b
		}
		return out[i].Fingerprint < out[j].Fingerprint
	})
	return out, nil
}

func (s *Store) info(e *openpgp.Entity, now time.Time) KeyInfo {
	cfg := &packet.Config{}
	fpr := hex.EncodeToString(e.PrimaryKey.Fingerprint)
	k := KeyInfo{
		Fingerprint: upper(fpr),
		Version:     e.PrimaryKey.Version,
		Algorithm:   algorithmName(e.PrimaryKey),
		Created:     e.PrimaryKey.CreationTime,
		Revoked:     e.Revoked(now),
		UserIDs:     []string{},
		Emails:      []string{},
	}
	caps := map[byte]bool{}
	if sig, err := e.PrimarySelfSignature(now, cfg); err == nil && sig != nil {
		k.Expires = lifetime(e.PrimaryKey.CreationTime, sig.KeyLifetimeSecs)
		addFlags(caps, sig, true)
	} else if err != nil && strings.Contains(err.Error(), "expired") {
		k.Expired = true
	}
	if k.Expires != nil && now.After(*k.Expires) {
		k.Expired = true
	}
	uids := pgp.ValidUserIDs(e, now, cfg)
	for _, u := range uids {
		k.UserIDs = append(k.UserIDs, u.ID)
	}
	k.Emails, k.UnboundUserIDs = pgp.Addresses(uids)
	for i := range e.Subkeys {
		sk := &e.Subkeys[i]
		si := SubkeyInfo{
			Fingerprint: upperhex.Encode(sk.PublicKey.Fingerprint),
			Algorithm:   algorithmName(sk.PublicKey),
			Created:     sk.PublicKey.CreationTime,
		}
		sub := map[byte]bool{}
		if sig, err := sk.LatestValidBindingSignature(now, cfg); err == nil && sig != nil {
			si.Expires = lifetime(sk.PublicKey.CreationTime, sig.KeyLifetimeSecs)
			si.Revoked = sk.Revoked(sig, now)
			addFlags(sub, sig, false)
			if !si.Revoked && (si.Expires == nil || now.Before(*si.Expires)) {
				for c := range sub {
					caps[c] = true
				}
			}
		}
		si.Capabilities = capString(sub)
		k.Subkeys = append(k.Subkeys, si)
	}
	k.Capabilities = capString(caps)
	if data, err := s.readKeyFile(s.secretPath(fpr)); err == nil {
		// Read packet by packet: parsing an unprotected DSA or ElGamal
		// secret key would validate it, which is slow (see storeSecret).
		k.HasSecret = true
		k.Protected = !HasUnprotectedSecrets(data)
	}
	return k
}

func (k *KeyInfo) setProvenance(p Provenance) {
	k.Provenance, k.SignaturesTrusted = p, p.TrustedForSignatures()
}

func lifetime(created time.Time, secs *uint32) *time.Time {
	if secs == nil || *secs == 0 {
		return nil
	}
	t := created.Add(time.Duration(*secs) * time.Second)
	return &t
}

func addFlags(caps map[byte]bool, sig *packet.Signature, primary bool) {
	if !sig.FlagsValid {
		if primary {
			caps['C'] = true
		}
		return
	}
	if sig.FlagCertify {
		caps['C'] = true
	}
	if sig.FlagSign {
		caps['S'] = true
	}
	if sig.FlagEncryptCommunications || sig.FlagEncryptStorage {
		caps['E'] = true
	}
	if sig.FlagAuthenticate {
		caps['A'] = true
	}
}

func capString(caps map[byte]bool) string {
	var b strings.Builder
	for _, c := range "CSEA" {
		if caps[byte(c)] {
			b.WriteRune(c)
		}
	}
	return b.String()
}

func algorithmName(pk *packet.PublicKey) string {
	switch pk.PubKeyAlgo {
	case packet.PubKeyAlgoRSA, packet.PubKeyAlgoRSASignOnly, packet.PubKeyAlgoRSAEncryptOnly:
		if n, err := pk.BitLength(); err == nil {
			return fmt.Sprintf("rsa%d", n)
		}
		return "rsa"
	case packet.PubKeyAlgoEdDSA, packet.PubKeyAlgoEd25519:
		return "ed25519"
	case packet.PubKeyAlgoEd448:
		return "ed448"
	case packet.PubKeyAlgoECDH, packet.PubKeyAlgoX25519:
		if pk.PubKeyAlgo == packet.PubKeyAlgoX25519 {
			return "x25519"
		}
		return "ecdh"
	case packet.PubKeyAlgoX448:
		return "x448"
	case packet.PubKeyAlgoECDSA:
		return "ecdsa"
	}
	return fmt.Sprintf("algo%d", pk.PubKeyAlgo)
}
