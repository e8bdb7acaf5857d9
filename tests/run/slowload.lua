-- slowload.lua - suspend.lua that takes a while to load (a busy loop at the top level, about
-- 0.1-0.5 s here; slowload.yaml raises the budget): a SIGHUP storm must not queue a reload
-- per signal (t_run_signals.sh).
local xg = require "exitgate"

local n = 0
for i = 1, 20000000 do
	n = n + i
end

return xg.policy {
	io = function(e)
		if e.port == 0x99 then
			return xg.suspend "waiting"
		end
		return xg.resume()
	end,
}
