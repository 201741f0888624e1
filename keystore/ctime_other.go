//go:build !linux && !darwin

package keystore

import "io/fs"

// changeTime is 0 where the status change time is not read: a certificate
// rewritten in place with its size and modification time kept is then
// seen only when its directory changes (OpenPGP's key index), or when its
// size or modification time next changes (the X.509 index).
func changeTime(fs.FileInfo) int64 { return 0 }

// fileID is "" where it is not read.
func fileID(fs.FileInfo) string { return "" }
