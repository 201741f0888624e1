// Package lineartest makes the inputs of the tests that prove a parser of
// addresses linear (core's user IDs, mime's address lists): a unit
// repeated many times, alone and in each place of a mailbox; and measures
// the processor time of the tests that compare a size with eight times it
// (CPU). It is for tests only.
package lineartest

import "strings"

// Mailboxes returns unit repeated n times: alone, in a display name, in
// the local part of an angle address, in a comment after one and in a
// quoted display name.
func Mailboxes(unit string, n int) []string {
	r := strings.Repeat(unit, n)
	return []string{
		r,
		"A " + r + " <a@b.example>",
		"<" + r + "@b.example>",
		"<a@b.example> (" + r + ")",
		`"` + r + `" <a@b.example>`,
	}
}
