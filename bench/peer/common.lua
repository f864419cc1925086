-- Loads the peer's wrk helpers (fixtures, per-thread RNG, the RESULT line of done()) for the
-- scripts of this directory, which send the peer's scenarios to scaleapi's routes.
--   PEER_BENCH_DIR  the peer's bench/ directory (scripts/bench-peer.sh sets it to its copy)
--   FIXTURES_DIR    projects.tsv (token, projectId, orgId) and orgs.tsv (token, orgId), logged
--                   in against scaleapi (scripts/bench-peer.sh writes them)
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local dir = os.getenv("PEER_BENCH_DIR") or (here .. "../../../shared/peers/nestjs-apso/bench")
if dir:sub(-1) ~= "/" then dir = dir .. "/" end
local c = dofile(dir .. "common.lua")

-- c.get(fixtures, path): a scenario's request() that sends GET path(row), for a random row of
-- the fixtures file, with that row's token (its first field).
function c.get(fixtures, path)
  local rows = c.load(fixtures)
  return function()
    local r = c.pick(rows)
    return wrk.format("GET", path(r), { Authorization = "Bearer " .. r[1] })
  end
end

return c
