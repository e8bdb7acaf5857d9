local xg = require 'exitgate'
local big = ('a'):rep(1 << 16)
local chain = {}
for i = 1, 100 do chain = setmetatable({}, { __index = chain }) end
return xg.policy {
  io = function(e)
    for i = 1, 10 do big:find('ab', 1, true) big:upper() utf8.len(big) end
    local s = (''):rep(1 << 20)
    table.move(chain, 1, 1000, 1, {})
    return xg.resume()
  end,
  mmio = function(e)
    local ok, f = pcall(load, ('x = 1 '):rep(1000))
    return select(2, ('(x)'):rep(50):gsub('%b()', '')) and xg.emulate() or xg.skip()
  end,
  msr = function(e) return xg.msr(#string.format('%q', big)) end,
  memory_fault = function(e) return xg.convert { gpa = e.gpa, size = e.size, to = e.private and 'private' or 'shared' } end,
  emulation_failure = function(e) local t = {} for i = 1, 1e9 do t[i] = ('x'):rep(100) .. i end end,
  hypercall = function(e) while true do end end,
}
