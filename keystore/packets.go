package keystore

import (
	"bytes"
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
		b := data[0]
		if b&0x80 == 0 {
			return nil, errors.New("not an OpenPGP packet")
		}
		var tag, hdr, n int
		if b&0x40 != 0 { // new format
			tag = int(b & 0x3f)
			if len(data) < 2 {
				return nil, errors.New("truncated packet header")
			}
			switch l := int(data[1]); {
			case l < 192:
				hdr, n = 2, l
			case l < 224:
				if len(data) < 3 {
					return nil, errors.New("truncated packet header")
				}
				hdr, n = 3, (l-192)<<8+int(data[2])+192
			case l == 255:
				if len(data) < 6 {
					return nil, errors.New("truncated packet header")
				}
				v := uint32(data[2])<<24 | uint32(data[3])<<16 | uint32(data[4])<<8 | uint32(data[5])
				if v > 1<<26 {
					return nil, errors.New("packet too large for a key")
				}
				hdr, n = 6, int(v)
			default:
				return nil, errors.New("partial-length packet in a key")
			}
		} else { // old format
			tag = int(b>>2) & 0x0f
			switch b & 3 {
			case 0:
				if len(data) < 2 {
					return nil, errors.New("truncated packet header")
				}
				hdr, n = 2, int(data[1])
			case 1:
				if len(data) < 3 {
					return nil, errors.New("truncated packet header")
				}
				hdr, n = 3, int(data[1])<<8|int(data[2])
			case 2:
				if len(data) < 5 {
					return nil, errors.New("truncated packet header")
				}
				v := uint32(data[1])<<24 | uint32(data[2])<<16 | uint32(data[3])<<8 | uint32(data[4])
				if v > 1<<26 {
					return nil, errors.New("packet too large for a key")
				}
				hdr, n = 5, int(v)
			default:
				return nil, errors.New("indeterminate-length packet in a key")
			}
		}
		if len(data) < hdr+n {
			return nil, errors.New("truncated packet")
		}
		out = append(out, rawPacket{tag: tag, raw: data[:hdr+n], body: data[hdr : hdr+n]})
		data = data[hdr+n:]
	}
	return out, nil
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
	pkt  rawPacket
	key  *packet.PublicKey // subkeys
	uid  *packet.UserId    // user IDs
	sigs []rawPacket
}

// cert is a transferable public key, packet by packet.
type cert struct {
	primary rawPacket // always a public key packet
	key     *packet.PublicKey
	direct  []rawPacket // direct-key signatures and key revocations
	uids    []component
	subkeys []component
	// secret holds the packets of a transferable secret key when the input
	// was one.
	secret []rawPacket
	// unsupported says why a key could not be read (e.g. a v3 key); such a
	// key is reported and skipped.
	unsupported error
}

func (c *cert) fingerprint() string { return hex.EncodeToString(c.key.Fingerprint) }

// publicPacket turns a (secret) key packet into its public key packet.
func publicPacket(p rawPacket) (rawPacket, *packet.PublicKey, error) {
	parsed, err := packet.Read(bytes.NewReader(p.raw))
	if err != nil {
		return rawPacket{}, nil, err
	}
	var pub *packet.PublicKey
	switch k := parsed.(type) {
	case *packet.PublicKey:
		return p, k, nil
	case *packet.PrivateKey:
		pub = &k.PublicKey
	default:
		return rawPacket{}, nil, errors.New("not a key packet")
	}
	var buf bytes.Buffer
	if err := pub.Serialize(&buf); err != nil {
		return rawPacket{}, nil, err
	}
	pkts, err := splitPackets(buf.Bytes())
	if err != nil || len(pkts) != 1 {
		return rawPacket{}, nil, errors.New("cannot re-serialize the public key")
	}
	return pkts[0], pub, nil
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
			cur = &cert{primary: pub, key: key}
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
		if cur != nil && cur.unsupported == nil && (p.tag == tagSecretKey || p.tag == tagSecretSubkey || (len(cur.secret) > 0 && p.tag != tagTrust)) {
			cur.secret = append(cur.secret, p)
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
		c.subkeys = append(c.subkeys, component{pkt: pub, key: key})
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
// stored is never replaced.
func merge(old, update *cert) (*cert, []string, error) {
	var changes []string
	res := old
	if res == nil {
		res = &cert{primary: update.primary, key: update.key}
	}
	key := res.key
	for _, p := range update.direct {
		if hasPacket(res.direct, p) {
			continue
		}
		if sig, ok := verifyDirect(key, p); ok {
			res.direct = append(res.direct, p)
			if sig.SigType == packet.SigTypeKeyRevocation {
				changes = append(changes, "revoked")
			} else if old != nil {
				changes = append(changes, "new direct-key signature")
			}
		}
	}
	newUIDs, newSigs := 0, 0
	for _, u := range update.uids {
		var target *component
		for i := range res.uids {
			if bytes.Equal(res.uids[i].pkt.body, u.pkt.body) {
				target = &res.uids[i]
			}
		}
		var valid []rawPacket
		for _, p := range u.sigs {
			if (target == nil || !hasPacket(target.sigs, p)) && !hasPacket(valid, p) && verifyUID(key, u.uid, p) {
				valid = append(valid, p)
			}
		}
		if len(valid) == 0 {
			continue
		}
		if target == nil {
			res.uids = append(res.uids, component{pkt: u.pkt, uid: u.uid, sigs: valid})
			newUIDs++
			if old != nil {
				changes = append(changes, "new user ID "+u.uid.Id)
			}
			continue
		}
		target.sigs = append(target.sigs, valid...)
		newSigs += len(valid)
	}
	newSubkeys := 0
	for _, sk := range update.subkeys {
		var target *component
		for i := range res.subkeys {
			if bytes.Equal(res.subkeys[i].key.Fingerprint, sk.key.Fingerprint) {
				target = &res.subkeys[i]
			}
		}
		var valid []rawPacket
		for _, p := range sk.sigs {
			if (target == nil || !hasPacket(target.sigs, p)) && !hasPacket(valid, p) && verifySubkey(key, sk.key, p) {
				valid = append(valid, p)
			}
		}
		if len(valid) == 0 {
			continue
		}
		if target == nil {
			res.subkeys = append(res.subkeys, component{pkt: sk.pkt, key: sk.key, sigs: valid})
			newSubkeys++
			continue
		}
		target.sigs = append(target.sigs, valid...)
		newSigs += len(valid)
	}
	if old == nil {
		if len(res.uids) == 0 && len(res.direct) == 0 {
			return nil, nil, errors.New("no valid self-signature: the key is not bound to any user ID")
		}
		changes = append(changes, fmt.Sprintf("new key (%d user IDs, %d subkeys)", len(res.uids), len(res.subkeys)))
		return res, changes, nil
	}
	if newSubkeys > 0 {
		changes = append(changes, fmt.Sprintf("%d new subkeys", newSubkeys))
	}
	if newSigs > 0 {
		changes = append(changes, fmt.Sprintf("%d new signatures", newSigs))
	}
	_ = newUIDs
	return res, changes, nil
}

// serialize writes the certificate as a binary transferable public key.
func (c *cert) serialize() []byte {
	var b bytes.Buffer
	b.Write(c.primary.raw)
	for _, p := range c.direct {
		b.Write(p.raw)
	}
	for _, list := range [][]component{c.uids, c.subkeys} {
		for _, comp := range list {
			b.Write(comp.pkt.raw)
			for _, p := range comp.sigs {
				b.Write(p.raw)
			}
		}
	}
	return b.Bytes()
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
