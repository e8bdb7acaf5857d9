#!/usr/bin/env bash
# t_run_msr.sh - MSR exits through the policy on a real guest (guests/msr.S, msr.lua): a read
# answered with xg.msr(value), a write whose e.data the policy keeps and a read giving it
# back, #GP injected for a refused MSR and caught by the guest's IDT at the rdmsr/wrmsr, and
# an MSR KVM knows (0x1a0) reaching the policy because vm.msr_trap lists it.
. "${XG_SOURCE:?run through the test suite (XG_SOURCE unset)}/tests/run/lib.sh"
need_kvm

xrun --stats "$T/stats.json" "$(cfg msr.yaml)"
ok $([ $rc = 0 ]; echo $?) "the guest ends with done 0 (status $rc)"
[ $rc = 0 ] || { diag "$OUT"; diag "$ERR"; }
has "$OUT" '^msr\| msr: ok$'; ok $? "every value the guest read was the policy's"
! has "$OUT" 'FAIL|exception at'; ok $? "#GP frames pointed at the rdmsr and the wrmsr"
s="$T/stats.json"
got=$(js "$s" '$d->{guests}[0]{exits}{x86_rdmsr}')
[ "$got" = 4 ]; ok $? "stats: 4 x86_rdmsr exits, the trapped 0x1a0 among them (got '$got')"
got=$(js "$s" '$d->{guests}[0]{exits}{x86_wrmsr}')
[ "$got" = 2 ]; ok $? "stats: 2 x86_wrmsr exits (got '$got')"
got=$(js "$s" '$d->{guests}[0]{engine}{verdicts}{msr}')
[ "$got" = 4 ]; ok $? "stats: 4 msr verdicts (got '$got')"
got=$(js "$s" '$d->{guests}[0]{engine}{verdicts}{inject}')
[ "$got" = 2 ]; ok $? "stats: 2 inject verdicts (#GP) (got '$got')"

# Without the trap, KVM answers 0x1a0 itself and the guest sees KVM's value, not the
# policy's: the trap is what sent it to the policy.
cfgsrc=$(perl -ne 'print unless /msr_trap/' "$RUN_DIR/msr.yaml")
perl -pe '
	s{^(\s*policy:\s*)(?!/)(\S+)}{$1$ENV{RUN_DIR}/$2};
	s{^(\s*payload:\s*)(?![/.])(\S+)}{$1$ENV{GUESTS}/$2};
' <<<"$cfgsrc" >"$T/notrap.yaml"
xrun --stats "$T/notrap.json" "$T/notrap.yaml"
[ $rc = 1 ] && [ "$(js "$T/notrap.json" '$d->{guests}[0]{code}')" = 57 ]
ok $? "without msr_trap KVM answers 0x1a0: the guest fails check 57 (status $rc, code $(js "$T/notrap.json" '$d->{guests}[0]{code}'))"
got=$(js "$T/notrap.json" '$d->{guests}[0]{exits}{x86_rdmsr}')
[ "$got" = 3 ]; ok $? "... and only 3 x86_rdmsr exits (got '$got')"
finish
