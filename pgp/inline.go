package pgp

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/mailseal/mailseal"
)

// BlockKind is the kind of an armored block in a text body.
type BlockKind int

const (
	// KindSigned is a cleartext-signed message: from "-----BEGIN PGP SIGNED
	// MESSAGE-----" to "-----END PGP SIGNATURE-----".
	KindSigned BlockKind = iota + 1
	// KindMessage is an armored OpenPGP message: from "-----BEGIN PGP
	// MESSAGE-----" to "-----END PGP MESSAGE-----".
	KindMessage
)

func (k BlockKind) String() string {
	switch k {
	case KindSigned:
		return "signed"
	case KindMessage:
		return "message"
	}
	return fmt.Sprintf("BlockKind(%d)", int(k))
}

// Block is an armored block found by FindBlocks: text[Start:End] is the
// block, from the first byte of its BEGIN line to the end of its END line
// including that line's terminator (LF or CRLF) if there is one. Everything
// outside the blocks is not protected by them.
type Block struct {
	Kind       BlockKind
	Start, End int
}

const (
	beginSigned    = "-----BEGIN PGP SIGNED MESSAGE-----"
	beginSignature = "-----BEGIN PGP SIGNATURE-----"
	endSignature   = "-----END PGP SIGNATURE-----"
	beginMessage   = "-----BEGIN PGP MESSAGE-----"
	endMessage     = "-----END PGP MESSAGE-----"
)

// line is one line of text: text[start:end] is its content without the
// terminator, next the offset of the following line.
type line struct{ start, end, next int }

func lines(text []byte) []line {
	var ls []line
	for i := 0; i < len(text); {
		j := bytes.IndexByte(text[i:], '\n')
		if j < 0 {
			ls = append(ls, line{i, len(text), len(text)})
			break
		}
		end := i + j
		if end > i && text[end-1] == '\r' {
			end--
		}
		ls = append(ls, line{i, end, i + j + 1})
		i += j + 1
	}
	return ls
}

// isMarker reports whether a line is exactly the marker, allowing trailing
// spaces and tabs.
func isMarker(text []byte, l line, marker string) bool {
	s := bytes.TrimRight(text[l.start:l.end], " \t")
	return string(s) == marker
}

// FindBlocks finds the armored OpenPGP blocks in a text body, in order and
// not overlapping. Markers must stand on lines of their own (CRLF or LF
// line ends, trailing blanks allowed). A BEGIN without its END is not a block.
func FindBlocks(text []byte) []Block {
	ls := lines(text)
	var blocks []Block
	for i := 0; i < len(ls); i++ {
		switch {
		case isMarker(text, ls[i], beginSigned):
			sigAt := -1
			for j := i + 1; j < len(ls); j++ {
				if isMarker(text, ls[j], beginSignature) {
					sigAt = j
					break
				}
			}
			if sigAt < 0 {
				continue
			}
			for j := sigAt + 1; j < len(ls); j++ {
				if isMarker(text, ls[j], endSignature) {
					blocks = append(blocks, Block{Kind: KindSigned, Start: ls[i].start, End: ls[j].next})
					i = j
					break
				}
			}
		case isMarker(text, ls[i], beginMessage):
			for j := i + 1; j < len(ls); j++ {
				if isMarker(text, ls[j], endMessage) {
					blocks = append(blocks, Block{Kind: KindMessage, Start: ls[i].start, End: ls[j].next})
					i = j
					break
				}
			}
		}
	}
	return blocks
}

// VerifyCleartext verifies a cleartext-signed block (RFC 9580 section 7) as
// found by FindBlocks. It returns the signed text exactly as it was hashed:
// dash-escaping removed, trailing spaces and tabs removed from every line,
// lines joined with CRLF, without a final line break; and one
// mailseal.Signer per signature. If "Hash" armor headers are present, a
// signature whose hash is not listed is reported as bad. The error is for
// malformed input only (wrapping mailseal.ErrInput).
func (e *Engine) VerifyCleartext(block []byte, certs CertFinder) ([]byte, []mailseal.Signer, error) {
	trimmed := bytes.TrimLeft(block, " \t\r\n")
	if !bytes.HasPrefix(trimmed, []byte(beginSigned)) {
		return nil, nil, fmt.Errorf("pgp: verify: the block does not start with %q: %w", beginSigned, mailseal.ErrInput)
	}
	b, rest := clearsign.Decode(trimmed)
	if b == nil {
		return nil, nil, fmt.Errorf("pgp: verify: malformed cleartext-signed block (bad header, missing or damaged signature): %w", mailseal.ErrInput)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, nil, fmt.Errorf("pgp: verify: text after the signature block; pass exactly one block as found by FindBlocks: %w", mailseal.ErrInput)
	}
	if b.ArmoredSignature == nil || b.ArmoredSignature.Type != armorSignature {
		return nil, nil, fmt.Errorf("pgp: verify: the signature block is not a %q block: %w", armorSignature, mailseal.ErrInput)
	}
	sigs, unsupported, err := readSignatures(b.ArmoredSignature.Body)
	if err != nil {
		return nil, nil, fmt.Errorf("pgp: verify: %w", err)
	}
	signers, err := e.verifySigs(bytes.NewReader(b.Bytes), sigs, unsupported, certs)
	if err != nil {
		return nil, nil, err
	}
	if hashes := b.Headers.Values("Hash"); len(hashes) > 0 {
		for i, sig := range sigs {
			if i >= len(signers) || signers[i].Status == mailseal.SignerUnknown {
				continue
			}
			if !hashListed(hashes, sig) {
				signers[i].Status = mailseal.SignerBad
				signers[i].Valid = false
				signers[i].Error = fmt.Sprintf("the signature's hash %s is not the one named in the Hash header (%s)", mailseal.HashName(sig.Hash), strings.Join(hashes, ", "))
			}
		}
	}
	text := append([]byte(nil), b.Bytes...)
	return text, signers, nil
}

func hashListed(names []string, sig *packet.Signature) bool {
	want := strings.ReplaceAll(strings.ToUpper(mailseal.HashName(sig.Hash)), "-", "")
	for _, n := range names {
		if strings.ReplaceAll(strings.ToUpper(strings.TrimSpace(n)), "-", "") == want {
			return true
		}
	}
	return false
}
