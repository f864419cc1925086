-- d) POST /projects: the peer's create-project.lua (POST /organizations/:orgId/projects, 201).
-- The same fields; scaleapi takes the organization in the body. Rows named bench-* are deleted
-- afterwards.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local c = dofile(here .. "common.lua")
setup, done = c.setup, c.done
local rows = c.load("orgs.tsv") -- token, orgId
local n = 0

function init(args)
  c.init(args)
end

function request()
  local r = c.pick(rows)
  n = n + 1
  local body = string.format(
    '{"organizationId":"%s","name":"bench-%d-%d","description":"Created by the wrk POST scenario.","status":"planning"}',
    r[2], thread_id or 0, n)
  return wrk.format("POST", "/projects",
    { Authorization = "Bearer " .. r[1], ["Content-Type"] = "application/json" }, body)
end
