package mime

import (
	"bytes"
	"io"
	"strings"
)

// Header Protection (RFC 9788): the values of the hp Content-Type parameter
// on the root of the Cryptographic Payload.
const (
	HPCipher = "cipher" // the message is encrypted (and maybe signed)
	HPClear  = "clear"  // the message is signed only
)

// ObscuredSubject is the outer Subject of an encrypted message under the
// baseline Header Confidentiality Policy.
const ObscuredSubject = "[...]"

// ProtectOptions steer Protect.
type ProtectOptions struct {
	// Encrypt marks the payload hp="cipher" and applies the baseline Header
	// Confidentiality Policy to the outer fields; without it, hp="clear"
	// and the outer fields stay as they are.
	Encrypt bool
	// SevenBit makes the content 7-bit safe as Content does.
	SevenBit bool
	// KeepSubject leaves the Subject of an encrypted message readable
	// outside (a policy of RFC 9788's hcp_no_confidentiality kind for the
	// Subject): no field a user sees is hidden then, so no legacy display
	// element is needed (RFC 9788 section 4.5).
	KeepSubject bool
}

// Protect prepares m for RFC 9788 Header Protection and returns the outer
// header fields and the Cryptographic Payload: an entity whose header holds
// copies of m's header fields (without Bcc), then, when
// encrypting, one HP-Outer field per field left outside, then m's Content-*
// fields with hp="cipher" or hp="clear" added to Content-Type, and m's body.
//
// Encrypting applies the baseline Header Confidentiality Policy (hcp_baseline)
// to the outer fields: Subject becomes "[...]" (unless KeepSubject),
// Keywords and Comments are dropped, Bcc is dropped, Autocrypt-Gossip
// (which names other recipients' keys) is dropped, everything else stays.
// When that hid the Subject, the only user-facing field it changes, a
// Legacy Display Element ("Subject: ...") is put at the top of every Main
// Body Part for clients that do not know Header Protection, marked
// hp-legacy-display="1" (see LegacyDisplayParam). Signing leaves the outer
// fields as they are.
func Protect(m *Message, opts ProtectOptions) (outer Header, payload io.Reader) {
	fields := m.Root.Header.filter(func(f Field) bool { return !isContentField(f) })
	var protected, hpOuter bytes.Buffer
	var legacy legacyDisplay
	for _, f := range fields {
		key := strings.ToLower(f.Key)
		if key == "bcc" {
			continue
		}
		protected.Write(f.rawBytes())
		if !opts.Encrypt || key == "mime-version" {
			continue
		}
		switch {
		case key == "subject" && !opts.KeepSubject:
			outer = append(outer, Field{Key: f.Key, Value: ObscuredSubject})
			if f.Value != ObscuredSubject {
				legacy.add("Subject", f.Value)
			}
		case key == "keywords", key == "comments":
			// removed from the outside
		case key == "autocrypt-gossip":
			// other recipients' keys: inside the encryption only
			// (Autocrypt Level 1)
		default:
			outer = append(outer, f)
		}
	}
	if !opts.Encrypt {
		return m.Root.Header.NonContentFields(), &lazyReader{build: func() (io.Reader, error) {
			return m.buildProtected(opts.SevenBit, protected.Bytes(), HPClear, nil)
		}, hint: m.Size() + int64(protected.Len())}
	}
	for _, f := range outer {
		hpOuter.WriteString("HP-Outer: " + f.Key + ": " + f.Value + "\r\n")
	}
	protected.Write(hpOuter.Bytes())
	return outer, &lazyReader{build: func() (io.Reader, error) {
		return m.buildProtected(opts.SevenBit, protected.Bytes(), HPCipher, &legacy)
	}, hint: m.Size() + int64(protected.Len())}
}

// buildProtected is buildContent with the protected fields in front, the
// hp parameter on Content-Type and the legacy display element (when
// legacy has lines) in the Main Body Parts. Parts that sevenBit re-encodes
// get none.
func (m *Message) buildProtected(sevenBit bool, protected []byte, hp string, legacy *legacyDisplay) (io.Reader, error) {
	root := m.Root
	var plan map[*Entity]string
	if sevenBit {
		var err error
		if plan, err = planSevenBit(root); err != nil {
			return nil, err
		}
	}
	edits := map[*Entity]partEdit{}
	if legacy != nil && len(legacy.decoded) > 0 {
		for _, part := range mainBodyParts(root) {
			if _, planned := plan[part]; planned || part.Params[LegacyDisplayParam] != "" {
				continue
			}
			ed, ok, err := addLegacyDisplay(part, legacy, part == root)
			if err != nil {
				return nil, err
			}
			if ok {
				edits[part] = ed
			}
		}
		plan = planEdits(root, plan, edits)
	}
	_, rootEdited := edits[root]
	ct := root.Header.Get("Content-Type")
	if ct == "" {
		ct = "text/plain; charset=us-ascii"
	}
	ct += HPParams(hp, rootEdited)
	var fields Header
	for _, f := range root.Header.ContentFields() {
		if !strings.EqualFold(f.Key, "Content-Type") {
			fields = append(fields, f)
		}
	}
	var head bytes.Buffer
	head.Write(protected)
	head.WriteString("Content-Type: " + ct + "\r\n")
	writeFields(&head, fields, plan[root])
	head.WriteString("\r\n")
	parts := []io.Reader{&head}
	parts = append(parts, bodyReaders(root, plan, edits)...)
	return io.MultiReader(parts...), nil
}

// HPParams are the Content-Type parameters Protect appends.
func HPParams(hp string, legacyDisplay bool) string {
	p := `; hp="` + hp + `"`
	if legacyDisplay {
		p += `; hp-legacy-display="1"`
	}
	return p
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
