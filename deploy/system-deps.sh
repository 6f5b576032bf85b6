#!/usr/bin/env bash
# Installs the Debian packages client-intake's demo, tests and benchmarks need: Dovecot (IMAP, LMTP) and, for
# browser tests, Chromium with a CJK font (without one, Chinese pages render as boxes).
# Usage: deploy/system-deps.sh [--with-browser]
set -euo pipefail

packages=()
[ -x /usr/sbin/dovecot ] && [ -x /usr/lib/dovecot/dovecot-lda ] || packages+=(dovecot-core dovecot-imapd)
# LMTP delivery, for the steady-load benchmark (benchmarks.ack_latency --rate).
[ -x /usr/lib/dovecot/lmtp ] || packages+=(dovecot-lmtpd)
if [ "${1:-}" = "--with-browser" ]; then
  command -v chromium >/dev/null 2>&1 || packages+=(chromium)
  dpkg-query -W -f '${Status}' fonts-noto-cjk 2>/dev/null | grep -q 'ok installed' || packages+=(fonts-noto-cjk)
fi
command -v openssl >/dev/null 2>&1 || packages+=(openssl)
[ ${#packages[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
    echo "client-intake: need root to install ${packages[*]} (apt-get); run as root or install them first" >&2
    exit 1
  fi
else
  SUDO=
fi
echo "client-intake: installing ${packages[*]} from Debian's packages" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# policy-rc.d keeps the system Dovecot service from starting: we run private instances only.
$SUDO apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
