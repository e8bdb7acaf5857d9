-- dump.lua - write a triage dump of every emulation failure, with a note, and skip the
-- instruction (guests/dump.S checks the dump against what it executed).
local xg = require "exitgate"

return xg.policy {
	emulation_failure = function(e)
		return xg.dump { xg.skip(), note = "dump.lua: skipped " .. (e.disasm or "?") }
	end,
}
