#!/usr/bin/env bash
# t_embed.sh - examples/embed/embed.c as a VMM author uses it: install the build under test
# into a temporary prefix, build the example against it through pkg-config (shared, as its
# README says, and static), and run it on the real /dev/kvm. Its guest loads from MMIO with
# x87 and AVX instructions that only exitgate's emulator can finish; it reports 0 through a
# port only when the values it loaded match integer reads of the same device.
#
# The TAP lines are collected and printed at the end, so that a /dev/kvm that opens but
# cannot create a VM still ends in "1..0 # SKIP" and never in a pass.
set -u
B="${XG_BUILD:?run through the test suite (XG_BUILD unset)}"
S="${XG_SOURCE:?}"
EX="$S/examples/embed"
CC="${CC:-cc}"
n=0 fail=0 out=""
ok() {
	n=$((n + 1))
	if [ "$1" = 0 ]; then out+="ok $n - $2"$'\n'; else out+="not ok $n - $2"$'\n'; fail=1; fi
}
diag() { out+="$(sed 's/^/# /' <<<"$1")"$'\n'; }
skip_all() { echo "1..0 # SKIP $1"; exit 0; }
has() { grep -qE -- "$2" <<<"$1"; }

[ -e /dev/kvm ] || skip_all "no /dev/kvm on this machine"
[ -r /dev/kvm ] && [ -w /dev/kvm ] || skip_all "/dev/kvm is not readable and writable by $(id -un)"
command -v pkg-config >/dev/null || skip_all "pkg-config is not installed"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/xg-embed.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
P="$tmp/prefix"

log=$(cmake --install "$B" --prefix "$P" 2>&1); rc=$?
ok $rc "cmake --install into a temporary prefix"
[ $rc = 0 ] || diag "$log"
export PKG_CONFIG_PATH="$P/lib/pkgconfig"
export XG_LUA_DIR="$P/share/exitgate/lua" # the installed Lua module, not the source tree's
cflags="" libs=""
cflags=$(pkg-config --cflags exitgate 2>&1) && libs=$(pkg-config --libs exitgate 2>&1)
ok $? "pkg-config finds exitgate in the prefix ($(pkg-config --modversion exitgate 2>&1))"
has "$cflags $libs" "$P/lib/pkgconfig/\.\./\.\./(include|lib)"
ok $? "the installed exitgate.pc points into the prefix it was copied to"
[ -f "$P/include/exitgate.h" ] && [ -f "$P/include/exitgate/xg_emu_x86.h" ]
ok $? "exitgate.h and exitgate/xg_emu_x86.h are installed"

lines=$(wc -l <"$EX/embed.c")
[ "$lines" -lt 300 ]; ok $? "embed.c is under 300 lines ($lines)"

# A sanitized libexitgate pulls in the ASan (or TSan) runtime, which must come first in the
# program, and the static library's objects call into it.
san=""
grep -q '^XG_SANITIZE:BOOL=ON' "$B/CMakeCache.txt" 2>/dev/null && san="-fsanitize=address,undefined"
grep -q '^XG_SANITIZE_THREAD:BOOL=ON' "$B/CMakeCache.txt" 2>/dev/null && san="-fsanitize=thread"
warn="-Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2"

# Shared: the README's one-liner; the library is found at run time through LD_LIBRARY_PATH.
log=$($CC -O2 $warn $san -o "$tmp/embed" "$EX/embed.c" $(pkg-config --cflags --libs exitgate) 2>&1)
ok $? "cc embed.c \$(pkg-config --cflags --libs exitgate), warnings as errors"
[ -z "$log" ] || diag "$log"
readelf -d "$tmp/embed" 2>/dev/null | grep -q 'NEEDED.*libexitgate\.so'
ok $? "the shared build needs libexitgate.so"
# The shared library calls its own functions directly (-Bsymbolic-functions, core/CMakeLists.txt),
# not through a PLT slot each: every slot is one more cold line per call on the exit path.
so=$(readlink -f "$P/lib/libexitgate.so")
own=$(nm -D --defined-only "$so" 2>/dev/null | awk '$2 ~ /[TtWi]/ {print $3}' | sort -u)
slots=$(readelf -rW "$so" 2>/dev/null | awk '/JUMP_SLOT/ {sub(/@.*/, "", $5); print $5}' | sort -u)
through=$(comm -12 <(echo "$own") <(echo "$slots") | head -n 5)
[ -n "$own" ] && [ -z "$through" ]
ok $? "libexitgate.so calls none of its own $(wc -l <<<"$own") functions through a PLT slot"
[ -z "$through" ] || diag "called through a PLT slot: $through"
# Static: libexitgate.a by name, and its private dependencies from --static.
slibs=$(pkg-config --static --libs exitgate | sed 's/-lexitgate\b/-l:libexitgate.a/')
log=$($CC -O2 $warn $san -o "$tmp/embed-static" "$EX/embed.c" $(pkg-config --cflags exitgate) \
	$slibs 2>&1)
ok $? "static build: pkg-config --static --libs with -l:libexitgate.a"
[ -z "$log" ] || diag "$log"
! readelf -d "$tmp/embed-static" 2>/dev/null | grep -q 'libexitgate'
ok $? "the static build needs no libexitgate.so"

policy="$P/share/exitgate/policies/default.lua"
run=$(LD_LIBRARY_PATH="$P/lib" timeout 60 "$tmp/embed" "$policy" 2>&1); rc=$?
if [ $rc = 2 ] && has "$run" '^embed: /dev/kvm'; then
	skip_all "/dev/kvm cannot run a VM here: $(head -n1 <<<"$run")"
fi
[ $rc = 0 ] && has "$run" '^guest result 0 \(pass\)'
ok $? "the guest's x87 and AVX loads from MMIO are emulated: it reports 0 (exit $rc)"
diag "$run"
exits=$(sed -nE 's/.*exitgate handled ([0-9]+) exits, emulated ([0-9]+).*/\1 \2/p' <<<"$run")
read -r ex em <<<"${exits:-0 0}"
[ "$em" -ge 2 ] && [ "$ex" -ge "$em" ]
ok $? "exitgate handled the exits and emulated at least flds and vmovdqu ($ex exits, $em emulated)"

run=$(timeout 60 "$tmp/embed-static" "$policy" 2>&1); rc=$?
[ $rc = 0 ] && has "$run" '^guest result 0 \(pass\)'
ok $? "the static build passes too, without LD_LIBRARY_PATH (exit $rc)"
[ $rc = 0 ] || diag "$run"

run=$(cd "$EX" && LD_LIBRARY_PATH="$P/lib" timeout 60 "$tmp/embed" 2>&1); rc=$?
[ $rc = 0 ] && has "$run" '^guest result 0 \(pass\)'
ok $? "without an argument it runs the shipped policies/default.lua (from examples/embed)"
[ $rc = 0 ] || diag "$run"

# The pass comes from exitgate: a policy that refuses to emulate leaves the guest failing.
cat >"$tmp/refuse.lua" <<'EOF'
local xg = require "exitgate"
return xg.policy {
	emulation_failure = function(e) return xg.inject "UD" end,
	default = function(e) return xg.stop("exit " .. e.kind) end,
}
EOF
run=$(LD_LIBRARY_PATH="$P/lib" timeout 60 "$tmp/embed" "$tmp/refuse.lua" 2>&1); rc=$?
[ $rc = 1 ] && has "$run" '^guest result -1 \(FAIL\)' && has "$run" '^embed: exit 8: '
ok $? "a policy that injects #UD instead: the guest never reports, the VMM stops (exit $rc)"
[ $rc = 1 ] || diag "$run"
run=$(LD_LIBRARY_PATH="$P/lib" timeout 60 "$tmp/embed" "$tmp/missing.lua" 2>&1); rc=$?
[ $rc = 2 ] && has "$run" 'missing\.lua'
ok $? "a missing policy file: exit 2 with the path"
[ $rc = 2 ] || diag "$run"

printf '%s' "$out"
echo "1..$n"
exit $fail
