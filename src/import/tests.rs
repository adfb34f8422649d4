//! Imports of the reference's own export shapes (`examples/takeover/export`), checked with the
//! same `validate` a pull request runs.

use std::path::{Path, PathBuf};

use super::*;
use crate::config_repo::load;
use crate::config_repo::schema::Schemas;
use crate::config_repo::validate::{Options, validate};
use crate::validation::DesiredService;

fn export(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/takeover/export").join(file)
}

fn args(users: PathBuf, out: &Path) -> ImportArgs {
    ImportArgs {
        users,
        bridge: Some(export("bridge.json")),
        tenant_settings: Some(export("tenant-settings.json")),
        namespace: "contoso".into(),
        out: out.to_path_buf(),
        takeover_email: TakeoverEmailArg::None,
        tenant: None,
        organization: None,
        map: Vec::new(),
        skip_invalid: false,
        prune: false,
    }
}

/// The tree under `out`, validated; panics with the findings if it does not validate.
fn validated(out: &Path) -> crate::config_repo::validate::Report {
    let loaded = load::load_paths(&[out.to_path_buf()]).expect("the tree loads");
    let schemas = Schemas::generated().expect("schemas");
    let report = validate(loaded, &schemas, &Options { default_namespace: "default".into() }, None);
    assert!(!report.has_errors(), "validate refuses the imported tree: {:#?}", report.findings);
    report
}

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

#[test]
fn csv_and_json_exports_make_the_same_tree_that_validate_accepts() {
    let (csv, json) = (tempfile::tempdir().expect("dir"), tempfile::tempdir().expect("dir"));
    import(&args(export("users.csv"), csv.path())).expect("the CSV imports");
    import(&args(export("users.json"), json.path())).expect("the JSON imports");
    for file in ["tenant.yaml", "kustomization.yaml", "users/alice-smith.yaml", "users/emilie-durand.yaml"] {
        assert_eq!(read(csv.path(), file), read(json.path(), file), "{file}");
    }
    let report = validated(csv.path());
    assert_eq!(report.tree.users.len(), 5);
    let tenant = read(csv.path(), "tenant.yaml");
    assert!(tenant.contains("organizationName: Contoso IT"), "{tenant}");
    assert!(tenant.contains("sendEmailFromAddress: conferencing@contoso.com"), "{tenant}");
    assert!(!tenant.contains("takeoverEmail"), "None is the default: {tenant}");
}

#[test]
fn every_user_keeps_its_exported_id_numbers_and_settings() {
    let out = tempfile::tempdir().expect("dir");
    import(&args(export("users.csv"), out.path())).expect("imports");
    let report = validated(out.path());
    // (name, ID, toll, toll-free, PSTN-only meetings) as the export says.
    let expected = [
        ("alice-smith", "4417302", "+14255550100", Some("+18005550100"), false),
        ("bob-jones", "5528413", "+14255550100", Some("+18005550100"), true),
        ("emilie-durand", "6639524", "+33155501234", None, false),
        ("wei-zhang", "7740635", "+14255550100", None, false),
        ("carol-oneil", "88516746", "+14255550100", Some("+18005550100"), false),
    ];
    for (name, id, toll, toll_free, pstn_only) in expected {
        let u = report.tree.users.iter().find(|u| u.id.name == name).unwrap_or_else(|| panic!("no user {name}"));
        let vu = u.validated.as_ref().unwrap_or_else(|| panic!("{name} is blocked: {:?}", u.blocked));
        let adoption = vu.adoption.as_ref().expect("adopts");
        assert_eq!(adoption.conference_id.as_ref().map(|i| i.as_str()), Some(id), "{name}");
        let DesiredService::Native(svc) = &vu.service else { panic!("{name} is not enabled") };
        assert_eq!(svc.toll.number, toll, "{name}");
        assert_eq!(svc.toll_free.as_ref().map(|n| n.number.as_str()), toll_free, "{name}");
        assert_eq!(svc.allow_pstn_only_meetings, pstn_only, "{name}");
        assert!(svc.static_id.is_none(), "{name}: an adopted ID is not static");
    }
    let alice = read(out.path(), "users/alice-smith.yaml");
    assert!(!alice.contains("serviceNumber"), "the default number is left to the tenant:\n{alice}");
    assert!(alice.contains("conferencing.io/sign-in-address: alice.smith@contoso.com"), "{alice}");
}

#[test]
fn a_bad_row_a_duplicate_id_and_a_name_collision_are_reported() {
    let dir = tempfile::tempdir().expect("dir");
    let users = dir.path().join("users.csv");
    std::fs::write(
        &users,
        "\"SipAddress\",\"DisplayName\",\"ConferenceId\",\"ServiceNumber\"\n\
         \"sip:alice.smith@contoso.com\",\"Alice\",\"1234567\",\"14255550100\"\n\
         \"sip:alice_smith@contoso.com\",\"Alice Again\",\"2345678\",\"14255550100\"\n\
         \"sip:bob@contoso.com\",\"Bob\",\"3456789\",\"not a number\"\n\
         \"sip:carol@contoso.com\",\"Carol\",\"4567890\",\"14255550100\"\n\
         \"sip:dave@contoso.com\",\"Dave\",\"4567890\",\"14255550100\"\n",
    )
    .expect("write");
    let out = dir.path().join("tree");
    let mut a = args(users.clone(), &out);
    (a.bridge, a.tenant_settings) = (None, None);
    let Err(ImportError::Rows(problems)) = import(&a) else { panic!("rows must be refused") };
    let lines: Vec<(u64, &str)> = problems.iter().map(|p| (p.line, p.reason.as_str())).collect();
    assert_eq!(lines.len(), 3, "{lines:#?}");
    assert!(
        lines[0].0 == 4 && lines[0].1.contains("ServiceNumber \"not a number\" is not a phone number"),
        "{lines:?}"
    );
    assert!(lines[1].0 == 5 && lines[1].1.contains("conference ID 4567890 is also on line(s) 6"), "{lines:?}");
    assert!(lines[2].0 == 6 && lines[2].1.contains("is also on line(s) 5"), "{lines:?}");
    assert!(!out.exists(), "nothing is written");

    a.skip_invalid = true;
    let report = import(&a).expect("the rest imports");
    assert_eq!(report.users, 2);
    assert_eq!(report.skipped.len(), 3);
    assert_eq!(report.collisions.len(), 1, "{:?}", report.collisions);
    assert!(report.collisions[0].contains("both make the name alice-smith"), "{:?}", report.collisions);
    validated(&out);
}

#[test]
fn a_rerun_changes_only_what_the_export_changed() {
    let out = tempfile::tempdir().expect("dir");
    import(&args(export("users.csv"), out.path())).expect("imports");
    let again = import(&args(export("users.json"), out.path())).expect("imports again");
    assert_eq!((again.written.created, again.written.changed), (0, 0), "{:?}", again.written);

    let fewer = out.path().join("fewer.csv");
    let csv = std::fs::read_to_string(export("users.csv")).expect("csv");
    let kept: Vec<&str> = csv.lines().filter(|l| !l.contains("bob.jones")).collect();
    std::fs::write(&fewer, kept.join("\r\n")).expect("write");
    let third = import(&args(fewer, out.path())).expect("imports");
    assert_eq!(third.written.stale, ["bob-jones"]);
    assert_eq!(third.written.changed, 0, "bob's file and the kustomization stay: {:?}", third.written);
    validated(out.path());
}

#[test]
fn ten_thousand_rows_import_whole() {
    let dir = tempfile::tempdir().expect("dir");
    let users = dir.path().join("users.csv");
    let mut csv = String::from("\"SipAddress\",\"DisplayName\",\"ConferenceId\",\"ServiceNumber\"\n");
    for i in 0..10_000 {
        csv.push_str(&format!("\"sip:user{i}@contoso.com\",\"User {i}\",\"{}\",\"14255550100\"\n", 1_000_000 + i));
    }
    std::fs::write(&users, csv).expect("write");
    let mut a = args(users, &dir.path().join("tree"));
    (a.bridge, a.tenant_settings) = (None, None);
    let report = import(&a).expect("imports");
    assert_eq!(report.users, 10_000);
    assert_eq!(report.written.created, 10_002);
}
