package pkcs12

import (
	"errors"
	"fmt"
)

// maxDepth bounds the nesting of BER elements normalize follows.
const maxDepth = 32

// normalize rewrites BER (as Windows and Java write PKCS#12: indefinite
// lengths, OCTET STRINGs in constructed segments) in definite-length form
// that cryptobyte reads: every length definite, and a constructed
// universal OCTET STRING made one primitive OCTET STRING. Context-specific
// elements are left constructed (their type is unknown here; see
// octets). It is linear in the input times the nesting depth, which is
// bounded.
func normalize(in []byte) ([]byte, error) {
	out, rest, err := element(in, 0)
	if err != nil {
		return nil, err
	}
	if len(rest) != 0 {
		return nil, errors.New("trailing data after the outer element")
	}
	return out, nil
}

// element normalizes the element at the start of in and returns it and
// what follows it.
func element(in []byte, depth int) (out, rest []byte, err error) {
	if depth > maxDepth {
		return nil, nil, fmt.Errorf("nested deeper than %d levels", maxDepth)
	}
	tag, body, indefinite, rest, err := header(in)
	if err != nil {
		return nil, nil, err
	}
	constructed := tag[0]&0x20 != 0
	if !constructed {
		if indefinite {
			return nil, nil, errors.New("indefinite length on a primitive element")
		}
		return appendElement(nil, tag, body), rest, nil
	}
	var content []byte
	merge := len(tag) == 1 && tag[0] == 0x24 // constructed OCTET STRING
	for {
		if indefinite {
			if len(rest) < 2 {
				return nil, nil, errors.New("missing end-of-contents")
			}
			if rest[0] == 0 && rest[1] == 0 {
				rest = rest[2:]
				break
			}
		} else if len(body) == 0 {
			break
		}
		src := body
		if indefinite {
			src = rest
		}
		child, after, err := element(src, depth+1)
		if err != nil {
			return nil, nil, err
		}
		if indefinite {
			rest = after
		} else {
			body = after
		}
		if merge {
			ctag, cbody, _, _, err := header(child)
			if err != nil || ctag[0]&^0x20 != 0x04 {
				return nil, nil, errors.New("a segment of a constructed OCTET STRING is not an OCTET STRING")
			}
			content = append(content, cbody...)
			continue
		}
		content = append(content, child...)
	}
	if merge {
		return appendElement(nil, []byte{0x04}, content), rest, nil
	}
	return appendElement(nil, tag, content), rest, nil
}

// header reads an element's identifier and length. For a definite length
// body is the contents and rest what follows; for an indefinite one body
// is nil and rest starts at the contents.
func header(in []byte) (tag, body []byte, indefinite bool, rest []byte, err error) {
	if len(in) < 2 {
		return nil, nil, false, nil, errors.New("truncated element")
	}
	n := 1
	if in[0]&0x1f == 0x1f { // high tag number: base-128 digits
		for {
			if n >= len(in) || n > 5 {
				return nil, nil, false, nil, errors.New("bad tag")
			}
			n++
			if in[n-1]&0x80 == 0 {
				break
			}
		}
	}
	tag = in[:n]
	if n >= len(in) {
		return nil, nil, false, nil, errors.New("truncated element")
	}
	l := int(in[n])
	n++
	switch {
	case l == 0x80:
		return tag, nil, true, in[n:], nil
	case l > 0x80:
		k := l & 0x7f
		if k > 4 || n+k > len(in) {
			return nil, nil, false, nil, errors.New("bad length")
		}
		l = 0
		for _, c := range in[n : n+k] {
			l = l<<8 | int(c)
		}
		n += k
	}
	if l < 0 || l > len(in)-n {
		return nil, nil, false, nil, errors.New("element longer than its input")
	}
	return tag, in[n : n+l], false, in[n+l:], nil
}

// appendElement appends tag, a definite length and body to out.
func appendElement(out, tag, body []byte) []byte {
	out = append(out, tag...)
	switch l := len(body); {
	case l < 0x80:
		out = append(out, byte(l))
	case l < 1<<8:
		out = append(out, 0x81, byte(l))
	case l < 1<<16:
		out = append(out, 0x82, byte(l>>8), byte(l))
	case l < 1<<24:
		out = append(out, 0x83, byte(l>>16), byte(l>>8), byte(l))
	default:
		out = append(out, 0x84, byte(l>>24), byte(l>>16), byte(l>>8), byte(l))
	}
	return append(out, body...)
}
