// Package pkcs12 reads PKCS#12 files (RFC 7292) as mail users bring them:
// exported from Windows, macOS, Thunderbird, Java or OpenSSL old and new.
// That means BER with indefinite lengths and segmented OCTET STRINGs; any
// number of SafeContents, plain or password-encrypted; certificate and key
// bags in any order, nested SafeContents bags, and files with certificates
// only; the legacy password-based ciphers (pbeWithSHAAnd3-KeyTripleDES-CBC,
// pbeWithSHAAnd40BitRC2-CBC and their 2-key and 128-bit siblings) as well
// as PBES2 (PBKDF2 with AES-CBC or 3DES); and MACs with SHA-1 or SHA-2.
//
// Decode checks the MAC (when the file has one) before anything is
// decrypted, so a wrong password is told apart from a damaged file. The
// private keys come back parsed (PKCS#8) with the certificates; which
// certificate belongs to which key is the caller's to decide (by public
// key: the localKeyID attributes are returned too, but they are not
// always there).
//
// It reads only: mailseal writes its own PKCS#12 files with
// software.sslmate.com/src/go-pkcs12 (AES-256-CBC, PBKDF2-HMAC-SHA-256),
// which this package reads too. Public-key privacy mode (EnvelopedData
// SafeContents) and PBMAC1 are not supported and say so.
//
// The password-based ciphers it needs and the standard library lacks are
// here: the PKCS#12 key derivation (kdf.go, checked against openssl's
// PKCS12KDF) and RC2 (rc2.go, checked against RFC 2268's vectors and
// openssl's RC2-CBC).
package pkcs12
