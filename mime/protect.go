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

// Protect prepares m for RFC 9788 Header Protection and returns the outer
// header fields and the Cryptographic Payload: an entity whose header holds
// copies of m's header fields (without Bcc), then, when
// encrypting, one HP-Outer field per field left outside, then m's Content-*
// fields with hp="cipher" or hp="clear" added to Content-Type, and m's body.
//
// Encrypting applies the baseline Header Confidentiality Policy (hcp_baseline)
// to the outer fields: Subject becomes "[...]", Keywords and Comments are
// dropped, Bcc is dropped, everything else stays. When that hid the Subject
// and the root is text/plain in 7bit or 8bit, a Legacy Display Element
// ("Subject: ..." and a blank line) is put in front of the body for clients
// that do not know Header Protection, and hp-legacy-display="1" marks it.
// Signing leaves the outer fields as they are.
//
// sevenBit makes the content 7-bit safe as Content does.
func Protect(m *Message, encrypt, sevenBit bool) (outer Header, payload io.Reader) {
	fields := m.Root.Header.filter(func(f Field) bool { return !isContentField(f) })
	var protected, hpOuter bytes.Buffer
	var legacy []string
	for _, f := range fields {
		key := strings.ToLower(f.Key)
		if key == "bcc" {
			continue
		}
		protected.Write(f.rawBytes())
		if !encrypt || key == "mime-version" {
			continue
		}
		switch key {
		case "subject":
			outer = append(outer, Field{Key: f.Key, Value: ObscuredSubject})
			if f.Value != ObscuredSubject {
				legacy = append(legacy, "Subject: "+DecodeWords(f.Value))
			}
		case "keywords", "comments":
			// removed from the outside
		default:
			outer = append(outer, f)
		}
	}
	if !encrypt {
		return m.Root.Header.NonContentFields(), &lazyReader{build: func() (io.Reader, error) { return m.buildProtected(sevenBit, protected.Bytes(), HPClear, nil) }}
	}
	for _, f := range outer {
		hpOuter.WriteString("HP-Outer: " + f.Key + ": " + f.Value + "\r\n")
	}
	protected.Write(hpOuter.Bytes())
	return outer, &lazyReader{build: func() (io.Reader, error) {
		return m.buildProtected(sevenBit, protected.Bytes(), HPCipher, legacy)
	}}
}

// buildProtected is buildContent with the protected fields in front, the
// hp parameter on Content-Type and, where possible, the legacy display
// element in front of the body.
func (m *Message) buildProtected(sevenBit bool, protected []byte, hp string, legacy []string) (io.Reader, error) {
	root := m.Root
	var plan map[*Entity]string
	if sevenBit {
		var err error
		if plan, err = planSevenBit(root); err != nil {
			return nil, err
		}
	}
	// The legacy display element goes only where it can be prepended as
	// is: a text/plain root whose body stays 7bit or 8bit.
	var prefix []byte
	if len(legacy) > 0 && root.MediaType == "text/plain" {
		cte := root.transferEncoding()
		if c, ok := plan[root]; ok {
			cte = c
		}
		text := strings.Join(legacy, "\r\n") + "\r\n\r\n"
		ascii := isASCII(text)
		utf8ish := strings.EqualFold(root.Params["charset"], "utf-8") || root.Params["charset"] == ""
		if (cte == "" || cte == "7bit" || cte == "8bit") && (ascii || utf8ish && cte == "8bit") {
			prefix = []byte(text)
		}
	}
	ct := root.Header.Get("Content-Type")
	if ct == "" {
		ct = "text/plain; charset=us-ascii"
	}
	ct += HPParams(hp, prefix != nil)
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
	head.Write(prefix)
	parts := []io.Reader{&head}
	parts = append(parts, bodyReaders(root, plan)...)
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
