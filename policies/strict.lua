-- strict.lua - for guests that must never be emulated around: every instruction KVM
-- could not run is a fault for the guest, every unexpected exit stops the VM, and memory
-- conversions happen only when the configuration allows them (params: allow_convert: true).
local xg = require "exitgate"

local allow_convert = xg.params.allow_convert == true

return xg.policy {
	emulation_failure = function(e)
		return xg.dump { xg.inject "UD", note = "strict: no emulation of " .. (e.disasm or "?") }
	end,

	arm_nisv = function(e)
		return xg.dump { xg.external_abort() }
	end,

	memory_fault = function(e)
		if allow_convert then
			return xg.convert { gpa = e.gpa, size = e.size, to = e.private and "private" or "shared" }
		end
		return xg.dump { xg.stop "strict: memory conversion is not allowed for this guest" }
	end,

	default = function(e)
		return xg.dump { xg.stop("strict: unexpected exit " .. e.kind) }
	end,
}
