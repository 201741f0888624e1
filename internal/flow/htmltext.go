package flow

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/mailseal/mailseal/core"
)

// maxHTMLToken bounds one token (a tag or a run of text) of an HTML body
// read for inline armor: the tokenizer holds a token whole.
const maxHTMLToken = 1 << 20

// htmlText returns the text of an HTML body as a mail client shows it, for
// finding an armored block that a client wrote as HTML (Outlook and
// Exchange send inline PGP as text/html: one <div> per armor line, &nbsp;
// for the blank line, &#43; for '+'):
//   - the content of head, style, script and title is dropped, as are tags;
//   - br and the end or start of a block element (div, p, li, tr, table,
//     h1-h6, pre, blockquote) end a line; lines are never blank (a client
//     shows a <br> between two <div>s as a blank line, which armor has
//     only after its header);
//   - character references are decoded; white space (a no-break space too)
//     folds to one space, and none is kept at the start or end of a line.
//
// It reads r once, a token at a time: memory is bounded by maxHTMLToken,
// time is linear in the body. Nothing outside an armored block is ever
// used as protected text; the caller reports it as unprotected.
func htmlText(r io.Reader) io.Reader {
	z := html.NewTokenizer(r)
	z.SetMaxBuf(maxHTMLToken)
	return &htmlTextReader{z: z}
}

type htmlTextReader struct {
	z       *html.Tokenizer
	out     []byte
	skip    int  // depth inside head, style, script, title
	inLine  bool // the current line has text
	pending bool // white space seen in the line, written (as one space) before its next text
	err     error
}

func (h *htmlTextReader) Read(p []byte) (int, error) {
	for len(h.out) == 0 {
		if h.err != nil {
			return 0, h.err
		}
		h.next()
	}
	n := copy(p, h.out)
	h.out = h.out[n:]
	return n, nil
}

// next reads one token and appends its text to h.out.
func (h *htmlTextReader) next() {
	h.out = h.out[:0]
	tt := h.z.Next()
	switch tt {
	case html.ErrorToken:
		err := h.z.Err()
		if errors.Is(err, html.ErrBufferExceeded) {
			err = fmt.Errorf("the HTML body has a tag or text run over %d KiB: %w", maxHTMLToken>>10, core.ErrInput)
		}
		if err == io.EOF {
			h.lineBreak()
		}
		h.err = err
	case html.TextToken:
		if h.skip == 0 {
			h.text(string(h.z.Text()))
		}
	case html.StartTagToken, html.SelfClosingTagToken, html.EndTagToken:
		name, _ := h.z.TagName()
		a := atom.Lookup(name)
		end := tt == html.EndTagToken
		switch a {
		case atom.Head, atom.Style, atom.Script, atom.Title:
			if end {
				if h.skip > 0 {
					h.skip--
				}
			} else {
				h.skip++
			}
		case atom.Br, atom.Div, atom.P, atom.Li, atom.Tr, atom.Table, atom.Pre, atom.Blockquote,
			atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6:
			h.lineBreak()
		}
	}
}

// text appends a text run, white space folded as described on htmlText.
func (h *htmlTextReader) text(s string) {
	for len(s) > 0 {
		c, size := utf8.DecodeRuneInString(s)
		raw := s[:size] // as it is, also an invalid byte
		s = s[size:]
		switch c {
		case ' ', '\t', '\r', '\n', '\f', '\u00a0':
			h.pending = h.inLine
			continue
		}
		if h.pending {
			h.out = append(h.out, ' ')
			h.pending = false
		}
		h.out = append(h.out, raw...)
		h.inLine = true
	}
}

func (h *htmlTextReader) lineBreak() {
	if h.inLine {
		h.out = append(h.out, '\r', '\n')
	}
	h.inLine, h.pending = false, false
}

// isHTMLBody reports whether e is an HTML body in which inline armor is
// looked for.
func isHTMLBody(mediaType string) bool { return strings.EqualFold(mediaType, "text/html") }
