local xg = require 'exitgate'
local co = coroutine.wrap(function() while true do coroutine.yield() end end)
co()
local obj = setmetatable({}, { __tostring = function() while true do end end, __close = function() while true do end end })
return {
  io = function(e) local x <close> = obj error(obj) end,
  mmio = function(e) co() return xg.log(obj) or xg.resume() end,
  default = string.rep,
}
