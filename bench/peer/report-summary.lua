-- e) GET /reports/organizations/{orgId}/summary: the peer's report-summary.lua
-- (GET /organizations/:orgId/reports/summary, replica). scripts/bench-peer.sh runs it against a
-- server with the default 60 s report cache (e) and against one whose cache expires after 1 ms (e0).
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local c = dofile(here .. "common.lua")
setup, init, done = c.setup, c.init, c.done
-- orgs.tsv: token, orgId
request = c.get("orgs.tsv", function(r) return "/reports/organizations/" .. r[2] .. "/summary" end)
