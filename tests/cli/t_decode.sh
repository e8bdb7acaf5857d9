#!/usr/bin/env bash
# t_decode.sh - `exitgate decode` as a person uses it: the shipped example exits as text and
# JSON, the three ways in (file, stdin, --hex), and bad input answered with a message and
# exit status 2, never a crash.
set -u
X="${XG_BUILD:?run through the test suite (XG_BUILD unset)}/exitgate"
EX="${XG_SOURCE:?}/examples/exits"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
n=0 fail=0
ok() { n=$((n + 1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fail=1; fi; }
has() { grep -qE -- "$2" <<<"$1"; }

out=$("$X" decode "$EX/flds-emulation-failure.hex" 2>&1); rc=$?
ok $rc "decode the flds example (hex text) exits 0"
has "$out" '^kind: +emulation_failure$'; ok $? "kind is emulation_failure"
has "$out" '^suberror: +emulation$'; ok $? "suberror is emulation"
has "$out" '^  bytes: +d9 00 f4 00 00 00 00 00 00 00 00 00 00 00 00$'; ok $? "15 instruction bytes"
has "$out" '^disassembly: +fld dword ptr \[rax\]$'; ok $? "disassembled by capstone"
has "$out" '^  exit_reason: +0x1000$'; ok $? "hardware exit reason kept"

hexout=$("$X" decode "$EX/flds-emulation-failure.hex" 2>/dev/null)
bin=$("$X" decode "$EX/flds-emulation-failure.bin" 2>&1)
[ "$bin" = "$hexout" ]; ok $? "the binary capture decodes the same as the hex"
stdin=$("$X" decode - <"$EX/flds-emulation-failure.bin" 2>&1)
[ "$stdin" = "$hexout" ]; ok $? "stdin decodes the same"

json=$("$X" decode --json "$EX/flds-emulation-failure.bin"); rc=$?
ok $rc "--json exits 0"
if command -v python3 >/dev/null; then
	python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["insn"]["bytes"].startswith("d900f4"), d; assert d["hw"]["exit_reason"]=="0x1000"' <<<"$json"
	ok $? "--json is valid JSON with the nested fields"
else
	echo "ok $((n += 1)) # skip python3 absent"
fi

out=$("$X" decode --arch arm64 "$EX/nisv-post-index-load.hex" 2>/dev/null)
has "$out" '^reason: +arm_nisv$' && has "$out" '^dfsc_name: +translation_fault_l2$' && has "$out" '^fault_ipa: +0x10000000$'
ok $? "arm64 NISV example: reason, DFSC name, fault IPA"
out=$("$X" decode "$EX/nisv-post-index-load.hex" 2>/dev/null); rc=$?
[ $rc = 0 ] && has "$out" '^arch: +arm64$' && has "$out" '^reason: +arm_nisv$'
ok $? "the NISV example decodes as arm64 without --arch: its '# arch: arm64' line says so"
out=$("$X" decode --arch x86_64 "$EX/nisv-post-index-load.hex" 2>/dev/null)
has "$out" '^arch: +x86_64$'; ok $? "--arch on the command line wins over the file's line"
printf '# arch: sparc\n00 00\n' >"$T/sparc.hex"
err=$("$X" decode "$T/sparc.hex" 2>&1); rc=$?
[ $rc = 2 ] && has "$err" "says '# arch: sparc': not one of x86_64, arm64"
ok $? "an unknown '# arch:' line: status 2 naming it ($err)"
: >"$T/empty.bin"
err=$("$X" decode "$T/empty.bin" 2>&1); rc=$?
[ $rc = 2 ] && has "$err" 'empty.bin holds no bytes'
ok $? "empty input: status 2, not a zeroed exit ($err)"
err=$("$X" decode - </dev/null 2>&1); rc=$?
[ $rc = 2 ] && has "$err" 'standard input holds no bytes'
ok $? "empty stdin: status 2 ($err)"
printf '# only a comment\n' >"$T/nobytes.hex"
err=$("$X" decode "$T/nobytes.hex" 2>&1); rc=$?
[ $rc = 2 ] && has "$err" 'holds no bytes'
ok $? "hex text with no bytes: status 2 ($err)"
out=$("$X" decode "$EX/memory-fault-private.hex" 2>/dev/null)
has "$out" '^private: +true$' && has "$out" '^flags: +0x8 \(private\)$'
ok $? "memory fault example: private, flags named"

out=$("$X" decode --hex '00000000 00000000 25000000 00000000' 2>&1)
has "$out" '^reason: +notify$' && has "$out" 'the rest is read as zero'
ok $? "--hex input, short input padded with a note"

out=$("$X" decode --hex '00 00 00 00 00 00 00 00 e8 03' 2>/dev/null)
has "$out" '^reason: +unknown$' && has "$out" '^exit_reason: +1000$' && has "$out" '^malformed: .*not one this engine knows'
ok $? "an unknown exit number is still decoded and reported"

err=$("$X" decode --hex '00 zz' 2>&1); rc=$?
[ $rc = 2 ] && has "$err" "line 1, column 4: 'z' is not a hex digit"
ok $? "bad hex: exit 2 and where ('$err')"
err=$("$X" decode --hex '0 0 1' 2>&1); rc=$?
[ $rc = 2 ] && has "$err" 'odd number of hex digits'
ok $? "odd hex digits: exit 2 and why"
err=$("$X" decode /nonexistent/run.bin 2>&1); rc=$?
[ $rc = 2 ] && has "$err" 'cannot open /nonexistent/run.bin: No such file or directory'
ok $? "missing file: exit 2 and the path"
err=$("$X" decode --arch vax "$EX/memory-fault-private.hex" 2>&1); rc=$?
[ $rc = 2 ] && has "$err" '--arch vax: not one of'
ok $? "unknown --arch: exit 2 and the choices"
err=$("$X" decode --hw foo "$EX/memory-fault-private.hex" 2>&1); rc=$?
[ $rc = 2 ] && has "$err" '--hw foo: not one of vmx, svm, none, auto'
ok $? "unknown --hw: exit 2 and the choices"
err=$("$X" frobnicate 2>&1); rc=$?
[ $rc = 2 ] && has "$err" "'frobnicate' is not a command"
ok $? "unknown command: exit 2"
head -c 100000 /dev/urandom >"${TMPDIR:-/tmp}/xg-rand.$$"
"$X" decode "${TMPDIR:-/tmp}/xg-rand.$$" >/dev/null 2>&1; rc=$?
rm -f "${TMPDIR:-/tmp}/xg-rand.$$"
[ $rc -lt 128 ]; ok $? "100 kB of random bytes: no crash (exit $rc)"

echo "1..$n"
exit $fail
