-- triage.lua - for a guest that is failing and needs a person: every special exit is
-- dumped with its disassembly and the instruction pointer, counted per kind (the counts
-- survive policy reloads through xg.store), and the vCPU is suspended so its state can be
-- read. params: { resume_after_dump: true } lets the guest continue with #UD instead.
local xg = require "exitgate"

local resume = xg.params.resume_after_dump == true

local function count(kind)
	local n = (xg.store.get("triage." .. kind) or 0) + 1
	xg.store.set("triage." .. kind, n)
	return n
end

local function where(vcpu)
	local ok, ip = pcall(function() return vcpu:reg("rip") end)
	return ok and xg.hex(ip) or "?"
end

local function triage(e, vcpu)
	local n = count(e.kind)
	local note = string.format("%s #%d at rip %s%s", e.kind, n, where(vcpu),
		e.disasm and (": " .. e.disasm) or "")
	if resume and e.kind == "emulation_failure" then
		return xg.dump { xg.inject "UD", note = note }
	end
	return xg.dump { xg.suspend("triage: " .. note), note = note }
end

return xg.policy {
	emulation_failure = triage,
	default = triage,
}
