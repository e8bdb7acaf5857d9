#!/usr/bin/env bash
# t_run_relayout.sh - a record carries its host's XSAVE layout (trace.h HEAD, version 3), and
# `exitgate replay` of a record made on a host of the other CPU vendor is right: the EVEX
# guests of evex.yaml are recorded here (their exits carry opmask, ZMM_Hi256 and Hi16_ZMM
# state), the record is rewritten as the other vendor's host would have written it
# (relayout.py: HEAD's offsets and every get_xsave/set_xsave blob's components moved, apart
# from exitgate's code), and replayed: the same verdicts and effects as the record as made.
# A version 2 record (no layout) still replays, and says once that its layout is assumed
# when AVX-512 state is in use; impossible layouts in HEAD are refused with the byte offset.
. "${XG_SOURCE:?run through the test suite (XG_SOURCE unset)}/tests/run/lib.sh"
need_kvm
RL="$RUN_DIR/relayout.py"

R="$T/evex.rec"
xrun --record "$R" "$(cfg evex.yaml)"
ok $([ $rc = 0 ]; echo $?) "evex.yaml recorded (status $rc)"
[ $rc = 0 ] || { diag "$OUT"; diag "$ERR"; }

# HEAD: version 3, the image size, this host's offsets (CPUID leaf 0DH; Intel's where the
# CPU has no AVX-512)
read -r ver size lay used <<<"$(python3 "$RL" "$R" --show)"
vendor=$(sed -n 's/^vendor_id[[:space:]]*: //p' /proc/cpuinfo | head -1)
if grep -qw avx512f /proc/cpuinfo && [ "$vendor" = AuthenticAMD ]; then want=832,896,1408
else want=1088,1152,1664; fi
[ "$ver $size" = "3 2688" ] && [ "$lay" = "$want" ]
ok $? "HEAD: version 3, 2688-byte images, this $vendor host's layout $want (got '$ver $size $lay')"
diag "$used get_xsave/set_xsave images with AVX-512 state in use (XSTATE_BV bits 5-7, not zero)"

"$X" replay "$R" >"$T/rp.same" 2>"$T/rp.err"; rc=$?
ok $([ $rc = 0 ]; echo $?) "replayed as recorded: status 0, every verdict the same (got $rc)"
[ $rc = 0 ] || { diag "$(grep -A2 DIFF "$T/rp.same" | head -20)"; diag "$(cat "$T/rp.err")"; }
"$X" replay --json "$R" >"$T/rp.same.json" 2>/dev/null

if [ "$want" = 832,896,1408 ]; then other=intel; else other=amd; fi
python3 "$RL" "$R" "$T/other.rec" --to "$other" >/dev/null
read -r _ _ olay oused <<<"$(python3 "$RL" "$T/other.rec" --show)"
[ "$oused" = "$used" ] && [ "$olay" != "$lay" ]
ok $? "rewritten as a host of $other would have written it (layout $olay, $oused images with AVX-512 state)"
if [ "${used:-0}" -gt 0 ]; then
	"$X" replay "$T/other.rec" >"$T/rp.other" 2>"$T/rp.err"; rc=$?
	ok $([ $rc = 0 ]; echo $?) "the $other record replays here: status 0, no verdict differs (got $rc)"
	[ $rc = 0 ] || diag "$(grep -A2 DIFF "$T/rp.other" | head -20)"
	cmp -s "$T/rp.same" "$T/rp.other"
	ok $? "... exit by exit the same verdicts and effects as the record as made"
	"$X" replay --json "$T/other.rec" >"$T/rp.other.json" 2>/dev/null
	cmp -s "$T/rp.same.json" "$T/rp.other.json"; ok $? "... and the same --json"
	! grep -q "version 2" "$T/rp.err"; ok $? "... saying nothing of its layout"
else
	for w in "replays with every verdict" "same effects" "same --json" "says nothing"; do
		n=$((n + 1))
		echo "ok $n # SKIP this KVM hands over no AVX-512 state: the layouts cannot differ ($w)"
	done
fi

# version 2: no layout in HEAD; read as this host's, said once when AVX-512 state is in use
python3 "$RL" "$R" "$T/v2.rec" --v2 >/dev/null
"$X" replay "$T/v2.rec" >"$T/rp.v2" 2>"$T/rp.err"; rc=$?
[ $rc = 0 ] && cmp -s "$T/rp.same" "$T/rp.v2"
ok $? "a version 2 record of this host replays with the same verdicts (status $rc)"
said=$(grep -c "v2.rec: a version 2 record does not say where its host kept the AVX-512" "$T/rp.err")
if [ "${used:-0}" -gt 0 ]; then
	[ "$said" = 1 ] && grep -q "replay it on a host of the recording vendor, or record it again" "$T/rp.err"
	ok $? "... and says once that its AVX-512 layout is taken as this host's, and what to do ($said)"
else
	[ "$said" = 0 ]; ok $? "... and, no AVX-512 state being in use, says nothing of the layout"
fi
diag "$(grep -v 'replay: policy:' "$T/rp.err")"
# a record whose images have no AVX-512 state in use: nothing said
xrun --record "$T/emu.rec" "$(cfg emulate.yaml)"
python3 "$RL" "$T/emu.rec" "$T/emu2.rec" --v2 >/dev/null
if [ "$(python3 "$RL" "$T/emu2.rec" --show | awk '{print $NF}')" = 0 ]; then
	"$X" replay "$T/emu2.rec" >/dev/null 2>"$T/rp.err"; rc=$?
	[ $rc = 0 ] && ! grep -q "version 2" "$T/rp.err"
	ok $? "a version 2 record without AVX-512 state replays and says nothing of its layout (status $rc)"
else
	n=$((n + 1)); echo "ok $n # SKIP emulate.yaml's images have AVX-512 state in use here"
fi

# the images compared by the state they load: a record whose set_xsave images mark every
# component in use (as the emulator did before it left initial components initial) replays
# as the same; one with a byte of XMM0 changed differs, and the DIFF shows it in the state's
# checksum
python3 "$RL" "$R" "$T/mark.rec" --mark-all >/dev/null
"$X" replay "$T/mark.rec" >"$T/rp.mark" 2>"$T/rp.err"; rc=$?
[ $rc = 0 ] && cmp -s "$T/rp.same" "$T/rp.mark"
ok $? "images marking every component in use replay as the same state (status $rc)"
python3 "$RL" "$R" "$T/flip.rec" --flip-xmm >/dev/null
"$X" replay "$T/flip.rec" >"$T/rp.flip" 2>"$T/rp.err"; rc=$?
rec=$(grep -m1 -A2 '^DIFF ' "$T/rp.flip" | sed -n 's/.*recorded:.*set_xsave state \([0-9a-f]*\).*/\1/p')
rep=$(grep -m1 -A2 '^DIFF ' "$T/rp.flip" | sed -n 's/.*replayed:.*set_xsave state \([0-9a-f]*\).*/\1/p')
[ $rc = 1 ] && [ "$(grep -c '^DIFF ' "$T/rp.flip")" = 1 ] && [ -n "$rec" ] && [ -n "$rep" ] &&
	[ "$rec" != "$rep" ]
ok $? "an image with XMM0 changed: one exit differs, its state checksums differ ($rec, $rep; status $rc)"
[ $rc = 1 ] || diag "$(grep -A2 '^DIFF ' "$T/rp.flip" | head -6)"

# impossible layouts: refused, status 2, at the byte of HEAD's offsets, saying what is wrong
bad() { # SIZE OPMASK ZMMH HI16ZMM WHAT-IT-SAYS (the byte: +4 past the size for an offset)
	local at skip=4
	at=$(python3 "$RL" "$R" "$T/bad.rec" --head "$1" "$2" "$3" "$4")
	[ "$1" != 2688 ] && skip=0
	"$X" replay "$T/bad.rec" >/dev/null 2>"$T/rp.err"; rc=$?
	[ $rc = 2 ] && grep -qF "bad.rec: byte $((at + skip)): $5" "$T/rp.err"
	ok $? "HEAD $1 $2 $3 $4 refused: $(head -c 220 "$T/rp.err")"
}
L="the recording host's XSAVE layout is impossible: the"
bad 2688 0 896 1408 "$L opmask component at 0 overlaps the legacy region (0-511)"
bad 2688 832 540 1408 "$L ZMM_Hi256 component at 540 overlaps the XSAVE header (512-575)"
bad 2688 832 896 800 "$L Hi16_ZMM component at 800 overlaps the AVX component (576-831)"
bad 2688 832 896 1700 "$L Hi16_ZMM component at 1700 (1024 bytes) runs past the end of the 2688-byte image"
bad 2688 4294967295 896 1408 "$L opmask component at 4294967295 (64 bytes) runs past"
bad 2688 1088 1100 1664 "$L ZMM_Hi256 component at 1100 overlaps the opmask component at 1088"
bad 2688 832 896 1152 "$L Hi16_ZMM component at 1152 overlaps the ZMM_Hi256 component at 896"
bad 4096 832 896 1408 "XSAVE images of 4096 bytes; this exitgate's are 2688"
# a version past this exitgate's
python3 - "$R" "$T/v4.rec" <<'PY'
import struct, sys, zlib
b = bytearray(open(sys.argv[1], "rb").read())
n = struct.unpack_from("<I", b, 12)[0]
struct.pack_into("<I", b, 16, 4)
struct.pack_into("<I", b, 16 + n, zlib.crc32(bytes(b[8:16 + n])) & 0xFFFFFFFF)
open(sys.argv[2], "wb").write(b)
PY
"$X" replay "$T/v4.rec" >/dev/null 2>"$T/rp.err"; rc=$?
[ $rc = 2 ] && grep -qF "v4.rec: byte 16: format version 4; this exitgate reads versions 2 to 3" "$T/rp.err"
ok $? "a version 4 record is refused ($(head -c 160 "$T/rp.err"))"

finish
