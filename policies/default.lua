-- default.lua - where a guest's policy starts: emulate what the built-in emulator can,
-- otherwise keep the guest alive the way real hardware would answer an instruction it
-- cannot run (#UD on x86, an external abort on arm64), and leave a dump for a person.
--
-- xg.emulator.supports(e) asks exitgate's emulator whether it can finish the instruction with
-- the state this VMM can carry: on x86 (x87, SSE, AVX and AVX-512 moves, the general MMIO
-- set) the answer for the same bytes does not change, so it is cached by them; on arm64
-- (the A64 loads and stores, fetched at PC through the guest's tables) it is asked at every
-- exit, as the instruction behind the same fault address can differ.
local xg = require "exitgate"

local function page_down(a) return a & ~0xfff end
local function page_up(a) return (a + 0xfff) & ~0xfff end

return xg.policy {
	emulation_failure = function(e, vcpu)
		if xg.emulator.supports(e) then
			-- the same instruction bytes always get the same answer
			return xg.cache(xg.emulate(), "insn")
		end
		return xg.dump { xg.inject "UD", note = "cannot emulate: " .. (e.disasm or "no instruction bytes") }
	end,

	-- arm64 data abort KVM could not decode (no ISV): exitgate's A64 emulator finishes it;
	-- what it cannot do gets what the hardware would give, an external abort, and a dump
	arm_nisv = function(e)
		local ok, why = xg.emulator.supports(e)
		if ok then
			return xg.emulate()
		end
		return xg.dump {
			xg.external_abort(),
			note = "cannot emulate " .. (e.disasm or "the instruction") .. " (access at " .. xg.hex(e.fault_ipa) .. "): " .. why,
		}
	end,

	-- KVM_EXIT_MEMORY_FAULT: the guest touched memory in the other state; convert it
	memory_fault = function(e)
		local gpa = page_down(e.gpa)
		return xg.convert {
			gpa = gpa,
			size = page_up(e.gpa + e.size) - gpa,
			to = e.private and "private" or "shared",
		}
	end,

	-- An MSR KVM does not know (or one the config traps): reads give 0, writes are dropped,
	-- as KVM's ignore_msrs does. Logged (rate limited) so a person sees what the guest
	-- wanted. A guest that must see #GP instead: return xg.inject("GP", 0).
	x86_rdmsr = function(e)
		xg.log("rdmsr " .. xg.hex(e.index) .. " answered 0")
		return xg.msr(0)
	end,
	x86_wrmsr = function(e)
		xg.log("wrmsr " .. xg.hex(e.index) .. " = " .. xg.hex(e.data) .. " dropped")
		return xg.msr()
	end,

	shutdown = function(e)
		return xg.dump { xg.stop "guest shut down (triple fault on x86)" }
	end,

	system_event = function(e)
		return xg.stop("system event " .. tostring(e.type))
	end,

	default = function(e)
		return xg.dump { xg.suspend("no handler for exit " .. e.kind) }
	end,
}
