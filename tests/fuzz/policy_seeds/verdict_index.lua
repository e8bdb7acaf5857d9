local xg = require 'exitgate'
local stash
return xg.policy {
  io = function(e)
    return setmetatable({}, { __index = function(t, k)
      if k == 'verdict' then stash = coroutine.create(function() while true do end end) return 'resume' end
    end })
  end,
  mmio = function(e) if stash then coroutine.resume(stash) end return xg.dump { xg.inject 'UD' } end,
  default = function(e) return setmetatable({ verdict = 'dump' }, { __index = function() error({}) end }) end,
}
