-- evex-force.lua - emulate everything, even what the emulator refuses: the refusal then
-- becomes an engine failure with its reason, and the config's on_error (dump, then #UD)
-- applies.
local xg = require "exitgate"

return xg.policy {
	emulation_failure = function(e)
		return xg.emulate()
	end,
}
