package pkcs12

import (
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"hash"
	"unicode/utf16"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// ErrPassword is returned when the password does not open the file: its
// MAC does not verify, or (without a MAC) an encrypted bag does not
// decrypt.
var ErrPassword = errors.New("pkcs12: wrong password")

// MaxIterations bounds the work of all the key derivations of one file
// together, counted in hash blocks (an iteration count times the blocks it
// derives), so that a hostile file cannot make Decode run for long (a
// second or two at most). Real files use 1 to a few hundred thousand
// iterations per derivation, and three or four derivations.
const MaxIterations = 10_000_000

// maxBags bounds the number of bags in a file.
const maxBags = 10_000

// File is what a PKCS#12 file holds.
type File struct {
	Keys  []Key
	Certs []Cert
}

// Key is a private key with its bag attributes.
type Key struct {
	Key          crypto.PrivateKey
	FriendlyName string
	LocalKeyID   []byte
}

// Cert is a certificate with its bag attributes.
type Cert struct {
	Cert         *x509.Certificate
	FriendlyName string
	LocalKeyID   []byte
}

var (
	oidData                 = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	oidEncryptedData        = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 6}
	oidEnvelopedData        = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 3}
	oidKeyBag               = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 1}
	oidShroudedKeyBag       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 2}
	oidCertBag              = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 3}
	oidSafeContentsBag      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 6}
	oidX509Certificate      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 22, 1}
	oidFriendlyName         = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 20}
	oidLocalKeyID           = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 21}
	oidPBES2                = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
	oidPBKDF2               = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}
	oidPBMAC1               = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 14}
	oidDESEDE3CBC           = asn1.ObjectIdentifier{1, 2, 840, 113549, 3, 7}
	oidAES128CBC            = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 2}
	oidAES192CBC            = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 22}
	oidAES256CBC            = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}
	oidPBEWithSHA3KeyDES    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 1, 3}
	oidPBEWithSHA2KeyDES    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 1, 4}
	oidPBEWithSHA128BitRC2  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 1, 5}
	oidPBEWithSHA40BitRC2   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 1, 6}
	oidPBEWithSHA128BitRC4  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 1, 1}
	oidPBEWithSHA40BitRC4   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 1, 2}
	oidSHA1                 = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}
	oidSHA224               = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 4}
	oidSHA256               = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidSHA384               = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	oidSHA512               = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}
	oidHMACWithSHA1         = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 7}
	oidHMACWithSHA224       = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 8}
	oidHMACWithSHA256       = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 9}
	oidHMACWithSHA384       = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 10}
	oidHMACWithSHA512       = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 11}
	errMalformed            = errors.New("pkcs12: malformed file")
	errUnsupportedPublicKey = errors.New("pkcs12: the file is encrypted to a certificate (public-key privacy mode), which is not supported: export it again with a password")
)

// IsPFX reports whether data starts like a PKCS#12 PFX (a SEQUENCE, of
// definite or indefinite length, whose first element is an INTEGER),
// rather than PKCS#7, a certificate or a CRL.
func IsPFX(data []byte) bool {
	tag, body, indefinite, rest, err := header(data)
	if err != nil || len(tag) != 1 || tag[0] != 0x30 {
		return false
	}
	if indefinite {
		body = rest
	}
	return len(body) > 0 && body[0] == 0x02
}

// Decode reads a PKCS#12 file with password (as typed: UTF-8).
func Decode(data []byte, password string) (*File, error) {
	der, err := normalize(data)
	if err != nil {
		return nil, fmt.Errorf("pkcs12: %v", err)
	}
	in := cryptobyte.String(der)
	var pfx, authSafe, content cryptobyte.String
	var version int
	var contentType asn1.ObjectIdentifier
	if !in.ReadASN1(&pfx, cbasn1.SEQUENCE) || !pfx.ReadASN1Integer(&version) || version != 3 ||
		!pfx.ReadASN1(&authSafe, cbasn1.SEQUENCE) || !authSafe.ReadASN1ObjectIdentifier(&contentType) {
		return nil, fmt.Errorf("%w: not a version 3 PFX", errMalformed)
	}
	if !contentType.Equal(oidData) {
		return nil, errors.New("pkcs12: the file is signed (public-key integrity mode), which is not supported: export it again with a password")
	}
	if !authSafe.ReadASN1(&content, cbasn1.Tag(0).Constructed().ContextSpecific()) {
		return nil, fmt.Errorf("%w: no authSafe content", errMalformed)
	}
	authData, err := octets(content)
	if err != nil {
		return nil, err
	}
	// Passwords as PKCS#12 derives keys from them: BMP with a final NUL
	// (an empty one is also tried as no bytes at all, as some writers do);
	// PBES2 takes them as typed.
	candidates := [][]byte{bmpPassword(password)}
	if password == "" {
		candidates = append(candidates, nil)
	}
	d := &decoder{bmp: candidates[0], utf8: []byte(password), file: &File{}}
	if !pfx.Empty() {
		found := false
		for _, p := range candidates {
			ok, err := d.checkMAC(pfx, authData, p)
			if err != nil {
				return nil, err
			}
			if ok {
				d.bmp, found = p, true
				break
			}
		}
		if !found {
			return nil, ErrPassword
		}
	}
	if err := d.authenticatedSafe(authData); err != nil {
		return nil, err
	}
	return d.file, nil
}

// octets returns the contents of an OCTET STRING at the start of s, or of
// an implicitly tagged one (primitive, or constructed of OCTET STRINGs).
func octets(s cryptobyte.String) ([]byte, error) {
	var out []byte
	var tag cbasn1.Tag
	var body cryptobyte.String
	if !s.ReadAnyASN1(&body, &tag) {
		return nil, errMalformed
	}
	if tag&0x20 == 0 {
		return body, nil
	}
	for !body.Empty() {
		var seg cryptobyte.String
		if !body.ReadASN1(&seg, cbasn1.OCTET_STRING) {
			return nil, fmt.Errorf("%w: a segment of a constructed string is not an OCTET STRING", errMalformed)
		}
		out = append(out, seg...)
	}
	return out, nil
}

// checkMAC verifies the MacData in rest over data with a BMP password.
func (d *decoder) checkMAC(rest cryptobyte.String, data, bmp []byte) (bool, error) {
	var macData, digestInfo, alg, digest, salt cryptobyte.String
	var oid asn1.ObjectIdentifier
	iterations := 1
	if !rest.ReadASN1(&macData, cbasn1.SEQUENCE) || !macData.ReadASN1(&digestInfo, cbasn1.SEQUENCE) ||
		!digestInfo.ReadASN1(&alg, cbasn1.SEQUENCE) || !alg.ReadASN1ObjectIdentifier(&oid) ||
		!digestInfo.ReadASN1(&digest, cbasn1.OCTET_STRING) || !macData.ReadASN1(&salt, cbasn1.OCTET_STRING) {
		return false, fmt.Errorf("%w: bad MacData", errMalformed)
	}
	if !macData.Empty() && !macData.ReadASN1Integer(&iterations) {
		return false, fmt.Errorf("%w: bad MAC iteration count", errMalformed)
	}
	if oid.Equal(oidPBMAC1) {
		return false, errors.New("pkcs12: the file's MAC is PBMAC1, which is not supported yet: export it again with a SHA-256 MAC (openssl pkcs12 -export -macalg sha256)")
	}
	h, ok := digestHash(oid)
	if !ok {
		return false, fmt.Errorf("pkcs12: unsupported MAC digest %v", oid)
	}
	if err := d.spend(iterations); err != nil {
		return false, err
	}
	key := deriveKey(h, kdfMAC, bmp, salt, iterations, h().Size())
	mac := hmac.New(h, key)
	mac.Write(data)
	return subtle.ConstantTimeCompare(mac.Sum(nil), digest) == 1, nil
}

// hashes are the SHA-1 and SHA-2 hashes by their digest OID (MacData) and
// their HMAC OID (PBKDF2's PRF).
var hashes = []struct {
	digest, hmac asn1.ObjectIdentifier
	new          func() hash.Hash
}{
	{oidSHA1, oidHMACWithSHA1, sha1.New},
	{oidSHA224, oidHMACWithSHA224, sha256.New224},
	{oidSHA256, oidHMACWithSHA256, sha256.New},
	{oidSHA384, oidHMACWithSHA384, sha512.New384},
	{oidSHA512, oidHMACWithSHA512, sha512.New},
}

func digestHash(oid asn1.ObjectIdentifier) (func() hash.Hash, bool) {
	for _, h := range hashes {
		if h.digest.Equal(oid) {
			return h.new, true
		}
	}
	return nil, false
}

type decoder struct {
	bmp, utf8  []byte
	file       *File
	bags       int
	iterations int // spent so far, of MaxIterations
}

// spendBlocks counts a key derivation of n iterations over up to blocks
// hash blocks against MaxIterations.
func (d *decoder) spendBlocks(n, blocks int) error {
	if n < 1 {
		return d.spend(n)
	}
	if n > MaxIterations/blocks {
		return fmt.Errorf("pkcs12: the file's key derivations take more than %d iterations in all", MaxIterations)
	}
	return d.spend(n * blocks)
}

// spend counts a key derivation of n iterations against MaxIterations.
func (d *decoder) spend(n int) error {
	if n < 1 {
		return fmt.Errorf("%w: iteration count %d", errMalformed, n)
	}
	if n > MaxIterations-d.iterations {
		return fmt.Errorf("pkcs12: the file's key derivations take more than %d iterations in all", MaxIterations)
	}
	d.iterations += n
	return nil
}

// authenticatedSafe reads the SEQUENCE OF ContentInfo.
func (d *decoder) authenticatedSafe(data []byte) error {
	der, err := normalize(data)
	if err != nil {
		return fmt.Errorf("pkcs12: authenticated safe: %v", err)
	}
	in := cryptobyte.String(der)
	var infos cryptobyte.String
	if !in.ReadASN1(&infos, cbasn1.SEQUENCE) {
		return fmt.Errorf("%w: authenticated safe is not a SEQUENCE", errMalformed)
	}
	for !infos.Empty() {
		var info, content cryptobyte.String
		var ct asn1.ObjectIdentifier
		if !infos.ReadASN1(&info, cbasn1.SEQUENCE) || !info.ReadASN1ObjectIdentifier(&ct) ||
			!info.ReadASN1(&content, cbasn1.Tag(0).Constructed().ContextSpecific()) {
			return fmt.Errorf("%w: bad ContentInfo", errMalformed)
		}
		var safe []byte
		switch {
		case ct.Equal(oidData):
			if safe, err = octets(content); err != nil {
				return err
			}
		case ct.Equal(oidEncryptedData):
			if safe, err = d.encryptedData(content); err != nil {
				return err
			}
		case ct.Equal(oidEnvelopedData):
			return errUnsupportedPublicKey
		default:
			return fmt.Errorf("pkcs12: unsupported content type %v", ct)
		}
		if err := d.safeContents(safe, 0); err != nil {
			return err
		}
	}
	return nil
}

// encryptedData decrypts an EncryptedData's content.
func (d *decoder) encryptedData(content cryptobyte.String) ([]byte, error) {
	var ed, eci, alg cryptobyte.String
	var version int
	var ct asn1.ObjectIdentifier
	if !content.ReadASN1(&ed, cbasn1.SEQUENCE) || !ed.ReadASN1Integer(&version) ||
		!ed.ReadASN1(&eci, cbasn1.SEQUENCE) || !eci.ReadASN1ObjectIdentifier(&ct) ||
		!eci.ReadASN1Element(&alg, cbasn1.SEQUENCE) {
		return nil, fmt.Errorf("%w: bad EncryptedData", errMalformed)
	}
	if eci.Empty() {
		return nil, nil // no content
	}
	ciphertext, err := octets(eci)
	if err != nil {
		return nil, err
	}
	return d.decrypt(alg, ciphertext)
}

// safeContents reads a SEQUENCE OF SafeBag.
func (d *decoder) safeContents(data []byte, depth int) error {
	if len(data) == 0 {
		return nil
	}
	if depth > 8 {
		return fmt.Errorf("%w: SafeContents nested too deep", errMalformed)
	}
	der, err := normalize(data)
	if err != nil {
		return fmt.Errorf("pkcs12: safe contents: %v", err)
	}
	in := cryptobyte.String(der)
	var bags cryptobyte.String
	if !in.ReadASN1(&bags, cbasn1.SEQUENCE) {
		return fmt.Errorf("%w: SafeContents is not a SEQUENCE", errMalformed)
	}
	for !bags.Empty() {
		if d.bags++; d.bags > maxBags {
			return fmt.Errorf("pkcs12: more than %d bags", maxBags)
		}
		var bag, value cryptobyte.String
		var id asn1.ObjectIdentifier
		if !bags.ReadASN1(&bag, cbasn1.SEQUENCE) || !bag.ReadASN1ObjectIdentifier(&id) ||
			!bag.ReadASN1(&value, cbasn1.Tag(0).Constructed().ContextSpecific()) {
			return fmt.Errorf("%w: bad SafeBag", errMalformed)
		}
		name, keyID, err := attributes(bag)
		if err != nil {
			return err
		}
		switch {
		case id.Equal(oidKeyBag):
			var pki cryptobyte.String
			if !value.ReadASN1Element(&pki, cbasn1.SEQUENCE) {
				return fmt.Errorf("%w: bad key bag", errMalformed)
			}
			if err := d.addKey(pki, name, keyID); err != nil {
				return err
			}
		case id.Equal(oidShroudedKeyBag):
			var epki, alg cryptobyte.String
			var ciphertext cryptobyte.String
			if !value.ReadASN1(&epki, cbasn1.SEQUENCE) || !epki.ReadASN1Element(&alg, cbasn1.SEQUENCE) ||
				!epki.ReadASN1(&ciphertext, cbasn1.OCTET_STRING) {
				return fmt.Errorf("%w: bad shrouded key bag", errMalformed)
			}
			pki, err := d.decrypt(alg, ciphertext)
			if err != nil {
				return err
			}
			if err := d.addKey(pki, name, keyID); err != nil {
				return err
			}
		case id.Equal(oidCertBag):
			var certBag, certValue cryptobyte.String
			var certType asn1.ObjectIdentifier
			if !value.ReadASN1(&certBag, cbasn1.SEQUENCE) || !certBag.ReadASN1ObjectIdentifier(&certType) ||
				!certBag.ReadASN1(&certValue, cbasn1.Tag(0).Constructed().ContextSpecific()) {
				return fmt.Errorf("%w: bad certificate bag", errMalformed)
			}
			if !certType.Equal(oidX509Certificate) {
				continue // SDSI certificates: nothing mail uses
			}
			der, err := octets(certValue)
			if err != nil {
				return err
			}
			c, err := x509.ParseCertificate(der)
			if err != nil {
				return fmt.Errorf("pkcs12: certificate bag: %v", err)
			}
			d.file.Certs = append(d.file.Certs, Cert{Cert: c, FriendlyName: name, LocalKeyID: keyID})
		case id.Equal(oidSafeContentsBag):
			var inner cryptobyte.String
			if !value.ReadASN1Element(&inner, cbasn1.SEQUENCE) {
				return fmt.Errorf("%w: bad SafeContents bag", errMalformed)
			}
			if err := d.safeContents(inner, depth+1); err != nil {
				return err
			}
		default:
			// CRL and secret bags: nothing the keystore takes from here.
		}
	}
	return nil
}

func (d *decoder) addKey(pki []byte, name string, keyID []byte) error {
	key, err := x509.ParsePKCS8PrivateKey(pki)
	if err != nil {
		return fmt.Errorf("pkcs12: private key: %v", err)
	}
	d.file.Keys = append(d.file.Keys, Key{Key: key, FriendlyName: name, LocalKeyID: keyID})
	return nil
}

// attributes reads a bag's friendlyName and localKeyID.
func attributes(bag cryptobyte.String) (name string, keyID []byte, err error) {
	if bag.Empty() {
		return "", nil, nil
	}
	var set cryptobyte.String
	if !bag.ReadASN1(&set, cbasn1.SET) {
		return "", nil, fmt.Errorf("%w: bad bag attributes", errMalformed)
	}
	for !set.Empty() {
		var attr, values cryptobyte.String
		var oid asn1.ObjectIdentifier
		if !set.ReadASN1(&attr, cbasn1.SEQUENCE) || !attr.ReadASN1ObjectIdentifier(&oid) || !attr.ReadASN1(&values, cbasn1.SET) {
			return "", nil, fmt.Errorf("%w: bad bag attribute", errMalformed)
		}
		switch {
		case oid.Equal(oidFriendlyName):
			var s cryptobyte.String
			if !values.ReadASN1(&s, cbasn1.Tag(30)) || len(s)%2 != 0 { // BMPString
				return "", nil, fmt.Errorf("%w: friendlyName is not a BMPString", errMalformed)
			}
			u := make([]uint16, len(s)/2)
			for i := range u {
				u[i] = uint16(s[2*i])<<8 | uint16(s[2*i+1])
			}
			name = string(utf16.Decode(u))
		case oid.Equal(oidLocalKeyID):
			var s cryptobyte.String
			if !values.ReadASN1(&s, cbasn1.OCTET_STRING) {
				return "", nil, fmt.Errorf("%w: localKeyID is not an OCTET STRING", errMalformed)
			}
			keyID = bytes.Clone(s)
		}
	}
	return name, keyID, nil
}

// decrypt decrypts ciphertext under the AlgorithmIdentifier alg.
func (d *decoder) decrypt(alg cryptobyte.String, ciphertext []byte) ([]byte, error) {
	var seq, params cryptobyte.String
	var oid asn1.ObjectIdentifier
	if !alg.ReadASN1(&seq, cbasn1.SEQUENCE) || !seq.ReadASN1ObjectIdentifier(&oid) {
		return nil, fmt.Errorf("%w: bad encryption algorithm", errMalformed)
	}
	params = seq
	var block cipher.Block
	var iv []byte
	var err error
	if oid.Equal(oidPBES2) {
		block, iv, err = d.pbes2(params)
	} else {
		block, iv, err = d.pkcs12PBE(oid, params)
	}
	if err != nil {
		return nil, err
	}
	if len(ciphertext) == 0 || len(ciphertext)%block.BlockSize() != 0 {
		return nil, fmt.Errorf("%w: encrypted data is not whole blocks", errMalformed)
	}
	out := make([]byte, len(ciphertext))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(out, ciphertext)
	pad := int(out[len(out)-1])
	if pad < 1 || pad > block.BlockSize() || pad > len(out) {
		return nil, ErrPassword
	}
	for _, b := range out[len(out)-pad:] {
		if int(b) != pad {
			return nil, ErrPassword
		}
	}
	return out[:len(out)-pad], nil
}

// pkcs12PBE sets up one of PKCS#12's own password-based ciphers (RFC 7292
// appendix C), whose keys and IVs come from the PKCS#12 key derivation
// with SHA-1.
func (d *decoder) pkcs12PBE(oid asn1.ObjectIdentifier, params cryptobyte.String) (cipher.Block, []byte, error) {
	var p, salt cryptobyte.String
	var iterations int
	if !params.ReadASN1(&p, cbasn1.SEQUENCE) || !p.ReadASN1(&salt, cbasn1.OCTET_STRING) || !p.ReadASN1Integer(&iterations) {
		return nil, nil, fmt.Errorf("%w: bad PBE parameters", errMalformed)
	}
	// The key takes up to two SHA-1 blocks of derivation, the IV one.
	if err := d.spendBlocks(iterations, 3); err != nil {
		return nil, nil, err
	}
	key := func(n int) []byte { return deriveKey(sha1.New, kdfKey, d.bmp, salt, iterations, n) }
	iv := func() []byte { return deriveKey(sha1.New, kdfIV, d.bmp, salt, iterations, 8) }
	switch {
	case oid.Equal(oidPBEWithSHA3KeyDES):
		b, err := des.NewTripleDESCipher(key(24))
		return b, iv(), err
	case oid.Equal(oidPBEWithSHA2KeyDES):
		k := key(16)
		b, err := des.NewTripleDESCipher(append(k, k[:8]...))
		return b, iv(), err
	case oid.Equal(oidPBEWithSHA128BitRC2):
		b, err := newRC2(key(16), 128)
		return b, iv(), err
	case oid.Equal(oidPBEWithSHA40BitRC2):
		b, err := newRC2(key(5), 40)
		return b, iv(), err
	case oid.Equal(oidPBEWithSHA128BitRC4), oid.Equal(oidPBEWithSHA40BitRC4):
		return nil, nil, errors.New("pkcs12: the file is encrypted with RC4, which is not supported: export it again (openssl pkcs12 -export)")
	}
	return nil, nil, fmt.Errorf("pkcs12: unsupported encryption algorithm %v", oid)
}

// pbes2 sets up PBES2 (RFC 8018): PBKDF2 with an HMAC, then AES-CBC or
// 3DES-CBC. The password goes in as typed (UTF-8), as OpenSSL and
// go-pkcs12 write it.
func (d *decoder) pbes2(params cryptobyte.String) (cipher.Block, []byte, error) {
	var p, kdf, kdfParams, enc, salt, prf cryptobyte.String
	var kdfOID, encOID asn1.ObjectIdentifier
	var iterations int
	if !params.ReadASN1(&p, cbasn1.SEQUENCE) || !p.ReadASN1(&kdf, cbasn1.SEQUENCE) || !kdf.ReadASN1ObjectIdentifier(&kdfOID) ||
		!p.ReadASN1(&enc, cbasn1.SEQUENCE) || !enc.ReadASN1ObjectIdentifier(&encOID) {
		return nil, nil, fmt.Errorf("%w: bad PBES2 parameters", errMalformed)
	}
	if !kdfOID.Equal(oidPBKDF2) {
		return nil, nil, fmt.Errorf("pkcs12: unsupported PBES2 key derivation %v", kdfOID)
	}
	if !kdf.ReadASN1(&kdfParams, cbasn1.SEQUENCE) || !kdfParams.ReadASN1(&salt, cbasn1.OCTET_STRING) || !kdfParams.ReadASN1Integer(&iterations) {
		return nil, nil, fmt.Errorf("%w: bad PBKDF2 parameters", errMalformed)
	}
	keyLen := 0
	if kdfParams.PeekASN1Tag(cbasn1.INTEGER) && !kdfParams.ReadASN1Integer(&keyLen) {
		return nil, nil, fmt.Errorf("%w: bad PBKDF2 key length", errMalformed)
	}
	h := sha1.New
	if kdfParams.PeekASN1Tag(cbasn1.SEQUENCE) {
		var prfOID asn1.ObjectIdentifier
		if !kdfParams.ReadASN1(&prf, cbasn1.SEQUENCE) || !prf.ReadASN1ObjectIdentifier(&prfOID) {
			return nil, nil, fmt.Errorf("%w: bad PBKDF2 PRF", errMalformed)
		}
		var ok bool
		if h, ok = hmacHash(prfOID); !ok {
			return nil, nil, fmt.Errorf("pkcs12: unsupported PBKDF2 PRF %v", prfOID)
		}
	}
	// PBKDF2 runs once per hash-sized block of the key: at most two here.
	if err := d.spendBlocks(iterations, 2); err != nil {
		return nil, nil, err
	}
	var iv cryptobyte.String
	if !enc.ReadASN1(&iv, cbasn1.OCTET_STRING) {
		return nil, nil, fmt.Errorf("%w: bad cipher IV", errMalformed)
	}
	var size int
	var newCipher func([]byte) (cipher.Block, error)
	switch {
	case encOID.Equal(oidAES128CBC):
		size, newCipher = 16, aes.NewCipher
	case encOID.Equal(oidAES192CBC):
		size, newCipher = 24, aes.NewCipher
	case encOID.Equal(oidAES256CBC):
		size, newCipher = 32, aes.NewCipher
	case encOID.Equal(oidDESEDE3CBC):
		size, newCipher = 24, des.NewTripleDESCipher
	default:
		return nil, nil, fmt.Errorf("pkcs12: unsupported PBES2 cipher %v", encOID)
	}
	if keyLen != 0 && keyLen != size {
		return nil, nil, fmt.Errorf("%w: PBKDF2 key length %d for a %d-byte key", errMalformed, keyLen, size)
	}
	key, err := pbkdf2.Key(h, string(d.utf8), salt, iterations, size)
	if err != nil {
		return nil, nil, fmt.Errorf("pkcs12: %v", err)
	}
	b, err := newCipher(key)
	if err != nil {
		return nil, nil, err
	}
	if len(iv) != b.BlockSize() {
		return nil, nil, fmt.Errorf("%w: IV of %d bytes", errMalformed, len(iv))
	}
	return b, iv, nil
}

func hmacHash(oid asn1.ObjectIdentifier) (func() hash.Hash, bool) {
	for _, h := range hashes {
		if h.hmac.Equal(oid) {
			return h.new, true
		}
	}
	return nil, false
}
