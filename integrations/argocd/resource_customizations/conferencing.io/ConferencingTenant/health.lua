-- Health of a ConferencingTenant, read from the operator's kstatus-style conditions.
-- Argo CD runs custom health checks without Lua's standard libraries (no string, math or
-- io), so this uses only the base language.
local hs = {}

local function findCondition(conditions, conditionType)
  if conditions == nil then
    return nil
  end
  for _, c in ipairs(conditions) do
    if c.type == conditionType then
      return c
    end
  end
  return nil
end

-- A condition's message for a person; its reason when the operator left the message empty.
local function describe(c, fallback)
  if c == nil then
    return fallback
  end
  if c.message ~= nil and c.message ~= "" then
    return c.message
  end
  if c.reason ~= nil and c.reason ~= "" then
    return c.reason
  end
  return fallback
end

-- Ready=False reasons that no retry can fix: the tenant's spec must change first.
-- Operators from before the Stalled condition report only these.
local stalledReasons = {
  InvalidSpec = true,
}

local status = obj.status
if status == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to reconcile the tenant"
  return hs
end

-- Paused (conferencing.io/paused: "true") before anything else: a paused object keeps the
-- observedGeneration of what the operator last did, so it would otherwise show Progressing
-- for as long as it stays paused.
local paused = findCondition(status.conditions, "ReconciliationPaused")
if paused ~= nil and paused.status == "True" then
  hs.status = "Suspended"
  hs.message = describe(paused, "Reconciliation is paused")
  return hs
end

local generation = obj.metadata.generation
if generation ~= nil and (status.observedGeneration == nil or status.observedGeneration < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. generation
  return hs
end

local stalled = findCondition(status.conditions, "Stalled")
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = describe(stalled, "The tenant cannot progress without a change")
  return hs
end

local reconciling = findCondition(status.conditions, "Reconciling")
if reconciling ~= nil and reconciling.status == "True" then
  hs.status = "Progressing"
  hs.message = describe(reconciling, "The operator is working on the tenant")
  return hs
end

local ready = findCondition(status.conditions, "Ready")
if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = describe(ready, "Ready")
  return hs
end

if ready ~= nil and ready.status == "False" and stalledReasons[ready.reason] then
  hs.status = "Degraded"
  hs.message = describe(ready, "Not ready")
  return hs
end

hs.status = "Progressing"
hs.message = describe(ready, "Waiting for the Ready condition")
return hs
