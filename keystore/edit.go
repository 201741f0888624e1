package keystore

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/pgp"
)

// AddUserID binds a new user ID to the one OpenPGP key matching query: a
// self-signature made with its secret key (unlocked with pass) that
// carries over the preferences, key flags and expiry of the primary user
// ID's. The user ID must bind an address (core.UserIDAddress). Adding a
// revoked user ID again certifies it anew. It returns the key as it is
// now.
func (s *Store) AddUserID(query, uid string, pass PassphraseFunc) (*KeyInfo, error) {
	pkt, err := pgp.UserIDPacket(uid)
	if err != nil {
		return nil, fmt.Errorf("keystore: add-uid: %w", err)
	}
	if addr, _ := core.UserIDAddress(pkt.Id); addr == "" {
		return nil, fmt.Errorf("keystore: add-uid: the user ID %q has no address; write it as \"Name <address>\": %w", uid, core.ErrUsage)
	}
	return s.editPGP(query, pass, func(ed *keyEdit) error {
		if id, ok := ed.pub.Identities[pkt.Id]; ok {
			if self, err := id.Verify(ed.now, &packet.Config{}); err == nil && self != nil {
				return fmt.Errorf("the key already has the user ID %q: %w", pkt.Id, core.ErrUsage)
			}
		}
		var sig *packet.Signature
		if tmpl, _ := ed.pub.PrimaryIdentity(time.Time{}, &packet.Config{}); tmpl != nil {
			c, err := ed.clone(tmpl)
			if err != nil {
				return err
			}
			sig = c
		} else {
			sig = ed.newSig(packet.SigTypePositiveCert)
		}
		sig.SigType = packet.SigTypePositiveCert
		sig.IsPrimaryId = nil
		if err := sig.SignUserId(pkt.Id, ed.pub.PrimaryKey, ed.priv, ed.cfg); err != nil {
			return err
		}
		var raw bytes.Buffer
		if err := pkt.Serialize(&raw); err != nil {
			return err
		}
		p, err := onePacket(raw.Bytes())
		if err != nil {
			return err
		}
		return ed.addUID(component{pkt: p, uid: pkt}, sig)
	})
}

// RevokeUserID revokes a user ID of the one OpenPGP key matching query
// with a certification revocation signature (reason: user ID no longer
// valid, with text if it is not empty), made with its secret key. The
// user ID is named as written, or by the address it binds. From then on
// the address is not bound to the key: look-ups, recipients, signers and
// sender binding skip it (pgp.ValidUserIDs). The last valid user ID of a
// key is not revoked.
func (s *Store) RevokeUserID(query, uid, text string, pass PassphraseFunc) (*KeyInfo, error) {
	return s.editPGP(query, pass, func(ed *keyEdit) error {
		valid := pgp.ValidUserIDs(ed.pub, ed.now, &packet.Config{})
		var target *pgp.UserID
		for i, u := range valid {
			if u.ID == strings.TrimSpace(uid) {
				target = &valid[i]
			}
		}
		if target == nil && strings.Contains(uid, "@") && !strings.ContainsAny(uid, "<> ") {
			for i, u := range valid {
				if u.Address != "" && core.SameAddress(u.Address, uid) {
					if target != nil {
						return fmt.Errorf("%s is bound by more than one user ID; name the one to revoke as written: %w", uid, core.ErrUsage)
					}
					target = &valid[i]
				}
			}
		}
		if target == nil {
			var names []string
			for _, u := range valid {
				names = append(names, fmt.Sprintf("%q", u.ID))
			}
			return fmt.Errorf("the key has no valid user ID %q (it has %s): %w", uid, strings.Join(names, ", "), core.ErrUsage)
		}
		if len(valid) == 1 {
			return fmt.Errorf("%q is the key's last valid user ID; add another first (keys add-uid): %w", target.ID, core.ErrUsage)
		}
		sig := ed.newSig(packet.SigTypeCertificationRevocation)
		reason := packet.UserIDNotValid
		sig.RevocationReason, sig.RevocationReasonText = &reason, text
		if err := sig.SignUserId(target.ID, ed.pub.PrimaryKey, ed.priv, ed.cfg); err != nil {
			return err
		}
		return ed.addUID(ed.storedUID(target.ID), sig)
	})
}

// Which keys of an OpenPGP key SetExpiry changes.
const (
	ExpireAll     = ""        // the primary key and every subkey that is not revoked
	ExpirePrimary = "primary" // the primary key only (gpg --quick-set-expire FPR DATE)
	ExpireSubkeys = "subkeys" // the subkeys only (gpg --quick-set-expire FPR DATE '*')
)

// SetExpiry sets when the one OpenPGP key matching query expires: until,
// or never when until is zero. which says which keys (ExpireAll,
// ExpirePrimary, ExpireSubkeys). The primary key's expiry is carried by
// new self-signatures on every user ID that is not revoked (and a new
// direct-key signature where the key has one, as v6 keys do), a subkey's
// by a new binding signature (with a new back-signature for a signing
// subkey), each a copy of the one it replaces with the new key expiry, made
// with the secret key (unlocked with pass). An expired key can be given a
// new expiry.
func (s *Store) SetExpiry(query string, until time.Time, which string, pass PassphraseFunc) (*KeyInfo, error) {
	if which != ExpireAll && which != ExpirePrimary && which != ExpireSubkeys {
		return nil, fmt.Errorf("keystore: expire: %q: all, primary or subkeys: %w", which, core.ErrUsage)
	}
	if !until.IsZero() && !until.After(time.Now()) {
		return nil, fmt.Errorf("keystore: expire: %s is not in the future: %w", until.UTC().Format(time.RFC3339), core.ErrUsage)
	}
	return s.editPGP(query, pass, func(ed *keyEdit) error {
		lifetime := func(created time.Time) (*uint32, error) {
			if until.IsZero() {
				return nil, nil
			}
			secs := until.Sub(created) / time.Second
			if secs <= 0 || secs > math.MaxUint32 {
				return nil, fmt.Errorf("%s is not within 136 years after the key was made (%s): %w",
					until.UTC().Format(time.RFC3339), created.UTC().Format(time.RFC3339), core.ErrUsage)
			}
			n := uint32(secs)
			return &n, nil
		}
		pub := ed.pub.PrimaryKey
		if which != ExpireSubkeys {
			life, err := lifetime(pub.CreationTime)
			if err != nil {
				return err
			}
			n := 0
			for name, id := range ed.pub.Identities {
				self, err := id.LatestValidSelfCertification(time.Time{}, &packet.Config{})
				if err != nil || id.Revoked(self, ed.now, &packet.Config{}) {
					continue
				}
				sig, err := ed.clone(self)
				if err != nil {
					return err
				}
				sig.KeyLifetimeSecs = life
				if err := sig.SignUserId(name, pub, ed.priv, ed.cfg); err != nil {
					return err
				}
				if err := ed.addUID(ed.storedUID(name), sig); err != nil {
					return err
				}
				n++
			}
			if direct, err := ed.pub.LatestValidDirectSignature(time.Time{}, &packet.Config{}); err == nil && direct != nil {
				sig, err := ed.clone(direct)
				if err != nil {
					return err
				}
				sig.KeyLifetimeSecs = life
				if err := sig.SignDirectKeyBinding(pub, ed.priv, ed.cfg); err != nil {
					return err
				}
				if err := ed.addDirect(sig); err != nil {
					return err
				}
				n++
			}
			if n == 0 {
				return fmt.Errorf("the primary key has no valid self-signature to carry its expiry: %w", core.ErrInput)
			}
		}
		if which == ExpirePrimary {
			return nil
		}
		n := 0
		for i := range ed.pub.Subkeys {
			sk := &ed.pub.Subkeys[i]
			binding, err := sk.LatestValidBindingSignature(time.Time{}, &packet.Config{})
			if err != nil || sk.Revoked(binding, ed.now) {
				continue
			}
			life, err := lifetime(sk.PublicKey.CreationTime)
			if err != nil {
				return err
			}
			sig, err := ed.clone(binding)
			if err != nil {
				return err
			}
			sig.KeyLifetimeSecs = life
			if priv := ed.subPriv[string(sk.PublicKey.Fingerprint)]; sig.EmbeddedSignature != nil && priv != nil && !priv.Encrypted {
				back := &packet.Signature{Version: sk.PublicKey.Version, SigType: packet.SigTypePrimaryKeyBinding,
					PubKeyAlgo: sk.PublicKey.PubKeyAlgo, Hash: sig.Hash, CreationTime: ed.now,
					IssuerKeyId: &sk.PublicKey.KeyId, IssuerFingerprint: sk.PublicKey.Fingerprint}
				if err := back.CrossSignKey(sk.PublicKey, pub, priv, ed.cfg); err != nil {
					return err
				}
				sig.EmbeddedSignature = back
			}
			if err := sig.SignKey(sk.PublicKey, ed.priv, ed.cfg); err != nil {
				return err
			}
			if err := ed.addSubkey(sk.PublicKey.Fingerprint, sig); err != nil {
				return err
			}
			n++
		}
		if n == 0 && which == ExpireSubkeys {
			return fmt.Errorf("the key has no subkey that is not revoked: %w", core.ErrUsage)
		}
		return nil
	})
}

// keyEdit is what an edit of an OpenPGP key works with: the stored
// certificate (parsed and packet by packet), the unlocked primary secret
// key and subkeys, and the update it builds.
type keyEdit struct {
	pub     *openpgp.Entity
	stored  *cert
	priv    *packet.PrivateKey
	subPriv map[string]*packet.PrivateKey // by subkey fingerprint
	now     time.Time
	cfg     *packet.Config
	update  *cert
}

// newSig starts a signature by the primary key, made now.
func (ed *keyEdit) newSig(t packet.SignatureType) *packet.Signature {
	pk := ed.pub.PrimaryKey
	return &packet.Signature{Version: pk.Version, SigType: t, PubKeyAlgo: pk.PubKeyAlgo, Hash: crypto.SHA512,
		CreationTime: ed.now, IssuerKeyId: &pk.KeyId, IssuerFingerprint: pk.Fingerprint}
}

// clone copies a self-signature to be made again now: its subpackets
// (preferences, flags, features, expiry) stay, SHA-1 and weaker hashes
// become SHA-512, and a v6 signature gets a fresh salt.
func (ed *keyEdit) clone(sig *packet.Signature) (*packet.Signature, error) {
	var b bytes.Buffer
	if err := sig.Serialize(&b); err != nil {
		return nil, err
	}
	parsed, err := packet.Read(&b)
	if err != nil {
		return nil, err
	}
	c, ok := parsed.(*packet.Signature)
	if !ok {
		return nil, errors.New("a self-signature that does not read back")
	}
	c.CreationTime, c.Hash = ed.now, editHash(c.Hash)
	if c.Version == 6 {
		salt, err := packet.SignatureSaltForHash(c.Hash, rand.Reader)
		if err != nil {
			return nil, err
		}
		if err := c.SetSalt(salt); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// editHash is the hash of a new self-signature: h, unless it is weaker
// than SHA-256.
func editHash(h crypto.Hash) crypto.Hash {
	switch h {
	case crypto.SHA256, crypto.SHA384, crypto.SHA512, crypto.SHA3_256, crypto.SHA3_512:
		return h
	}
	return crypto.SHA512
}

// storedUID is the stored user ID component named id.
func (ed *keyEdit) storedUID(id string) component {
	for _, u := range ed.stored.uids {
		if u.uid.Id == id {
			return component{pkt: u.pkt, uid: u.uid}
		}
	}
	return component{}
}

func (ed *keyEdit) addUID(c component, sig *packet.Signature) error {
	if c.uid == nil {
		return errors.New("the user ID is not in the stored certificate")
	}
	p, err := sigPacket(sig)
	if err != nil {
		return err
	}
	for i := range ed.update.uids {
		if ed.update.uids[i].uid.Id == c.uid.Id {
			ed.update.uids[i].sigs = append(ed.update.uids[i].sigs, p)
			return nil
		}
	}
	c.sigs = []rawPacket{p}
	ed.update.uids = append(ed.update.uids, c)
	return nil
}

func (ed *keyEdit) addDirect(sig *packet.Signature) error {
	p, err := sigPacket(sig)
	if err != nil {
		return err
	}
	ed.update.direct = append(ed.update.direct, p)
	return nil
}

func (ed *keyEdit) addSubkey(fpr []byte, sig *packet.Signature) error {
	p, err := sigPacket(sig)
	if err != nil {
		return err
	}
	for _, sk := range ed.stored.subkeys {
		if bytes.Equal(sk.key.Fingerprint, fpr) {
			ed.update.subkeys = append(ed.update.subkeys, component{pkt: sk.pkt, key: sk.key, sigs: []rawPacket{p}})
			return nil
		}
	}
	return errors.New("the subkey is not in the stored certificate")
}

func sigPacket(sig *packet.Signature) (rawPacket, error) {
	var b bytes.Buffer
	if err := sig.Serialize(&b); err != nil {
		return rawPacket{}, err
	}
	return onePacket(b.Bytes())
}

func onePacket(data []byte) (rawPacket, error) {
	pkts, err := splitPackets(data)
	if err != nil {
		return rawPacket{}, err
	}
	if len(pkts) != 1 {
		return rawPacket{}, fmt.Errorf("%d packets where one was made", len(pkts))
	}
	return pkts[0], nil
}

// editPGP runs an edit of the one OpenPGP key matching query under the
// writer lock: it unlocks the stored secret key with pass, lets edit add
// new self-signatures to the update, merges them into the stored
// certificate (merge checks each: a signature that does not verify is not
// kept) and writes it and the secret key file (its secret key packets as
// they were, with the merged user IDs, subkeys and signatures), each
// atomically.
func (s *Store) editPGP(query string, pass PassphraseFunc, edit func(*keyEdit) error) (*KeyInfo, error) {
	found, err := s.FindOnePGP(query)
	if err != nil {
		return nil, err
	}
	fpr := hex.EncodeToString(found.PrimaryKey.Fingerprint)
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	stored, err := s.readCert(fpr)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("keystore: no OpenPGP key %s (deleted meanwhile): %w", upper(fpr), core.ErrNoKey)
	}
	if err != nil {
		return nil, err
	}
	pub, err := s.parseCert(fpr, stored.serialize())
	if err != nil {
		return nil, err
	}
	secData, err := s.readKeyFile(s.secretPath(fpr))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("keystore: changing %s needs its secret key, which is not in the keystore: %w", upper(fpr), core.ErrNoKey)
	}
	if err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	sec, err := openpgp.ReadEntity(packet.NewReader(bytes.NewReader(secData)))
	if err != nil {
		return nil, fmt.Errorf("keystore: secret key %s: %w", upper(fpr), err)
	}
	if sec.PrivateKey == nil || sec.PrivateKey.Dummy() {
		return nil, fmt.Errorf("keystore: the primary secret key of %s is not stored here (only its subkeys): change the key where its primary key is: %w", upper(fpr), core.ErrNoKey)
	}
	if err := Unlock(sec, pass); err != nil {
		return nil, err
	}
	ed := &keyEdit{pub: pub, stored: stored, priv: sec.PrivateKey, subPriv: map[string]*packet.PrivateKey{},
		now: signatureTime(stored), update: &cert{primary: stored.primary, key: stored.key}}
	ed.cfg = &packet.Config{Time: func() time.Time { return ed.now }}
	for _, sk := range sec.Subkeys {
		if sk.PrivateKey != nil && !sk.PrivateKey.Dummy() {
			ed.subPriv[string(sk.PublicKey.Fingerprint)] = sk.PrivateKey
		}
	}
	if err := edit(ed); err != nil {
		if errors.Is(err, core.ErrUsage) || errors.Is(err, core.ErrInput) {
			return nil, fmt.Errorf("keystore: %s: %w", upper(fpr), err)
		}
		return nil, fmt.Errorf("keystore: %s: signing: %w", upper(fpr), err)
	}
	merged, changes, err := merge(stored, ed.update)
	if err != nil {
		return nil, fmt.Errorf("keystore: %s: %w: %w", upper(fpr), err, core.ErrInput)
	}
	if len(changes) == 0 {
		return nil, fmt.Errorf("keystore: %s: the new signatures do not verify; nothing was changed", upper(fpr))
	}
	secCert, err := parseStoredSecret(secData)
	if err != nil {
		return nil, fmt.Errorf("keystore: secret key %s: %w", upper(fpr), err)
	}
	if err := s.writeKeyFile(s.certPath(fpr), merged.serialize(), 0o644); err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	if err := s.writeKeyFile(s.secretPath(fpr), secretKeyFile(secCert, merged), 0o600); err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	e, err := s.parseCert(fpr, merged.serialize())
	if err != nil {
		return nil, err
	}
	info := s.info(e, time.Now())
	return &info, nil
}

// parseStoredSecret reads a stored secret key file packet by packet.
func parseStoredSecret(data []byte) (*cert, error) {
	c, err := parseStored(data)
	if err != nil {
		return nil, err
	}
	if len(c.secret.raw) == 0 {
		return nil, errors.New("no secret key packet")
	}
	return c, nil
}

// signatureTime is the creation time of new self-signatures on c: now,
// but later (by whole seconds, which is what signatures record) than every
// signature already on it, so that the new ones take precedence in every
// implementation (gpg, too, dates a new self-signature a second after one
// made in the same second). When the latest is at most two seconds ahead,
// it waits for the clock to pass it rather than date a signature in the
// future.
func signatureTime(c *cert) time.Time {
	var latest time.Time
	check := func(ps []rawPacket) {
		for _, p := range ps {
			if sig := parseSig(p); sig != nil && sig.CreationTime.After(latest) {
				latest = sig.CreationTime
			}
		}
	}
	check(c.direct)
	for _, u := range c.uids {
		check(u.sigs)
	}
	for _, sk := range c.subkeys {
		check(sk.sigs)
	}
	now := time.Now()
	if now.Unix() > latest.Unix() {
		return now
	}
	next := time.Unix(latest.Unix()+1, 0)
	if next.Sub(now) <= 2*time.Second {
		time.Sleep(next.Sub(now))
		return time.Now()
	}
	return next
}
