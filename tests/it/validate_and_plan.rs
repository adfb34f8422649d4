//! `validate` and `plan` run as a user would: the binary, trees of files on disk,
//! exit statuses. No cluster needed (`plan --live` is in tests/it/plan_live.rs).

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use conferencing_operator::config_repo::findings::Code;
use serde_json::Value;

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(args: &[&str], stdin: Option<&str>) -> Out {
    let mut child = Command::new(env!("CARGO_BIN_EXE_conferencing-operator"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start conferencing-operator");
    if let Some(text) = stdin {
        child.stdin.take().expect("stdin").write_all(text.as_bytes()).expect("write stdin");
    }
    let out = child.wait_with_output().expect("wait");
    Out {
        code: out.status.code().expect("exit status"),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn json(out: &Out) -> Value {
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\n{}", out.stdout, out.stderr))
}

const BROKEN: &str = "tests/fixtures/config-repo/broken";

/// The `# <finding name>` markers of the broken fixture tree: (file, line, name).
fn markers() -> BTreeSet<(String, u64, String)> {
    let mut out = BTreeSet::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut stack = vec![root.join(BROKEN)];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("fixture dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|x| x != "yaml") || path.ends_with("kustomization.yaml") {
                continue;
            }
            let rel = path.strip_prefix(root).expect("under the repo").display().to_string();
            for (i, line) in std::fs::read_to_string(&path).expect("read").lines().enumerate() {
                if let Some((_, marker)) = line.split_once("  # ") {
                    let name = marker.split_whitespace().next().expect("marker name").to_string();
                    out.insert((rel.clone(), i as u64 + 1, name));
                }
            }
        }
    }
    out
}

#[test]
fn validate_reports_exactly_the_marked_mistakes_at_their_lines() {
    let out = run(&["validate", BROKEN, "--output", "json"], None);
    assert_eq!(out.code, 1, "errors exit 1: {}", out.stderr);
    let report = json(&out);
    let found: BTreeSet<(String, u64, String)> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            (
                f["file"].as_str().expect("file").to_string(),
                f["line"].as_u64().expect("line"),
                f["name"].as_str().expect("name").to_string(),
            )
        })
        .collect();
    assert_eq!(found, markers(), "findings differ from the fixture's markers");

    // Every code has a fixture, except the one that needs a cluster (tests/it/plan_live.rs).
    let covered: BTreeSet<String> = found.iter().map(|(_, _, n)| n.clone()).collect();
    for code in Code::ALL {
        if code != Code::ConferenceIdHeld {
            assert!(covered.contains(code.name()), "no fixture for {} {}", code.id(), code.name());
        }
    }
    for f in report["findings"].as_array().expect("findings") {
        assert!(f["column"].as_u64().expect("column") >= 1);
        assert!(f["code"].as_str().expect("code").starts_with("CO"));
        assert!(!f["message"].as_str().expect("message").is_empty());
        assert!(f["object"]["name"].is_string(), "every finding names its object: {f}");
    }
    assert_eq!(report["summary"]["errors"], 21);
    assert_eq!(report["summary"]["warnings"], 1);
    assert_eq!(report["summary"]["otherDocuments"], 2, "the Namespace and the Kustomization");
}

#[test]
fn text_output_is_compiler_style_and_messages_say_how_to_fix() {
    let out = run(&["validate", BROKEN], None);
    assert_eq!(out.code, 1);
    let line = |needle: &str| -> String {
        out.stdout
            .lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("{needle}:\n{}", out.stdout))
            .to_string()
    };
    assert!(
        line("CO402").starts_with(&format!("{BROKEN}/acme/users/carol.yaml:11:17: error[CO402]: spec.conferenceId 4455667 is also the static ID of user bob")),
        "{}",
        line("CO402")
    );
    assert!(line("CO401").contains("a tenant acme exists in namespace acme"), "{}", line("CO401"));
    assert!(line("CO401").contains("(ConferencingUser beta/quinn)"));
    assert!(line("CO207").contains("U+000A (line feed)"), "{}", line("CO207"));
    assert!(line("CO407").contains("replace the old token"), "{}", line("CO407"));
    assert!(line("CO201").contains("did you mean serviceNumber?"));
    assert!(line("CO202").contains("quote it: \"4455668\""));
    assert!(line("CO405").contains("move it to spec.tollFreeServiceNumber"));
    assert!(line("warning[CO102]").contains("quote it"));
    assert!(out.stdout.ends_with("21 error(s), 1 warning(s)\n"), "{}", out.stdout);
}

#[test]
fn github_output_annotates_each_finding_on_its_line() {
    let out = run(&["validate", BROKEN, "--output", "github"], None);
    assert_eq!(out.code, 1);
    let annotations: Vec<&str> = out.stdout.lines().filter(|l| l.starts_with("::")).collect();
    assert_eq!(annotations.len(), 22, "{}", out.stdout);
    let carol = annotations.iter().find(|l| l.contains("carol.yaml")).expect("carol");
    assert!(
        carol.starts_with(&format!(
            "::error file={BROKEN}/acme/users/carol.yaml,line=11,col=17,title=CO402 duplicate-conference-id::"
        )),
        "{carol}"
    );
    assert!(annotations.iter().any(|l| l.starts_with("::warning file=")));
}

#[test]
fn the_examples_validate_from_files_and_from_standard_input() {
    let out = run(&["validate", "examples"], None);
    assert_eq!((out.code, out.stderr.as_str()), (0, ""), "{}", out.stdout);
    assert!(out.stdout.contains("validated 1 tenant(s) and 5 user(s)"), "{}", out.stdout);
    assert!(out.stdout.contains(" 0 error(s), 0 warning(s)"), "{}", out.stdout);

    // As `kustomize build ... | validate -` would feed it: one stream of documents.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/acme");
    let mut stream = String::new();
    for f in [
        "namespace.yaml",
        "tenant.yaml",
        "users/alice.yaml",
        "users/bob.yaml",
        "users/chen.yaml",
        "users/dana.yaml",
        "users/eve.yaml",
    ] {
        stream.push_str("---\n");
        stream.push_str(&std::fs::read_to_string(dir.join(f)).expect("example"));
    }
    let out = run(&["validate", "-"], Some(&stream));
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("validated 1 tenant(s) and 5 user(s) in 1 file(s) (1 other document(s) ignored)"),
        "{}",
        out.stdout
    );

    // A mistake read from standard input is reported against <stdin> and its line.
    let broken = stream.replace("  displayName: Alice Martin", "  displayName: Alice Martin\n  displayname: typo");
    let out = run(&["validate", "-"], Some(&broken));
    assert_eq!(out.code, 1);
    assert!(out.stdout.contains("<stdin>:"), "{}", out.stdout);
    assert!(out.stdout.contains("error[CO201]: spec.displayname"), "{}", out.stdout);
}

#[test]
fn unreadable_input_exits_2_naming_the_file_and_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "apiVersion: v1\nkind: [ConfigMap\nmetadata: {}\n").expect("write");
    let out = run(&["validate", dir.path().to_str().expect("utf8")], None);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains(&format!("{}:", bad.display())), "{}", out.stderr);
    assert!(out.stderr.contains("invalid YAML"), "{}", out.stderr);

    let out = run(&["validate", "no/such/dir"], None);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("no/such/dir: no such file or directory"), "{}", out.stderr);

    let out = run(&["plan", "--from", dir.path().to_str().expect("utf8"), "--to", "examples"], None);
    assert_eq!(out.code, 2, "a bad --from is bad input too: {}", out.stderr);
}

// ---- plan ----------------------------------------------------------------------------

fn tenant(auto_emails: bool, default_toll: &str) -> String {
    let mark = |n: &str| if n == default_toll { "\n      default: true" } else { "" };
    format!(
        "apiVersion: conferencing.io/v1alpha1\nkind: ConferencingTenant\nmetadata:\n  name: acme\n  namespace: acme\nspec:\n  serviceNumbers:\n    - number: \"+14255550100\"\n      type: Toll{}\n    - number: \"+33175550100\"\n      type: Toll{}\n    - number: \"+18005550199\"\n      type: TollFree\n  notifications:\n    automaticallySendEmailsToUsers: {auto_emails}\n",
        mark("+14255550100"),
        mark("+33175550100"),
    )
}

fn user(name: &str, extra: &str) -> String {
    format!(
        "apiVersion: conferencing.io/v1alpha1\nkind: ConferencingUser\nmetadata:\n  name: {name}\n  namespace: acme\nspec:\n  tenantRef:\n    name: acme\n  displayName: {name}\n  email: {name}@acme.example\n{extra}"
    )
}

fn write_tree(dir: &Path, files: &[(String, String)]) -> PathBuf {
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, text).expect("write");
    }
    dir.to_path_buf()
}

/// Before and after a commit that causes every kind of e-mail.
fn every_kind(auto_emails: bool) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let root = tempfile::tempdir().expect("tempdir");
    let third = "  provider:\n    type: ThirdParty\n    name: Contoso Audio\n";
    let before = vec![
        ("tenant.yaml".to_string(), tenant(auto_emails, "+14255550100")),
        ("users/alice.yaml".into(), user("alice", "")),
        ("users/bob.yaml".into(), user("bob", "")),
        ("users/carol.yaml".into(), user("carol", "")),
        ("users/dan.yaml".into(), user("dan", "")),
        ("users/eve.yaml".into(), user("eve", third)),
        ("users/fay.yaml".into(), user("fay", "")),
        ("users/gil.yaml".into(), user("gil", "  locale: fr\n")),
        ("users/ida.yaml".into(), user("ida", "  sendEmailToAddress: ida@home.example\n")),
        ("users/jon.yaml".into(), user("jon", "")),
    ];
    let after = vec![
        ("tenant.yaml".to_string(), tenant(auto_emails, "+14255550100")),
        ("users/alice.yaml".into(), user("alice", "  requests:\n    resetPin: \"2026-12-01 #1\"\n")),
        ("users/bob.yaml".into(), user("bob", "  requests:\n    resetConferenceId: \"2026-12-01\"\n")),
        ("users/carol.yaml".into(), user("carol", "  audioConferencingLicense: false\n")),
        ("users/dan.yaml".into(), user("dan", third)),
        ("users/eve.yaml".into(), user("eve", "")),
        ("users/fay.yaml".into(), user("fay", "  serviceNumber: \"+33175550100\"\n")),
        ("users/gil.yaml".into(), user("gil", "  locale: fr\n  requests:\n    sendConferencingInfo: \"2026-12-01\"\n")),
        ("users/hal.yaml".into(), user("hal", "  locale: zh-CN\n")),
        ("users/ida.yaml".into(), user("ida", "  sendEmailToAddress: ida@home.example\n")),
    ];
    let from = write_tree(&root.path().join("from"), &before);
    let to = write_tree(&root.path().join("to"), &after);
    (root, from, to)
}

fn emails(plan: &Value) -> BTreeSet<(String, String, String, String)> {
    let mut out = BTreeSet::new();
    for u in plan["users"].as_array().expect("users") {
        for e in u["emails"].as_array().expect("emails") {
            out.insert((
                u["name"].as_str().expect("name").to_string(),
                e["kind"].as_str().expect("kind").to_string(),
                e["recipient"].as_str().expect("recipient").to_string(),
                e["locale"].as_str().expect("locale").to_string(),
            ));
        }
    }
    out
}

fn set(items: &[(&str, &str, &str, &str)]) -> BTreeSet<(String, String, String, String)> {
    items.iter().map(|(a, b, c, d)| (a.to_string(), b.to_string(), c.to_string(), d.to_string())).collect()
}

fn user_plan<'a>(plan: &'a Value, name: &str) -> &'a Value {
    plan["users"]
        .as_array()
        .expect("users")
        .iter()
        .find(|u| u["name"] == name)
        .unwrap_or_else(|| panic!("{name} not in plan"))
}

fn action_types(u: &Value) -> Vec<String> {
    u["actions"].as_array().expect("actions").iter().map(|a| a["type"].as_str().expect("type").to_string()).collect()
}

#[test]
fn plan_predicts_every_kind_of_email_and_the_actions() {
    let (_root, from, to) = every_kind(true);
    let out = run(
        &["plan", "--from", from.to_str().expect("utf8"), "--to", to.to_str().expect("utf8"), "--output", "json"],
        None,
    );
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let plan = json(&out);
    assert_eq!(plan["schemaVersion"], 1);
    assert_eq!(plan["mode"], "offline");
    assert_eq!(plan["valid"], true);
    assert_eq!(
        emails(&plan),
        set(&[
            ("alice", "PinReset", "alice@acme.example", "en"),
            ("bob", "ConferenceIdReset", "bob@acme.example", "en"),
            ("carol", "LicenseRemoved", "carol@acme.example", "en"),
            ("dan", "ProviderChangedAway", "dan@acme.example", "en"),
            ("eve", "ProviderChangedToNative", "eve@acme.example", "en"),
            ("fay", "ServiceNumberChanged", "fay@acme.example", "en"),
            ("gil", "ConferencingInfoRequested", "gil@acme.example", "fr"),
            ("hal", "LicenseAssigned", "hal@acme.example", "zh-CN"),
        ])
    );
    assert_eq!(action_types(user_plan(&plan, "alice")), ["PinReset"]);
    assert_eq!(action_types(user_plan(&plan, "bob")), ["ConferenceIdReset"]);
    assert_eq!(action_types(user_plan(&plan, "carol")), ["LicenseRemoved", "Deprovisioned"]);
    assert_eq!(action_types(user_plan(&plan, "dan")), ["ProviderChanged", "Deprovisioned"]);
    assert_eq!(action_types(user_plan(&plan, "eve")), ["ProviderChanged", "ConferenceIdAllocated", "PinGenerated"]);
    assert_eq!(action_types(user_plan(&plan, "fay")), ["ServiceNumberChanged"]);
    assert_eq!(action_types(user_plan(&plan, "hal")), ["LicenseAssigned", "ConferenceIdAllocated", "PinGenerated"]);
    assert_eq!(action_types(user_plan(&plan, "jon")), ["Removed"]);
    assert!(
        plan["users"].as_array().expect("users").iter().all(|u| u["name"] != "ida"),
        "unchanged users are not listed"
    );

    let s = &plan["summary"];
    assert_eq!(
        (s["users"].as_u64(), s["usersChanged"].as_u64(), s["usersRemoved"].as_u64()),
        (Some(9), Some(8), Some(1))
    );
    assert_eq!(s["emails"], 8);
    assert_eq!(s["emailsByKind"]["PinReset"], 1);
    assert_eq!(s["fanOut"].as_array().map(Vec::len), Some(0), "no tenant change");
    assert!(!out.stdout.to_lowercase().contains("\"pin\":"), "a plan never carries a PIN");
}

#[test]
fn with_automatic_emails_off_only_on_request_emails_appear() {
    let (_root, from, to) = every_kind(false);
    let out = run(
        &["plan", "--from", from.to_str().expect("utf8"), "--to", to.to_str().expect("utf8"), "--output", "json"],
        None,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let plan = json(&out);
    assert_eq!(emails(&plan), set(&[("gil", "ConferencingInfoRequested", "gil@acme.example", "fr")]));
    let suppressed: BTreeSet<(String, String)> = plan["users"]
        .as_array()
        .expect("users")
        .iter()
        .flat_map(|u| {
            u["suppressedEmails"].as_array().expect("suppressed").iter().map(move |e| {
                (u["name"].as_str().expect("name").to_string(), e["kind"].as_str().expect("kind").to_string())
            })
        })
        .collect();
    let expected: BTreeSet<(String, String)> = [
        ("alice", "PinReset"),
        ("bob", "ConferenceIdReset"),
        ("carol", "LicenseRemoved"),
        ("dan", "ProviderChangedAway"),
        ("eve", "ProviderChangedToNative"),
        ("fay", "ServiceNumberChanged"),
        ("hal", "LicenseAssigned"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(suppressed, expected);
    assert_eq!(plan["summary"]["suppressedEmails"], 7);
    // The actions still happen.
    assert_eq!(action_types(user_plan(&plan, "alice")), ["PinReset"]);
}

#[test]
fn while_a_tenant_holds_its_emails_plan_lists_them_as_held_and_lifting_the_hold_sends_them() {
    let root = tempfile::tempdir().expect("tempdir");
    let holding = |hold: bool| {
        tenant(true, "+14255550100").replace("  notifications:\n", &format!("  notifications:\n    hold: {hold}\n"))
    };
    let users: Vec<(String, String)> = vec![
        ("users/alice.yaml".into(), user("alice", "")),
        ("users/bob.yaml".into(), user("bob", "  requests:\n    sendConferencingInfo: t1\n")),
    ];
    let empty = vec![("tenant.yaml".to_string(), holding(true))];
    let mut held = users.clone();
    held.push(("tenant.yaml".into(), holding(true)));
    let mut released = users;
    released.push(("tenant.yaml".into(), holding(false)));
    let empty = write_tree(&root.path().join("empty"), &empty);
    let held = write_tree(&root.path().join("held"), &held);
    let released = write_tree(&root.path().join("released"), &released);
    let path = |p: &Path| p.to_str().expect("utf8").to_string();

    // Users created while their tenant holds its e-mails: nothing is sent, three are held.
    let out = run(&["plan", "--from", &path(&empty), "--to", &path(&held), "--output", "json"], None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let plan = json(&out);
    assert_eq!((plan["summary"]["emails"].as_u64(), plan["summary"]["heldEmails"].as_u64()), (Some(0), Some(3)));
    let kinds = |u: &Value, key: &str| -> Vec<String> {
        u[key]
            .as_array()
            .map(|a| a.iter().map(|e| e["kind"].as_str().unwrap_or_default().to_string()).collect())
            .unwrap_or_default()
    };
    assert_eq!(kinds(user_plan(&plan, "bob"), "held"), ["LicenseAssigned", "ConferencingInfoRequested"]);
    let text = run(&["plan", "--from", &path(&empty), "--to", &path(&held)], None);
    assert!(text.stdout.contains("3 e-mails held (notifications.hold)"), "{}", text.stdout);

    // The commit that lifts the hold sends what was held.
    let out = run(&["plan", "--from", &path(&held), "--to", &path(&released), "--output", "json"], None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let plan = json(&out);
    assert_eq!(plan["summary"]["emails"], 3);
    assert!(plan["summary"].get("heldEmails").is_none(), "nothing held any more");
    assert_eq!(kinds(user_plan(&plan, "alice"), "emails"), ["LicenseAssigned"]);
    let out = run(&["plan", "--from", &path(&held), "--to", &path(&released), "--fail-on-emails", "2"], None);
    assert_eq!(out.code, 3, "lifting the hold counts towards --fail-on-emails: {}", out.stdout);
}

#[test]
fn a_tenant_default_number_change_fans_out_and_can_require_a_second_approval() {
    let root = tempfile::tempdir().expect("tempdir");
    let mut users: Vec<(String, String)> =
        (0..1200).map(|i| (format!("users/u{i:04}.yaml"), user(&format!("u{i:04}"), ""))).collect();
    // Users who chose their number keep it and get no e-mail.
    for i in 0..3 {
        users.push((
            format!("users/pinned{i}.yaml"),
            user(&format!("pinned{i}"), "  serviceNumber: \"+14255550100\"\n"),
        ));
    }
    let mut before = users.clone();
    before.push(("tenant.yaml".into(), tenant(true, "+14255550100")));
    let mut after = users;
    after.push(("tenant.yaml".into(), tenant(true, "+33175550100")));
    let from = write_tree(&root.path().join("from"), &before);
    let to = write_tree(&root.path().join("to"), &after);
    let (from, to) = (from.to_str().expect("utf8"), to.to_str().expect("utf8"));

    let out = run(&["plan", "--from", from, "--to", to, "--output", "json"], None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let plan = json(&out);
    assert_eq!(plan["summary"]["emails"], 1200);
    assert_eq!(plan["summary"]["emailsByKind"]["ServiceNumberChanged"], 1200);
    let fan = &plan["summary"]["fanOut"][0];
    assert_eq!(
        fan["sentence"],
        "changing the default toll number of tenant acme re-sends a dial-in e-mail to 1,200 users"
    );
    assert_eq!(
        (fan["tenant"].as_str(), fan["kind"].as_str(), fan["users"].as_u64()),
        (Some("acme"), Some("ServiceNumberChanged"), Some(1200))
    );
    assert!(
        plan["users"]
            .as_array()
            .expect("users")
            .iter()
            .all(|u| !u["name"].as_str().unwrap_or("").starts_with("pinned"))
    );

    let text = run(&["plan", "--from", from, "--to", to], None);
    assert!(
        text.stdout
            .contains("changing the default toll number of tenant acme re-sends a dial-in e-mail to 1,200 users"),
        "{}",
        text.stdout
    );
    let md = run(&["plan", "--from", from, "--to", to, "--output", "markdown"], None);
    assert_eq!(md.code, 0);
    assert!(md.stdout.starts_with("### Conferencing plan"), "{}", md.stdout);
    assert!(
        md.stdout
            .contains("> **changing the default toll number of tenant acme re-sends a dial-in e-mail to 1,200 users**")
    );
    assert!(
        md.stdout.contains("<details><summary>acme/u0000: 1 action, 1 e-mail</summary>"),
        "long plans collapse each user"
    );
    assert!(md.stdout.contains("...and 1,000 more users"), "a comment stays within GitHub's size limit");

    assert_eq!(run(&["plan", "--from", from, "--to", to, "--fail-on-emails", "1199"], None).code, 3);
    assert_eq!(run(&["plan", "--from", from, "--to", to, "--fail-on-emails", "1200"], None).code, 0);
}

#[test]
fn plan_of_a_tree_that_does_not_validate_exits_1_with_findings_and_blocked_users() {
    let out = run(&["plan", "--from", "examples", "--to", BROKEN, "--output", "json"], None);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let plan = json(&out);
    assert_eq!(plan["valid"], false);
    assert_eq!(plan["findings"].as_array().map(Vec::len), Some(22));
    let blocked: BTreeSet<(String, String)> = plan["users"]
        .as_array()
        .expect("users")
        .iter()
        .filter(|u| u["blocked"].is_object())
        .map(|u| {
            (
                u["name"].as_str().expect("name").to_string(),
                u["blocked"]["reason"].as_str().expect("reason").to_string(),
            )
        })
        .collect();
    for expected in [
        ("carol", "ConferenceIdConflict"),
        ("quinn", "TenantNotFound"),
        ("grace", "InvalidSpec"),
        ("noah", "InvalidSpec"),
        ("nina", "InvalidSpec"),
    ] {
        assert!(blocked.contains(&(expected.0.to_string(), expected.1.to_string())), "{expected:?} in {blocked:?}");
    }
    let text = run(&["plan", "--from", "examples", "--to", BROKEN], None);
    assert_eq!(text.code, 1);
    assert!(text.stdout.contains("error[CO402]"), "the findings are printed: {}", text.stdout);
}

#[test]
fn plan_needs_a_before_state() {
    let out = run(&["plan", "--to", "examples"], None);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("--from") && out.stderr.contains("--live"), "{}", out.stderr);
}

#[test]
fn every_finding_code_is_documented() {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/gitops.md")).expect("docs/gitops.md");
    for code in Code::ALL {
        let row = format!("| {} | {} | {} |", code.id(), code.name(), format!("{:?}", code.severity()).to_lowercase());
        assert!(doc.contains(&row), "docs/gitops.md lacks the row `{row}`");
    }
}

#[test]
fn planning_a_tree_against_itself_changes_nothing() {
    // The converged state of a tree is a fixed point of the planner: no action, no e-mail.
    let out = run(&["plan", "--from", "examples", "--to", "examples", "--output", "json"], None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let plan = json(&out);
    assert_eq!(plan["users"], serde_json::json!([]), "{}", out.stdout);
    assert_eq!((plan["summary"]["users"].as_u64(), plan["summary"]["emails"].as_u64()), (Some(5), Some(0)));
}

// ---- hostile input ---------------------------------------------------------------------

/// Nine levels of ten aliases each ("billion laughs"): about 700 bytes, a billion nodes.
fn alias_bomb() -> String {
    let mut text =
        String::from("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: lol\ndata:\n  a0: &a0 [\"lol\"]\n");
    for i in 1..10 {
        let refs = vec![format!("*a{}", i - 1); 10].join(", ");
        text.push_str(&format!("  a{i}: &a{i} [{refs}]\n"));
    }
    text
}

#[test]
fn yaml_bombs_exit_2_naming_the_file_and_line() {
    let root = tempfile::tempdir().expect("tempdir");
    let bomb = write_tree(&root.path().join("bomb"), &[("bomb.yaml".into(), alias_bomb())]);
    // 20,000 nested block sequences, 40 KB: overflowed the stack (exit 134) before.
    let deep = write_tree(&root.path().join("deep"), &[("deep.yaml".into(), "- ".repeat(20_000) + "x\n")]);
    let (bomb, deep) = (bomb.to_str().expect("utf8"), deep.to_str().expect("utf8"));
    for (dir, line, what) in [(bomb, 10, "alias bomb"), (deep, 1, "deeper than 64 levels")] {
        let file = format!("{dir}/{}.yaml", if dir == bomb { "bomb" } else { "deep" });
        for args in [
            vec!["validate", dir],
            vec!["plan", "--from", "examples", "--to", dir],
            vec!["plan", "--from", dir, "--to", "examples"],
        ] {
            let out = run(&args, None);
            assert_eq!(out.code, 2, "{args:?}: {}{}", out.stdout, out.stderr);
            assert!(out.stderr.contains(&format!("{file}:{line}:")), "{args:?}: {}", out.stderr);
            assert!(out.stderr.contains(what), "{args:?}: {}", out.stderr);
        }
    }
    // From standard input too.
    let out = run(&["plan", "--from", "examples", "--to", "-"], Some(&alias_bomb()));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("<stdin>:10:"), "{}", out.stderr);
}

#[test]
fn a_hostile_file_name_cannot_hide_the_email_table_in_the_markdown_plan() {
    let root = tempfile::tempdir().expect("tempdir");
    let from = write_tree(
        &root.path().join("from"),
        &[("tenant.yaml".into(), tenant(true, "+14255550100")), ("alice.yaml".into(), user("alice", ""))],
    );
    // A line break and `<!--` in a file name, and a warning so that the name is printed.
    let name = "x\n\n<!-- `|* [a](b) @team.yaml";
    let alice = user("alice", "  requests:\n    resetPin: \"2026-12-01\"\n")
        .replace("alice@acme.example", "attacker@evil.example");
    let to = write_tree(
        &root.path().join("to"),
        &[
            ("tenant.yaml".into(), tenant(true, "+14255550100")),
            ("alice.yaml".into(), alice),
            (name.into(), user("bob", "").replace("namespace: acme", "namespace: acme\n  labels:\n    on: yes")),
        ],
    );
    let (from, to) = (from.to_str().expect("utf8"), to.to_str().expect("utf8"));
    let out = run(&["plan", "--from", from, "--to", to, "--output", "markdown"], None);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let md = &out.stdout;
    assert!(md.contains("warning CO102"), "the file name is printed with its warning:\n{md}");
    assert!(!md.contains("<!--"), "no HTML comment opens:\n{md}");
    assert!(md.contains("&lt;\\!--"), "{md}");
    assert!(md.contains("x\\\\u{a}\\\\u{a}&lt;"), "line breaks are visible escapes:\n{md}");
    assert!(md.contains("| PinReset | 1 |"), "the e-mail table is there:\n{md}");
    assert!(md.contains("to attacker\\@evil.example"), "and the recipient:\n{md}");
    // Every line of the finding stays on one line: the list item holds the whole name.
    let item = md.lines().find(|l| l.contains("CO102")).expect("finding");
    assert!(item.starts_with("- ") && item.contains("\\@team.yaml"), "{item}");
}

// ---- kustomize (issue 17, attack 5) -------------------------------------------------------

/// The example repository copied to `dir`, with `kustomization` as acme's kustomization.yaml
/// (the original when `None`) and `extra` files added.
fn examples_with(dir: &Path, kustomization: Option<&str>, extra: &[(String, String)]) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut files = Vec::new();
    for f in ["namespace.yaml", "tenant.yaml", "kustomization.yaml"]
        .into_iter()
        .map(String::from)
        .chain(["alice", "bob", "chen", "dana", "eve"].map(|u| format!("users/{u}.yaml")))
    {
        files.push((format!("acme/{f}"), std::fs::read_to_string(src.join("acme").join(&f)).expect("example")));
    }
    if let Some(k) = kustomization {
        files.retain(|(f, _)| f != "acme/kustomization.yaml");
        files.push(("acme/kustomization.yaml".into(), k.to_string()));
    }
    files.extend(extra.iter().cloned());
    write_tree(dir, &files)
}

/// The examples' kustomization plus `tail`.
fn kustomization_plus(tail: &str) -> String {
    let k = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/acme/kustomization.yaml"))
        .expect("example kustomization");
    format!("{k}{tail}")
}

/// The patch of the issue (9 lines under `patches:`): every user redirected outside, and a
/// PIN reset for each.
const REDIRECT_PATCH: &str = "patches:
  - target:
      kind: ConferencingUser
    patch: |-
      - op: replace
        path: /spec/email
        value: attacker@evil.example
      - op: add
        path: /spec/requests
        value: {resetPin: \"2026-12-01\"}
";

#[test]
fn a_kustomize_patch_is_planned_as_rendered_and_cannot_bypass_fail_on_emails() {
    let root = tempfile::tempdir().expect("tempdir");
    let to = examples_with(&root.path().join("to"), Some(&kustomization_plus(REDIRECT_PATCH)), &[]);
    let to = to.to_str().expect("utf8");

    let out = run(&["plan", "--from", "examples", "--to", to, "--output", "json"], None);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let plan = json(&out);
    let resets: BTreeSet<(String, String)> = emails(&plan)
        .into_iter()
        .filter(|(_, kind, _, _)| kind == "PinReset")
        .map(|(user, _, recipient, _)| (user, recipient))
        .collect();
    // As `kubectl kustomize` renders it (the next test compares the two): bob's own
    // sendEmailToAddress still wins over spec.email, and eve (ThirdParty) has no PIN.
    let expected: BTreeSet<(String, String)> = [
        ("alice", "attacker@evil.example"),
        ("bob", "bob.okafor@partner.example"),
        ("chen", "attacker@evil.example"),
        ("dana", "attacker@evil.example"),
    ]
    .iter()
    .map(|(u, r)| (u.to_string(), r.to_string()))
    .collect();
    assert_eq!(resets, expected, "every PIN reset goes where the rendered tree says:\n{}", out.stdout);
    assert_eq!(plan["summary"]["emails"], 4, "{}", out.stdout);

    let text = run(&["plan", "--from", "examples", "--to", to], None);
    assert_eq!(text.code, 0, "{}", text.stderr);
    assert!(!text.stdout.contains("No user changes"), "{}", text.stdout);
    assert!(text.stdout.contains("attacker@evil.example"), "{}", text.stdout);

    let out = run(&["plan", "--from", "examples", "--to", to, "--fail-on-emails", "2"], None);
    assert_eq!(out.code, 3, "--fail-on-emails counts the patched e-mails: {}{}", out.stdout, out.stderr);
}

/// `kubectl kustomize DIR`: what Argo CD, Flux and `kubectl apply -k` apply (kubectl is on
/// PATH wherever the suite runs: scripts/provision installs it).
fn kubectl_kustomize(dir: &Path) -> String {
    let out = Command::new("kubectl")
        .arg("kustomize")
        .arg(dir)
        .output()
        .expect("kubectl on PATH (scripts/provision installs it)");
    assert!(out.status.success(), "kubectl kustomize {}: {}", dir.display(), String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_in_process_rendering_plans_what_kubectl_kustomize_renders() {
    let root = tempfile::tempdir().expect("tempdir");
    // patches run before namespace:, patchesJson6902 after it, and both select by the
    // namespace an object was read with as well as by its current one (kustomize's order).
    let tail = format!(
        "{REDIRECT_PATCH}  - target: {{kind: ConferencingUser, name: \"bob|chen\", namespace: acme}}
    patch: '[{{\"op\": \"add\", \"path\": \"/spec/locale\", \"value\": \"fr\"}}]'
patchesJson6902:
  - target: {{group: conferencing.io, version: v1alpha1, kind: ConferencingUser, name: dana, namespace: acme}}
    path: dana-patch.yaml
"
    );
    let extra = [(
        "acme/dana-patch.yaml".to_string(),
        "- op: test\n  path: /spec/email\n  value: attacker@evil.example\n- op: replace\n  path: /spec/email\n  value: dana@partner.example\n".to_string(),
    )];
    let to = examples_with(&root.path().join("to"), Some(&kustomization_plus(&tail)), &extra);
    let in_process = run(&["plan", "--from", "examples", "--to", to.to_str().expect("utf8"), "--output", "json"], None);
    assert_eq!(in_process.code, 0, "{}", in_process.stderr);
    let rendered = kubectl_kustomize(&to.join("acme"));
    let piped = run(&["plan", "--from", "examples", "--to", "-", "--output", "json"], Some(&rendered));
    assert_eq!(piped.code, 0, "{}", piped.stderr);
    let (a, b) = (emails(&json(&in_process)), emails(&json(&piped)));
    assert_eq!(a, b, "the in-process rendering and kubectl kustomize plan the same e-mails");
    assert_eq!(
        a,
        set(&[
            ("alice", "PinReset", "attacker@evil.example", "en"),
            ("bob", "PinReset", "bob.okafor@partner.example", "fr"),
            ("chen", "PinReset", "attacker@evil.example", "fr"),
            ("dana", "PinReset", "dana@partner.example", "fr"),
        ])
    );
    // Findings still name the files of the pull request, not a stream.
    let out = run(&["validate", to.to_str().expect("utf8"), "--output", "json"], None);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let summary = &json(&out)["summary"];
    assert_eq!((summary["users"].as_u64(), summary["files"].as_u64()), (Some(5), Some(9)), "{summary}");
}

#[test]
fn a_kustomization_field_that_is_not_rendered_exits_2_naming_the_file_and_field() {
    let root = tempfile::tempdir().expect("tempdir");
    // (the field named, what is appended to the examples' kustomization, the line it is on)
    let cases: &[(&str, &str, &str)] = &[
        ("configMapGenerator", "configMapGenerator:\n  - name: c\n    literals: [a=b]\n", "configMapGenerator"),
        ("secretGenerator", "secretGenerator:\n  - name: s\n    literals: [a=b]\n", "secretGenerator"),
        ("generators", "generators:\n  - gen.yaml\n", "generators"),
        ("transformers", "transformers:\n  - t.yaml\n", "transformers"),
        ("helmCharts", "helmCharts:\n  - name: x\n    repo: https://charts.example\n", "helmCharts"),
        ("components", "components:\n  - ../component\n", "components"),
        ("replacements", "replacements:\n  - path: r.yaml\n", "replacements"),
        ("namePrefix", "namePrefix: prod-\n", "namePrefix"),
        ("commonLabels", "commonLabels:\n  app: x\n", "commonLabels"),
        ("commonAnnotations", "commonAnnotations:\n  a: b\n", "commonAnnotations"),
        ("images", "images:\n  - name: x\n", "images"),
        ("patchesStrategicMerge", "patchesStrategicMerge:\n  - alice-patch.yaml\n", "patchesStrategicMerge"),
        ("resourcse", "resourcse:\n  - users/alice.yaml\n", "resourcse"),
        ("resources", "  - https://github.com/attacker/users//base?ref=main\n", "https://"),
        ("kind", "", "kind: Component"),
        // A strategic-merge patch, without and with a target.
        ("patches[0]", "patches:\n  - path: alice-patch.yaml\n", "path: alice-patch.yaml"),
        ("patches[0]", "patches:\n  - target: {kind: ConferencingUser}\n    path: alice-patch.yaml\n", "target:"),
        ("patches[0].target.labelSelector", "patches:\n  - target: {labelSelector: a=b}\n    patch: '[]'\n", "target:"),
        (
            "patches[0].options",
            "patches:\n  - target: {kind: ConferencingUser}\n    options: {allowNameChange: true}\n    patch: '[]'\n",
            "options:",
        ),
        // A patch may not change what it patches, nor be read differently by YAML 1.1.
        (
            "patches[0]",
            "patches:\n  - target: {name: alice}\n    patch: '[{\"op\": \"replace\", \"path\": \"/metadata/name\", \"value\": \"mallory\"}]'\n",
            "target:",
        ),
        (
            "patches[0]",
            "patches:\n  - target: {name: alice}\n    patch: |-\n      - op: add\n        path: /spec/audioConferencingLicense\n        value: no\n",
            "- op: add",
        ),
        (
            "patches[0]",
            "patches:\n  - target: {name: alice}\n    patch: |-\n      - op: add\n        path: /spec/conferenceId\n        value: 0123456\n",
            "target:",
        ),
        // A patch kustomize fails on: nothing would be applied, so nothing is planned.
        (
            "patches[0]",
            "patches:\n  - target: {name: alice}\n    patch: '[{\"op\": \"replace\", \"path\": \"/spec/nosuch\", \"value\": 1}]'\n",
            "patch: '[",
        ),
    ];
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/acme/users/alice.yaml");
    let smp =
        std::fs::read_to_string(examples).expect("alice").replace("alice.martin@acme.example", "attacker@evil.example");
    let smp = [("acme/alice-patch.yaml".to_string(), smp)];
    for (i, (field, tail, needle)) in cases.iter().enumerate() {
        let base = kustomization_plus("");
        let k = if *field == "kind" {
            base.replace("kind: Kustomization", "kind: Component")
        } else {
            format!("{base}{tail}")
        };
        let line = k.lines().position(|l| l.contains(needle)).expect("needle") + 1;
        let dir = examples_with(&root.path().join(format!("case{i}")), Some(&k), &smp);
        let dir_s = dir.to_str().expect("utf8");
        for args in
            [vec!["validate", dir_s], vec!["plan", "--from", "examples", "--to", dir_s, "--fail-on-emails", "100"]]
        {
            let out = run(&args, None);
            assert_eq!(out.code, 2, "{field}: {args:?} must refuse:\n{}{}", out.stdout, out.stderr);
            assert!(
                out.stderr.contains(&format!("{dir_s}/acme/kustomization.yaml:{line}:")),
                "{field}: names the file and line {line}: {}",
                out.stderr
            );
            assert!(out.stderr.contains(&format!(": {field}: ")), "{field}: names the field: {}", out.stderr);
            assert!(out.stdout.is_empty(), "{field}: no plan is printed: {}", out.stdout);
        }
    }
}

#[test]
fn kustomize_paths_cannot_leave_the_repository() {
    let root = tempfile::tempdir().expect("tempdir");
    std::fs::write(root.path().join("outside.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n")
        .expect("write");
    let alice = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/acme/users/alice.yaml"))
        .expect("alice");
    std::fs::create_dir_all(root.path().join("elsewhere")).expect("mkdir");
    std::fs::write(root.path().join("elsewhere/mallory.yaml"), alice.replace("name: alice", "name: mallory"))
        .expect("write");
    std::fs::write(root.path().join("elsewhere/kustomization.yaml"), "resources:\n  - mallory.yaml\n").expect("write");
    let cases: &[(&str, &str)] = &[
        ("resources", "  - ../../outside.yaml\n"),
        ("resources", "  - ../../elsewhere\n"),
        ("resources", "  - /etc/passwd\n"),
        // Inside the repository, but outside the kustomization's directory: kustomize's load
        // restriction refuses a file there too.
        ("resources", "  - ../notes.yaml\n"),
        ("resources", "  - users/link.yaml\n"),
        ("resources", "  - linked-dir\n"),
        ("patches[0].path", "patches:\n  - target: {kind: ConferencingUser}\n    path: ../../outside.yaml\n"),
    ];
    for (i, (field, tail)) in cases.iter().enumerate() {
        let k = format!("{}{tail}", kustomization_plus(""));
        let tree = root.path().join(format!("case{i}"));
        let dir = examples_with(
            &tree,
            Some(&k),
            &[("notes.yaml".into(), "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: n\n".into())],
        );
        std::os::unix::fs::symlink(root.path().join("elsewhere/mallory.yaml"), dir.join("acme/users/link.yaml"))
            .expect("symlink");
        std::os::unix::fs::symlink(root.path().join("elsewhere"), dir.join("acme/linked-dir")).expect("symlink");
        let dir_s = dir.to_str().expect("utf8");
        for args in [vec!["validate", dir_s], vec!["plan", "--from", "examples", "--to", dir_s]] {
            let out = run(&args, None);
            assert_eq!(out.code, 2, "{tail}: {args:?} must refuse:\n{}{}", out.stdout, out.stderr);
            assert!(out.stderr.contains(&format!("{dir_s}/acme/kustomization.yaml:")), "{tail}: {}", out.stderr);
            assert!(out.stderr.contains(&format!("{field}: ")), "{tail}: {}", out.stderr);
            assert!(out.stderr.contains("refused"), "{tail}: {}", out.stderr);
            assert!(!out.stdout.contains("mallory"), "{tail}: {}", out.stdout);
        }
    }
}

#[test]
fn a_kustomization_is_never_an_ignored_document() {
    let k = kustomization_plus(REDIRECT_PATCH);
    // On standard input its paths mean nothing: refused, as `kubectl kustomize DIR | plan
    // --to -` never contains one.
    for args in [vec!["validate", "-"], vec!["plan", "--from", "examples", "--to", "-"]] {
        let out = run(&args, Some(&k));
        assert_eq!(out.code, 2, "{args:?}: {}{}", out.stdout, out.stderr);
        assert!(out.stderr.contains("<stdin>:1:13: apiVersion: refused"), "{}", out.stderr);
    }
    // Nor in a file kustomize does not read as a kustomization.
    let root = tempfile::tempdir().expect("tempdir");
    let dir = examples_with(&root.path().join("u"), None, &[("other/k.yaml".into(), k)]);
    let out = run(&["validate", dir.to_str().expect("utf8")], None);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("other/k.yaml:1:13: apiVersion: refused"), "{}", out.stderr);
}

#[test]
fn an_overlay_is_read_through_its_base_once() {
    let root = tempfile::tempdir().expect("tempdir");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/acme");
    let read = |f: &str| std::fs::read_to_string(src.join(f)).expect("example");
    let base: Vec<(String, String)> = ["namespace.yaml", "tenant.yaml", "kustomization.yaml"]
        .into_iter()
        .map(String::from)
        .chain(["alice", "bob", "chen", "dana", "eve"].map(|u| format!("users/{u}.yaml")))
        .map(|f| (format!("base/{f}"), read(&f)))
        .collect();
    let mut before = base.clone();
    before.push(("overlays/prod/kustomization.yaml".into(), "resources:\n  - ../../base\n".into()));
    let mut after = base;
    after.push((
        "overlays/prod/kustomization.yaml".into(),
        format!(
            "resources:\n  - ../../base\n{}",
            REDIRECT_PATCH.replace("kind: ConferencingUser", "kind: ConferencingUser\n      name: alice")
        ),
    ));
    let from = write_tree(&root.path().join("from"), &before);
    let to = write_tree(&root.path().join("to"), &after);
    let out = run(&["validate", to.to_str().expect("utf8"), "--output", "json"], None);
    assert_eq!(out.code, 0, "the base's users are not read twice: {}{}", out.stdout, out.stderr);
    assert_eq!(json(&out)["summary"]["users"], 5);
    let out = run(
        &["plan", "--from", from.to_str().expect("utf8"), "--to", to.to_str().expect("utf8"), "--output", "json"],
        None,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        emails(&json(&out)),
        set(&[("alice", "PinReset", "attacker@evil.example", "en")]),
        "the overlay's patch is planned"
    );
}
