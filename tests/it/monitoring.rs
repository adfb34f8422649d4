//! Monitoring: the `/metrics` text, the alert rules and the Grafana dashboard,
//! checked with promtool (Debian's `prometheus` package, which `scripts/provision` installs
//! before the tests: a missing promtool fails these tests, it never skips them).
//!
//! - the metrics text passes `promtool check metrics` (in the Prometheus text format; in
//!   OpenMetrics, promtool reports what that format forces and nothing else), both from the
//!   registry's encoder and from the running operator;
//! - `integrations/prometheus/alerts.yaml` passes `promtool check rules`, its unit tests
//!   (`alerts_test.yaml`) pass, and every alert has a firing and a quiet case there;
//! - the Helm chart's and the kustomize component's copies of the rules are that file;
//! - the rules and the dashboard name only metrics the operator exports, promtool parses
//!   every dashboard expression, and every exported metric is documented.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use conferencing_operator::telemetry::{KindLabels, Metrics, NotificationLabels, ReconcileLabels};
use serde_yaml::Value;

const RULES: &str = "integrations/prometheus/alerts.yaml";
const RULE_TESTS: &str = "integrations/prometheus/alerts_test.yaml";
const CHART_RULES: &str = "charts/conferencing-operator/files/prometheus/alerts.yaml";
const COMPONENT_RULE: &str = "manifests/components/monitoring/prometheusrule.yaml";
const DASHBOARD: &str = "integrations/grafana/conferencing-operator.json";
const DOC: &str = "docs/operations/monitoring.md";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Runs promtool with `args` (and `stdin`); (success, stdout + stderr).
fn promtool(args: &[&str], stdin: Option<&str>) -> (bool, String) {
    let child = Command::new("promtool")
        .args(args)
        .current_dir(root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            panic!("promtool is not on PATH: run scripts/provision monitoring (scripts/test does)")
        }
        Err(e) => panic!("promtool: {e}"),
    };
    let mut input = child.stdin.take().expect("stdin");
    input.write_all(stdin.unwrap_or_default().as_bytes()).expect("write to promtool");
    drop(input);
    let out = child.wait_with_output().expect("promtool");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// Metrics with every family holding a sample: histograms export nothing until observed,
/// and the PIN-age gauge nothing until a user has a PIN.
fn populated() -> Metrics {
    let m = Metrics::new();
    for kind in ["ConferencingUser", "ConferencingTenant"] {
        m.reconcile_seconds.get_or_create(&KindLabels { kind: kind.into() }).observe(0.01);
    }
    m.send_seconds.get_or_create(&NotificationLabels { result: "sent" }).observe(0.2);
    // Families whose series appear with the first event.
    m.reconciles.get_or_create(&ReconcileLabels { kind: "ConferencingUser", result: "ok" }).inc();
    m.api_writes.get_or_create(&KindLabels { kind: "secrets".into() }).inc();
    let user: conferencing_operator::api::ConferencingUser = serde_yaml::from_str(
        "{apiVersion: conferencing.io/v1alpha1, kind: ConferencingUser, metadata: {name: a, namespace: acme}, \
         spec: {tenantRef: {name: acme}, displayName: d, email: a@example.com}, \
         status: {pinLastResetTime: '2026-01-01T00:00:00Z'}}",
    )
    .expect("user");
    m.users.observe(&user);
    m
}

/// The metric names a text's samples carry (`name_total`, `name_bucket`, ...).
fn sample_names(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| l.split(['{', ' ']).next().unwrap_or_default().to_string())
        .collect()
}

/// The families a text declares (`# TYPE name type`), with their type.
fn families(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_once(' '))
        .map(|(n, t)| (n.to_string(), t.to_string()))
        .collect()
}

#[test]
fn the_metrics_text_passes_promtool_check_metrics() {
    let m = populated();
    let text = m.encode_text();
    assert!(families(&text).len() >= 20, "{text}");
    let (ok, out) = promtool(&["check", "metrics"], Some(&text));
    assert!(ok && out.trim().is_empty(), "promtool check metrics on the text format:\n{out}\n{text}");

    // The same metrics in OpenMetrics (what Prometheus asks for): promtool reads the text
    // format, and the only thing it reports is forced by OpenMetrics, which names a counter's
    // family without the `_total` its samples carry: to the text format's parser the samples
    // are another family, one without HELP.
    let om = m.encode();
    let counters: BTreeSet<String> =
        families(&om).into_iter().filter(|(_, t)| t == "counter").map(|(n, _)| format!("{n}_total")).collect();
    assert!(counters.len() >= 8, "{om}");
    let (_, out) = promtool(&["check", "metrics"], Some(&om));
    let mut reported = BTreeSet::new();
    for line in out.lines() {
        let name = line.strip_suffix(" no help text");
        assert!(name.is_some(), "promtool on OpenMetrics: {line}\n{out}");
        reported.extend(name.map(String::from));
    }
    assert_eq!(reported, counters, "promtool reports each OpenMetrics counter, and nothing else");
}

#[test]
fn promtool_check_metrics_catches_a_bad_metric() {
    // Guards the test above against a promtool that accepts anything.
    let text = populated().encode_text().replace("conferencing_pins_issued_total", "conferencing_pins_issued");
    let (_, out) = promtool(&["check", "metrics"], Some(&text));
    assert!(out.contains("conferencing_pins_issued counter metrics should have \"_total\" suffix"), "{out}");
}

#[tokio::test]
#[ignore = "needs a cluster: scripts/test runs it"]
async fn the_running_operators_metrics_pass_promtool_check_metrics() {
    use crate::support::{TestEnv, http_port};
    let mut env = TestEnv::new("promtool").await;
    env.start_operator();
    env.apply_examples().await;
    env.wait_converged(Duration::from_secs(2)).await;
    let port = http_port(&env.log()).expect("the operator logged its HTTP port");
    let get = |accept: &'static str| async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.expect("connect");
        let req = format!("GET /metrics HTTP/1.1\r\nHost: localhost\r\nAccept: {accept}\r\nConnection: close\r\n\r\n");
        s.write_all(req.as_bytes()).await.expect("write");
        let mut buf = String::new();
        s.read_to_string(&mut buf).await.expect("read");
        let (head, body) = buf.split_once("\r\n\r\n").expect("a response");
        (head.to_ascii_lowercase(), body.to_string())
    };
    let (head, text) = get("text/plain").await;
    assert!(head.contains("content-type: text/plain; version=0.0.4"), "{head}");
    let (ok, out) = promtool(&["check", "metrics"], Some(&text));
    assert!(ok && out.trim().is_empty(), "promtool check metrics on the operator's /metrics:\n{out}\n{text}");
    for name in
        ["conferencing_reconcile_queue_depth", "conferencing_reconcile_errors_total", "process_resident_memory_bytes"]
    {
        assert!(sample_names(&text).contains(name), "{name} in\n{text}");
    }
    // Converged: every wake-up the operator sent was taken by a reconcile (none leaks).
    let samples = crate::support::metric_samples(&text);
    for kind in ["ConferencingUser", "ConferencingTenant"] {
        let depth = samples.get(&format!("conferencing_reconcile_queue_depth{{kind=\"{kind}\"}}"));
        assert_eq!(depth, Some(&0.0), "{kind}: queue depth after convergence\n{text}");
    }
    assert_eq!(samples.get("conferencing_delivery_queue_capacity"), Some(&1024.0), "--delivery-queue's default");
    // Prometheus' own Accept header gets OpenMetrics, with the same samples.
    let (head, om) =
        get("application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
            .await;
    assert!(head.contains("content-type: application/openmetrics-text"), "{head}");
    assert!(om.trim_end().ends_with("# EOF"));
    assert_eq!(sample_names(&om), sample_names(&text));
}

// ------------------------------------------------------------------ rules

fn yaml(path: &str) -> Value {
    serde_yaml::from_str(&read(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The alerts of the rules file and their expressions.
fn alerts() -> BTreeMap<String, String> {
    let rules = yaml(RULES);
    let mut out = BTreeMap::new();
    for g in rules["groups"].as_sequence().expect("groups") {
        for r in g["rules"].as_sequence().expect("rules") {
            let name = r["alert"].as_str().expect("every rule is an alert").to_string();
            let expr = r["expr"].as_str().expect("expr").to_string();
            assert!(out.insert(name.clone(), expr).is_none(), "alert {name} twice");
        }
    }
    out
}

#[test]
fn the_alert_rules_pass_promtool_check_rules_and_their_unit_tests() {
    let (ok, out) = promtool(&["check", "rules", RULES], None);
    assert!(ok, "promtool check rules {RULES}:\n{out}");
    assert!(out.contains(&format!("SUCCESS: {} rules found", alerts().len())), "{out}");
    let (ok, out) = promtool(&["test", "rules", RULE_TESTS], None);
    assert!(ok && out.contains("SUCCESS"), "promtool test rules {RULE_TESTS}:\n{out}");
}

#[test]
fn every_alert_has_a_firing_and_a_quiet_unit_test() {
    let tests = yaml(RULE_TESTS);
    let mut firing = BTreeSet::new();
    let mut quiet = BTreeSet::new();
    for t in tests["tests"].as_sequence().expect("tests") {
        for a in t["alert_rule_test"].as_sequence().into_iter().flatten() {
            let name = a["alertname"].as_str().expect("alertname").to_string();
            let expected = a["exp_alerts"].as_sequence().map_or(0, Vec::len);
            if expected > 0 {
                firing.insert(name)
            } else {
                quiet.insert(name)
            };
        }
    }
    let names: BTreeSet<String> = alerts().into_keys().collect();
    assert!(names.len() >= 6, "{names:?}");
    for n in &names {
        assert!(firing.contains(n), "alert {n} has no unit test in {RULE_TESTS} in which it fires");
        assert!(quiet.contains(n), "alert {n} has no unit test in {RULE_TESTS} in which it stays quiet");
    }
    let unknown: Vec<_> = firing.union(&quiet).filter(|n| !names.contains(*n)).collect();
    assert!(unknown.is_empty(), "unit tests of alerts {RULES} does not have: {unknown:?}");
}

/// The component's PrometheusRule: the rules file as its spec.
fn component_rule() -> String {
    let mut out = String::from(
        "# GENERATED from integrations/prometheus/alerts.yaml by\n\
         # `UPDATE_MONITORING_COPIES=1 cargo test --test monitoring`: do not edit.\n\
         apiVersion: monitoring.coreos.com/v1\n\
         kind: PrometheusRule\n\
         metadata:\n  name: conferencing-operator\n  namespace: conferencing-system\n  labels:\n    \
         app.kubernetes.io/name: conferencing-operator\n    app.kubernetes.io/part-of: conferencing-operator\n\
         spec:\n",
    );
    for line in read(RULES).lines() {
        if !line.is_empty() {
            out.push_str("  ");
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[test]
fn the_chart_and_the_kustomize_component_carry_the_tested_rules() {
    let copies = [(CHART_RULES, read(RULES)), (COMPONENT_RULE, component_rule())];
    for (path, want) in copies {
        if std::env::var_os("UPDATE_MONITORING_COPIES").is_some() {
            std::fs::write(root().join(path), &want).expect("write");
        }
        let have = std::fs::read_to_string(root().join(path)).unwrap_or_default();
        assert!(
            have == want,
            "{path} is not a copy of {RULES}: run `UPDATE_MONITORING_COPIES=1 cargo test --test monitoring` and commit it"
        );
    }
    // As YAML too: the component's spec is the rules file.
    let spec: Value = serde_yaml::from_str(&component_rule()).expect("yaml");
    assert_eq!(spec["spec"], yaml(RULES));
}

// ------------------------------------------------------------------ names

/// The metric names a PromQL expression selects: identifiers outside strings, label
/// matchers, ranges and grouping clauses that are neither functions, aggregations' keywords
/// nor operators. Good enough for the expressions here, which promtool also parses.
fn selected_names(expr: &str) -> BTreeSet<String> {
    let mut plain = String::new();
    let (mut in_str, mut depth_brace, mut depth_bracket) = (false, 0, 0);
    for c in expr.chars() {
        match c {
            '"' => in_str = !in_str,
            _ if in_str => {}
            '{' => depth_brace += 1,
            '}' => depth_brace -= 1,
            '[' => depth_bracket += 1,
            ']' => depth_bracket -= 1,
            _ if depth_brace > 0 || depth_bracket > 0 => {}
            c => plain.push(c),
        }
        if matches!(c, '{' | '[') {
            plain.push(' ');
        }
    }
    let keywords =
        ["by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset"];
    let tokens: Vec<(String, char)> = {
        let mut out = Vec::new();
        let chars: Vec<char> = plain.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            if chars[i].is_ascii_alphabetic() || chars[i] == '_' {
                let start = i;
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == ':') {
                    i += 1;
                }
                let next = chars[i..].iter().find(|c| !c.is_whitespace()).copied().unwrap_or(' ');
                out.push((chars[start..i].iter().collect(), next));
            } else if chars[i].is_ascii_digit() {
                // A number or a duration (1h, 86400).
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                    i += 1;
                }
            } else {
                i += 1;
            }
        }
        out
    };
    let mut names = BTreeSet::new();
    let mut skip_group = false;
    for (t, next) in tokens {
        if skip_group {
            // The label list of `by (...)` and its kin: skipped up to the closing paren, which
            // the tokens do not show, so until a token followed by ')'.
            skip_group = next != ')';
            continue;
        }
        if keywords.contains(&t.as_str()) {
            skip_group = next == '(' && !matches!(t.as_str(), "and" | "or" | "unless" | "bool" | "offset");
            continue;
        }
        // An aggregation may have its grouping clause before its parenthesis.
        let aggregation = [
            "sum",
            "min",
            "max",
            "avg",
            "count",
            "group",
            "stddev",
            "stdvar",
            "topk",
            "bottomk",
            "quantile",
            "count_values",
        ];
        if next != '(' && !aggregation.contains(&t.as_str()) {
            names.insert(t);
        }
    }
    names
}

#[test]
fn the_name_extraction_sees_what_a_query_selects() {
    let names = selected_names(
        "histogram_quantile(0.95, sum by (le, kind) (rate(a_bucket{x=\"y z\"}[5m]))) / on (pod) group_left b or vector(0) > 365 * 86400",
    );
    assert_eq!(names, ["a_bucket", "b"].map(String::from).into());
}

/// Every PromQL expression of the dashboard, with its panel's title.
fn dashboard_exprs() -> Vec<(String, String)> {
    fn walk(v: &serde_json::Value, title: &str, out: &mut Vec<(String, String)>) {
        match v {
            serde_json::Value::Object(m) => {
                let title = m.get("title").and_then(|t| t.as_str()).unwrap_or(title);
                if let Some(e) = m.get("expr").and_then(|e| e.as_str()) {
                    out.push((title.to_string(), e.to_string()));
                }
                m.values().for_each(|v| walk(v, title, out));
            }
            serde_json::Value::Array(a) => a.iter().for_each(|v| walk(v, title, out)),
            _ => {}
        }
    }
    let d: serde_json::Value = serde_json::from_str(&read(DASHBOARD)).expect("dashboard JSON");
    let mut out = Vec::new();
    walk(&d["panels"], "", &mut out);
    out
}

#[test]
fn the_alerts_and_the_dashboard_name_only_metrics_the_operator_exports() {
    let exported = sample_names(&populated().encode_text());
    let exprs = dashboard_exprs();
    assert!(exprs.len() >= 15, "{exprs:?}");
    let mut used = BTreeSet::new();
    for (title, expr) in exprs
        .iter()
        .map(|(t, e)| (format!("dashboard panel {t:?}"), e))
        .chain(alerts().iter().map(|(n, e)| (format!("alert {n}"), e)))
    {
        let names = selected_names(expr);
        assert!(!names.is_empty(), "{title}: no metric in {expr}");
        for n in names {
            assert!(exported.contains(&n), "{title}: {n} is not a metric the operator exports ({expr})");
            used.insert(n);
        }
    }
    // Both lists, side by side: what the operator exports and nothing uses is shown too.
    let unused: Vec<_> =
        exported.iter().filter(|n| !used.contains(*n) && !n.ends_with("_sum") && !n.ends_with("_count")).collect();
    assert!(unused.len() <= 2, "exported but on no panel nor alert: {unused:?}");

    // promtool parses every expression: as recording rules of a scratch rules file.
    let dir = tempfile::tempdir().expect("tempdir");
    let file: PathBuf = dir.path().join("dashboard.rules.yaml");
    let rules: Vec<serde_json::Value> = exprs
        .iter()
        .enumerate()
        .map(|(i, (_, e))| serde_json::json!({"record": format!("dashboard:panel_{i}"), "expr": e}))
        .collect();
    let doc = serde_json::json!({"groups": [{"name": "dashboard", "rules": rules}]});
    std::fs::write(&file, serde_yaml::to_string(&doc).expect("yaml")).expect("write");
    let (ok, out) = promtool(&["check", "rules", &file.display().to_string()], None);
    assert!(ok, "promtool rejects a dashboard expression:\n{out}");
}

#[test]
fn every_exported_metric_and_every_alert_is_documented() {
    let doc = read(DOC);
    let text = populated().encode_text();
    for name in families(&text).keys() {
        assert!(doc.contains(&format!("`{name}`")), "{DOC} does not document the metric `{name}`");
    }
    for name in alerts().keys() {
        assert!(doc.contains(&format!("### {name}")), "{DOC} has no section `### {name}`");
    }
}
