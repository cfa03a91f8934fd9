#!/bin/sh
# Installs the Debian packages a target needs, only those missing.
# usage: scripts/deps.sh run|test
set -eu
run_pkgs="gcc make cmake pkg-config libsqlite3-dev libpq-dev libgnutls28-dev libcurl4-gnutls-dev"
test_pkgs="$run_pkgs postgresql libcmocka-dev clang libclang-rt-14-dev python3 python3-openstackclient python3-keystone nova-api curl gnutls-bin openvswitch-switch tcpdump iputils-ping iproute2 procps ethtool dnsmasq-base isc-dhcp-client nova-common gcc-mingw-w64-x86-64 wine wine64"
case "${1:-}" in
  run) want=$run_pkgs ;;
  test) want=$test_pkgs ;;
  *) echo "usage: $0 run|test" >&2; exit 2 ;;
esac
missing=""
for p in $want; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "Installing missing Debian packages:$missing"
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
    echo "error: need root to install:$missing (run as root or install them)" >&2; exit 1
  fi
else SUDO=""; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq || echo "warning: apt-get update failed; trying the local package lists" >&2
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
