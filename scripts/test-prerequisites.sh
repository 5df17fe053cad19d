#!/usr/bin/env bash
# What `make test` needs from the machine, set up the same way on a newcomer's machine and in CI:
# the Debian packages the tests use (installed when missing, as root; otherwise the exact command to
# run is printed and this fails) and the local PostgreSQL (started when it is down).
# axe-core and the Python packages are the Makefile's own rules.
set -euo pipefail

# Chromium (browser tests), poppler (the PDF's pages and text), pango and a font (WeasyPrint's PDF of
# the final report), npm (axe-core for the accessibility checks), Java (the W3C Nu checker of the report's HTML), Dovecot (the IMAP server of the mailbox tests).
need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
{ command -v pdftoppm && command -v pdftotext; } >/dev/null || need+=(poppler-utils)
/sbin/ldconfig -p | grep -q 'libpango-1.0.so' || need+=(libpango-1.0-0)
/sbin/ldconfig -p | grep -q 'libpangoft2-1.0.so' || need+=(libpangoft2-1.0-0)
[ -d /usr/share/fonts/truetype/dejavu ] || need+=(fonts-dejavu-core)
command -v npm >/dev/null || need+=(npm)
command -v java >/dev/null || need+=(default-jre-headless)
[ -x /usr/sbin/dovecot ] || need+=(dovecot-imapd)

if [ "${#need[@]}" -gt 0 ]; then
    install="apt-get install -y --no-install-recommends ${need[*]}"
    if [ "$(id -u)" -ne 0 ]; then
        echo "The tests need Debian packages that are missing. Run, then \`make test\` again:" >&2
        echo "    sudo apt-get update && sudo $install" >&2
        exit 1
    fi
    echo "Installing the Debian packages the tests need: ${need[*]}"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive $install -q
fi

# The PostgreSQL of the tests (ENGAGE_TEST_POSTGRES_URL, tests/conftest.py's default otherwise): when it
# is this machine's and down, start the local cluster and wait until it accepts connections.
url="${ENGAGE_TEST_POSTGRES_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test}"
hostport="${url#*@}"
hostport="${hostport%%/*}"
host="${hostport%%:*}"
port="5432"
[ "$hostport" = "$host" ] || port="${hostport##*:}"
case "$host" in
    127.0.0.1|localhost) ;;
    *) exit 0 ;;  # another machine's server: the tests say so if it cannot be reached
esac
if ! command -v pg_isready >/dev/null || ! command -v pg_ctlcluster >/dev/null || [ ! -d /etc/postgresql ]; then
    echo "PostgreSQL is not installed: the tests use $url (trust authentication for 127.0.0.1)." >&2
    echo "Install it (sudo apt-get install postgresql), or point ENGAGE_TEST_POSTGRES_URL at a server." >&2
    exit 1
fi
if ! pg_isready -h "$host" -p "$port" -q; then
    start="pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql | sort -V | tail -1) main start"
    if [ "$(id -u)" -ne 0 ]; then
        echo "PostgreSQL is down on $host:$port. Start it, then \`make test\` again:" >&2
        echo "    sudo $start" >&2
        exit 1
    fi
    echo "Starting PostgreSQL: $start"
    $start
    for _ in $(seq 30); do pg_isready -h "$host" -p "$port" -q && break; sleep 1; done
fi
pg_isready -h "$host" -p "$port"
