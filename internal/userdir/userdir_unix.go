//go:build unix

package userdir

import (
	"os"
	"path/filepath"
)

func systemDir(underHome []string) (string, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(append([]string{home}, underHome...)...), nil
}
