#!/usr/bin/env bash
# t_run_dumpmodes.sh - what a person needs in a dump, from a real guest (guests/modes.S: real
# mode, then 32-bit protected mode, dumped by modes.lua at each unclaimed port access and at
# an MMIO read of an address no device has): the code disassembled in the vCPU's mode (16-
# and 32-bit, not as 64-bit code), GDTR/IDTR/TR/LDTR, the pending and injected events, the
# memory operand of the instruction at RIP (segment, effective address, linear address,
# GPA and the device or region there) and the exit's GPA with its region, and the stack only
# as far as the stack segment goes.
. "${XG_SOURCE:?run through the test suite (XG_SOURCE unset)}/tests/run/lib.sh"
need_kvm

xrun --stats "$T/s.json" "$(cfg modes.yaml)"
[ $rc = 0 ]; ok $? "the guest runs real mode, then 32-bit protected mode, to done 0 (status $rc)"
[ $rc = 0 ] || { diag "$OUT"; diag "$ERR"; }
files=($(ls "$T"/dumps/modes-*-vcpu0-*.json 2>/dev/null))
[ ${#files[@]} = 3 ]; ok $? "three dumps (${#files[@]})"
d16=${files[0]:-/nonexistent} dmm=${files[1]:-/nonexistent} d32=${files[2]:-/nonexistent}

# 16-bit: RIP is past the OUT (KVM finishes an OUT before the exit), at `xor ax, ax`
[ "$(js "$d16" '$d->{code}{mode}')" = 16 ]; ok $? "real mode: code.mode 16"
[ "$(js "$d16" '$d->{code}{disasm}[0]')" = "0x5: xor ax, ax" ]
ok $? "real mode: disassembled as 16-bit code ($(js "$d16" '$d->{code}{disasm}[0]'); 64-bit would be 'xor eax, eax')"
[ "$(js "$d16" '$d->{code}{start}')" = 0x0 ]; ok $? "real mode: the code shown starts at IP 0, not below the segment ($(js "$d16" '$d->{code}{start}'))"
[ "$(js "$d16" '$d->{registers}{idtr}{limit}')" = 0xffff ] && [ "$(js "$d16" '$d->{registers}{idtr}{base}')" = 0x0 ]
ok $? "real mode: idtr is the reset IVT (base 0, limit 0xffff)"
[ "$(js "$d16" '$d->{registers}{tr}{type}')" = 11 ] && [ -n "$(js "$d16" '$d->{registers}{ldtr}{limit}')" ]
ok $? "tr (busy TSS, type 11) and ldtr with their attributes"
[ "$(js "$d16" '$d->{stack}{rsp}')" = 0xfff0 ] && [ "$(js "$d16" 'length $d->{stack}{bytes}')" = 32 ] && has "$(js "$d16" '$d->{stack}{end}')" 'limit'
ok $? "real mode: SP 0xfff0 shows the 16 bytes up to the stack segment's limit, not the code above ($(js "$d16" 'length($d->{stack}{bytes})/2') bytes)"
has "$(js "$d16" '$d->{access}{operand}')" '^none'; ok $? "an instruction without a memory operand says so"
ev=$(js "$d16" '$d->{events}')
has "$ev" '"exception":\{"error_code":"0x0","has_error_code":0,"injected":0,"pending":0,"vector":0\}' &&
	has "$ev" '"nmi":\{"injected":0,"masked":0,"pending":0\}' && has "$ev" '"interrupt":\{' &&
	has "$ev" '"smi":\{"pending":0,"smm":0\}' && has "$ev" '"triple_fault_pending":0'
ok $? "events: exception, interrupt, NMI, SMI and triple fault from KVM_GET_VCPU_EVENTS ($ev)"

# the MMIO read through GS (base 0xd01ff000) of 0xd0200010, where nothing is
[ "$(js "$dmm" '$d->{code}{mode}')" = 32 ]; ok $? "protected mode: code.mode 32"
[ "$(js "$dmm" '$d->{code}{disasm}[0]')" = "0x100aa: mov eax, dword ptr gs:[ebx + 0x10]" ]
ok $? "protected mode: the faulting read disassembled as 32-bit code ($(js "$dmm" '$d->{code}{disasm}[0]'))"
a=$(js "$dmm" '$d->{access}')
[ "$(js "$dmm" '$d->{access}{segment}')" = gs ] && [ "$(js "$dmm" '$d->{access}{effective_address}')" = 0x1010 ] &&
	[ "$(js "$dmm" '$d->{access}{linear}')" = 0xd0200010 ] && [ "$(js "$dmm" '$d->{access}{gpa}')" = 0xd0200010 ]
ok $? "access: segment gs, effective address 0x1010 (ebx + 0x10), linear = GS.base + EA = GPA 0xd0200010"
[ "$(js "$dmm" '$d->{access}{exit_gpa}')" = 0xd0200010 ] && has "$(js "$dmm" '$d->{access}{exit_region}')" '^nothing: neither RAM nor a device$' &&
	has "$(js "$dmm" '$d->{access}{region}')" '^nothing'
ok $? "access: the exit's GPA and that nothing is there ($a)"
[ "$(js "$dmm" '$d->{registers}{gdtr}{base}')" = 0x800 ] && [ "$(js "$dmm" '$d->{registers}{gdtr}{limit}')" = 0x27 ]
ok $? "gdtr is the guest's own table (base 0x800, limit 0x27)"
[ "$(js "$dmm" '$d->{registers}{gs}{base}')" = 0xd01ff000 ]; ok $? "gs.base as loaded from that table"
[ "$(js "$dmm" '$d->{previous}')" = "$(basename "$d16")" ] && [ "$(js "$d32" '$d->{previous}')" = "$(basename "$dmm")" ]
ok $? "each dump names the one before it"

# 32-bit: after the second OUT, RIP at a read of the pattern device through FS
dis=$(js "$d32" '$d->{code}{disasm}')
has "$dis" '"0x100b2: mov eax, dword ptr fs:\[ebx \+ 0x10\]","0x100b6: mov ebx, 0x12345678"'
ok $? "32-bit: 'mov ebx, 0x12345678' (16-bit code would read 'mov bx, 0x5678')"
[ "$(js "$d32" '$d->{access}{linear}')" = 0xd0100010 ] && has "$(js "$d32" '$d->{access}{region}')" '^pattern device 0xd0100000-0xd0100fff \(config line [0-9]+\)$'
ok $? "access: FS.base + 0x1010 is the pattern device, named from the device map ($(js "$d32" '$d->{access}{region}'))"
[ "$(js "$d32" 'length $d->{stack}{bytes}')" = 256 ] && [ -z "$(js "$d32" '$d->{stack}{end}')" ]
ok $? "32-bit: a flat 4 GiB stack segment shows the whole window"

# exitgate show reads them all
"$X" show "${files[@]}" >"$T/show" 2>&1; src=$?
[ $src = 0 ] && has "$(cat "$T/show")" '16-bit|real'; ok $? "exitgate show renders these dumps (status $src)"
finish
