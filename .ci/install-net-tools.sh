#!/usr/bin/env bash
# The network tests validate rendered files with the real tools: netplan
# (netplan generate --root-dir) and ifupdown (ifup --no-act). Installing them
# starts no service and changes no interface (checked: ifupdown's postinst only
# writes a one-line /etc/network/interfaces when none exists).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
need=()
command -v netplan >/dev/null 2>&1 || need+=(netplan.io)
command -v ifup >/dev/null 2>&1 || need+=(ifupdown)
if [ "${#need[@]}" -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
