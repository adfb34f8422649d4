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
