package keystore

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/mailseal/mailseal/internal/armor"
)

// OpenPGP packet tags used in certificates (RFC 9580 §5).
const (
	tagSignature     = 2
	tagSecretKey     = 5
	tagPublicKey     = 6
	tagSecretSubkey  = 7
	tagTrust         = 12
	tagUserID        = 13
	tagPublicSubkey  = 14
	tagUserAttribute = 17
	tagPadding       = 21
)

// rawPacket is one packet with its exact bytes.
type rawPacket struct {
	tag  int
	raw  []byte // header and body
	body []byte
}

// splitPackets splits a binary OpenPGP stream into packets. Partial
// (streamed) lengths are refused: they never occur in keys.
func splitPackets(data []byte) ([]rawPacket, error) {
	var out []rawPacket
	for len(data) > 0 {
		p, rest, err := nextPacket(data)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
		data = rest
	}
	return out, nil
}

// nextPacket splits the first packet off a non-empty binary OpenPGP
// stream.
func nextPacket(data []byte) (p rawPacket, rest []byte, err error) {
	b := data[0]
	if b&0x80 == 0 {
		return p, nil, errors.New("not an OpenPGP packet")
	}
	truncated := errors.New("truncated packet header")
	var tag, hdr int
	var n uint32
	if b&0x40 != 0 { // new format
		tag = int(b & 0x3f)
		if len(data) < 2 {
			return p, nil, truncated
		}
		switch l := int(data[1]); {
		case l < 192:
			hdr, n = 2, uint32(l)
		case l < 224:
			if len(data) < 3 {
				return p, nil, truncated
			}
			hdr, n = 3, uint32(l-192)<<8+uint32(data[2])+192
		case l == 255:
			if len(data) < 6 {
				return p, nil, truncated
			}
			hdr, n = 6, binary.BigEndian.Uint32(data[2:6])
		default:
			return p, nil, errors.New("partial-length packet in a key")
		}
	} else { // old format
		tag = int(b>>2) & 0x0f
		switch b & 3 {
		case 0:
			if len(data) < 2 {
				return p, nil, truncated
			}
			hdr, n = 2, uint32(data[1])
		case 1:
			if len(data) < 3 {
				return p, nil, truncated
			}
			hdr, n = 3, uint32(binary.BigEndian.Uint16(data[1:3]))
		case 2:
			if len(data) < 5 {
				return p, nil, truncated
			}
			hdr, n = 5, binary.BigEndian.Uint32(data[1:5])
		default:
			return p, nil, errors.New("indeterminate-length packet in a key")
		}
	}
	if n > 1<<26 {
		return p, nil, errors.New("packet too large for a key")
	}
	end := hdr + int(n)
	if len(data) < end {
		return p, nil, errors.New("truncated packet")
	}
	return rawPacket{tag: tag, raw: data[:end], body: data[hdr:end]}, data[end:], nil
}

// binaryStreams returns the binary packet streams in data: data itself if
// it is binary, else its armored OpenPGP blocks ("PGP ..."; a key file may
// hold several, with text around them), decoded.
func binaryStreams(data []byte) ([][]byte, error) {
	if len(data) == 0 {
		return nil, errors.New("no key data")
	}
	if data[0]&0x80 != 0 {
		return [][]byte{data}, nil
	}
	blocks, err := armor.DecodeAll(data)
	if err != nil {
		return nil, fmt.Errorf("neither binary OpenPGP data nor readable ASCII armor (%w)", err)
	}
	var out [][]byte
	for _, b := range blocks {
		if strings.HasPrefix(b.Type, "PGP ") {
			out = append(out, b.Data)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no armored OpenPGP block")
	}
	return out, nil
}

// component is a user ID or subkey with its signatures.
type component struct {
	pkt    rawPacket
	key    *packet.PublicKey // subkeys
	uid    *packet.UserId    // user IDs
	sigs   []rawPacket
	secret rawPacket // a subkey's secret key packet, if the input had one
}

// cert is a transferable public key, packet by packet.
type cert struct {
	primary rawPacket // always a public key packet
	key     *packet.PublicKey
	direct  []rawPacket // direct-key signatures and key revocations
	uids    []component
	subkeys []component
	// secret is the secret key packet of the primary key when the input
	// was a transferable secret key.
	secret rawPacket
	// unsupported says why a key could not be read (e.g. a v3 key); such a
	// key is reported and skipped.
	unsupported error
}

func (c *cert) fingerprint() string { return hex.EncodeToString(c.key.Fingerprint) }

func isKeyPacket(tag int) bool {
	return tag == tagPublicKey || tag == tagPublicSubkey || tag == tagSecretKey || tag == tagSecretSubkey
}

// publicPacket turns a (secret) key packet into its public key packet.
// Secret key material is neither parsed nor validated: a secret key
// packet begins with the fields of its public key packet (RFC 9580
// 5.5.3), which are read alone. (go-crypto validates an unprotected DSA
// or ElGamal secret key when it parses one, which for ElGamal takes
// 2^18 modular multiplications: storeSecret does that once.)
func publicPacket(p rawPacket) (rawPacket, *packet.PublicKey, error) {
	tag := p.tag
	switch tag {
	case tagSecretKey:
		tag = tagPublicKey
	case tagSecretSubkey:
		tag = tagPublicSubkey
	case tagPublicKey, tagPublicSubkey:
	default:
		return rawPacket{}, nil, errors.New("not a key packet")
	}
	raw := append(packetHeader(tag, len(p.body)), p.body...)
	parsed, err := packet.Read(bytes.NewReader(raw))
	if err != nil {
		return rawPacket{}, nil, err
	}
	pub, ok := parsed.(*packet.PublicKey)
	if !ok {
		return rawPacket{}, nil, errors.New("not a key packet")
	}
	if tag == p.tag {
		return p, pub, nil
	}
	var buf bytes.Buffer
	if err := pub.Serialize(&buf); err != nil {
		return rawPacket{}, nil, err
	}
	pkts, err := splitPackets(buf.Bytes())
	if err != nil || len(pkts) != 1 || !bytes.HasPrefix(p.body, pkts[0].body) || len(p.body) == len(pkts[0].body) {
		return rawPacket{}, nil, errors.New("the secret key packet does not begin with its public key")
	}
	return pkts[0], pub, nil
}

// packetHeader is a new-format packet header (RFC 9580 4.2.1).
func packetHeader(tag, n int) []byte {
	switch {
	case n < 192:
		return []byte{0xc0 | byte(tag), byte(n)}
	case n < 8384:
		n -= 192
		return []byte{0xc0 | byte(tag), byte(n>>8) + 192, byte(n)}
	}
	return []byte{0xc0 | byte(tag), 255, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}
}

// secretUnprotected reports whether a secret key packet holds its secret
// key in the clear (S2K usage octet 0, RFC 9580 5.5.3), reading only the
// public key fields before it.
func secretUnprotected(p rawPacket) bool {
	pub, _, err := publicPacket(p)
	return err == nil && p.tag != pub.tag && p.body[len(pub.body)] == 0
}

// groupCerts splits a packet stream into transferable keys, plus the
// signatures that stand alone before any key (revocation certificates).
func groupCerts(pkts []rawPacket) (certs []*cert, loose []rawPacket, err error) {
	var cur *cert
	var last *component
	for _, p := range pkts {
		switch p.tag {
		case tagPublicKey, tagSecretKey:
			pub, key, err := publicPacket(p)
			last = nil
			if err != nil {
				// An unsupported key (e.g. v3) is skipped, not fatal: the
				// rest of a keyring still imports.
				cur = &cert{unsupported: err}
				certs = append(certs, cur)
				continue
			}
			if err := checkKeySize(key, false); err != nil {
				return nil, nil, err
			}
			cur = &cert{primary: pub, key: key}
			if p.tag == tagSecretKey {
				cur.secret = p
			}
			certs = append(certs, cur)
		case tagPublicSubkey, tagSecretSubkey, tagUserID, tagSignature, tagUserAttribute:
			if cur != nil && cur.unsupported != nil {
				continue
			}
			if err := cur.add(p, &last, &loose); err != nil {
				return nil, nil, err
			}
		case tagTrust, tagPadding:
		default:
			return nil, nil, fmt.Errorf("unexpected packet (tag %d) in a key", p.tag)
		}
	}
	return certs, loose, nil
}

// add files a packet that follows the primary key of c (c is nil before
// any key: then only standalone signatures are allowed).
func (c *cert) add(p rawPacket, last **component, loose *[]rawPacket) error {
	switch p.tag {
	case tagPublicSubkey, tagSecretSubkey:
		if c == nil {
			return errors.New("subkey before any primary key")
		}
		pub, key, err := publicPacket(p)
		if err != nil {
			// An unsupported subkey is dropped with its signatures.
			*last = &component{}
			return nil
		}
		if err := checkKeySize(key, true); err != nil {
			return err
		}
		sub := component{pkt: pub, key: key}
		if p.tag == tagSecretSubkey {
			sub.secret = p
		}
		c.subkeys = append(c.subkeys, sub)
		*last = &c.subkeys[len(c.subkeys)-1]
	case tagUserID:
		if c == nil {
			return errors.New("user ID before any primary key")
		}
		parsed, err := packet.Read(bytes.NewReader(p.raw))
		uid, ok := parsed.(*packet.UserId)
		if err != nil || !ok {
			return errors.New("unreadable user ID")
		}
		c.uids = append(c.uids, component{pkt: p, uid: uid})
		*last = &c.uids[len(c.uids)-1]
	case tagUserAttribute:
		// Photo IDs and other attributes are not kept.
		if c != nil {
			*last = &component{}
		}
	case tagSignature:
		switch {
		case c == nil:
			*loose = append(*loose, p)
		case *last == nil:
			c.direct = append(c.direct, p)
		default:
			(*last).sigs = append((*last).sigs, p)
		}
	}
	return nil
}

func parseSig(p rawPacket) *packet.Signature {
	parsed, err := packet.Read(bytes.NewReader(p.raw))
	if err != nil {
		return nil
	}
	sig, _ := parsed.(*packet.Signature)
	return sig
}

// selfIssued reports whether sig claims to be made by key (or names no issuer).
func selfIssued(sig *packet.Signature, key *packet.PublicKey) bool {
	if len(sig.IssuerFingerprint) > 0 {
		return bytes.Equal(sig.IssuerFingerprint, key.Fingerprint)
	}
	if sig.IssuerKeyId != nil {
		return *sig.IssuerKeyId == key.KeyId
	}
	return true
}

// verifyDirect checks a signature on the primary key itself.
func verifyDirect(key *packet.PublicKey, p rawPacket) (*packet.Signature, bool) {
	sig := parseSig(p)
	if sig == nil || !selfIssued(sig, key) {
		return nil, false
	}
	switch sig.SigType {
	case packet.SigTypeKeyRevocation:
		return sig, key.VerifyRevocationSignature(sig) == nil
	case packet.SigTypeDirectSignature:
		return sig, key.VerifyDirectKeySignature(sig) == nil
	}
	return sig, false
}

// verifyUID checks a self-certification or self-revocation of a user ID.
// Third-party certifications cannot be checked here and are not kept.
func verifyUID(key *packet.PublicKey, uid *packet.UserId, p rawPacket) bool {
	sig := parseSig(p)
	if sig == nil || !selfIssued(sig, key) {
		return false
	}
	switch sig.SigType {
	case packet.SigTypeGenericCert, packet.SigTypePersonaCert, packet.SigTypeCasualCert,
		packet.SigTypePositiveCert, packet.SigTypeCertificationRevocation:
		return key.VerifyUserIdSignature(uid.Id, key, sig) == nil
	}
	return false
}

// verifySubkey checks a subkey binding (with the back-signature of a
// signing subkey) or a subkey revocation.
func verifySubkey(key, sub *packet.PublicKey, p rawPacket) bool {
	sig := parseSig(p)
	if sig == nil || !selfIssued(sig, key) {
		return false
	}
	switch sig.SigType {
	case packet.SigTypeSubkeyBinding:
		return key.VerifyKeySignature(sub, sig) == nil
	case packet.SigTypeSubkeyRevocation:
		return key.VerifySubkeyRevocationSignature(sig, sub) == nil
	}
	return false
}

func hasPacket(list []rawPacket, p rawPacket) bool {
	for _, q := range list {
		if bytes.Equal(q.raw, p.raw) {
			return true
		}
	}
	return false
}

// merge adds to old (nil for a new certificate) what in update is validly
// bound to the primary key, and says what changed. Key material already
// stored is never replaced. The result stays within the limits of a stored
// certificate (see limits.go); merge stops at the first one exceeded.
func merge(old, update *cert) (*cert, []string, error) {
	var changes []string
	res := old
	if res == nil {
		res = &cert{primary: update.primary, key: update.key}
	}
	key := res.key
	size := len(res.serialize())
	grow := func(n int) error {
		if size += n; size > maxCertBytes {
			return fmt.Errorf("the key takes more than %d KiB even without third-party certifications; mailseal keeps keys of at most %d KiB",
				maxCertBytes>>10, maxCertBytes>>10)
		}
		return nil
	}
	for _, p := range update.direct {
		if hasPacket(res.direct, p) {
			continue
		}
		if sig, ok := verifyDirect(key, p); ok {
			if len(res.direct) >= maxComponentSigs {
				return nil, nil, fmt.Errorf("the primary key has more than %d direct-key signatures and revocations; mailseal keeps at most %d",
					maxComponentSigs, maxComponentSigs)
			}
			if err := grow(len(p.raw)); err != nil {
				return nil, nil, err
			}
			res.direct = append(res.direct, p)
			if sig.SigType == packet.SigTypeKeyRevocation {
				changes = append(changes, "revoked")
			} else if old != nil {
				changes = append(changes, "new direct-key signature")
			}
		}
	}
	var newUIDs, newSubkeys []component
	var newSigs, n int
	var err error
	res.uids, newUIDs, newSigs, err = mergeComponents(res.uids, update.uids, componentKind{
		plural: "user IDs", max: maxUserIDs, sigs: "self-signatures",
		id:     func(c component) string { return string(c.pkt.body) },
		name:   func(c component) string { return fmt.Sprintf("the user ID %.80q", c.uid.Id) },
		verify: func(c component, p rawPacket) bool { return verifyUID(key, c.uid, p) },
	}, grow)
	if err != nil {
		return nil, nil, err
	}
	if old != nil {
		for _, u := range newUIDs {
			changes = append(changes, "new user ID "+u.uid.Id)
		}
	}
	res.subkeys, newSubkeys, n, err = mergeComponents(res.subkeys, update.subkeys, componentKind{
		plural: "subkeys", max: maxSubkeys, sigs: "binding signatures",
		id:     func(c component) string { return string(c.key.Fingerprint) },
		name:   func(c component) string { return fmt.Sprintf("the subkey %X", c.key.KeyId) },
		verify: func(c component, p rawPacket) bool { return verifySubkey(key, c.key, p) },
	}, grow)
	if err != nil {
		return nil, nil, err
	}
	newSigs += n
	if old == nil {
		if len(res.uids) == 0 && len(res.direct) == 0 {
			return nil, nil, errors.New("no valid self-signature: the key is not bound to any user ID")
		}
		changes = append(changes, fmt.Sprintf("new key (%d user IDs, %d subkeys)", len(res.uids), len(res.subkeys)))
		return res, changes, nil
	}
	if len(newSubkeys) > 0 {
		changes = append(changes, fmt.Sprintf("%d new subkeys", len(newSubkeys)))
	}
	if newSigs > 0 {
		changes = append(changes, fmt.Sprintf("%d new signatures", newSigs))
	}
	return res, changes, nil
}

// componentKind says how merge treats user IDs or subkeys.
type componentKind struct {
	plural string // for errors: "user IDs"
	max    int
	sigs   string // for errors: "self-signatures"
	// id matches a component of an update to a stored one.
	id func(component) string
	// name names a component in errors.
	name func(component) string
	// verify checks a signature on a component.
	verify func(component, rawPacket) bool
}

// mergeComponents adds to held the components of update that have a
// signature verify accepts, and to the components already held their new
// ones, within the limits (maxComponentSigs signatures each, k.max
// components); grow accounts for the bytes added. It returns the merged
// list, the components added and the number of signatures added to those
// held.
func mergeComponents(held, update []component, k componentKind, grow func(int) error) (merged, added []component, newSigs int, err error) {
	index := make(map[string]int, len(held))
	for i, c := range held {
		index[k.id(c)] = i
	}
	for _, u := range update {
		i, known := index[k.id(u)]
		var have []rawPacket
		if known {
			have = held[i].sigs
		}
		var valid []rawPacket
		for _, p := range u.sigs {
			if hasPacket(have, p) || hasPacket(valid, p) || !k.verify(u, p) {
				continue
			}
			if len(have)+len(valid) >= maxComponentSigs {
				return nil, nil, 0, fmt.Errorf("%s has more than %d %s and revocations; mailseal keeps at most %d",
					k.name(u), maxComponentSigs, k.sigs, maxComponentSigs)
			}
			if err := grow(len(p.raw)); err != nil {
				return nil, nil, 0, err
			}
			valid = append(valid, p)
		}
		switch {
		case len(valid) == 0:
		case known:
			held[i].sigs = append(held[i].sigs, valid...)
			newSigs += len(valid)
		case len(held) >= k.max:
			return nil, nil, 0, fmt.Errorf("the key has more than %d %s; mailseal keeps at most %d", k.max, k.plural, k.max)
		default:
			if err := grow(len(u.pkt.raw)); err != nil {
				return nil, nil, 0, err
			}
			u.sigs, u.secret = valid, rawPacket{}
			index[k.id(u)] = len(held)
			held = append(held, u)
			added = append(added, u)
		}
	}
	return held, added, newSigs, nil
}

// serialize writes the certificate as a binary transferable public key.
func (c *cert) serialize() []byte {
	return c.serializeWith(c.primary, func(sk component) (rawPacket, bool) { return sk.pkt, true })
}

// serializeWith writes the certificate with primary as its primary key
// packet and each subkey's packet as subkey chooses (false: the subkey is
// left out).
func (c *cert) serializeWith(primary rawPacket, subkey func(component) (rawPacket, bool)) []byte {
	var b bytes.Buffer
	b.Write(primary.raw)
	for _, p := range c.direct {
		b.Write(p.raw)
	}
	for _, u := range c.uids {
		b.Write(u.pkt.raw)
		for _, p := range u.sigs {
			b.Write(p.raw)
		}
	}
	for _, sk := range c.subkeys {
		pkt, ok := subkey(sk)
		if !ok {
			continue
		}
		b.Write(pkt.raw)
		for _, p := range sk.sigs {
			b.Write(p.raw)
		}
	}
	return b.Bytes()
}

// secretKeyFile is the transferable secret key to store for the input c
// (a transferable secret key) once merged into the stored certificate m:
// c's secret key packets with the user IDs, subkeys and signatures of m,
// which are validly bound and within the limits. Subkeys without a secret
// key packet in c are left out, as are third-party certifications and
// whatever else merge did not keep.
func secretKeyFile(c, m *cert) []byte {
	secret := map[string]rawPacket{}
	for _, sk := range c.subkeys {
		if len(sk.secret.raw) > 0 {
			secret[string(sk.key.Fingerprint)] = sk.secret
		}
	}
	return m.serializeWith(c.secret, func(sk component) (rawPacket, bool) {
		p, ok := secret[string(sk.key.Fingerprint)]
		return p, ok
	})
}

// parseStored reads a stored certificate file.
func parseStored(data []byte) (*cert, error) {
	pkts, err := splitPackets(data)
	if err != nil {
		return nil, err
	}
	certs, _, err := groupCerts(pkts)
	if err != nil {
		return nil, err
	}
	if len(certs) != 1 {
		return nil, fmt.Errorf("holds %d certificates", len(certs))
	}
	return certs[0], nil
}

func upper(fpr string) string { return strings.ToUpper(fpr) }
