package mailseal

import (
	"fmt"
	"testing"
)

func TestAssess(t *testing.T) {
	alice := Signer{Fingerprint: "A", Emails: []string{"alice@Example.ORG"}, Status: SignerGood, Valid: true}
	bob := Signer{Fingerprint: "B", Emails: []string{"bob@example.org"}, Status: SignerGood, Valid: true}
	bad := Signer{Fingerprint: "A", Emails: []string{"alice@example.org"}, Status: SignerBad}
	unknown := Signer{KeyID: "1234", Status: SignerUnknown}
	untrusted := Signer{Fingerprint: "A", Emails: []string{"alice@example.org"}, Status: SignerUntrusted}
	from := Senders{From: []string{"alice@example.org"}}
	for i, c := range []struct {
		signers []Signer
		part    string
		unprot  []string
		senders Senders
		want    Status
	}{
		{nil, "", nil, from, StatusUnsigned},
		{[]Signer{alice}, "", nil, from, StatusGood},
		{[]Signer{alice}, "", nil, Senders{From: []string{"alice@EXAMPLE.org"}}, StatusGood},
		{[]Signer{alice}, "", nil, Senders{From: []string{"Alice@example.org"}}, StatusSenderMismatch},
		{[]Signer{alice}, "2", nil, from, StatusPartial},
		{[]Signer{alice}, "", []string{"text after the signed block"}, from, StatusPartial},
		{[]Signer{bob}, "", nil, from, StatusSenderMismatch},
		{[]Signer{alice, bob}, "", nil, from, StatusSenderMismatch},
		{[]Signer{alice}, "", nil, Senders{From: []string{"alice@example.org", "bob@example.org"}}, StatusSenderMismatch},
		{[]Signer{alice}, "", nil, Senders{}, StatusSenderMismatch},
		{[]Signer{alice}, "", nil, Senders{From: []string{"alice@example.org"}, Sender: "bob@example.org"}, StatusSenderMismatch},
		{[]Signer{alice}, "", nil, Senders{From: []string{"alice@example.org"}, Sender: "alice@example.org"}, StatusGood},
		{[]Signer{alice, bad}, "", nil, from, StatusBad},
		{[]Signer{unknown, bad}, "", nil, from, StatusBad},
		{[]Signer{alice, unknown}, "", nil, from, StatusUnknownSigner},
		{[]Signer{untrusted}, "", nil, from, StatusUntrusted},
		{[]Signer{untrusted, unknown}, "", nil, from, StatusUnknownSigner},
		{[]Signer{untrusted}, "1", nil, from, StatusUntrusted},
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
