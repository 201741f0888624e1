//go:build !linux

package keystore

import (
	"io/fs"
	"os"
	"path/filepath"
)

// dirFiles stats the files of one directory by their names, through
// links: os.Stat of each (statat_linux.go says why Linux does otherwise).
type dirFiles struct{ dir string }

func openDirFiles(dir string) (*dirFiles, error) {
	if _, err := os.Stat(dir); err != nil {
		return nil, err
	}
	return &dirFiles{dir: dir}, nil
}

func (d *dirFiles) stat(name string) (fs.FileInfo, error) {
	return os.Stat(filepath.Join(d.dir, name))
}

func (d *dirFiles) close() {}
