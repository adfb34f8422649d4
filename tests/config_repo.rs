//! Issue 12: `validate` and `plan` run as a user would: the binary, trees of files on disk,
//! exit statuses. No cluster needed (`plan --live` is in tests/config_repo_live.rs).

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

    // Every code has a fixture, except the one that needs a cluster (tests/config_repo_live.rs).
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
