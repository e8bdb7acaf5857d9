-- Tests of policies/triage.lua, run by `exitgate test` (TAP).
local p = policy "../../policies/triage.lua"

local r = p:exit { kind = "emulation_failure", insn = "d9 00", regs = { rip = 0x4000 } }
is(r.verdict, "suspend", "emulation failure: suspended for a person")
ok(r.dumped, "... with a dump")
like(r.paused, "emulation_failure #1 at rip 0x4000: fld dword ptr [rax]", "... the note has count, rip, disassembly")
r = p:exit { kind = "emulation_failure", insn = "d9 00", regs = { rip = 0x4000 } }
like(r.paused, "emulation_failure #2", "counts per kind")
r = p:exit { kind = "hlt" }
like(r.paused, "hlt #1", "other kinds counted separately")

local q = policy("../../policies/triage.lua", { params = "{ resume_after_dump: true }" })
r = q:exit { kind = "emulation_failure", insn = "d9 00", regs = { rip = 0x4000 } }
is(r.vector, 6, "resume_after_dump: #UD instead of suspending")
ok(r.dumped, "... still dumped")
done_testing()
