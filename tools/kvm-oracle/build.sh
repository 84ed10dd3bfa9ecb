#!/bin/sh
# Builds the /dev/kvm oracle helper next to this script (the binary is git-ignored).
# Usage: tools/kvm-oracle/build.sh [output]   (CC overrides the compiler, default gcc)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cc=${CC:-gcc}
out=${1:-$here/kvm-oracle}
tmp="$out.tmp.$$"
trap 'rm -f "$tmp"' EXIT
"$cc" -O2 -std=gnu11 -Wall -Wextra -Werror -o "$tmp" "$here/kvm-oracle.c"
mv -f "$tmp" "$out"
