package flow

import (
	"fmt"
	"io"
	"strings"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/internal/stage"
	"github.com/mailseal/mailseal/mime"
)

// checkStructure refuses to judge a message m when readers could take the
// structure that decides the verdict two ways (mime.Entity.Ambiguous): two
// Content-Type fields, or a boundary given twice, on the root, the
// entities down to the protected entity f (nil: none) or f's own parts.
// Whatever mailseal checked, a client might show something else.
func checkStructure(m *mime.Message, f *Found) error {
	entities := []*mime.Entity{m.Root}
	if f != nil {
		if p := f.Entity.Path; p != "" {
			steps := strings.Split(p, ".")
			for i := range steps {
				entities = append(entities, m.Find(strings.Join(steps[:i+1], ".")))
			}
		}
		entities = append(entities, f.Entity.Children...)
	}
	for _, x := range entities {
		if x != nil && x.Ambiguous != "" {
			return fmt.Errorf("%s: readers may take the message two ways (it is malformed, or was altered in transit), so it is not judged: %w",
				x.Ambiguous, core.ErrInput)
		}
	}
	return nil
}

// maxNotice bounds the text of a preamble or epilogue that is read to be
// quoted or compared with the notices below; the rest is only scanned.
const maxNotice = 200

// mimeNotices are what common generators write in the preamble of a
// multipart for readers without MIME (OpenSSL; Thunderbird, Enigmail;
// Outlook and others): text that misleads nobody.
var mimeNotices = map[string]bool{
	"This is an S/MIME signed message":                           true,
	"This is an OpenPGP/MIME signed message (RFC 4880 and 3156)": true,
	"This is an OpenPGP/MIME signed message (RFC 2440 and 3156)": true,
	"This is a cryptographically signed message in MIME format.": true,
	"This is a multi-part message in MIME format.":               true,
	"This is a multipart message in MIME format.":                true,
}

// uncoveredText warns about text in the preamble or epilogue of the
// multipart/signed e: no signature covers it, and a client that shows it
// would show it beside a signed message. White space and generators'
// notices for readers without MIME are no such text.
func uncoveredText(e *mime.Entity) ([]string, error) {
	var warns []string
	for _, where := range []struct {
		name string
		r    io.Reader
	}{{"before the first part", e.Preamble()}, {"after the last part", e.Epilogue()}} {
		text, more, err := textOf(where.r, maxNotice)
		if err != nil {
			return nil, fmt.Errorf("reading the text %s of the multipart/signed: %v: %w", where.name, err, core.ErrInput)
		}
		if text == "" || !more && mimeNotices[text] {
			continue
		}
		quote := text
		if more {
			quote += "..."
		}
		warns = append(warns, fmt.Sprintf("text %s of the multipart/signed is not covered by the signature: %q", where.name, quote))
	}
	return warns, nil
}

// textOf reads r and returns its text with runs of white space
// made one space and trimmed at both ends, at most limit bytes of it;
// more says there was more. It stops reading there.
func textOf(r io.Reader, limit int) (text string, more bool, err error) {
	var out []byte
	space := false
	buf := make([]byte, stage.ReadBufferSize(r, 32<<10))
	for {
		n, rerr := r.Read(buf)
		for _, c := range buf[:n] {
			if c == ' ' || c == '\t' || c == '\r' || c == '\n' {
				space = len(out) > 0
				continue
			}
			if len(out) >= limit {
				return string(out), true, nil
			}
			if space {
				out = append(out, ' ')
				space = false
			}
			out = append(out, c)
		}
		if rerr == io.EOF {
			return string(out), false, nil
		}
		if rerr != nil {
			return "", false, rerr
		}
	}
}

// partsAfterSignature names the parts of a multipart/signed after its
// signature part, which no signature covers: mailing lists append their
// footer as a third part (issue 14 class 7). The first two parts are
// verified as usual and the message is at best partial.
func partsAfterSignature(e *mime.Entity) []string {
	var out []string
	for _, c := range e.Children[min(2, len(e.Children)):] {
		out = append(out, fmt.Sprintf("part %s (%s) after the signature", c.Path, core.Clip(c.MediaType, core.MaxQuote)))
	}
	return out
}
