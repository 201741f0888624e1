package auth

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/mime"
)

// MaxDKIMSignatures is how many DKIM-Signature fields are checked; a
// message with more has the rest listed as not checked (permerror).
const MaxDKIMSignatures = 16

// maxSignedNames bounds the h= names of a message's signatures together
// (a signature usually names 10 to 30, oversigned).
const maxSignedNames = 512

// VerifyDKIM checks every DKIM-Signature field of m (RFC 6376, RFC 8463),
// looking the keys up through res, and returns one result per field in
// header order. The body is streamed through the body hashes (once for
// all signatures), never held. A malformed field is a permerror naming
// what is wrong; a lookup that fails for now (timeout, SERVFAIL, offline)
// a temperror; a signature with a body length limit (l=) is not accepted
// (policy), since anything could follow the signed text.
func VerifyDKIM(ctx context.Context, m *mime.Message, res Resolver) ([]core.DKIMResult, error) {
	if m == nil || m.Root == nil {
		return nil, fmt.Errorf("no message: %w", core.ErrInput)
	}
	var fields []mime.Field
	for _, f := range m.Root.Header {
		if strings.EqualFold(f.Key, "DKIM-Signature") {
			fields = append(fields, f)
		}
	}
	results := make([]core.DKIMResult, len(fields))
	for i, f := range fields {
		results[i] = describeDKIM(f.Value)
		if i >= MaxDKIMSignatures {
			results[i].Result, results[i].Reason = core.AuthPermError,
				fmt.Sprintf("not checked: only the first %d signatures are", MaxDKIMSignatures)
		}
	}
	if len(fields) == 0 {
		return results, nil
	}
	// go-msgauth looks each name of h= up among all header fields: the
	// work is the names times the fields. Past maxSignedNames names in
	// all, nothing is verified (each signature a permerror saying so),
	// so that a hostile h= cannot spend minutes of CPU on one message.
	names := 0
	for i := range results {
		if i < MaxDKIMSignatures {
			names += len(results[i].SignedHeaders)
		}
	}
	if names > maxSignedNames {
		for i := range results {
			if results[i].Result == "" {
				results[i].Result, results[i].Reason = core.AuthPermError,
					fmt.Sprintf("not checked: the message's DKIM signatures name %d header fields in h=, more than %d", names, maxSignedNames)
			}
		}
		return results, nil
	}
	res = asciiNames(res)
	lookup := func(name string) ([]string, error) { return res.LookupTXT(ctx, name) }
	// The verifier gets the header and body as mailseal splits them (one
	// reading everywhere): a line that is no header field ends the header
	// for mailseal, while go-msgauth would read on to the blank line and
	// take the lines between for unsigned fields, letting text shown as
	// the body slip past a valid signature.
	verifs, err := dkim.VerifyWithOptions(asParsed(m.Root), &dkim.VerifyOptions{LookupTXT: lookup, MaxVerifications: MaxDKIMSignatures})
	if err != nil && !errors.Is(err, dkim.ErrTooManySignatures) {
		return nil, fmt.Errorf("DKIM: reading the message: %w", err)
	}
	for i, v := range verifs {
		if i >= len(results) {
			break
		}
		r := &results[i]
		if r.Result != "" { // already judged from the field itself
			continue
		}
		switch {
		case v.Err == nil:
			r.Result = core.AuthPass
		case r.BodyLength != nil:
			r.Result = core.AuthPolicy
			r.Reason = fmt.Sprintf("the signature has a body length limit (l=%d): text after the signed length is not covered and could have been added by anyone, so it is not accepted", *r.BodyLength)
		case dkim.IsTempFail(v.Err):
			r.Result, r.Reason = core.AuthTempError, dkimReason(v.Err)
		case dkim.IsPermFail(v.Err):
			r.Result, r.Reason = core.AuthPermError, dkimReason(v.Err)
		default:
			r.Result, r.Reason = core.AuthFail, dkimReason(v.Err)
		}
	}
	return results, nil
}

// dkimReason is go-msgauth's message without its "dkim: " prefix.
func dkimReason(err error) string {
	return strings.TrimPrefix(err.Error(), "dkim: ")
}

// describeDKIM reads what a DKIM-Signature names (d=, s=, a=, c=, h=, l=)
// with mailseal's own tag-list parser; a field it cannot read is a
// permerror with the reason, so the verifier's verdict is not needed.
func describeDKIM(value string) core.DKIMResult {
	var r core.DKIMResult
	tags, err := parseTags(value)
	if err != nil {
		r.Result, r.Reason = core.AuthPermError, "malformed DKIM-Signature: "+err.Error()
		return r
	}
	r.Domain = normDomain(stripFWS(tags["d"]))
	r.Selector = stripFWS(tags["s"])
	r.Algorithm = stripFWS(tags["a"])
	r.Identifier = stripFWS(tags["i"])
	r.Canonicalization = canonicalization(stripFWS(tags["c"]))
	if h, ok := tags["h"]; ok {
		for _, k := range strings.Split(stripFWS(h), ":") {
			if k != "" {
				r.SignedHeaders = append(r.SignedHeaders, k)
			}
		}
	}
	if l, ok := tags["l"]; ok {
		n, err := strconv.ParseInt(stripFWS(l), 10, 64)
		if err != nil || n < 0 {
			r.Result, r.Reason = core.AuthPermError, fmt.Sprintf("malformed DKIM-Signature: l=%q is not a length", shorten(l))
			return r
		}
		r.BodyLength = &n
	}
	for _, t := range []string{"v", "a", "b", "bh", "d", "h", "s"} {
		if _, ok := tags[t]; !ok {
			r.Result, r.Reason = core.AuthPermError, fmt.Sprintf("malformed DKIM-Signature: the required tag %s= is missing", t)
			return r
		}
	}
	if tags["v"] != "1" {
		r.Result, r.Reason = core.AuthPermError, fmt.Sprintf("malformed DKIM-Signature: version v=%q, want 1", shorten(tags["v"]))
	}
	return r
}

// canonicalization spells c= in full, header/body, simple by default.
func canonicalization(c string) string {
	h, b, _ := strings.Cut(c, "/")
	if h == "" {
		h = "simple"
	}
	if b == "" {
		b = "simple"
	}
	return h + "/" + b
}

// asParsed is e as mailseal parsed it: its header fields as written, the
// blank line, its body.
func asParsed(e *mime.Entity) io.Reader {
	var head bytes.Buffer
	for _, f := range e.Header {
		head.Write(f.Raw)
		if n := len(f.Raw); n == 0 || f.Raw[n-1] != '\n' {
			head.WriteString("\r\n")
		}
	}
	head.WriteString("\r\n")
	return io.MultiReader(&head, e.RawBody())
}
