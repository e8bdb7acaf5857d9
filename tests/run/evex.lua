-- evex.lua - emulate what exitgate's emulator takes on this VMM; for the rest (EVEX forms
-- needing AVX-512 state KVM cannot hand over here) a dump saying so, and #UD.
local xg = require "exitgate"

return xg.policy {
	emulation_failure = function(e)
		if xg.emulator.supports(e) then
			return xg.emulate()
		end
		return xg.dump { xg.inject "UD", note = "not supported: " .. (e.disasm or "?") }
	end,
}
