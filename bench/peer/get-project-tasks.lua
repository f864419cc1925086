-- b) GET /projects/{id}?join=tasks: the peer's get-project-tasks.lua (?include=tasks, the
-- project and its 10 tasks in one query). NOCACHE=1 adds cache=0, which makes every request
-- read the database (the peer never caches this route).
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local c = dofile(here .. "common.lua")
setup, init, done = c.setup, c.init, c.done
local query = os.getenv("NOCACHE") == "1" and "?join=tasks&cache=0" or "?join=tasks"
-- projects.tsv: token, projectId, orgId
request = c.get("projects.tsv", function(r) return "/projects/" .. r[2] .. query end)
