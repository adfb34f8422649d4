//! The Argo CD health checks and actions in `integrations/argocd/`, run the way Argo
//! CD runs them: Lua 5.1, the live object as the global `obj`, only the libraries Argo CD gives
//! custom scripts (base, table, and an `os` with `time` and `date` alone: no string, math, io or
//! `os.execute`), a one-second limit. The cases are Argo CD's own test files
//! (`health_test.yaml`, `actions/action_test.yaml`), so the directory can be dropped into an
//! Argo CD checkout as it is. A last test keeps `argocd-cm.yaml` in sync with the `.lua` files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{DateTime, Datelike, Local, TimeZone, Timelike, Utc};
use mlua::{HookTriggers, Lua, LuaOptions, StdLib, Table, Value as LuaValue, VmState};
use serde::Deserialize;
use serde_json::{Map, Value as Json};

/// Where the customizations live, in Argo CD's `resource_customizations/<group>/<kind>` layout.
const ROOT: &str = "integrations/argocd/resource_customizations/conferencing.io";
/// The `argocd-cm` snippet generated from the `.lua` files.
const ARGOCD_CM: &str = "integrations/argocd/argocd-cm.yaml";
/// Kinds with a health check.
const KINDS: [&str; 2] = ["ConferencingTenant", "ConferencingUser"];
/// Each action of ConferencingUser and the request token it writes.
const ACTIONS: [(&str, &str); 3] =
    [("reset-pin", "resetPin"), ("reset-conference-id", "resetConferenceId"), ("send-info", "sendConferencingInfo")];
/// What expected outputs hold in place of the new token, whose value depends on the clock.
const TOKEN_PLACEHOLDER: &str = "<new token>";

fn repo(path: impl AsRef<Path>) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn read_yaml<T: serde::de::DeserializeOwned>(path: &Path) -> T {
    serde_yaml::from_str(&read(path)).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
}

// ---------------------------------------------------------------------------------------------
// The sandbox

/// A Lua state shaped like the one Argo CD gives custom health checks and actions
/// (`util/lua/lua.go` with `UseOpenLibs` false, as for scripts from `argocd-cm`), with `obj`
/// set. `now` freezes the clock; `None` uses the real one.
fn sandbox(obj: &Json, now: Option<DateTime<Utc>>) -> mlua::Result<Lua> {
    // mlua always opens the base library; Argo CD adds table and its own `os`. Lua 5.1's base
    // library also defines `coroutine`, as gopher-lua's does.
    let lua = Lua::new_with(StdLib::TABLE, LuaOptions::default())?;
    let g = lua.globals();
    // gopher-lua's base library has these too, but they read local files: a script that needs
    // them would be reading the Argo CD controller's disk, so fail here instead.
    for name in ["dofile", "loadfile"] {
        g.set(name, LuaValue::Nil)?;
    }
    let os = lua.create_table()?;
    os.set("time", lua.create_function(move |_, t: Option<Table>| os_time(t.as_ref(), now))?)?;
    os.set(
        "date",
        lua.create_function(move |lua, (format, t): (Option<String>, Option<i64>)| os_date(lua, format, t, now))?,
    )?;
    g.set("os", os)?;
    g.set("obj", to_lua(&lua, obj)?)?;
    // Argo CD cancels a script after one second.
    let start = Instant::now();
    lua.set_hook(HookTriggers::new().every_nth_instruction(1000), move |_, _| {
        if start.elapsed() > Duration::from_secs(1) {
            Err(mlua::Error::runtime("the script ran longer than Argo CD's one-second limit"))
        } else {
            Ok(VmState::Continue)
        }
    })?;
    Ok(lua)
}

fn now_or(now: Option<DateTime<Utc>>) -> DateTime<Utc> {
    now.unwrap_or_else(Utc::now)
}

/// Argo CD's `os.time`: the current Unix time, or the time a `{year, month, day, ...}` table
/// names (local time, hour 12 by default).
fn os_time(t: Option<&Table>, now: Option<DateTime<Utc>>) -> mlua::Result<i64> {
    let Some(t) = t else { return Ok(now_or(now).timestamp()) };
    let field = |k: &str, default: i64| -> mlua::Result<i64> {
        Ok(match t.raw_get::<LuaValue>(k)? {
            LuaValue::Number(n) => n as i64,
            LuaValue::Integer(n) => n,
            _ => default,
        })
    };
    let (y, mo, d) = (field("year", -1)?, field("month", -1)?, field("day", -1)?);
    let (h, mi, s) = (field("hour", 12)?, field("min", 0)?, field("sec", 0)?);
    let to_u32 =
        |v: i64| u32::try_from(v).map_err(|_| mlua::Error::runtime(format!("os.time: field out of range: {v}")));
    let year = i32::try_from(y).map_err(|_| mlua::Error::runtime("os.time: year out of range"))?;
    Local
        .with_ymd_and_hms(year, to_u32(mo)?, to_u32(d)?, to_u32(h)?, to_u32(mi)?, to_u32(s)?)
        .single()
        .map(|t| t.timestamp())
        .ok_or_else(|| mlua::Error::runtime("os.time: no such time"))
}

/// Argo CD's `os.date`: `!` for UTC, `*t` for a table, and its own strftime, which knows fewer
/// conversions than C's (an unknown one is copied as it is, so `%T` stays `%T` there and here).
fn os_date(lua: &Lua, format: Option<String>, t: Option<i64>, now: Option<DateTime<Utc>>) -> mlua::Result<LuaValue> {
    let format = format.unwrap_or_else(|| "%c".into());
    let utc = format.starts_with('!');
    let format = format.trim_start_matches('!');
    let instant = match t {
        Some(secs) => DateTime::from_timestamp(secs, 0).ok_or_else(|| mlua::Error::runtime("os.date: bad time"))?,
        None => now_or(now),
    };
    // Argo CD formats in UTC after `!` and in the controller's local zone otherwise.
    let fixed = if utc { instant.fixed_offset() } else { instant.with_timezone(&Local).fixed_offset() };
    if format.starts_with("*t") {
        let table = lua.create_table()?;
        table.set("year", fixed.year())?;
        table.set("month", fixed.month())?;
        table.set("day", fixed.day())?;
        table.set("hour", fixed.hour())?;
        table.set("min", fixed.minute())?;
        table.set("sec", fixed.second())?;
        table.set("wday", fixed.weekday().num_days_from_sunday() + 1)?;
        table.set("yday", 0)?;
        table.set("isdst", false)?;
        return Ok(LuaValue::Table(table));
    }
    let mut out = String::new();
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let Some(flag) = chars.next() else {
            out.push('%');
            break;
        };
        let go_equivalent = match flag {
            '%' => "%%",
            'a' => "mon",
            'A' => "%A",
            'b' => "%b",
            'B' => "%B",
            'c' => "%d %b %y %H:%M %Z",
            'd' => "%d",
            'F' => "%Y-%m-%d",
            'H' => "%H",
            'I' => "%I",
            'm' => "%m",
            'M' => "%M",
            'p' => "%p",
            'P' => "%P",
            'S' => "%S",
            'x' => "%H/%M/%S",
            'X' => "%H:%M:%S",
            'y' => "%y",
            'Y' => "%Y",
            'z' => "%z",
            'Z' => "%Z",
            'w' => {
                out.push_str(&fixed.weekday().num_days_from_sunday().to_string());
                continue;
            }
            other => {
                out.push('%');
                out.push(other);
                continue;
            }
        };
        out.push_str(&fixed.format(go_equivalent).to_string());
    }
    Ok(LuaValue::String(lua.create_string(&out)?))
}

/// JSON to Lua as Argo CD's `decodeValue` does it: null is nil (the key is absent), every
/// number a Lua number.
fn to_lua(lua: &Lua, v: &Json) -> mlua::Result<LuaValue> {
    Ok(match v {
        Json::Null => LuaValue::Nil,
        Json::Bool(b) => LuaValue::Boolean(*b),
        Json::Number(n) => LuaValue::Number(n.as_f64().unwrap_or(f64::NAN)),
        Json::String(s) => LuaValue::String(lua.create_string(s)?),
        Json::Array(items) => {
            let t = lua.create_table()?;
            for (i, item) in items.iter().enumerate() {
                t.raw_set(i + 1, to_lua(lua, item)?)?;
            }
            LuaValue::Table(t)
        }
        Json::Object(fields) => {
            let t = lua.create_table()?;
            for (k, item) in fields {
                t.raw_set(k.as_str(), to_lua(lua, item)?)?;
            }
            LuaValue::Table(t)
        }
    })
}

/// Lua to JSON as Argo CD's encoder (gopher-json) does it: a table whose keys are 1..n is an
/// array, an empty table is an empty array, any other table an object.
fn to_json(v: &LuaValue) -> Result<Json, String> {
    Ok(match v {
        LuaValue::Nil => Json::Null,
        LuaValue::Boolean(b) => Json::Bool(*b),
        LuaValue::Integer(n) => Json::from(*n),
        LuaValue::Number(n) => number(*n)?,
        LuaValue::String(s) => Json::String(s.to_str().map_err(|e| e.to_string())?.to_string()),
        LuaValue::Table(t) => {
            let mut entries = Vec::new();
            for pair in t.pairs::<LuaValue, LuaValue>() {
                let (k, v) = pair.map_err(|e| e.to_string())?;
                entries.push((k, to_json(&v)?));
            }
            let n = entries.len();
            let index = |k: &LuaValue| match k {
                LuaValue::Integer(i) => usize::try_from(*i).ok(),
                LuaValue::Number(f) if f.fract() == 0.0 && *f >= 1.0 => Some(*f as usize),
                _ => None,
            };
            if entries.iter().all(|(k, _)| index(k).is_some_and(|i| (1..=n).contains(&i))) {
                entries.sort_by_key(|(k, _)| index(k));
                Json::Array(entries.into_iter().map(|(_, v)| v).collect())
            } else {
                let mut m = Map::new();
                for (k, v) in entries {
                    let key = match &k {
                        LuaValue::String(s) => s.to_str().map_err(|e| e.to_string())?.to_string(),
                        LuaValue::Integer(i) => i.to_string(),
                        LuaValue::Number(f) => number(*f)?.to_string(),
                        other => return Err(format!("a table key Argo CD cannot encode: {other:?}")),
                    };
                    m.insert(key, v);
                }
                Json::Object(m)
            }
        }
        other => return Err(format!("a value Argo CD cannot encode: {other:?}")),
    })
}

fn number(f: f64) -> Result<Json, String> {
    if f.fract() == 0.0 && f.abs() < 9.0e15 {
        Ok(Json::from(f as i64))
    } else {
        serde_json::Number::from_f64(f).map(Json::Number).ok_or_else(|| format!("{f} is not a JSON number"))
    }
}

/// Argo CD's `cleanReturnedObj`: Lua cannot tell an empty object from an empty array, so where
/// the input had an object and the output has an empty array, the input's object is kept.
fn clean_returned(new: &mut Json, old: &Json) {
    match (new, old) {
        (Json::Object(n), Json::Object(o)) => {
            for (k, nv) in n.iter_mut() {
                if let Some(ov) = o.get(k) {
                    if matches!(nv, Json::Array(a) if a.is_empty()) && ov.is_object() {
                        *nv = ov.clone();
                    } else {
                        clean_returned(nv, ov);
                    }
                }
            }
        }
        (Json::Array(n), Json::Array(o)) => {
            for (nv, ov) in n.iter_mut().zip(o) {
                clean_returned(nv, ov);
            }
        }
        _ => {}
    }
}

/// Runs `script` on `obj` and returns what it returned, as Argo CD would encode it.
fn run(script_path: &Path, obj: &Json, now: Option<DateTime<Utc>>) -> Json {
    let script = read(script_path);
    let lua = sandbox(obj, now).unwrap_or_else(|e| panic!("setting up the sandbox: {e}"));
    let value: LuaValue = lua
        .load(&script)
        .set_name(script_path.display().to_string())
        .eval()
        .unwrap_or_else(|e| panic!("running {}: {e}", script_path.display()));
    assert!(matches!(value, LuaValue::Table(_)), "{} must return a table, not {value:?}", script_path.display());
    to_json(&value).unwrap_or_else(|e| panic!("encoding what {} returned: {e}", script_path.display()))
}

fn load_object(path: &Path) -> Json {
    read_yaml(path)
}

// ---------------------------------------------------------------------------------------------
// Argo CD's test files

#[derive(Deserialize)]
struct HealthTests {
    tests: Vec<HealthTest>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HealthTest {
    health_status: HealthStatus,
    input_path: String,
}

#[derive(Deserialize, Debug, PartialEq)]
struct HealthStatus {
    status: String,
    #[serde(default)]
    message: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ActionTests {
    discovery_tests: Vec<DiscoveryTest>,
    action_tests: Vec<ActionTest>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DiscoveryTest {
    input_path: String,
    result: Vec<ResourceAction>,
}

/// Argo CD's `ResourceAction` as discovery returns it.
#[derive(Deserialize, Debug, PartialEq, Eq, PartialOrd, Ord, Clone)]
#[serde(rename_all = "camelCase")]
struct ResourceAction {
    name: String,
    #[serde(default)]
    disabled: bool,
    #[serde(default)]
    icon_class: Option<String>,
    #[serde(default)]
    display_name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ActionTest {
    action: String,
    input_path: String,
    expected_output_path: String,
}

fn kind_dir(kind: &str) -> PathBuf {
    repo(ROOT).join(kind)
}

fn actions_dir() -> PathBuf {
    kind_dir("ConferencingUser").join("actions")
}

/// The health statuses Argo CD accepts from a script; any other becomes Unknown.
const HEALTH_CODES: [&str; 6] = ["Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown"];

#[test]
fn health_checks_give_the_expected_status_and_message() {
    let mut covered: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for kind in KINDS {
        let dir = kind_dir(kind);
        let tests: HealthTests = read_yaml(&dir.join("health_test.yaml"));
        assert!(!tests.tests.is_empty(), "{kind}: health_test.yaml has no tests");
        for t in &tests.tests {
            let obj = load_object(&dir.join(&t.input_path));
            let out = run(&dir.join("health.lua"), &obj, None);
            let got: HealthStatus =
                serde_json::from_value(out.clone()).unwrap_or_else(|e| panic!("{kind} {}: {out}: {e}", t.input_path));
            assert!(HEALTH_CODES.contains(&got.status.as_str()), "{kind} {}: invalid status {got:?}", t.input_path);
            assert_eq!(got, t.health_status, "{kind} health of {}", t.input_path);
            covered.entry(kind).or_default().push(got.status);
        }
    }
    // The matrix the issue asks for: each kind is seen Healthy, Progressing and Degraded.
    for kind in KINDS {
        for status in ["Healthy", "Progressing", "Degraded"] {
            assert!(
                covered.get(kind).is_some_and(|s| s.iter().any(|x| x == status)),
                "{kind}: no health test ends {status}"
            );
        }
    }
}

#[test]
fn discovery_offers_the_actions_that_do_something() {
    let dir = actions_dir();
    let tests: ActionTests = read_yaml(&dir.join("action_test.yaml"));
    assert!(!tests.discovery_tests.is_empty());
    for t in &tests.discovery_tests {
        let obj = load_object(&dir.join(&t.input_path));
        let out = run(&dir.join("discovery.lua"), &obj, None);
        let Json::Object(actions) = out else { panic!("discovery must return a table of actions, got {out}") };
        let mut got: Vec<ResourceAction> = actions
            .into_iter()
            .map(|(name, v)| {
                // An empty table comes out of Lua as an empty array: an action with no options.
                let mut v = if v.as_array().is_some_and(Vec::is_empty) { Json::Object(Map::new()) } else { v };
                v["name"] = Json::String(name);
                serde_json::from_value(v).unwrap_or_else(|e| panic!("discovery on {}: {e}", t.input_path))
            })
            .collect();
        got.sort();
        let mut want = t.result.clone();
        want.sort();
        assert_eq!(got, want, "discovery on {}", t.input_path);
    }
}

/// The token an action wrote, and the object with the token replaced by the placeholder.
fn token_and_rest(obj: &Json, field: &str) -> (Option<String>, Json) {
    let token = obj.pointer(&format!("/spec/requests/{field}")).and_then(Json::as_str).map(str::to_string);
    let mut rest = obj.clone();
    if let Some(slot) = rest.pointer_mut(&format!("/spec/requests/{field}")) {
        *slot = Json::String(TOKEN_PLACEHOLDER.into());
    }
    (token, rest)
}

fn handled(obj: &Json, field: &str) -> Option<String> {
    obj.pointer(&format!("/status/handledRequests/{field}")).and_then(Json::as_str).map(str::to_string)
}

fn run_action(action: &str, obj: &Json, now: Option<DateTime<Utc>>) -> Json {
    let mut out = run(&actions_dir().join(action).join("action.lua"), obj, now);
    clean_returned(&mut out, obj);
    out
}

fn token_field(action: &str) -> &'static str {
    ACTIONS
        .iter()
        .find(|(a, _)| *a == action)
        .map(|(_, f)| *f)
        .unwrap_or_else(|| panic!("action {action} is not one the test knows the token field of"))
}

#[test]
fn actions_write_a_fresh_token_and_change_nothing_else() {
    let dir = actions_dir();
    let tests: ActionTests = read_yaml(&dir.join("action_test.yaml"));
    for (action, _) in ACTIONS {
        assert!(tests.action_tests.iter().any(|t| t.action == action), "no action test for {action}");
    }
    for t in &tests.action_tests {
        let field = token_field(&t.action);
        let input = load_object(&dir.join(&t.input_path));
        let expected = load_object(&dir.join(&t.expected_output_path));
        let out = run_action(&t.action, &input, None);
        let (token, rest) = token_and_rest(&out, field);
        let token =
            token.unwrap_or_else(|| panic!("{} on {}: no spec.requests.{field} written", t.action, t.input_path));
        assert!(!token.is_empty(), "{} wrote an empty token", t.action);
        let before = input.pointer(&format!("/spec/requests/{field}")).and_then(Json::as_str);
        assert_ne!(Some(token.as_str()), before, "{} on {}: the token did not change", t.action, t.input_path);
        assert_ne!(Some(token.clone()), handled(&input, field), "{}: the token was handled already", t.action);
        assert!(token.len() <= 128, "the CRD allows tokens of at most 128 characters: {token}");
        let (placeholder, _) = token_and_rest(&expected, field);
        assert_eq!(
            placeholder.as_deref(),
            Some(TOKEN_PLACEHOLDER),
            "{}: the expected output must hold {TOKEN_PLACEHOLDER:?} where the token goes",
            t.expected_output_path
        );
        assert!(
            rest == expected,
            "{} on {}: output differs from {} beyond the token\n--- got\n{}\n--- expected\n{}",
            t.action,
            t.input_path,
            t.expected_output_path,
            serde_yaml::to_string(&rest).unwrap_or_default(),
            serde_yaml::to_string(&expected).unwrap_or_default()
        );
    }
}

#[test]
fn two_clicks_in_the_same_second_ask_twice() {
    let now = Utc.with_ymd_and_hms(2026, 11, 24, 10, 0, 0).single().expect("a valid time");
    let input = load_object(&actions_dir().join("testdata/user.yaml"));
    for (action, field) in ACTIONS {
        let mut obj = input.clone();
        let mut seen = Vec::new();
        for click in 0..4 {
            obj = run_action(action, &obj, Some(now));
            let token = token_and_rest(&obj, field).0.expect("a token");
            assert!(!seen.contains(&token), "{action}: click {click} wrote {token} again (seen {seen:?})");
            seen.push(token.clone());
            // Every other click, the operator has handled the token before the next click.
            if click % 2 == 1 {
                obj["status"]["handledRequests"][field] = Json::String(token);
            }
        }
        assert_eq!(seen[0], "argocd-2026-11-24T10:00:00Z", "{action}: the token is the UTC time to the second");
        assert!(seen[1].starts_with("argocd-2026-11-24T10:00:00Z."), "{action}: {}", seen[1]);
    }
}

#[test]
fn the_sandbox_is_as_bare_as_argo_cds() {
    let obj = serde_json::json!({"metadata": {"name": "x"}});
    let lua = sandbox(&obj, None).expect("sandbox");
    for absent in ["io", "string", "math", "debug", "dofile", "loadfile", "os.execute", "os.getenv", "os.exit"] {
        let v: LuaValue = match absent.split_once('.') {
            Some((t, f)) => lua.load(format!("return {t}.{f}")).eval().expect("eval"),
            None => lua.globals().get(absent).expect("get"),
        };
        assert!(matches!(v, LuaValue::Nil), "{absent} must not be available to scripts");
    }
    let spin = sandbox(&obj, None).expect("sandbox");
    let started = Instant::now();
    assert!(spin.load("while true do end").exec().is_err(), "an endless script must be stopped");
    assert!(started.elapsed() < Duration::from_secs(5));
    // What the scripts do use works as in Argo CD.
    let lua = sandbox(&obj, Some(Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).single().expect("time"))).expect("sandbox");
    let s: String = lua.load(r#"return os.date("!%Y-%m-%dT%H:%M:%SZ") .. " " .. os.date("!%T")"#).eval().expect("eval");
    assert_eq!(s, "2026-01-02T03:04:05Z %T");
    let n: String = lua.load(r#"return obj.metadata.name .. #obj"#).eval().expect("eval");
    assert_eq!(n, "x0");
}

// ---------------------------------------------------------------------------------------------
// argocd-cm.yaml

/// Indents every non-empty line of `text` by `n` spaces (empty lines stay empty: a YAML block
/// scalar keeps them, and trailing spaces would be noise).
fn indent(text: &str, n: usize) -> String {
    let pad = " ".repeat(n);
    text.lines().map(|l| if l.is_empty() { "\n".to_string() } else { format!("{pad}{l}\n") }).collect()
}

/// The `argocd-cm` snippet, rendered from the `.lua` files.
fn render_argocd_cm() -> String {
    let mut out = String::from(
        "# Generated from integrations/argocd/resource_customizations by tests/it/argocd_health.rs; do not edit.\n\
         # After changing a .lua file: UPDATE_ARGOCD_CM=1 cargo test --test it argocd_cm (or make argocd-cm).\n\
         #\n\
         # Merge it into Argo CD's own ConfigMap, for example:\n\
         #   kubectl -n argocd patch configmap argocd-cm --type merge --patch-file integrations/argocd/argocd-cm.yaml\n\
         # or list it as a patch of argocd-cm in the kustomization that installs Argo CD.\n\
         apiVersion: v1\n\
         kind: ConfigMap\n\
         metadata:\n  \
           name: argocd-cm\n  \
           labels:\n    \
             app.kubernetes.io/name: argocd-cm\n    \
             app.kubernetes.io/part-of: argocd\n\
         data:\n",
    );
    for kind in KINDS {
        out.push_str(&format!("  resource.customizations.health.conferencing.io_{kind}: |\n"));
        out.push_str(&indent(&read(&kind_dir(kind).join("health.lua")), 4));
    }
    out.push_str("  resource.customizations.actions.conferencing.io_ConferencingUser: |\n");
    out.push_str("    discovery.lua: |\n");
    out.push_str(&indent(&read(&actions_dir().join("discovery.lua")), 6));
    out.push_str("    definitions:\n");
    for (action, _) in ACTIONS {
        out.push_str(&format!("      - name: {action}\n        action.lua: |\n"));
        out.push_str(&indent(&read(&actions_dir().join(action).join("action.lua")), 10));
    }
    out
}

#[derive(Deserialize)]
struct ConfigMap {
    data: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct Actions {
    #[serde(rename = "discovery.lua")]
    discovery: String,
    definitions: Vec<ActionDefinition>,
}

#[derive(Deserialize)]
struct ActionDefinition {
    name: String,
    #[serde(rename = "action.lua")]
    action: String,
}

#[test]
fn argocd_cm_snippet_matches_the_lua_files() {
    let path = repo(ARGOCD_CM);
    let rendered = render_argocd_cm();
    if std::env::var_os("UPDATE_ARGOCD_CM").is_some() {
        std::fs::write(&path, &rendered).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    }
    let committed = read(&path);
    assert!(
        committed == rendered,
        "{ARGOCD_CM} is out of date with the .lua files; regenerate it with `UPDATE_ARGOCD_CM=1 cargo test --test it argocd_cm`"
    );

    // And what Argo CD will read out of it is exactly the files, whatever the rendering did.
    let cm: ConfigMap = read_yaml(&path);
    for kind in KINDS {
        let key = format!("resource.customizations.health.conferencing.io_{kind}");
        assert_eq!(cm.data.get(&key), Some(&read(&kind_dir(kind).join("health.lua"))), "{key}");
    }
    let key = "resource.customizations.actions.conferencing.io_ConferencingUser";
    let actions: Actions = serde_yaml::from_str(cm.data.get(key).unwrap_or_else(|| panic!("{key} missing")))
        .unwrap_or_else(|e| panic!("{key} is not Argo CD's actions YAML: {e}"));
    assert_eq!(actions.discovery, read(&actions_dir().join("discovery.lua")));
    let names: Vec<&str> = actions.definitions.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ACTIONS.iter().map(|(a, _)| *a).collect::<Vec<_>>());
    for d in &actions.definitions {
        assert_eq!(d.action, read(&actions_dir().join(&d.name).join("action.lua")), "action {}", d.name);
    }
    assert_eq!(cm.data.len(), 3, "unexpected keys in {ARGOCD_CM}: {:?}", cm.data.keys().collect::<Vec<_>>());
}
