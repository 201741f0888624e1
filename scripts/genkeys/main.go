// Command genkeys writes other people's keys for scripts/bench.sh's "many
// keys stored" rows: N OpenPGP certificates (Ed25519 with an X25519
// subkey, as mailseal makes them; one user ID "Person I
// <personI@example.net>" each), binary, to stdout; with -x509,
// N self-signed ECDSA P-256 S/MIME certificates for the same addresses,
// PEM.
//
//	go run ./scripts/genkeys [-x509] N > FILE
package main

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"flag"
	"fmt"
	"math/big"
	"os"
	"strconv"
	"time"

	"github.com/mailseal/mailseal/pgp"
)

func main() {
	smime := flag.Bool("x509", false, "S/MIME certificates (PEM) instead of OpenPGP certificates")
	flag.Parse()
	n, err := strconv.Atoi(flag.Arg(0))
	if err != nil || n < 0 || flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: genkeys [-x509] N > FILE")
		os.Exit(2)
	}
	w := bufio.NewWriter(os.Stdout)
	for i := range n {
		name, addr := fmt.Sprintf("Person %d", i), fmt.Sprintf("person%d@example.net", i)
		if *smime {
			err = writeX509(w, i, name, addr)
		} else {
			err = writePGP(w, name, addr)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "genkeys:", err)
			os.Exit(1)
		}
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintln(os.Stderr, "genkeys:", err)
		os.Exit(1)
	}
}

// writePGP makes a key as mailseal keys generate does (pgp.NewKey) and
// writes its certificate.
func writePGP(w *bufio.Writer, name, addr string) error {
	e, err := pgp.NewKey(pgp.KeyOptions{UserIDs: []string{name + " <" + addr + ">"}})
	if err != nil {
		return err
	}
	return e.Serialize(w)
}

func writeX509(w *bufio.Writer, i int, name, addr string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(int64(i) + 1), Subject: pkix.Name{CommonName: name},
		EmailAddresses: []string{addr},
		NotBefore:      time.Now().Add(-time.Hour), NotAfter: time.Now().Add(48 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyAgreement,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return err
	}
	return pem.Encode(w, &pem.Block{Type: "CERTIFICATE", Bytes: der})
}
