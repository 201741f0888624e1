package core

import (
	"errors"
	"fmt"
	"testing"
)

func TestAssess(t *testing.T) {
	alice := Signature{Fingerprint: "A", Emails: []string{"alice@Example.ORG"}, Status: SignerGood, Valid: true}
	bob := Signature{Fingerprint: "B", Emails: []string{"bob@example.org"}, Status: SignerGood, Valid: true}
	bad := Signature{Fingerprint: "A", Emails: []string{"alice@example.org"}, Status: SignerBad}
	unknown := Signature{KeyID: "1234", Status: SignerUnknown}
	untrusted := Signature{Fingerprint: "A", Emails: []string{"alice@example.org"}, Status: SignerUntrusted}
	refused := Signature{Fingerprint: "A", Emails: []string{"alice@example.org"}, Status: SignerRefused}
	from := Senders{From: []string{"alice@example.org"}}
	for i, c := range []struct {
		signers []Signature
		part    string
		unprot  []string
		senders Senders
		want    Status
	}{
		{nil, "", nil, from, StatusUnsigned},
		{[]Signature{alice}, "", nil, from, StatusGood},
		{[]Signature{alice}, "", nil, Senders{From: []string{"alice@EXAMPLE.org"}}, StatusGood},
		{[]Signature{alice}, "", nil, Senders{From: []string{"Alice@example.org"}}, StatusSenderMismatch},
		{[]Signature{alice}, "2", nil, from, StatusPartial},
		{[]Signature{alice}, "", []string{"text after the signed block"}, from, StatusPartial},
		{[]Signature{bob}, "", nil, from, StatusSenderMismatch},
		{[]Signature{alice, bob}, "", nil, from, StatusSenderMismatch},
		{[]Signature{alice}, "", nil, Senders{From: []string{"alice@example.org", "bob@example.org"}}, StatusSenderMismatch},
		{[]Signature{alice}, "", nil, Senders{}, StatusSenderMismatch},
		{[]Signature{alice}, "", nil, Senders{From: []string{"alice@example.org"}, Sender: "bob@example.org"}, StatusSenderMismatch},
		{[]Signature{alice}, "", nil, Senders{From: []string{"alice@example.org"}, Sender: "alice@example.org"}, StatusGood},
		{[]Signature{alice, bad}, "", nil, from, StatusBad},
		{[]Signature{unknown, bad}, "", nil, from, StatusBad},
		{[]Signature{alice, unknown}, "", nil, from, StatusUnknownSigner},
		{[]Signature{untrusted}, "", nil, from, StatusUntrusted},
		{[]Signature{untrusted, unknown}, "", nil, from, StatusUnknownSigner},
		{[]Signature{untrusted}, "1", nil, from, StatusUntrusted},
		// Refused by policy: below a forgery, above what is unknown.
		{[]Signature{refused}, "", nil, from, StatusRefused},
		{[]Signature{alice, refused}, "", nil, from, StatusRefused},
		{[]Signature{refused, bad}, "", nil, from, StatusBad},
		{[]Signature{unknown, refused, untrusted}, "", nil, from, StatusRefused},
	} {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			r := Report{Signers: c.signers, SignedPart: c.part, Unprotected: c.unprot}
			r.Assess(c.senders)
			if r.Status != c.want {
				t.Fatalf("status %s, want %s", r.Status, c.want)
			}
			if (r.ExitCode() == 0) != (c.want == StatusGood) {
				t.Fatalf("exit code %d for %s", r.ExitCode(), r.Status)
			}
		})
	}
}

func TestExitCode(t *testing.T) {
	for err, want := range map[error]int{
		nil: 0, fmt.Errorf("x: %w", ErrIntegrity): 1, fmt.Errorf("x: %w", ErrVerification): 1,
		ErrUsage: 2, ErrInput: 2, fmt.Errorf("y: %w", ErrNoKey): 3, ErrLocked: 3,
	} {
		if got := ExitCode(err); got != want {
			t.Errorf("ExitCode(%v) = %d, want %d", err, got, want)
		}
	}
}

// WithKind keeps the exit code of the kind and the words of the error, and
// what the error wraps stays reachable.
func TestWithKind(t *testing.T) {
	cause := errors.New("550 5.7.1 rejected")
	for kind, code := range map[error]int{ErrVerification: 1, ErrIntegrity: 1, ErrUsage: 2, ErrInput: 2, ErrNoKey: 3, ErrLocked: 3} {
		err := WithKind(fmt.Errorf("DATA: the server answered %w", cause), kind)
		if got := ExitCode(err); got != code {
			t.Errorf("%v: exit %d, want %d", kind, got, code)
		}
		if err.Error() != "DATA: the server answered 550 5.7.1 rejected" {
			t.Errorf("%v: message %q", kind, err)
		}
		if !errors.Is(err, kind) || !errors.Is(err, cause) {
			t.Errorf("%v: errors.Is lost the kind or the cause", kind)
		}
		// Wrapped further, it keeps both.
		if outer := fmt.Errorf("send: %w", err); ExitCode(outer) != code || outer.Error() != "send: "+err.Error() {
			t.Errorf("%v: wrapped: exit %d %q", kind, ExitCode(outer), outer)
		}
	}
	if WithKind(nil, ErrUsage) != nil {
		t.Error("WithKind(nil) is not nil")
	}
}
