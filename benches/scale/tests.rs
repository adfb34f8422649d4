//! The benchmark's pure parts: the report, the marker replacement in docs/performance.md, the
//! /proc and /metrics parsers, the plot.

use std::collections::BTreeMap;
use std::time::Duration;

use super::plot::{PlotError, render};
use super::report::*;

fn row(users: usize, rss_mib: u64) -> Row {
    Row {
        users,
        takeover: false,
        convergence: Duration::from_millis(12_500),
        floor: Duration::from_secs(10),
        peak_rss_kib: rss_mib * 1024,
        writes: BTreeMap::from([
            ("secrets".into(), users as u64),
            ("conferencingusers/status".into(), 2 * users as u64),
        ]),
        steady_writes: 0,
        steady_window: Duration::from_secs(30),
        restart_to_idle: Duration::from_millis(1_234),
        restart_writes: 0,
        fan_out: Duration::from_secs(3),
        fan_out_floor: Duration::from_secs(2),
        fan_out_writes: BTreeMap::from([("conferencingusers/status".into(), users as u64)]),
        ..Row::default()
    }
}

#[test]
fn the_table_has_a_line_per_n_with_ratios_and_per_user_writes() {
    let md = markdown(&[row(1000, 20), row(10_000, 56)]);
    assert!(
        md.contains(
            "| 1,000 | 12.5 | 10.0 | 1.25 | 20.0 | 20.00 | 3.00 | conferencingusers/status 2.00, secrets 1.00 |"
        ),
        "{md}"
    );
    assert!(
        md.contains("| 10,000 | 0 in 30 s | 1.23 | 0 | 3.00 | 2.00 | 1.50 | 1.00 | conferencingusers/status 1.00 |"),
        "{md}"
    );
    // Two runs: a memory line, 4 MiB per 1,000 users above 16 MiB.
    assert!(md.contains("16.0 MiB + 4.00 MiB per 1,000 users"), "{md}");
    // No CPU known: no CPU table.
    assert!(!md.contains("CPU seconds"));
    let header_cells = md.lines().next().unwrap().matches('|').count();
    assert!(md.lines().take(4).all(|l| l.matches('|').count() == header_cells), "{md}");
}

#[test]
fn cpu_seconds_are_tabled_when_known() {
    let mut r = row(200, 12);
    r.convergence_cpu = BTreeMap::from([("operator".into(), Duration::from_millis(1500))]);
    let md = markdown(&[r]);
    assert!(md.contains("| 200 | operator 1.5 | n/a |"), "{md}");
    assert!(!md.contains("least-squares"), "one run fits no line: {md}");
}

#[test]
fn numbers_are_grouped_and_rounded() {
    assert_eq!(thousands(200), "200");
    assert_eq!(thousands(1000), "1,000");
    assert_eq!(thousands(30_000), "30,000");
    assert_eq!(thousands(1_234_567), "1,234,567");
    assert_eq!(secs(Duration::from_millis(1234)), "1.23");
    assert_eq!(secs(Duration::from_millis(123_456)), "123.5");
}

#[test]
fn the_section_between_the_markers_is_replaced_and_the_rest_kept() {
    let doc = format!("# Performance\n\nanalysis above\n\n{BEGIN_MARKER}\nold table\n{END_MARKER}\n\nanalysis below\n");
    let new = replace_section(&doc, "new table").unwrap();
    assert_eq!(
        new,
        format!("# Performance\n\nanalysis above\n\n{BEGIN_MARKER}\nnew table\n{END_MARKER}\n\nanalysis below\n")
    );
    // Idempotent, and a second run replaces its own output.
    assert_eq!(replace_section(&new, "new table\n").unwrap(), new);
    assert!(replace_section(&new, "newer").unwrap().contains("\nnewer\n"));
    assert!(!replace_section(&new, "newer").unwrap().contains("new table"));
}

#[test]
fn markers_are_appended_to_a_document_without_them() {
    assert_eq!(replace_section("", "t").unwrap(), format!("{BEGIN_MARKER}\nt\n{END_MARKER}\n"));
    assert_eq!(replace_section("# P\n", "t").unwrap(), format!("# P\n\n{BEGIN_MARKER}\nt\n{END_MARKER}\n"));
    assert_eq!(replace_section("# P", "t").unwrap(), format!("# P\n\n{BEGIN_MARKER}\nt\n{END_MARKER}\n"));
}

#[test]
fn a_begin_marker_without_an_end_is_refused() {
    let doc = format!("a\n{BEGIN_MARKER}\nhand-written text that must not be eaten\n");
    assert_eq!(replace_section(&doc, "t"), Err(MarkerError::Unterminated));
    // An end marker before the begin marker does not count.
    let doc = format!("{END_MARKER}\n{BEGIN_MARKER}\nx\n");
    assert_eq!(replace_section(&doc, "t"), Err(MarkerError::Unterminated));
}

#[test]
fn proc_status_fields_are_read_in_kib() {
    let status =
        "Name:\tconferencing-op\nVmPeak:\t  300000 kB\nVmHWM:\t   45678 kB\nVmRSS:\t   40000 kB\nThreads:\t5\n";
    assert_eq!(status_kib(status, "VmHWM"), Some(45_678));
    assert_eq!(status_kib(status, "VmRSS"), Some(40_000));
    assert_eq!(status_kib(status, "VmSwap"), None);
    assert_eq!(status_kib(status, "Threads"), None, "not a kB field");
}

#[test]
fn proc_stat_cpu_survives_odd_command_names() {
    let stat = "1234 (conf op) (x)) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 5 0 100 1000 200";
    assert_eq!(stat_cpu_ticks(stat), Some(300));
    assert_eq!(stat_cpu_ticks("garbage"), None);
}

#[test]
fn metric_samples_are_summed_by_label() {
    let text = "# HELP conferencing_api_writes Write requests\n# TYPE conferencing_api_writes counter\n\
        conferencing_api_writes_total{kind=\"secrets\"} 3\n\
        conferencing_api_writes_total{kind=\"conferencingusers/status\"} 6\n\
        conferencing_api_writes_total_other{kind=\"x\"} 1\n\
        conferencing_reconciles_total{kind=\"ConferencingUser\",result=\"ok\"} 10\n\
        conferencing_reconciles_total{kind=\"ConferencingUser\",result=\"conflict\"} 2.0\n\
        conferencing_leader 0\n# EOF\n";
    assert_eq!(
        metric_by_label(text, "conferencing_api_writes_total", "kind"),
        BTreeMap::from([("conferencingusers/status".into(), 6), ("secrets".into(), 3)])
    );
    assert_eq!(
        metric_by_label(text, "conferencing_reconciles_total", "kind"),
        BTreeMap::from([("ConferencingUser".into(), 12)])
    );
    assert_eq!(metric_by_label(text, "conferencing_leader", "kind"), BTreeMap::from([(String::new(), 0)]));
}

#[test]
fn the_bound_address_is_read_from_the_log() {
    let line = "2026-01-01T00:00:00.000000Z  INFO serving /healthz, /readyz and /metrics addr=127.0.0.1:41234";
    assert_eq!(serving_addr(line), Some("127.0.0.1:41234".parse().unwrap()));
    let json =
        r#"{"timestamp":"x","level":"INFO","message":"serving /healthz, /readyz and /metrics","addr":"127.0.0.1:1"}"#;
    assert_eq!(serving_addr(json), None, "the benchmark runs the operator with text logs");
    assert_eq!(serving_addr("INFO api write verb=POST"), None);
}

#[test]
fn a_png_is_drawn_from_the_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.png");
    let row = |users: usize, secs: u64, mib: u64| Row {
        users,
        takeover: false,
        convergence: Duration::from_secs(secs),
        floor: Duration::from_secs(secs / 2),
        fan_out: Duration::from_secs(secs / 3),
        fan_out_floor: Duration::from_secs(secs / 4),
        peak_rss_kib: mib * 1024,
        ..Row::default()
    };
    render(&[row(10_000, 120, 60), row(1000, 12, 20)], &path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    assert!(bytes.len() > 5_000, "suspiciously small PNG: {} bytes", bytes.len());
    assert!(matches!(render(&[], &path), Err(PlotError::Empty)));
}

#[test]
fn every_brought_pin_is_one_the_operator_keeps() {
    // A PIN breaking the tenant's rules is replaced and mailed: the takeover would not be the
    // "nobody e-mailed" case it measures.
    let rules = conferencing_operator::provisioning::pin::PinRules {
        allow_common_patterns: false,
        number_endings: [super::cluster::TOLL_A, super::cluster::TOLL_B, super::cluster::TOLL_FREE]
            .iter()
            .map(|n| n[n.len() - 4..].to_string())
            .collect(),
    };
    for i in 0..20_000 {
        let pin = super::cluster::brought_pin(i);
        let id = super::cluster::brought_id(i);
        assert!(
            conferencing_operator::provisioning::pin::adopt(pin.as_bytes(), Some(&id), &rules).is_ok(),
            "user {i}: {pin}"
        );
    }
}
