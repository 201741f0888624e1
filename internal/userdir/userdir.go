// Package userdir names the per-user directories mailseal keeps its files
// in: the XDG base directories where they are set, else the system's own
// (~/.local/share and ~/.config on Unix, macOS included; %AppData% on
// Windows, for both).
package userdir

import (
	"os"
	"path/filepath"
)

// Data is mailseal's data directory: $XDG_DATA_HOME/mailseal, else
// ~/.local/share/mailseal (%AppData%\mailseal on Windows).
func Data() (string, error) { return dir("XDG_DATA_HOME", ".local", "share") }

// Config is mailseal's configuration directory: $XDG_CONFIG_HOME/mailseal,
// else ~/.config/mailseal (%AppData%\mailseal on Windows).
func Config() (string, error) { return dir("XDG_CONFIG_HOME", ".config") }

// dir is $env/mailseal, else the system's directory (under the home
// directory at underHome on Unix) with mailseal in it.
func dir(env string, underHome ...string) (string, error) {
	if d := os.Getenv(env); d != "" {
		return filepath.Join(d, "mailseal"), nil
	}
	d, err := systemDir(underHome)
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "mailseal"), nil
}
