package auth

import (
	"fmt"
	"strings"

	"github.com/mailseal/mailseal/core"
)

// maxTags bounds the tags of one tag list (a DKIM-Signature has about a
// dozen).
const maxTags = 64

// parseTags reads an RFC 6376 section 3.2 tag list ("v=1; a=rsa-sha256;
// ..."): tag names are a letter then letters, digits or '_', case-sensitive;
// values have white space (FWS) around them removed; a tag twice, a
// missing '=' or a bad name is an error naming it. Linear in len(s).
func parseTags(s string) (map[string]string, error) {
	tags := map[string]string{}
	for i, spec := range strings.Split(s, ";") {
		if strings.TrimSpace(spec) == "" {
			if i == strings.Count(s, ";") { // a trailing ';' is allowed
				continue
			}
			return nil, fmt.Errorf("empty tag at position %d", i+1)
		}
		name, value, ok := strings.Cut(spec, "=")
		name = strings.Trim(name, " \t\r\n")
		if !ok {
			return nil, fmt.Errorf("tag %q has no '='", shorten(name))
		}
		if !validTagName(name) {
			return nil, fmt.Errorf("bad tag name %q", shorten(name))
		}
		if _, dup := tags[name]; dup {
			return nil, fmt.Errorf("tag %q appears twice", name)
		}
		if len(tags) == maxTags {
			return nil, fmt.Errorf("more than %d tags", maxTags)
		}
		tags[name] = strings.Trim(value, " \t\r\n")
	}
	return tags, nil
}

func validTagName(n string) bool {
	if n == "" || !isAlpha(n[0]) {
		return false
	}
	for i := 1; i < len(n); i++ {
		c := n[i]
		if !isAlpha(c) && !(c >= '0' && c <= '9') && c != '_' {
			return false
		}
	}
	return true
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// stripFWS removes the folding white space a tag value may hold anywhere
// (base64 data, colon-separated lists).
func stripFWS(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\r', '\n':
			return -1
		}
		return r
	}, s)
}

// shorten keeps error messages about hostile input short (40 bytes,
// cut at a character: core.Clip).
func shorten(s string) string { return core.Clip(s, 40) }
