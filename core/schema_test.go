package core_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/internal/reportschema"
)

// TestSchemaDocumentsEveryField fails when the report gains a JSON field
// that docs/report.schema.json does not document, or the schema names
// one the report does not have.
func TestSchemaDocumentsEveryField(t *testing.T) {
	for def, typ := range map[string]reflect.Type{
		"reportFields": reflect.TypeOf(core.Report{}),
		"signature":    reflect.TypeOf(core.Signature{}),
		"auth":         reflect.TypeOf(core.AuthReport{}),
		"dkimResult":   reflect.TypeOf(core.DKIMResult{}),
		"spfResult":    reflect.TypeOf(core.SPFResult{}),
		"dmarcResult":  reflect.TypeOf(core.DMARCResult{}),
		"arcResult":    reflect.TypeOf(core.ARCResult{}),
		"arcSealer":    reflect.TypeOf(core.ARCSealer{}),
	} {
		undocumented, unknown, err := reportschema.Fields(def, typ)
		if err != nil {
			t.Fatal(err)
		}
		if len(undocumented) > 0 || len(unknown) > 0 {
			t.Errorf("%s: fields the schema does not document: %v; properties %s has no field for: %v", typ, undocumented, def, unknown)
		}
	}
}

const fpr = "EB85BB5FA33A75E15E944E63F231550C4F47E38E"

// TestReportJSONMatchesSchema: a report with every field set validates,
// and so do the reports of unknown signers and of errors; what is absent
// is left out (no "fingerprint":"", no zero time), which the schema's
// patterns would refuse.
func TestReportJSONMatchesSchema(t *testing.T) {
	made := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	full := core.Report{
		Status: core.StatusGood, Protocol: core.ProtocolOpenPGP, SignedPart: "", Encrypted: true, EncryptedPart: "2",
		Integrity: core.IntegrityMDC, Unauthenticated: true, DecryptedWith: fpr, From: "alice@example.org",
		Unprotected: []string{"1"}, HeaderProtection: "cipher", OuterDiffers: []string{"Reply-To"},
		Warnings: []string{"w"}, Error: "e",
		Signers: []core.Signature{{Fingerprint: fpr, SigningKey: fpr, Emails: []string{"alice@example.org"},
			UnboundUserIDs: []string{"x"}, Names: []string{"Alice"}, Valid: true, Status: core.SignerGood, Created: made,
			Hash: "SHA-256", Mode: "text", Chain: []string{"CN=Alice"}, Error: "e"}},
	}
	unknownByKeyID := core.Report{Status: core.StatusUnknownSigner, Protocol: core.ProtocolOpenPGP,
		Signers: []core.Signature{{KeyID: fpr[24:], Emails: []string{}, Status: core.SignerUnknown, Created: made, Error: "no certificate"}}}
	unknownByFingerprint := core.Report{Status: core.StatusUnknownSigner, Protocol: core.ProtocolOpenPGP,
		Signers: []core.Signature{{SigningKey: fpr, Emails: []string{}, Status: core.SignerUnknown, Error: "no certificate"}}}
	damaged := core.Report{Status: core.StatusBad, Signers: []core.Signature{{Emails: []string{}, Status: core.SignerBad, Error: "unreadable"}}}
	missingKey := core.ErrorReport(&core.UnopenedError{Protocol: core.ProtocolSMIME, Encrypted: true,
		Err: fmt.Errorf("no key: %w", core.ErrNoKey)})
	tampered := core.ErrorReport(fmt.Errorf("x: %w", core.ErrIntegrity))
	for name, rep := range map[string]core.Report{"full": full, "unknown by key ID": unknownByKeyID,
		"unknown by fingerprint": unknownByFingerprint, "damaged": damaged, "missing key": missingKey, "tampered": tampered} {
		data, err := json.Marshal(rep)
		if err != nil {
			t.Fatal(err)
		}
		if err := reportschema.ValidateLines("", data); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		for _, absent := range []string{`"fingerprint":""`, `"created":"0001`, `"key_id":""`} {
			if strings.Contains(string(data), absent) {
				t.Errorf("%s: %s in %s", name, absent, data)
			}
		}
	}
	// The schema is no rubber stamp: what breaks the rules fails.
	for name, bad := range map[string]string{
		"empty fingerprint":             `{"status":"unknown-signer","signers":[{"fingerprint":"","emails":[],"valid":false,"status":"unknown"}],"signed_part":"","encrypted":false}`,
		"zero time":                     `{"status":"good","signers":[{"fingerprint":"` + fpr + `","emails":[],"valid":true,"status":"good","created":"0001-01-01T00:00:00Z"}],"signed_part":"","encrypted":false}`,
		"key ID beside the fingerprint": `{"status":"good","signers":[{"fingerprint":"` + fpr + `","key_id":"F231550C4F47E38E","emails":[],"valid":true,"status":"good"}],"signed_part":"","encrypted":false}`,
		"undocumented field":            `{"status":"good","signers":[],"signed_part":"","encrypted":false,"colour":"red"}`,
		"no encrypted":                  `{"status":"good","signers":[],"signed_part":""}`,
	} {
		if err := reportschema.ValidateLines("", []byte(bad)); err == nil {
			t.Errorf("%s: valid", name)
		}
	}
}

// TestErrorReport: a message that could not be opened is reported as
// encrypted when it was (a missing key), tampered ciphertext as bad.
func TestErrorReport(t *testing.T) {
	noKey := fmt.Errorf("no key to decrypt: %w", core.ErrNoKey)
	r := core.ErrorReport(fmt.Errorf("opening: %w", &core.UnopenedError{Protocol: core.ProtocolOpenPGP, Encrypted: true, Part: "2", Err: noKey}))
	if r.Status != core.StatusError || !r.Encrypted || r.Protocol != core.ProtocolOpenPGP || r.EncryptedPart != "2" ||
		r.Error != "opening: no key to decrypt: no usable key" || r.Signers == nil {
		t.Errorf("missing key: %+v", r)
	}
	if core.ExitCode(&core.UnopenedError{Err: noKey}) != core.ExitKey || !errors.Is(&core.UnopenedError{Err: noKey}, core.ErrNoKey) {
		t.Error("an UnopenedError hides its kind")
	}
	r = core.ErrorReport(errors.New("unreadable"))
	if r.Status != core.StatusError || r.Encrypted || r.Protocol != "" {
		t.Errorf("plain error: %+v", r)
	}
	r = core.ErrorReport(fmt.Errorf("x: %w", core.ErrIntegrity))
	if r.Status != core.StatusBad || !r.Encrypted || r.Integrity != core.IntegrityFailed {
		t.Errorf("tampered: %+v", r)
	}
}
