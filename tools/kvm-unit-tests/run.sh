#!/usr/bin/env bash
# Run kvm-unit-tests (KVM's bare-metal unit tests, from their upstream repository) under hvsim, the way
# the suite's x86/run starts them under QEMU:
#   qemu -kernel x86/T.flat -append "ARGS" -initrd ENV -device pc-testdev
#        -device isa-debug-exit,iobase=0xf4,iosize=0x4 -serial stdio
# becomes
#   node bin/hvsim.js run --kernel x86/T.flat --append "ARGS" --initrd ENV -m 128M -c 1 ...
# and prints one line per test: name, exit status, pass (status 1: debug-exit value 0),
# skip (status 77: the suite's "all skipped") or fail, and a short detail from the log.
#
# Nothing is downloaded or built here. Build kvm-unit-tests yourself, outside this repo:
#   (put a clone of the kvm-unit-tests source in /tmp/kut)
#   (cd /tmp/kut && ./configure --arch=x86_64 && make -j2)
#   mkdir /tmp/kut-i386 && (cd /tmp/kut-i386 && /tmp/kut/configure --arch=i386 && make -j2)
# then: npm run build && tools/kvm-unit-tests/run.sh [options] [TEST...]
#
# Options:
#   --shim       run through tools/kvm-unit-tests/shim.mjs with test-only stand-ins for what
#                the machine lacks (an inert xAPIC page, pc-testdev's MMIO scratch page,
#                SeaBIOS's PIC/IVT state, a low multiboot info block). Diagnostic only.
#   --list       print the test list and exit.
#   -h, --help   this text.
# TEST...        names from tests.txt (default: all of them).
#
# Environment:
#   KUT_DIR       x86_64 build of kvm-unit-tests (default /tmp/kut)
#   KUT_I386_DIR  i386 build, for cmpxchg8b and taskswitch* (default /tmp/kut-i386;
#                 its tests are reported as skip when it is missing)
#   HVSIM_DIR     hvsim checkout with dist/ built (default: this repository)
#   LOG_DIR       where each test's serial output and hvsim's messages go (default /tmp/kut-logs)
#   TIMEOUT       default wall-clock limit per test in seconds (default 120; tests.txt may raise it)
#   MAX_INSNS     --max-insns for every test (default 20G)
set -u

here=$(cd "$(dirname "$0")" && pwd)
HVSIM_DIR=${HVSIM_DIR:-$(cd "$here/../.." && pwd)}
KUT_DIR=${KUT_DIR:-/tmp/kut}
KUT_I386_DIR=${KUT_I386_DIR:-/tmp/kut-i386}
LOG_DIR=${LOG_DIR:-/tmp/kut-logs}
TIMEOUT=${TIMEOUT:-120}
MAX_INSNS=${MAX_INSNS:-20G}
shim=0
list=0
want=()

usage() { sed -n '2,/^set -u/p' "$0" | sed -e '/^set -u/d' -e 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
  case "$1" in
    --shim) shim=1 ;;
    --list) list=1 ;;
    -h|--help) usage; exit 0 ;;
    -*) echo "run.sh: unknown option $1 (see --help)" >&2; exit 64 ;;
    *) want+=("$1") ;;
  esac
  shift
done

# name build flat timeout hypervisor args...
mapfile -t table < <(grep -v '^[[:space:]]*\(#\|$\)' "$here/tests.txt")
if [ $list -eq 1 ]; then printf '%s\n' "${table[@]}"; exit 0; fi

if [ ! -f "$KUT_DIR/x86/setjmp.flat" ]; then
  cat >&2 <<EOF
run.sh: no kvm-unit-tests x86_64 build at KUT_DIR=$KUT_DIR (x86/setjmp.flat is missing).
This script downloads and builds nothing. Get the source and build it outside this repository:
  (a clone of the kvm-unit-tests source in /tmp/kut)
  cd /tmp/kut && ./configure --arch=x86_64 && make -j2
and for cmpxchg8b/taskswitch/taskswitch2 an i386 build next to it:
  mkdir /tmp/kut-i386 && cd /tmp/kut-i386 && /tmp/kut/configure --arch=i386 && make -j2
then run again, or point KUT_DIR (and KUT_I386_DIR) at your builds.
EOF
  exit 2
fi
if [ ! -f "$HVSIM_DIR/dist/cli/main.js" ] && [ ! -f "$HVSIM_DIR/dist/api/vmm.js" ]; then
  echo "run.sh: $HVSIM_DIR/dist is missing: run 'npm run build' in $HVSIM_DIR first" >&2
  exit 2
fi
command -v timeout >/dev/null || { echo "run.sh: needs timeout(1) (coreutils)" >&2; exit 2; }

mkdir -p "$LOG_DIR"
# The environment file QEMU's scripts pass as -initrd (scripts/arch-run.bash initrd_create).
# The x86 tests read only NR_CPUS, MEMSIZE, TEST_DEVICE, MEMLIMIT and BOOTLOADER from it; keep
# it fixed so runs are reproducible.
envfile="$LOG_DIR/env"
printf 'TARGET=qemu\n' >"$envfile"

# Shim stand-ins per test (see shim.mjs).
shim_flags() {
  case "$1" in
    realmode) echo "--bios --info-low" ;;
    *) echo "--lapic --iomem" ;;
  esac
}

printf '%-24s %-6s %-5s %s\n' TEST STATUS RESULT DETAIL
npass=0; nfail=0; nskip=0
for row in "${table[@]}"; do
  read -r name build flat tmo hv args <<<"$row"
  if [ ${#want[@]} -gt 0 ]; then
    found=0; for w in "${want[@]}"; do [ "$w" = "$name" ] && found=1; done
    [ $found -eq 1 ] || continue
  fi
  dir=$KUT_DIR; [ "$build" = i386 ] && dir=$KUT_I386_DIR
  kernel="$dir/x86/$flat.flat"
  log="$LOG_DIR/$name.log"
  if [ ! -f "$kernel" ]; then
    printf '%-24s %-6s %-5s %s\n' "$name" - skip "no $kernel ($build build missing)"
    nskip=$((nskip + 1)); continue
  fi
  [ "$tmo" = - ] && tmo=$TIMEOUT
  hvopt=(); [ "$hv" != - ] && hvopt=(--hypervisor "$hv")
  if [ $shim -eq 1 ]; then
    # shellcheck disable=SC2046
    cmd=(node "$here/shim.mjs" --hvsim "$HVSIM_DIR" --kernel "$kernel" --append "$args" --initrd "$envfile"
         -m 128 --max-insns "$(numfmt --from=si "$MAX_INSNS")" "${hvopt[@]}" $(shim_flags "$name"))
  else
    cmd=(node "$HVSIM_DIR/bin/hvsim.js" run --kernel "$kernel" --append "$args" --initrd "$envfile"
         -m 128M -c 1 --max-insns "$MAX_INSNS" "${hvopt[@]}" "kut-$name")
  fi
  echo "# ${cmd[*]}" >"$log"
  timeout -k 5 "$tmo" "${cmd[@]}" >>"$log" 2>&1 </dev/null
  st=$?
  np=$(grep -c '^PASS:' "$log"); nf=$(grep -c '^FAIL:' "$log")
  if [ $st -eq 1 ]; then res=pass
  elif [ $st -eq 77 ]; then res=skip
  else res=fail
  fi
  case $st in
    1|77) detail="$np PASS, $nf FAIL" ;;
    3) detail="$np PASS, $nf FAIL (debug-exit 1: unexpected failures)" ;;
    124|137) detail="timeout after ${tmo}s ($np PASS, $nf FAIL so far)" ;;
    127) detail="unhandled exception: $(grep -m1 -o 'Unhandled exception.*' "$log" || grep -m1 'assert failed' "$log" || echo 'exit(63)')" ;;
    70) detail="hvsim internal error: $(grep -m1 -o 'RangeError.*\|TypeError.*\|Error:.*' "$log")" ;;
    65) detail="hvsim refused the image: $(grep -m1 -o 'run: .*\|shim.mjs: .*' "$log")" ;;
    8) detail="--max-insns $MAX_INSNS reached ($np PASS, $nf FAIL)" ;;
    6) detail="triple fault ($np PASS, $nf FAIL)" ;;
    *) detail="$np PASS, $nf FAIL" ;;
  esac
  printf '%-24s %-6s %-5s %s\n' "$name" "$st" "$res" "$detail"
  case $res in pass) npass=$((npass + 1)) ;; skip) nskip=$((nskip + 1)) ;; *) nfail=$((nfail + 1)) ;; esac
done
echo "# $npass pass, $nfail fail, $nskip skip; logs in $LOG_DIR$([ $shim -eq 1 ] && echo ' (with --shim stand-ins)')"
