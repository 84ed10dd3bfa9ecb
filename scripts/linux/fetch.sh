#!/bin/sh
# Fetch the guest of issue 7 into a cache directory outside the repository: Debian 12's
# cloud kernel (the unsigned bzImage and its modules) and busybox-static, with
# `apt-get download`, extracted with dpkg-deb -x. Idempotent: what is cached is skipped.
# Nothing fetched is ever committed.
#
#   scripts/linux/fetch.sh            # cache: $HVSIM_CACHE or ~/.cache/hvsim/debian
#   HVSIM_KERNEL_PACKAGE=linux-image-6.1.0-56-cloud-amd64-unsigned scripts/linux/fetch.sh
#
# Prints KERNEL=, MODULES=, BUSYBOX= lines (paths) on stdout; progress goes to stderr.
set -eu

CACHE=${HVSIM_CACHE:-${HOME}/.cache/hvsim/debian}
mkdir -p "$CACHE/debs"

# The kernel the cloud metapackage currently depends on, in its unsigned flavour.
kernel_package() {
  if [ -n "${HVSIM_KERNEL_PACKAGE:-}" ]; then echo "$HVSIM_KERNEL_PACKAGE"; return; fi
  signed=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-6\.1\.0-[0-9]*-cloud-amd64\)$/\1/p' | head -n 1)
  if [ -n "$signed" ]; then echo "${signed}-unsigned"; return; fi
  apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-cloud-amd64-unsigned$' | cut -d' ' -f1 | sort -V | tail -n 1
}

# download_extract PACKAGE DIR: the .deb into $CACHE/debs, its contents under DIR.
download_extract() {
  pkg=$1
  dir=$2
  if [ -f "$dir/.extracted" ]; then
    echo "fetch: $pkg already in $dir" >&2
    return
  fi
  deb=$(ls "$CACHE/debs/${pkg}_"*.deb 2>/dev/null | head -n 1 || true)
  if [ -z "$deb" ]; then
    echo "fetch: apt-get download $pkg" >&2
    (cd "$CACHE/debs" && apt-get download "$pkg" >&2)
    deb=$(ls "$CACHE/debs/${pkg}_"*.deb | head -n 1)
  fi
  rm -rf "$dir"
  mkdir -p "$dir"
  dpkg-deb -x "$deb" "$dir"
  touch "$dir/.extracted"
}

KPKG=$(kernel_package)
if [ -z "$KPKG" ]; then
  echo "fetch: no linux-image-6.1.0-*-cloud-amd64-unsigned package known to apt (run apt-get update?)" >&2
  exit 1
fi
download_extract "$KPKG" "$CACHE/$KPKG"
download_extract busybox-static "$CACHE/busybox-static"

KERNEL=$(ls "$CACHE/$KPKG"/boot/vmlinuz-* | head -n 1)
MODULES=$(ls -d "$CACHE/$KPKG"/lib/modules/* | head -n 1)
echo "KERNEL=$KERNEL"
echo "MODULES=$MODULES"
echo "BUSYBOX=$CACHE/busybox-static/bin/busybox"
