//! `crds/` is generated: it must match what the code generates.

#[test]
fn committed_crds_match_the_generated_ones() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("crds");
    for (file, generated) in conferencing_operator::crd::crds().expect("generate") {
        let path = dir.join(file);
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "{} differs from the generated CRD; run `cargo run -- crd --output-dir crds` and commit the result",
            path.display()
        );
    }
    let files = std::fs::read_dir(&dir).expect("crds/").count();
    let generated = conferencing_operator::crd::crds().expect("generate").len();
    assert_eq!(files, generated, "crds/ holds exactly the generated CRDs and nothing else");
}

/// The schema of `spec.tenantRef.name` in the committed user CRD (what API servers enforce).
fn committed_tenant_ref_name_schema() -> serde_yaml::Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("crds/conferencing.io_conferencingusers.yaml");
    let crd: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(&path).expect("read the user CRD")).expect("CRD yaml");
    let versions = crd["spec"]["versions"].as_sequence().expect("versions");
    assert!(!versions.is_empty());
    let schema = &versions[0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["tenantRef"];
    assert!(
        schema["required"].as_sequence().is_some_and(|r| r.iter().any(|k| k.as_str() == Some("name"))),
        "{schema:?}"
    );
    schema["properties"]["name"].clone()
}

/// Offline, what the API server does at admission: a tenantRef name must be a DNS-1123 label,
/// so ESC sequences (an OSC 52 clipboard write, cursor movement), bidi overrides and line
/// breaks cannot be stored there, to be copied into conditions, Events and terminals.
#[test]
fn the_user_crd_refuses_a_tenant_ref_that_is_not_a_dns_label() {
    let name = committed_tenant_ref_name_schema();
    let pattern = name["pattern"].as_str().expect("spec.tenantRef.name has a pattern");
    let max = name["maxLength"].as_u64().expect("spec.tenantRef.name has a maxLength");
    assert_eq!(max, 63);
    assert_eq!(name["minLength"].as_u64(), Some(1));
    let re = regex::Regex::new(pattern).expect("the pattern compiles");
    let admits = |s: &str| re.is_match(s) && s.chars().count() as u64 <= max && !s.is_empty();
    for good in ["acme", "a", "acme-2", "0acme", &"a".repeat(63)] {
        assert!(admits(good), "{good:?} is refused");
    }
    for bad in [
        "acme\u{1b}]52;c;Y3VybCBldmlsLmV4YW1wbGUgfCBzaA==\u{7}",
        "acme\u{1b}[2A\u{1b}[2K",
        "acme\u{9b}2A",
        "\u{202e}emca",
        "acme\nReady: True",
        "acme\n",
        "Acme",
        "acme.example",
        "-acme",
        "acme-",
        "",
        &"a".repeat(64),
    ] {
        assert!(!admits(bad), "{bad:?} is admitted");
    }
}
