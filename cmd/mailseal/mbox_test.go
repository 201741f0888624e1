package main

import (
	"bytes"
	"io"

	"github.com/mailseal/mailseal/internal/mbox"
)

// mboxEntry is one message of an mbox read into memory.
type mboxEntry struct{ raw []byte }

// readMbox reads every message of an mbox into memory (for tests).
func readMbox(r io.Reader) ([]mboxEntry, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	src := bytes.NewReader(data)
	s := mbox.NewScanner(bytes.NewReader(data))
	var msgs []mboxEntry
	for {
		m, err := s.Next()
		if err == io.EOF {
			return msgs, nil
		}
		if err != nil {
			return nil, err
		}
		raw, err := io.ReadAll(m.Reader(src))
		if err != nil {
			return nil, err
		}
		msgs = append(msgs, mboxEntry{raw})
	}
}
