-- c) GET /projects?filter=organizationId||$eq||{orgId}&sort=createdAt,DESC&limit=20: the peer's
-- list-projects.lua (GET /organizations/:orgId/projects?limit=20, newest first, cached 60 s).
-- The sort is the peer's order (createdAt DESC); limit 20 is the peer's page size.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local c = dofile(here .. "common.lua")
setup, init, done = c.setup, c.init, c.done
-- orgs.tsv: token, orgId
request = c.get("orgs.tsv", function(r)
  return "/projects?filter=organizationId%7C%7C%24eq%7C%7C" .. r[2] .. "&sort=createdAt%2CDESC&limit=20"
end)
