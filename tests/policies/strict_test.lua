-- Tests of policies/strict.lua, run by `exitgate test` (TAP).
local p = policy "../../policies/strict.lua"

local r = p:exit { kind = "emulation_failure", insn = "0f 0b" }
is(r.vector, 6, "emulation failure: #UD")
ok(r.dumped, "... dumped")
r = p:exit { kind = "memory_fault", gpa = 0x100000, size = 0x1000, private = true }
is(r.next, "stop", "memory conversion refused: stop")
is(r.fail, nil, "no policy error")
r = p:exit { kind = "mmio", gpa = 0xfee00000, len = 4 }
is(r.next, "stop", "an unexpected exit stops")

local q = policy("../../policies/strict.lua", { params = "{ allow_convert: true }" })
r = q:exit { kind = "memory_fault", gpa = 0x100000, size = 0x1000, private = true }
is(r.verdict, "convert", "with allow_convert: converts")
is(r.converted and r.converted.to, "private", "... to private")
r = q:exit { kind = "arm_nisv", arch = "arm64", fault_ipa = 0x9000000 }
ok(r.aborted, "arm_nisv: external abort")
done_testing()
