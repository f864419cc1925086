-- a) GET /projects/{id}: the peer's get-project.lua (GET /projects/:id, cache-aside on Redis).
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local c = dofile(here .. "common.lua")
setup, init, done = c.setup, c.init, c.done
-- projects.tsv: token, projectId, orgId
request = c.get("projects.tsv", function(r) return "/projects/" .. r[2] end)
