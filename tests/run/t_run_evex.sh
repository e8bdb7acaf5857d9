#!/usr/bin/env bash
# t_run_evex.sh - EVEX moves that need AVX-512 register state (guests/evex.S): exitgate
# emulates them only when this KVM carries that state through KVM_GET/SET_XSAVE, and then
# the values must be right; otherwise xg.emulator.supports() says no, evex.lua injects #UD
# with a dump naming the instruction, and a policy that emulates anyway (evex-force.lua) gets
# an engine error that says why, for which on_error dumps and injects #UD.
. "${XG_SOURCE:?run through the test suite (XG_SOURCE unset)}/tests/run/lib.sh"
need_kvm

xrun --stats "$T/stats.json" "$(cfg evex.yaml)"
ok $([ $rc = 0 ]; echo $?) "both guests end with done 0 (status $rc)"
[ $rc = 0 ] || { diag "$OUT"; diag "$ERR"; }
s="$T/stats.json"
for g in evex evex-force; do
	line=$(sed -n "s/^$g| evex: emulated \([0-9a-f]*\) refused \([0-9a-f]*\)$/\1 \2/p" <<<"$OUT")
	read -r e r <<<"$line"
	[ -n "$line" ] && [ $((16#$e + 16#$r)) = 4 ]
	ok $? "$g: every case either emulated with the right values or refused at the instruction ($line)"
	eval "E_${g/-/_}=\$((16#\${e:-0})) R_${g/-/_}=\$((16#\${r:-0}))"
done
diag "this KVM: $E_evex of 4 AVX-512-state cases emulated, $R_evex refused"
[ "$E_evex" = "$E_evex_force" ]; ok $? "a refusal does not depend on the policy asking first"

i=$(js "$s" '(grep { $_->{name} eq "evex" } @{$d->{guests}})[0]{exits}{internal_error}')
v=$(js "$s" 'my $g = (grep { $_->{name} eq "evex" } @{$d->{guests}})[0]{engine}{verdicts}; ($g->{emulate} // 0) + ($g->{inject} // 0) + ($g->{dump} // 0)')
[ -n "$i" ] && [ "$i" = "$v" ]; ok $? "evex: every emulation failure got a verdict ($i exits, $v verdicts)"

notes=$(for f in "$T"/dumps/evex-2*-vcpu0-*.json; do [ -f "$f" ] && js "$f" '$d->{note}' && echo; done)
[ "$(grep -c . <<<"$notes")" = "$R_evex" ]; ok $? "evex: one dump per refusal ($R_evex)"
! grep -vqE '^not supported: [a-z]' <<<"$notes"; ok $? "evex: each dump's note names the refused instruction"
diag "$notes"
errs=$(for f in "$T"/dumps/evex-force-*-vcpu0-*.json; do [ -f "$f" ] && js "$f" '$d->{trigger} . ": " . $d->{error}' && echo; done)
[ "$(grep -c '^on_error: .' <<<"$errs")" = "$R_evex_force" ]
ok $? "evex-force: each refusal is an engine error with its reason, dumped by on_error"
diag "$errs"
if grep -qE 'zmm|ymm(1[6-9]|2[0-9]|3[01])|\{k[1-7]\}' <<<"$notes"; then
	grep -q 'AVX-512 register state' <<<"$errs"
	ok $? "evex-force: the reason for an AVX-512-state refusal says the VMM cannot carry that state"
else
	n=$((n + 1))
	echo "ok $n # skip this KVM carries the AVX-512 state through KVM_GET/SET_XSAVE: no AVX-512-state refusal to check"
fi

# the same as a KVM that cannot carry the state (XG_KVM_NO_AVX512_STATE=1: kvm_pvm on Intel
# hosts), recorded: every AVX-512-state case refused, and the record says so, so that its
# replay refuses them too (on any host) and every verdict replays the same
rm -rf "$T/dumps"
XG_KVM_NO_AVX512_STATE=1 xrun --record "$T/nostate.rec" "$(cfg evex.yaml)"
line=$(sed -n "s/^evex| evex: emulated \([0-9a-f]*\) refused \([0-9a-f]*\)$/\1 \2/p" <<<"$OUT")
read -r e r <<<"$line"
[ $rc = 0 ] && [ -n "$line" ] && [ $((16#$e)) = 0 ] && [ $((16#$r)) = 4 ]
ok $? "without AVX-512 state: both guests end with done 0, evex refuses all 4 cases (status $rc; $line)"
errs=$(for f in "$T"/dumps/evex-force-*-vcpu0-*.json; do [ -f "$f" ] && js "$f" '$d->{error}' && echo; done)
[ "$(grep -c . <<<"$errs")" = 4 ] && grep -q 'AVX-512 register state' <<<"$errs" &&
	! grep -vqE 'cannot carry the AVX-512 register state|not handled' <<<"$errs"
ok $? "... evex-force: 4 engine errors, those of the AVX-512-state cases saying the VMM cannot carry that state"
diag "$errs"
"$X" replay "$T/nostate.rec" >"$T/rp" 2>"$T/rp.err"; rc=$?
[ $rc = 0 ] && grep -q " 0 differ" "$T/rp"
ok $? "... its replay refuses the same: status 0, no verdict differs (got $rc)"
[ $rc = 0 ] || diag "$(grep -A2 '^DIFF ' "$T/rp" | head -12)"
finish
