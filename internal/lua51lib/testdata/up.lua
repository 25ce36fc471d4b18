local x = 1
local function inc() x = x + 1 end
pcall(error, "e")
inc()
pcall(function() local _ = nil + 1 end)
inc()
xpcall(function() error("x") end, function(m) return m end)
inc()
print(x)
local f
pcall(function() local v = 10; f = function() return v end; error("x") end)
local a, b, c, d = 1, 2, 3, 4
print(f())
local g
xpcall(function() local v = 20; g = function() return v end; error("x") end, function(m) return m end)
local e1, e2, e3, e4 = 5, 6, 7, 8
print(g())
local n = 0
local function bump() n = n + 1 end
print(pcall(function()
  pcall(error, "a")
  bump()
  pcall(error, "b")
  bump()
  error("c")
end))
bump()
print(n)
print(coroutine.running(), pcall(coroutine.running))
local co = coroutine.create(function() local ok, c = pcall(coroutine.running) return ok, c == coroutine.running() end)
print(coroutine.resume(co))
print(pcall(pcall, error, "z"))
print(select("#", pcall(function() return 1, nil, 3 end)))
