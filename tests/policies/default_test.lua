-- Tests of policies/default.lua, run by `exitgate test` (TAP).
local p = policy "../../policies/default.lua"
local ex = "../../examples/exits/"

-- xsave [rax] (0f ae 20): which exitgate's emulator does not do
local r = p:exit { kind = "emulation_failure", insn = "0f ae 20", regs = { rip = 0x1000 } }
is(r.verdict, "inject", "an instruction the emulator does not support: inject")
is(r.vector, 6, "... #UD")
ok(r.dumped, "... and a dump")
is(r.rip, 0x1000, "... without moving rip")

r = p:exit { hex = ex .. "flds-emulation-failure.hex" }
is(r.verdict, "emulate", "the recorded flds emulation failure: emulated")
r = p:exit { hex = ex .. "flds-emulation-failure.hex" }
ok(r.cached and r.verdict == "emulate", "... and the same bytes again come from the cache")

r = p:exit { kind = "msr", index = 0x12345 }
is(r.verdict, "msr", "an unknown MSR read is answered")
is(r.msr, 0, "... with 0")
r = p:exit { kind = "msr", index = 0x12345, write = true, data = 7 }
is(r.verdict, "msr", "an unknown MSR write is accepted (dropped)")

r = p:exit { hex = ex .. "memory-fault-private.hex" }
is(r.verdict, "convert", "the recorded memory fault converts")
is(r.converted and r.converted.to, "private", "... to private")
is(r.converted and r.converted.gpa, 0x80000000, "... at its gpa")
is(r.converted and r.converted.size, 0x200000, "... for its size")

r = p:exit { kind = "memory_fault", gpa = 0x1234, size = 0x10, private = false }
is(r.converted and r.converted.gpa, 0x1000, "an unaligned fault converts whole pages")
is(r.converted and r.converted.size, 0x1000, "... one page")
is(r.converted and r.converted.to, "shared", "... to shared")

r = p:exit { hex = ex .. "nisv-post-index-load.hex", arch = "arm64" }
is(r.verdict, "external_abort", "the recorded arm64 NISV, no instruction at pc: external abort")
ok(r.aborted and r.dumped, "... injected and dumped")

-- the same with `ldr x0, [x1], #8` (f8408420) at pc and x1 = the fault address: emulated
r = p:exit { kind = "arm_nisv", arch = "arm64", fault_ipa = 0x9000000,
             regs = { pc = 0x40001000, x1 = 0x9000000 }, mem = { [0x40001000] = "\x20\x84\x40\xf8" } }
is(r.verdict, "emulate", "an arm64 NISV the A64 emulator supports: emulated")
ok(r.emulated and not r.dumped, "... by the VMM's emulator, no dump")

-- ldxr x0, [x1] (c85f7c20): an exclusive to a device, which the emulator refuses
r = p:exit { kind = "arm_nisv", arch = "arm64", fault_ipa = 0x9000000,
             regs = { pc = 0x40001000, x1 = 0x9000000 }, mem = { [0x40001000] = "\x20\x7c\x5f\xc8" } }
is(r.verdict, "external_abort", "an arm64 NISV the emulator does not do: external abort")
ok(r.aborted and r.dumped, "... and a dump")

r = p:exit { kind = "shutdown" }
is(r.next, "stop", "shutdown stops the VM")

r = p:exit { kind = "system_event", type = 1 }
is(r.next, "stop", "a system event stops the VM")

r = p:exit { kind = "hlt" }
is(r.verdict, "suspend", "anything else suspends")
like(r.paused, "no handler for exit hlt", "... saying why")

r = p:exit { kind = "io", port = 0x3f8, out = true }
is(r.fail, nil, "no exit makes the policy fail")
done_testing()
