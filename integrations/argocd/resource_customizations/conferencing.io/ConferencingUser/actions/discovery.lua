-- The actions Argo CD offers for a ConferencingUser. The operator ignores PIN and
-- conference-ID requests for a user it does not provide conferencing for (no licence, or
-- another provider), and a conference-ID reset while spec.conferenceId names a static ID,
-- so those actions are shown disabled rather than silently doing nothing.
local actions = {}
local spec = obj.spec
if spec == nil then
  spec = {}
end
local provider = "Native"
if spec.provider ~= nil and spec.provider.type ~= nil then
  provider = spec.provider.type
end
local enabled = spec.audioConferencingLicense ~= false and provider == "Native"
local staticId = spec.conferenceId ~= nil and spec.conferenceId ~= ""

actions["reset-pin"] = {
  ["disabled"] = not enabled,
  ["iconClass"] = "fa fa-fw fa-key",
  ["displayName"] = "Reset PIN",
}
actions["reset-conference-id"] = {
  ["disabled"] = (not enabled) or staticId,
  ["iconClass"] = "fa fa-fw fa-hashtag",
  ["displayName"] = "Reset conference ID",
}
actions["send-info"] = {
  ["disabled"] = not enabled,
  ["iconClass"] = "fa fa-fw fa-envelope",
  ["displayName"] = "Send conferencing info",
}
return actions
