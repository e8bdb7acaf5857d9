#!/usr/bin/env bash
# t_run_fault.sh - injected exceptions are faults (SDM Vol. 3A 6.5): after an IO in/out
# (also rep ins/outs), an MMIO load or store, an RDMSR or WRMSR exit, fault.lua answers with
# #GP, #UD, #PF or #DE, and guests/fault.S checks in its handlers that the frame's RIP is the
# instruction, and after them that the instruction's registers (and ins buffer) are unchanged;
# a #PF the policy gives an address (cr2) finds it in CR2.
. "${XG_SOURCE:?run through the test suite (XG_SOURCE unset)}/tests/run/lib.sh"
need_kvm

xrun --stats "$T/stats.json" "$(cfg fault.yaml)" fault
ok $([ $rc = 0 ]; echo $?) "the guest ends with done 0 (status $rc)"
[ $rc = 0 ] || { diag "$OUT"; diag "$ERR"; }
for c in "in al (GP)" "in eax (UD)" "out dx (GP)" "out imm8 (UD)" "rep insb (GP)" \
	"rep insb x2000 (UD)" "rep outsb (UD)" "mmio load32 (GP)" "mmio load64 (UD)" "mmio load (DE)" \
	"mmio store32 (GP)" "mmio store imm8 (UD)" "mmio store64 (PF)" "mmio store64 (PF, cr2)" "rep movsq from mmio (GP)" "rep stosl to mmio (GP)" "rdmsr (GP)" \
	"rdmsr (UD)" "wrmsr (GP)" "wrmsr (UD)" \
	"emulated load, non-canonical (GP)" "emulated load, not mapped (PF)"; do
	line=$(grep -F "case $c: " <<<"$OUT" | head -1)
	[ "$line" = "fault| case $c: ok" ]; ok $? "$c: a fault at the instruction, nothing done${line:+ ($line)}"
done
has "$OUT" '^fault\| fault: failures 0000000000000000$'; ok $? "no case failed"
s="$T/stats.json"
[ "$(js "$s" '$d->{guests}[0]{end}')" = done ]; ok $? "stats: end is done"
got=$(js "$s" '$d->{guests}[0]{engine}{verdicts}{inject}')
[ "$got" = 20 ]; ok $? "stats: 20 inject verdicts (got '$got')"

# The same through KVM_GET/SET_REGS ioctls instead of the register copy in kvm_run.
XG_KVM_NO_SYNC_REGS=1 xrun "$(cfg fault.yaml)" fault
ok $([ $rc = 0 ]; echo $?) "without KVM_CAP_SYNC_REGS: done 0 too (status $rc)"
[ $rc = 0 ] || { diag "$OUT"; diag "$ERR"; }
# A guest that retries the faulting instruction forever makes no progress: an exit storm,
# as for an emulation failure answered the same way (the IN is not completed any more).
xrun --stats "$T/retry.json" "$(cfg fault.yaml)" retry
[ $rc = 3 ] && has "$ERR" 'storm'
ok $? "retrying a faulting IN forever: stopped as an exit storm, status 3 (status $rc: $(grep -m1 -E 'storm|timeout|done|halted' <<<"$ERR"))"
got=$(js "$T/retry.json" '$d->{guests}[0]{exits}{io}')
[ "${got:-0}" -ge 100 ] && [ "${got:-0}" -le 200 ]; ok $? "... after about vm.storm (100) io exits (got $got)"
finish
