-- Tests of policies/confidential.lua, run by `exitgate test` (TAP).
local P = "../../policies/confidential.lua"
local p = policy(P, { params = "{ allow: [ { gpa: 0x400000, size: 0x10000 } ], max_per_second: 3 }" })

local function map(gpa, npages, attrs)
	return p:exit { kind = "hypercall", nr = 12, args = { gpa, npages, attrs } }
end

local r = map(0x400000, 1, 0x10)
is(r.verdict, "convert", "MAP_GPA_RANGE inside the allowed range: converted")
is(r.converted and r.converted.to, "private", "... to private (attributes 0x10)")
is(r.converted and r.converted.gpa, 0x400000, "... at its gpa")
is(r.converted and r.converted.size, 0x1000, "... one page")
r = map(0x40f000, 1, 0)
is(r.converted and r.converted.to, "shared", "the last page, to shared")
r = map(0x40f000, 2, 0x10)
is(r.verdict, "resume", "a range reaching past the allowed one is refused")
ok(r.dumped, "... the first refusal is dumped")
is(r.converted, nil, "... nothing converted")
r = map(0x300000, 1, 0x10)
is(r.verdict, "resume", "a range outside is refused")
ok(not r.dumped, "... later refusals are not dumped")
r = map(0xfffffffffffff000, 2, 0x10)
is(r.verdict, "resume", "a wrapping range is refused, not converted")
-- max_per_second: 3. Eight requests in a row span at most two seconds of os.time(), so
-- one second holds at least four of them: at least one is refused, whatever the clock.
local refusals = 0
for i = 1, 8 do
	r = map(0x401000 + i * 0x1000, 1, 0x10)
	if r.verdict == "resume" then refusals = refusals + 1 end
end
ok(refusals >= 1 and refusals <= 7, "over max_per_second: some of 8 requests in a row refused (" .. refusals .. ")")
r = p:exit { kind = "hypercall", nr = 0 }
is(r.next, "pause", "another hypercall: suspended")

local q = policy(P, { params = "{ allow: [ { gpa: 0x500000, size: 0x2000 } ], fault_to: shared }" })
r = q:exit { kind = "memory_fault", gpa = 0x500010, size = 8, private = true }
is(r.verdict, "convert", "a memory fault inside: converted")
is(r.converted and r.converted.to, "shared", "... to shared (fault_to: shared)")
is(r.converted and r.converted.gpa, 0x500000, "... the whole page")
is(r.converted and r.converted.size, 0x1000, "... one page")
r = q:exit { kind = "memory_fault", gpa = 0x600000, size = 0x1000, private = true }
is(r.next, "stop", "a memory fault outside: stopped")
ok(r.dumped, "... with a dump")
local a = policy(P, { params = "{ allow: [ { gpa: 0x500000, size: 0x2000 } ] }" })
r = a:exit { kind = "memory_fault", gpa = 0x501000, size = 0x1000, private = true }
is(r.converted and r.converted.to, "private", "fault_to: access (default): to the side asked")
r = a:exit { kind = "hypercall", nr = 12, args = { 0x500000, 1, 0x10 } }
is(r.verdict, "convert", "the default rate allows it")
local g = policy(P, { params = "{ allow: [ { gpa: 0x500000, size: 0x1000 } ], refuse_fault: GP }" })
r = g:exit { kind = "memory_fault", gpa = 0x600000, size = 0x1000, private = true }
is(r.verdict, "inject", "refuse_fault: GP: a memory fault outside is refused with an exception")
ok(r.dumped, "... the first refusal is dumped")
r = g:exit { kind = "hypercall", nr = 12, args = { 0x600000, 1, 0x10 } }
is(r.verdict, "resume", "... a MAP_GPA_RANGE outside is still refused (-KVM_EPERM)")
ok(not r.dumped, "... and not dumped (not the first refusal)")
r = g:exit { kind = "memory_fault", gpa = 0x500000, size = 0x1000, private = true }
is(r.verdict, "convert", "... a memory fault inside is still converted")
local okr, rerr = pcall(policy, P, { params = "{ refuse_fault: 13 }" })
ok(not okr, "refuse_fault must be stop or an exception name")
like(tostring(rerr), "params.refuse_fault must be 'stop' or an exception name", "... and says so")
local okp, err = pcall(policy, P, { params = "{ allow: [ { gpa: 0x500000 } ] }" })
ok(not okp, "an allow entry without size does not load")
like(tostring(err), "params.allow[1] needs integer gpa and size", "... and says why")
done_testing()
