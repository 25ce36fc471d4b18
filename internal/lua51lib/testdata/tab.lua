local t = {}
print(select("#", table.remove(t)), table.remove({1, 2}, 5), #t)
local t2 = {1, 2, 3}
print(table.remove(t2, 1), table.concat(t2, ","), table.remove(t2), table.concat(t2, ","), #t2)
print(pcall(table.insert, {}, 1, 2, 3), pcall(table.insert, {}))
local t3 = {1, 2}
table.insert(t3, 1, 0) table.insert(t3, 9) print(table.concat(t3, ","))
local t4 = {3, 1}
table.remove(t4)
table.sort(t4, function(a, b) return a > b end)
print(#t4, t4[1])
local rs = {}
for i = 1, 12 do rs[i] = {k = (i * 7) % 3, id = i} end
table.sort(rs, function(a, b) return a.k < b.k end)
local ids = {}
for i, r in ipairs(rs) do ids[i] = r.id end
print(table.concat(ids, " "))
local s = {"b", "a", "c", "a"}
table.sort(s)
print(table.concat(s, " "))
print(pcall(table.sort, {3, 1, 2, 5, 4, 9, 7, 8, 6, 10}, function(a, b) return true end))
print((pcall(table.sort, {1, "x", 2})))
