#!/usr/bin/env bash
# Interoperability matrices: every producer x every consumer.
#
#   scripts/interop.sh          all peers: mailseal, gpg, sqop, pgpainless-cli, rnp, sq (OpenPGP)
#                               and mailseal, openssl cms, gpgsm (S/MIME)
#   scripts/interop.sh --ci     only the peers CI installs: gpg, gpgsm, openssl
#
# Installs what it needs from Debian (root or sudo). Prints the matrices;
# exits 1 if a cell in mailseal's row or column fails where the peer itself
# can do the operation. Cells a peer cannot do are marked n/a with the reason.
set -uo pipefail
cd "$(dirname "$0")/.."

ci=0
[ "${1:-}" = "--ci" ] && ci=1

need=()
command -v gpg >/dev/null || need+=(gnupg)
command -v gpgsm >/dev/null || need+=(gpgsm)
command -v openssl >/dev/null || need+=(openssl)
if [ $ci -eq 0 ]; then
  command -v sqop >/dev/null || need+=(sqop)
  command -v pgpainless-cli >/dev/null || need+=(pgpainless-cli)
  command -v rnp >/dev/null || need+=(rnp)
  command -v sq >/dev/null || need+=(sq)
fi
if [ ${#need[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi

W=$(mktemp -d)
trap 'gpgconf --homedir "$W/gpgsm-home" --kill all >/dev/null 2>&1; rm -rf "$W"' EXIT
CGO_ENABLED=0 go build -tags urfave_cli_no_docs -o "$W/mailseal" ./cmd/mailseal || exit 2
MS="$W/mailseal"

# The plaintext holds CRLF, UTF-8 and binary bytes.
printf 'first line\r\nGr\xc3\xbc\xc3\x9fe, \xe4\xb8\x96\xe7\x95\x8c\r\nbinary \x00\x01\xfe\xff end\r\n' > "$W/plain"
printf 'first line\nGr\xc3\xbc\xc3\x9fe\n' > "$W/text"

flip() { # flip a byte near the end of a binary file
  python3 - "$1" "$2" <<'PY'
import sys
d = bytearray(open(sys.argv[1], 'rb').read())
d[len(d) - 3] ^= 0x01
open(sys.argv[2], 'wb').write(bytes(d))
PY
}

# ---------------------------------------------------------------- OpenPGP
# Adapters: NAME_gen DIR; NAME_sign KEY IN SIG; NAME_verify SIG CERT IN;
# NAME_encrypt CERT IN OUT [SIGNKEY]; NAME_decrypt KEY IN OUT [VERIFYCERT].
# Keys and certificates are binary or armored OpenPGP files; ciphertext is
# made binary (dearmored) before it is handed on.

sop_gen()     { "$@" generate-key "$uid" > "$dir/key" && "$@" extract-cert < "$dir/key" > "$dir/cert"; }
sop_sign()    { local t=$1; shift; "$@" sign "$t.key" < "$t.in" > "$t.sig"; }

mk_sop() { # mk_sop NAME CMD...: define adapters for a SOP implementation
  local n=$1; shift
  local cmd="$*"
  eval "${n}_gen() { $cmd generate-key \"\$2\" > \"\$1/key\" && $cmd extract-cert < \"\$1/key\" > \"\$1/cert\"; }"
  eval "${n}_sign() { $cmd sign \"\$1\" < \"\$2\" > \"\$3\"; }"
  eval "${n}_verify() { $cmd verify \"\$1\" \"\$2\" < \"\$3\" > /dev/null; }"
  eval "${n}_encrypt() { if [ -n \"\${4:-}\" ]; then $cmd encrypt --sign-with=\"\$4\" \"\$1\" < \"\$2\" > \"\$3\"; else $cmd encrypt \"\$1\" < \"\$2\" > \"\$3\"; fi; }"
  eval "${n}_decrypt() { if [ -n \"\${4:-}\" ]; then $cmd decrypt --verify-with=\"\$4\" --verifications-out=\"\$3.ver\" \"\$1\" < \"\$2\" > \"\$3\" && test -s \"\$3.ver\"; else $cmd decrypt \"\$1\" < \"\$2\" > \"\$3\"; fi; }"
}
quiet() { "$@" 2>/dev/null; }
mk_sop mailseal quiet "$MS" sop
mk_sop sqop quiet sqop
mk_sop pgpainless quiet pgpainless-cli

gpgh() { # a fresh gpg home with the given key files imported
  local h; h=$(mktemp -d "$W/gpg.XXXX")
  for f in "$@"; do gpg --homedir "$h" --batch --quiet --import "$f" >/dev/null 2>&1; done
  echo "$h"
}
G() { gpg --homedir "$1" --batch --quiet --yes --pinentry-mode loopback --passphrase '' --trust-model always "${@:2}"; }
gpg_gen() {
  local h; h=$(gpgh)
  G "$h" --quick-gen-key "$2" ed25519 cert,sign never 2>/dev/null || return 1
  local fpr; fpr=$(G "$h" --with-colons --list-keys "$2" | awk -F: '/^fpr/{print $10; exit}')
  G "$h" --quick-add-key "$fpr" cv25519 encr never 2>/dev/null
  G "$h" --export-secret-keys "$fpr" > "$1/key" && G "$h" --export "$fpr" > "$1/cert"
}
gpg_sign()    { local h; h=$(gpgh "$1"); G "$h" --detach-sign -o "$3" "$2"; }
gpg_verify()  { local h; h=$(gpgh "$2"); G "$h" --status-fd 1 --verify "$1" "$3" 2>/dev/null | grep -q '^\[GNUPG:\] GOODSIG'; }
gpg_encrypt() {
  local h; h=$(gpgh "$1" ${4:+"$4"})
  local r; r=$(gpg --with-colons --import-options show-only --import "$1" 2>/dev/null | awk -F: '/^fpr/{print $10; exit}')
  if [ -n "${4:-}" ]; then G "$h" -o "$3" -e -s -r "$r" "$2"; else G "$h" -o "$3" -e -r "$r" "$2"; fi
}
gpg_decrypt() {
  local h; h=$(gpgh "$1" ${4:+"$4"})
  local st; st=$(G "$h" --status-fd 1 -o "$3" -d "$2" 2>/dev/null) || return 1
  grep -q '^\[GNUPG:\] DECRYPTION_OKAY' <<<"$st" || return 1
  [ -z "${4:-}" ] || grep -q '^\[GNUPG:\] GOODSIG' <<<"$st"
}

rnph() { local h; h=$(mktemp -d "$W/rnp.XXXX"); for f in "$@"; do rnpkeys --homedir "$h" --import "$f" >/dev/null 2>&1; done; echo "$h"; }
rnp_gen() {
  local h; h=$(rnph)
  rnpkeys --homedir "$h" --generate-key --userid="$2" --password= >/dev/null 2>&1 || return 1
  rnpkeys --homedir "$h" --export-key --secret "$2" > "$1/key" 2>/dev/null && rnpkeys --homedir "$h" --export-key "$2" > "$1/cert" 2>/dev/null
}
rnp_sign()    { local h; h=$(rnph "$1"); rnp --homedir "$h" --password= --sign --detach --output "$3" "$2" >/dev/null 2>&1; }
rnp_verify()  { local h; h=$(rnph "$2"); rnp --homedir "$h" --verify "$1" --source "$3" >/dev/null 2>&1; }
who() { basename "$(dirname "$1")"; } # the tool whose key or certificate a path is
rnp_encrypt() {
  local h; h=$(rnph "$1" ${4:+"$4"})
  if [ -n "${4:-}" ]; then
    rnp --homedir "$h" --password= --encrypt --sign -r "$(who "$1")@example.org" -u "$(who "$4")@example.org" --output "$3" "$2" >/dev/null 2>&1
  else
    rnp --homedir "$h" --encrypt -r "$(who "$1")@example.org" --output "$3" "$2" >/dev/null 2>&1
  fi
}
rnp_decrypt() {
  local h; h=$(rnph "$1" ${4:+"$4"})
  local out; out=$(rnp --homedir "$h" --password= --decrypt --output "$3" "$2" 2>&1) || return 1
  [ -z "${4:-}" ] || grep -q 'Good signature' <<<"$out"
}

sq_gen()     { sq key generate --userid "$2" --export "$1/key" >/dev/null 2>&1 && sq key extract-cert --output "$1/cert" "$1/key" 2>/dev/null; }
sq_sign()    { sq sign --detached --signer-key "$1" --output "$3" "$2" 2>/dev/null; }
sq_verify()  { sq verify --detached "$1" --signer-cert "$2" "$3" >/dev/null 2>&1; }
sq_encrypt() { if [ -n "${4:-}" ]; then sq encrypt --recipient-cert "$1" --signer-key "$4" --output "$3" "$2" 2>/dev/null; else sq encrypt --recipient-cert "$1" --output "$3" "$2" 2>/dev/null; fi; }
sq_decrypt() {
  if [ -n "${4:-}" ]; then sq decrypt --recipient-key "$1" --signer-cert "$4" --output "$3" "$2" >/dev/null 2>&1
  else sq decrypt --recipient-key "$1" --output "$3" "$2" >/dev/null 2>&1; fi
}

dearmor() { "$MS" sop dearmor < "$1" > "$1.bin" && mv "$1.bin" "$1"; }

if [ $ci -eq 1 ]; then pgp_tools=(mailseal gpg); else pgp_tools=(mailseal gpg sqop pgpainless rnp sq); fi

failures=0
declare -A cell
for t in "${pgp_tools[@]}"; do
  mkdir -p "$W/k/$t"
  if ! "${t}_gen" "$W/k/$t" "$t user <$t@example.org>"; then
    echo "$t cannot generate a key; its row and column are skipped" >&2
  fi
done

check_pgp() { # check_pgp OP PRODUCER CONSUMER -> OK / FAIL(reason)
  local op=$1 p=$2 c=$3 d="$W/c/$1-$2-$3"
  mkdir -p "$d"
  local pk="$W/k/$p/key" pc="$W/k/$p/cert" ck="$W/k/$c/key" cc="$W/k/$c/cert"
  case $op in
    sign)
      "${p}_sign" "$pk" "$W/plain" "$d/sig" || { echo "FAIL(produce)"; return; }
      "${c}_verify" "$d/sig" "$pc" "$W/plain" || { echo "FAIL(verify)"; return; }
      cp "$W/plain" "$d/altered"; printf 'x' >> "$d/altered"
      "${c}_verify" "$d/sig" "$pc" "$d/altered" && { echo "FAIL(altered data verified)"; return; } ;;
    encrypt)
      "${p}_encrypt" "$cc" "$W/plain" "$d/ct" || { echo "FAIL(produce)"; return; }
      dearmor "$d/ct"
      "${c}_decrypt" "$ck" "$d/ct" "$d/pt" || { echo "FAIL(decrypt)"; return; }
      cmp -s "$d/pt" "$W/plain" || { echo "FAIL(plaintext differs)"; return; }
      flip "$d/ct" "$d/bad"
      "${c}_decrypt" "$ck" "$d/bad" "$d/badpt" && { echo "FAIL(tampered copy accepted)"; return; } ;;
    sign+encrypt)
      "${p}_encrypt" "$cc" "$W/plain" "$d/ct" "$pk" || { echo "FAIL(produce)"; return; }
      dearmor "$d/ct"
      "${c}_decrypt" "$ck" "$d/ct" "$d/pt" "$pc" || { echo "FAIL(decrypt+verify)"; return; }
      cmp -s "$d/pt" "$W/plain" || { echo "FAIL(plaintext differs)"; return; } ;;
  esac
  echo OK
}

print_matrix() { # print_matrix TITLE OP TOOLS...
  local title=$1 op=$2; shift 2
  local tools=("$@")
  printf '\n%s (rows produce, columns consume)\n%-12s' "$title" ""
  for c in "${tools[@]}"; do printf '%-14s' "$c"; done; echo
  for p in "${tools[@]}"; do
    printf '%-12s' "$p"
    for c in "${tools[@]}"; do
      local r=${cell[$op,$p,$c]}
      printf '%-14s' "${r%%(*}"
    done
    echo
  done
  for p in "${tools[@]}"; do for c in "${tools[@]}"; do
    local r=${cell[$op,$p,$c]}
    [ "$r" = OK ] || echo "  $p -> $c: $r"
  done; done
}

for op in sign encrypt sign+encrypt; do
  for p in "${pgp_tools[@]}"; do
    for c in "${pgp_tools[@]}"; do
      if [ ! -s "$W/k/$p/key" ] || [ ! -s "$W/k/$c/key" ]; then cell[$op,$p,$c]="n/a(no key)"; continue; fi
      r=$(check_pgp "$op" "$p" "$c")
      cell[$op,$p,$c]=$r
      if [ "$r" != OK ] && { [ "$p" = mailseal ] || [ "$c" = mailseal ]; }; then
        # Is it the peer's own limit? Then the peer fails with itself too.
        peer=$p; [ "$p" = mailseal ] && peer=$c
        if [ "$peer" != mailseal ] && [ "$(check_pgp "$op" "$peer" "$peer")" != OK ]; then
          cell[$op,$p,$c]="n/a($peer cannot $op with itself)"
        else
          failures=$((failures + 1))
        fi
      fi
    done
  done
done
echo "OpenPGP, plaintext with CRLF, UTF-8 and binary bytes; a tampered copy must be refused"
print_matrix "sign -> verify" sign "${pgp_tools[@]}"
print_matrix "encrypt -> decrypt" encrypt "${pgp_tools[@]}"
print_matrix "sign+encrypt -> decrypt+verify" sign+encrypt "${pgp_tools[@]}"

# ----------------------------------------------------------------- S/MIME
S="$W/s"; mkdir -p "$S"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$S/ca.key" -out "$S/ca.pem" -subj "/CN=Interop CA" -days 2 \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
leaf() { # leaf NAME KEYSPEC USAGE
  local extra=()
  [ "$2" = ec ] && extra=(-pkeyopt ec_paramgen_curve:P-256)
  openssl req -newkey "$2" "${extra[@]}" -nodes -keyout "$S/$1.key" -out "$S/$1.csr" -subj "/CN=$1" 2>/dev/null
  printf 'subjectAltName=email:%s@example.org\nkeyUsage=critical,digitalSignature,%s\nextendedKeyUsage=emailProtection\n' "$1" "$3" > "$S/$1.ext"
  openssl x509 -req -in "$S/$1.csr" -CA "$S/ca.pem" -CAkey "$S/ca.key" -CAcreateserial -days 2 -extfile "$S/$1.ext" -out "$S/$1.pem" 2>/dev/null
  openssl pkcs12 -export -legacy -in "$S/$1.pem" -inkey "$S/$1.key" -passout pass:pw -out "$S/$1.p12" 2>/dev/null
}
leaf rsa rsa:2048 keyEncipherment
leaf ec ec keyAgreement
export MAILSEAL_HOME="$S/ms" MAILSEAL_PASSPHRASE=pw
for f in rsa ec; do "$MS" keys import "$S/$f.p12" 2>/dev/null; done
"$MS" keys import "$S/ca.pem" 2>/dev/null; "$MS" keys trust "Interop CA" 2>/dev/null
GH="$S/gpgsm-home"; mkdir -p -m 700 "$GH"; echo allow-loopback-pinentry > "$GH/gpg-agent.conf"
echo pw > "$S/pw"
GS() { gpgsm --homedir "$GH" --batch --yes --disable-crl-checks --disable-policy-checks --pinentry-mode loopback --passphrase-fd 3 "$@" 3<"$S/pw"; }
for f in rsa ec; do GS --import "$S/$f.p12" >/dev/null 2>&1; done
GS --import "$S/ca.pem" >/dev/null 2>&1
echo "$(openssl x509 -in "$S/ca.pem" -noout -fingerprint -sha1 | cut -d= -f2) S relax" > "$GH/trustlist.txt"
printf 'Content-Type: text/plain; charset=utf-8\r\n\r\nGr\xc3\xbc\xc3\x9fe from the S/MIME matrix\r\n' > "$S/entity"
hdr() { printf 'From: %s@example.org\r\nTo: %s@example.org\r\nSubject: matrix\r\n' "$1" "$2"; }

# The S/MIME adapters return 99 for what the tool cannot do.
# smime_sign TOOL KEY MODE OUT (MODE detached|opaque) -> a whole message
smime_sign() {
  case $1 in
    mailseal) { hdr "$2" "$2"; cat "$S/entity"; } | "$MS" sign --smime $([ "$3" = opaque ] && echo --opaque) --signer "$2@example.org" > "$4" 2>/dev/null ;;
    openssl) { hdr "$2" "$2"; openssl cms -sign -signer "$S/$2.pem" -inkey "$S/$2.key" -in "$S/entity" -binary $([ "$3" = opaque ] && echo -nodetach) 2>/dev/null; } > "$4" ;;
    gpgsm)
      if [ "$3" = opaque ]; then
        local blob; blob=$(GS --sign -u "$2@example.org" --base64 "$S/entity" 2>/dev/null) || return 1
        { hdr "$2" "$2"; printf 'MIME-Version: 1.0\r\nContent-Type: application/pkcs7-mime; smime-type=signed-data; name=smime.p7m\r\nContent-Transfer-Encoding: base64\r\n\r\n%s\r\n' "$blob"; } > "$4"
        return
      fi
      local sig; sig=$(GS --sign --detach -u "$2@example.org" --base64 "$S/entity" 2>/dev/null) || return 1
      { hdr "$2" "$2"; printf 'MIME-Version: 1.0\r\nContent-Type: multipart/signed; protocol="application/pkcs7-signature"; micalg=sha-256; boundary="b"\r\n\r\n--b\r\n'
        cat "$S/entity"; printf '\r\n--b\r\nContent-Type: application/pkcs7-signature\r\nContent-Transfer-Encoding: base64\r\n\r\n%s\r\n--b--\r\n' "$sig"; } > "$4" ;;
  esac
}
smime_verify() { # smime_verify TOOL MSG
  case $1 in
    mailseal) "$MS" verify --no-system-roots < "$2" >/dev/null 2>&1 ;;
    openssl) openssl cms -verify -CAfile "$S/ca.pem" -purpose smimesign -in "$2" -out /dev/null 2>/dev/null ;;
    gpgsm)
      if grep -qi 'smime-type=signed-data' "$2"; then
        python3 -c 'import sys,email; m=email.message_from_binary_file(open(sys.argv[1],"rb")); open(sys.argv[2],"wb").write(m.get_payload(decode=True))' "$2" "$S/gv.p7m" || return 1
        GS --verify --output - "$S/gv.p7m" 2>/dev/null | grep -q 'S/MIME matrix'
        return
      fi
      python3 - "$2" "$S/gv" <<'PY' || return 99
import sys, email
raw = open(sys.argv[1], 'rb').read().replace(b'\r\n', b'\n').replace(b'\n', b'\r\n')
m = email.message_from_bytes(raw)
if m.get_content_type() != 'multipart/signed': sys.exit(1)
b = b'--' + m.get_boundary().encode()
start = raw.index(b + b'\r\n') + len(b) + 2
end = raw.index(b'\r\n' + b, start)
open(sys.argv[2] + '.content', 'wb').write(raw[start:end])
open(sys.argv[2] + '.sig', 'wb').write(m.get_payload()[1].get_payload(decode=True))
PY
      GS --verify "$S/gv.sig" "$S/gv.content" >/dev/null 2>&1 ;;
  esac
}
# smime_encrypt TOOL TO CIPHER OUT (CIPHER cbc|gcm)
smime_encrypt() {
  case $1 in
    mailseal) { hdr rsa "$2"; cat "$S/entity"; } | "$MS" encrypt --smime --no-self --cipher "aes256-$3" > "$4" 2>/dev/null ;;
    openssl) { hdr rsa "$2"; openssl cms -encrypt -binary "-aes-256-$3" -in "$S/entity" "$S/$2.pem" 2>/dev/null; } > "$4" ;;
    gpgsm)
      [ "$3" = gcm ] && return 99
      local ct; ct=$(GS --encrypt -r "$2@example.org" --base64 "$S/entity" 2>/dev/null) || return 1
      { hdr rsa "$2"; printf 'MIME-Version: 1.0\r\nContent-Type: application/pkcs7-mime; smime-type=enveloped-data\r\nContent-Transfer-Encoding: base64\r\n\r\n%s\r\n' "$ct"; } > "$4" ;;
  esac
}
smime_decrypt() { # smime_decrypt TOOL WHO MSG
  case $1 in
    # The matrix messages are unsigned: CBC content is output only with --allow-unauthenticated.
    mailseal) "$MS" decrypt --allow-unauthenticated < "$3" 2>/dev/null | grep -q 'S/MIME matrix' ;;
    openssl) openssl cms -decrypt -recip "$S/$2.pem" -inkey "$S/$2.key" -in "$3" 2>/dev/null | grep -q 'S/MIME matrix' ;;
    gpgsm)
      python3 -c 'import sys,email; m=email.message_from_binary_file(open(sys.argv[1],"rb")); open(sys.argv[2],"wb").write(m.get_payload(decode=True))' "$3" "$S/gd.der" || return 1
      GS --decrypt "$S/gd.der" 2>/dev/null | grep -q 'S/MIME matrix' ;;
  esac
}

smime_tools=(mailseal openssl gpgsm)
smime_cell() { # smime_cell KIND KEY MODE PRODUCER CONSUMER -> OK, FAIL or n/a:REASON
  local m="$S/m-$RANDOM" rc
  if [ "$1" = sign ]; then
    smime_sign "$4" "$2" "$3" "$m"; rc=$?
    [ $rc -eq 99 ] && { echo "n/a:$4 cannot make $3 signatures"; return; }
    [ $rc -ne 0 ] && { echo FAIL; return; }
    smime_verify "$5" "$m"; rc=$?
    [ $rc -eq 99 ] && { echo "n/a:$5 is given the parts of a multipart/signed only"; return; }
  else
    smime_encrypt "$4" "$2" "$3" "$m"; rc=$?
    [ $rc -eq 99 ] && { echo "n/a:$4 cannot write AuthEnvelopedData (GCM)"; return; }
    [ $rc -ne 0 ] && { echo FAIL; return; }
    smime_decrypt "$5" "$2" "$m"; rc=$?
    [ $rc -ne 0 ] && [ "$5" = gpgsm ] && [ "$3" = gcm ] && { echo "n/a:gpgsm 2.2 cannot read AuthEnvelopedData (GCM)"; return; }
  fi
  [ $rc -eq 0 ] && echo OK || echo FAIL
}
smime_row() { # smime_row TITLE KIND KEY MODE
  printf '\n%s (rows produce, columns consume)\n%-12s' "$1" ""
  for c in "${smime_tools[@]}"; do printf '%-14s' "$c"; done; echo
  local notes=()
  for p in "${smime_tools[@]}"; do
    printf '%-12s' "$p"
    for c in "${smime_tools[@]}"; do
      local r; r=$(smime_cell "$2" "$3" "$4" "$p" "$c")
      if [ "$r" = FAIL ] && { [ "$p" = mailseal ] || [ "$c" = mailseal ]; }; then
        local peer=$p; [ "$p" = mailseal ] && peer=$c
        if [ "$peer" != mailseal ] && [ "$(smime_cell "$2" "$3" "$4" "$peer" "$peer")" != OK ]; then
          r="n/a:$peer cannot do this with itself"
        else
          failures=$((failures + 1))
        fi
      fi
      if [ "$r" = FAIL ] && [ "$p" != mailseal ] && [ "$c" != mailseal ]; then
        r="FAIL*"
        peerfail=1
      fi
      [ "${r#n/a:}" != "$r" ] && notes+=("${r#n/a:}")
      printf '%-14s' "${r%%:*}"
    done
    echo
  done
  printf '%s\n' "${notes[@]}" | sort -u | sed '/^$/d; s/^/  n\/a: /'
  if [ "${peerfail:-0}" = 1 ]; then
    echo "  FAIL*: two peers that do not read each other (mailseal is not involved; not counted)"
    peerfail=0
  fi
}
echo
echo "S/MIME (CA-issued certificates; gpgsm with CRL checks off, the test CA has no CRL)"
smime_row "detached signature, RSA" sign rsa detached
smime_row "detached signature, ECDSA P-256" sign ec detached
smime_row "opaque signature, RSA" sign rsa opaque
smime_row "encryption, RSA, AES-256-CBC" encrypt rsa cbc
smime_row "encryption, RSA, AES-256-GCM" encrypt rsa gcm
smime_row "encryption, EC P-256 (ECDH), AES-256-CBC" encrypt ec cbc

echo
if [ $failures -gt 0 ]; then
  echo "$failures cell(s) in mailseal's row or column failed"
  exit 1
fi
echo "every cell in mailseal's row and column is OK where the peer can do the operation"
