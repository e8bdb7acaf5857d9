-- busy.lua - a vCPU almost always in a policy call, entering a new one every ~50 us: each
-- emulation failure spins 50 us of CPU and resumes the guest at the same instruction (the
-- exit storm of storm.lua, with busy.yaml's vm.storm out of reach). t_run_obs.sh polls
-- `ctl status --json` meanwhile: in_policy_seconds must never be negative.
local xg = require "exitgate"

return xg.policy {
	emulation_failure = function(e)
		local t = os.clock() + 0.00005
		while os.clock() < t do
		end
		return xg.resume()
	end,
}
