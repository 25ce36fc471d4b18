print(pcall(error, "x"))
print(pcall(function() error("x", 2) end))
local function f() error("x", 2) end
print(pcall(function()
  f()
end))
print(pcall(function() error("x", 3) end))
print(pcall(error, 42))
print(pcall(function() error(42) end))
print(select("#", pcall(error)), pcall(error))
print(pcall(error, "x", 0))
print(select(2, pcall(function() error({code = 1}) end)).code)
local function g() error("y", 2) end
local function h() return g() end
print(pcall(function() h() end))
print(pcall(error, "  spaced"))
print(pcall(table.insert, {}))
print((pcall(string.rep)))
