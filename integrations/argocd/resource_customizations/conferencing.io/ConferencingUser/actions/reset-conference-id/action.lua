-- Asks the operator for a new conference ID (ignored while spec.conferenceId names a
-- static one).
-- Writes a fresh token into spec.requests.resetConferenceId; the operator acts once per
-- new token and records it in status.handledRequests.resetConferenceId.
-- The token is the time to the second, like Argo CD's own restart action. A second click in
-- the same second would write the same token again and be lost, so a counter is appended,
-- one past the highest of this second already in spec or status, so that clicks within a
-- second never repeat a token (the operator derives each e-mail's Message-ID from it).
local field = "resetConferenceId"
if obj.spec.requests == nil then
  obj.spec.requests = {}
end
local current = obj.spec.requests[field]
local handled = nil
if obj.status ~= nil and obj.status.handledRequests ~= nil then
  handled = obj.status.handledRequests[field]
end
local base = "argocd-" .. os.date("!%Y-%m-%dT%H:%M:%SZ")
local function candidate(i)
  if i == 1 then
    return base
  end
  return base .. "." .. i
end
-- Argo CD gives actions no string library to parse the counter back, so compare instead.
local n = 1
for i = 1, 1000 do
  local c = candidate(i)
  if c == current or c == handled then
    n = i + 1
  end
end
obj.spec.requests[field] = candidate(n)
return obj
