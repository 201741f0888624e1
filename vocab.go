package mailseal

import (
	"crypto"
	"time"

	"github.com/mailseal/mailseal/core"
)

// The vocabulary of reports, policy and errors lives in package core, below
// the engines that speak it; these are the same types, constants and
// functions under the names a program uses.

type (
	// Report is the status of a verify or decrypt operation; the CLI prints it with --json.
	Report = core.Report
	// Signature describes one signature found on a message.
	Signature = core.Signature
	// Status is the verdict on a message's signature.
	Status = core.Status
	// SignerStatus is the verdict on one signature, before the message-level rules.
	SignerStatus = core.SignerStatus
	// Policy decides which algorithms and key sizes are accepted, and when.
	Policy = core.Policy
	// Senders are the From and Sender addresses a signer must be bound to.
	Senders = core.Senders
	// UserIDError says why an OpenPGP user ID binds no address.
	UserIDError = core.UserIDError
	// LimitError is input refused by a configured limit (mime.Limits,
	// Policy.MaxDecompressed); its Limit field names the setting.
	LimitError = core.LimitError
	// AuthReport is the domain's verdict (DKIM, SPF, DMARC) in Report.Auth.
	AuthReport = core.AuthReport
	// UnopenedError is the error of a message that could not be opened,
	// with its protocol and whether it is encrypted.
	UnopenedError = core.UnopenedError
)

// Verdicts; see core.Status.
const (
	StatusGood           = core.StatusGood
	StatusBad            = core.StatusBad
	StatusRefused        = core.StatusRefused
	StatusUntrusted      = core.StatusUntrusted
	StatusUnknownSigner  = core.StatusUnknownSigner
	StatusSenderMismatch = core.StatusSenderMismatch
	StatusPartial        = core.StatusPartial
	StatusUnsigned       = core.StatusUnsigned
	StatusError          = core.StatusError
)

// Per-signature verdicts; see core.SignerStatus.
const (
	SignerGood      = core.SignerGood
	SignerBad       = core.SignerBad
	SignerRefused   = core.SignerRefused
	SignerUntrusted = core.SignerUntrusted
	SignerUnknown   = core.SignerUnknown
)

// Protocol names, as in Report.Protocol and Recipient.Protocol.
const (
	ProtocolOpenPGP = core.ProtocolOpenPGP
	ProtocolSMIME   = core.ProtocolSMIME
)

// How decrypted content was protected, as in Report.Integrity.
const (
	IntegrityMDC    = core.IntegrityMDC
	IntegrityAEAD   = core.IntegrityAEAD
	IntegrityGCM    = core.IntegrityGCM
	IntegrityNone   = core.IntegrityNone
	IntegrityFailed = core.IntegrityFailed
)

// Exit codes of the command-line program; ExitCode maps an error to one.
const (
	ExitOK           = core.ExitOK
	ExitVerification = core.ExitVerification
	ExitUsage        = core.ExitUsage
	ExitKey          = core.ExitKey
)

// MaxClockSkew is how far a signature's time may lie outside what is
// expected; see core.MaxClockSkew.
const MaxClockSkew = core.MaxClockSkew

// Error kinds: every error the mailseal packages return wraps one of them
// (errors.Is), and ExitCode maps them to exit codes.
var (
	ErrIntegrity    = core.ErrIntegrity
	ErrVerification = core.ErrVerification
	ErrNoKey        = core.ErrNoKey
	ErrLocked       = core.ErrLocked
	ErrUsage        = core.ErrUsage
	ErrInput        = core.ErrInput
)

// DefaultPolicy is the policy of the command-line program.
func DefaultPolicy() Policy { return core.DefaultPolicy() }

// ExitCode is the exit code for err (ExitOK for nil).
func ExitCode(err error) int { return core.ExitCode(err) }

// ErrorReport is the report of a message that could not be checked; see
// core.ErrorReport.
func ErrorReport(err error) Report { return core.ErrorReport(err) }

// WithKind marks err with an error kind (ErrUsage, ErrNoKey, ...).
func WithKind(err, kind error) error { return core.WithKind(err, kind) }

// UserIDAddress is the one address an OpenPGP user ID binds, or why it
// binds none (a *UserIDError); see core.UserIDAddress.
func UserIDAddress(uid string) (string, error) { return core.UserIDAddress(uid) }

// SameAddress reports whether two addresses are the same mailbox.
func SameAddress(a, b string) bool { return core.SameAddress(a, b) }

// CheckCreated says why a signature made at created is bad at now.
func CheckCreated(created, now time.Time) error { return core.CheckCreated(created, now) }

// HashName is the name of a hash as reported in Signature.Hash.
func HashName(h crypto.Hash) string { return core.HashName(h) }
