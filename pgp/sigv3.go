package pgp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/big"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// Version 3 signature packets (RFC 4880 section 5.2.2) are what PGP 2 and
// 5-8 made, and gpg with --force-v3-sigs (a common setting until 2014, and
// gpg 1.4's default for some keys); old archives are full of them.
// go-crypto does not read them (it skips them as unsupported), so
// parseSignatureV3 does, into a packet.Signature that go-crypto's
// PublicKey.VerifySignature checks: a v3 signature hashes the data and then
// only its type and creation time, which is its HashSuffix.

// parseSignatureV3 parses the body of a version 2 or 3 signature packet
// (version 2 is the same format).
func parseSignatureV3(body []byte) (*packet.Signature, error) {
	// version, hashed length (5), type, creation time (4), key ID (8),
	// public key algorithm, hash algorithm, left 16 bits of the hash.
	const fixed = 1 + 1 + 1 + 4 + 8 + 1 + 1 + 2
	if len(body) < fixed {
		return nil, errors.New("version 3 signature packet is truncated")
	}
	if body[0] != 2 && body[0] != 3 {
		return nil, fmt.Errorf("signature packet version %d is not version 3", body[0])
	}
	if body[1] != 5 {
		return nil, fmt.Errorf("version 3 signature packet has %d hashed bytes, not 5", body[1])
	}
	keyID := binary.BigEndian.Uint64(body[7:15])
	sig := &packet.Signature{
		Version:      3,
		SigType:      packet.SignatureType(body[2]),
		CreationTime: time.Unix(int64(binary.BigEndian.Uint32(body[3:7])), 0),
		IssuerKeyId:  &keyID,
		PubKeyAlgo:   packet.PublicKeyAlgorithm(body[15]),
		HashSuffix:   append([]byte(nil), body[2:7]...),
		HashTag:      [2]byte{body[17], body[18]},
	}
	h, ok := hashFromID(body[16])
	if !ok {
		return nil, fmt.Errorf("version 3 signature with unknown hash algorithm %d", body[16])
	}
	sig.Hash = h
	rest := body[fixed:]
	var err error
	switch sig.PubKeyAlgo {
	case packet.PubKeyAlgoRSA, packet.PubKeyAlgoRSASignOnly:
		var m mpi
		if m, rest, err = readMPI(rest); err == nil {
			sig.RSASignature = m
		}
	case packet.PubKeyAlgoDSA:
		var r, s mpi
		if r, rest, err = readMPI(rest); err == nil {
			if s, rest, err = readMPI(rest); err == nil {
				sig.DSASigR, sig.DSASigS = r, s
			}
		}
	default:
		return nil, fmt.Errorf("version 3 signature with public key algorithm %d (only RSA and DSA made them)", sig.PubKeyAlgo)
	}
	if err != nil {
		return nil, fmt.Errorf("version 3 signature: %v", err)
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("version 3 signature has %d bytes after its signature value", len(rest))
	}
	return sig, nil
}

// mpi is an OpenPGP multiprecision integer, as go-crypto's signature fields
// (encoding.Field) hold it.
type mpi struct {
	bytes     []byte // big-endian, no leading zero bytes
	bitLength uint16
}

func newMPI(b []byte) mpi {
	n := new(big.Int).SetBytes(b)
	return mpi{bytes: n.Bytes(), bitLength: uint16(n.BitLen())}
}

func (m mpi) Bytes() []byte     { return m.bytes }
func (m mpi) BitLength() uint16 { return m.bitLength }
func (m mpi) EncodedBytes() []byte {
	return append([]byte{byte(m.bitLength >> 8), byte(m.bitLength)}, m.bytes...)
}
func (m mpi) EncodedLength() uint16 { return uint16(2 + len(m.bytes)) }

// ReadFrom is not used: go-crypto only reads into the fields it makes.
func (m mpi) ReadFrom(io.Reader) (int64, error) {
	return 0, errors.New("pgp: mpi: ReadFrom is not supported")
}

// readMPI reads one MPI (RFC 4880 section 3.2) from the front of b.
func readMPI(b []byte) (mpi, []byte, error) {
	if len(b) < 2 {
		return mpi{}, nil, errors.New("truncated MPI")
	}
	bits := int(binary.BigEndian.Uint16(b))
	n := (bits + 7) / 8
	if len(b) < 2+n {
		return mpi{}, nil, errors.New("truncated MPI")
	}
	return newMPI(b[2 : 2+n]), b[2+n:], nil
}
