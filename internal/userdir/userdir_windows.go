package userdir

import "os"

// systemDir is %AppData% (the roaming profile, where GnuPG keeps its home
// and the Shared OpenPGP Certificate Directory specification puts
// pgp.cert.d), for data and configuration alike.
func systemDir([]string) (string, error) { return os.UserConfigDir() }
