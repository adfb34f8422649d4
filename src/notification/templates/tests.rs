use super::*;
use crate::api::PIN_MASK;
use crate::provisioning::pin::Pin;

const PIN: &str = "90817";

fn context(kind: NotificationKind) -> MessageContext {
    MessageContext {
        display_name: "Camille Dupont".to_owned(),
        conference_id: Some("4417302".to_owned()),
        conference_id_dynamic: false,
        toll_number: Some(NumberView {
            number: "+33155501234".to_owned(),
            city: Some("Paris".to_owned()),
            country: Some("France".to_owned()),
            language: Some("en-US".to_owned()),
        }),
        toll_free_number: Some(NumberView {
            number: "+33805550123".to_owned(),
            city: None,
            country: Some("France".to_owned()),
            language: Some("en-US".to_owned()),
        }),
        provider_name: (kind == NotificationKind::ProviderChangedAway).then(|| "Acme Audio".to_owned()),
        tenant_name: "Contoso".to_owned(),
        pin_expired: false,
        allow_pstn_only_meetings: false,
        pin: kind.carries_pin().then(|| Pin::from_secret(PIN.to_owned())),
    }
}

/// Loaded once: loading renders every template twice, which is slow in debug builds.
fn embedded() -> &'static Templates {
    static TEMPLATES: std::sync::OnceLock<Templates> = std::sync::OnceLock::new();
    TEMPLATES.get_or_init(|| match Templates::embedded() {
        Ok(t) => t,
        Err(e) => panic!("embedded templates do not load: {e}"),
    })
}

fn overrides(files: &[(&str, &str)]) -> (tempfile::TempDir, Result<Templates, TemplateError>) {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let result = Templates::with_overrides(dir.path());
    (dir, result)
}

fn all() -> impl Iterator<Item = (NotificationKind, Locale)> {
    NotificationKind::ALL.into_iter().flat_map(|k| Locale::ALL.into_iter().map(move |l| (k, l)))
}

#[test]
fn every_template_renders_in_every_locale() {
    let templates = embedded();
    for (kind, locale) in all() {
        let m = templates.render(kind, locale, &context(kind)).unwrap();
        assert!(!m.subject.is_empty(), "{kind} {locale}");
        assert!(m.text.contains("Camille Dupont"), "{kind} {locale}: {}", m.text);
        assert!(m.html.contains("Camille Dupont"), "{kind} {locale}");
        assert!(m.html.starts_with("<!DOCTYPE html>"), "{kind} {locale}");
        assert!(m.html.contains(&format!("<html lang=\"{locale}\">")), "{kind} {locale}");
        assert!(m.html.contains("<meta charset=\"utf-8\">"), "{kind} {locale}");
        assert!(m.html.trim_end().ends_with("</html>"), "{kind} {locale}");
        assert!(!m.html.contains("src="), "no external resources: {kind} {locale}");
        assert!(m.text.contains("Contoso"), "{kind} {locale}");
        assert!(m.text.ends_with('\n') && !m.text.ends_with("\n\n"));
        assert!(!m.text.contains("\n\n\n"));
    }
}

#[test]
fn numbers_and_conference_id_are_shown_where_the_user_has_them() {
    let templates = embedded();
    for (kind, locale) in all() {
        let m = templates.render(kind, locale, &context(kind)).unwrap();
        for body in [&m.text, &m.html] {
            assert!(body.contains("+33155501234"), "{kind} {locale}");
            assert!(body.contains("+33805550123"), "{kind} {locale}");
            assert!(body.contains("Paris"), "{kind} {locale}");
            if kind != NotificationKind::ConferenceIdReset {
                assert!(body.contains("4417302"), "{kind} {locale}");
            }
        }
        if kind == NotificationKind::ConferenceIdReset {
            assert!(m.text.contains("4417302"), "{locale}");
        }
    }
}

#[test]
fn pin_appears_only_in_the_kinds_that_carry_it() {
    let templates = embedded();
    for (kind, locale) in all() {
        let m = templates.render(kind, locale, &context(kind)).unwrap();
        assert!(!m.subject.contains(PIN), "{kind} {locale}");
        if kind.carries_pin() {
            assert!(m.text.contains(PIN), "{kind} {locale}: {}", m.text);
            assert!(m.html.contains(PIN), "{kind} {locale}");
        } else {
            assert!(!m.text.contains(PIN), "{kind} {locale}");
            assert!(!m.html.contains(PIN), "{kind} {locale}");
        }
    }
    let carrying: Vec<_> = NotificationKind::ALL.into_iter().filter(|k| k.carries_pin()).collect();
    assert_eq!(
        carrying,
        [
            NotificationKind::LicenseAssigned,
            NotificationKind::PinReset,
            NotificationKind::ProviderChangedToNative,
            NotificationKind::TakeoverWelcomeNewPin
        ]
    );
}

#[test]
fn render_refuses_a_pin_for_a_kind_that_must_not_carry_it() {
    let templates = embedded();
    for kind in NotificationKind::ALL.into_iter().filter(|k| !k.carries_pin()) {
        let ctx = MessageContext { pin: Some(Pin::from_secret(PIN.to_owned())), ..context(kind) };
        let err = templates.render(kind, Locale::En, &ctx).unwrap_err();
        assert!(matches!(err, TemplateError::PinNotAllowed { .. }), "{kind}");
        assert!(!err.to_string().contains(PIN));
    }
}

#[test]
fn render_refuses_a_carrying_kind_without_a_pin() {
    let templates = embedded();
    for kind in NotificationKind::ALL.into_iter().filter(|k| k.carries_pin()) {
        let ctx = MessageContext { pin: None, ..context(kind) };
        let err = templates.render(kind, Locale::Fr, &ctx).unwrap_err();
        assert!(matches!(err, TemplateError::PinRequired { .. }), "{kind}");
    }
}

#[test]
fn conferencing_info_says_the_pin_is_not_included() {
    let templates = embedded();
    let kind = NotificationKind::ConferencingInfoRequested;
    let text = |l| templates.render(kind, l, &context(kind)).unwrap().text;
    assert!(text(Locale::En).contains("does not include your PIN"));
    assert!(text(Locale::En).contains("administrator can reset it"));
    assert!(text(Locale::Fr).contains("ne contient pas votre code PIN"));
    assert!(text(Locale::ZhCn).contains("不包含您的 PIN 码"));
}

#[test]
fn dynamic_conference_ids_are_explained() {
    let templates = embedded();
    let kind = NotificationKind::ConferencingInfoRequested;
    let dynamic = MessageContext { conference_id_dynamic: true, ..context(kind) };
    let with = templates.render(kind, Locale::En, &dynamic).unwrap();
    let without = templates.render(kind, Locale::En, &context(kind)).unwrap();
    assert!(with.text.contains("its own conference ID"));
    assert!(with.html.contains("its own conference ID"));
    assert!(!without.text.contains("its own conference ID"));
}

#[test]
fn provider_changed_away_names_the_provider_or_says_there_is_none() {
    let templates = embedded();
    let kind = NotificationKind::ProviderChangedAway;
    let named = templates.render(kind, Locale::En, &context(kind)).unwrap();
    assert!(named.text.contains("Acme Audio"));
    let none = MessageContext {
        provider_name: None,
        conference_id: None,
        toll_number: None,
        toll_free_number: None,
        ..context(kind)
    };
    for locale in Locale::ALL {
        let m = templates.render(kind, locale, &none).unwrap();
        assert!(!m.text.contains("Acme Audio"));
        assert!(!m.text.contains("null") && !m.text.contains("None"));
    }
    let en = templates.render(kind, Locale::En, &none).unwrap();
    assert!(en.text.contains("no longer provided"), "{}", en.text);
}

#[test]
fn override_with_unknown_variable_fails_at_load_naming_the_file() {
    let (_dir, result) = overrides(&[("en/license-removed.txt.hbs", "Hello {{displayName}}\n{{unknownVariable}}\n")]);
    let err = result.unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, TemplateError::Render { .. }), "{message}");
    assert!(message.contains("en/license-removed.txt.hbs"), "{message}");
    assert!(message.contains("unknownVariable"), "{message}");
    assert!(!message.contains("(embedded)"), "{message}");
}

#[test]
fn override_with_misspelt_condition_fails_at_load() {
    let (_dir, result) = overrides(&[("fr/conferencing-info.html.hbs", "<p>{{#if tollFreNumber}}x{{/if}}</p>")]);
    let message = result.unwrap_err().to_string();
    assert!(message.contains("fr/conferencing-info.html.hbs"), "{message}");
    assert!(message.contains("tollFreNumber"), "{message}");
}

#[test]
fn override_syntax_error_names_file_and_line() {
    let (_dir, result) =
        overrides(&[("en/pin-reset.txt.hbs", "line one\nline two\n{{#if displayName}}x{{/unless}}\nline four\n")]);
    let err = result.unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, TemplateError::Syntax { .. }), "{message}");
    assert!(message.contains("en/pin-reset.txt.hbs"), "{message}");
    assert!(message.contains("line 3"), "{message}");
}

#[test]
fn override_giving_the_pin_to_a_helper_is_refused() {
    for text in [
        "{{#if pin}}PIN: {{pin}}{{/if}}",
        "{{lookup this \"pin\"}}",
        "{{#with this}}{{pin}}{{/with}}",
        "{{#each @root}}{{this}}{{/each}}",
        "{{#with tollNumber}}{{#if ../pin}}x{{/if}}{{/with}}",
        "{{> other}}",
    ] {
        let (_dir, result) = overrides(&[("en/pin-reset.txt.hbs", text)]);
        let err = result.unwrap_err();
        let message = err.to_string();
        assert!(matches!(err, TemplateError::Unsafe { .. }), "{text}: {message}");
        assert!(message.contains("en/pin-reset.txt.hbs"), "{message}");
        assert!(message.contains("line 1"), "{message}");
    }
}

#[test]
fn override_with_unknown_name_is_refused() {
    for name in [
        "en/licence-assigned.txt.hbs",
        "en/license-assigned.text.hbs",
        "en/license-assigned.txt",
        "de/license-assigned.txt.hbs",
        "license-assigned.txt.hbs",
    ] {
        let (_dir, result) = overrides(&[(name, "x")]);
        let err = result.unwrap_err();
        let message = err.to_string();
        assert!(matches!(err, TemplateError::UnknownOverride { .. }), "{message}");
        let shown = name.split('/').next().unwrap_or(name);
        assert!(message.contains(shown), "{name}: {message}");
    }
}

#[test]
fn override_replaces_the_embedded_template() {
    let (_dir, result) = overrides(&[
        ("en/conferencing-info.subject.hbs", "Dial-in details for\n{{displayName}}\n"),
        ("en/conferencing-info.txt.hbs", "Custom text for {{displayName}}: {{conferenceId}}"),
    ]);
    let templates = result.unwrap();
    let kind = NotificationKind::ConferencingInfoRequested;
    let m = templates.render(kind, Locale::En, &context(kind)).unwrap();
    assert_eq!(m.subject, "Dial-in details for Camille Dupont");
    assert_eq!(m.text, "Custom text for Camille Dupont: 4417302\n");
    // The other parts and locales keep the embedded templates.
    assert!(m.html.contains("<html lang=\"en\">"));
    let fr = templates.render(kind, Locale::Fr, &context(kind)).unwrap();
    assert!(fr.text.contains("Bonjour"));
}

#[test]
fn hidden_entries_in_the_override_directory_are_ignored() {
    let (_dir, result) =
        overrides(&[("..data/whatever", "x"), (".hidden", "x"), ("en/.license-assigned.txt.hbs.swp", "x")]);
    assert!(result.is_ok(), "{:?}", result.err());
}

#[test]
fn the_shipped_template_directory_is_a_valid_override_directory() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
    let templates = Templates::with_overrides(&dir).unwrap();
    let kind = NotificationKind::PinReset;
    let from_disk = templates.render(kind, Locale::ZhCn, &context(kind)).unwrap();
    let built_in = embedded().render(kind, Locale::ZhCn, &context(kind)).unwrap();
    assert_eq!(from_disk, built_in);
}

#[test]
fn missing_override_directory_is_an_error_naming_it() {
    let err = Templates::with_overrides(Path::new("/nonexistent/templates")).unwrap_err();
    assert!(matches!(err, TemplateError::Io { .. }));
    assert!(err.to_string().contains("/nonexistent/templates"));
}

#[test]
fn html_is_escaped_and_text_is_not() {
    let templates = embedded();
    let name = "<script>alert(1)</script> & Co";
    for (kind, locale) in all() {
        let ctx = MessageContext { display_name: name.to_owned(), ..context(kind) };
        let m = templates.render(kind, locale, &ctx).unwrap();
        assert!(m.text.contains(name), "{kind} {locale}");
        assert!(!m.html.contains("<script>"), "{kind} {locale}");
        assert!(m.html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co"), "{kind} {locale}");
    }
}

#[test]
fn subjects_are_single_line_and_not_empty() {
    let templates = embedded();
    for (kind, locale) in all() {
        let m = templates.render(kind, locale, &context(kind)).unwrap();
        assert!(!m.subject.is_empty());
        assert!(!m.subject.contains(['\n', '\r']), "{kind} {locale}");
        assert_eq!(m.subject, m.subject.trim());
        assert!(m.subject.chars().count() < 80, "{kind} {locale}: {}", m.subject);
    }
}

#[test]
fn french_and_chinese_templates_are_in_their_language() {
    let templates = embedded();
    let is_cjk = |c: char| ('\u{4e00}'..='\u{9fff}').contains(&c);
    for kind in NotificationKind::ALL {
        let fr = templates.render(kind, Locale::Fr, &context(kind)).unwrap();
        assert!(fr.text.starts_with("Bonjour Camille Dupont,"), "{kind}");
        assert!(fr.html.contains("Bonjour"), "{kind}");
        assert!(fr.text.contains("é"), "{kind}");
        let zh = templates.render(kind, Locale::ZhCn, &context(kind)).unwrap();
        assert!(zh.subject.chars().any(is_cjk), "{kind}");
        assert!(zh.text.chars().filter(|c| is_cjk(*c)).count() > 20, "{kind}");
        assert!(zh.html.chars().any(is_cjk), "{kind}");
        let en = templates.render(kind, Locale::En, &context(kind)).unwrap();
        assert!(en.text.starts_with("Hello Camille Dupont,"), "{kind}");
    }
}

#[test]
fn absent_values_render_cleanly() {
    let templates = embedded();
    for (kind, locale) in all() {
        for ctx in [
            MessageContext { toll_free_number: None, ..context(kind) },
            MessageContext { pin: kind.carries_pin().then(|| Pin::from_secret(PIN.to_owned())), ..sample_empty(kind) },
        ] {
            let m = templates.render(kind, locale, &ctx).unwrap();
            for body in [&m.subject, &m.text, &m.html] {
                assert!(!body.contains("null"), "{kind} {locale}: {body}");
                assert!(!body.contains("None"), "{kind} {locale}: {body}");
                assert!(!body.contains("+33805550123"), "{kind} {locale}");
                assert!(!body.contains("()") && !body.contains("（）"));
            }
        }
    }
}

#[test]
fn pin_never_shows_in_debug_output_and_serializes_as_digits() {
    let ctx = context(NotificationKind::PinReset);
    let debug = format!("{ctx:?}");
    assert!(!debug.contains(PIN), "{debug}");
    assert!(debug.contains(PIN_MASK));
    let json = serde_json::to_value(&ctx).unwrap();
    assert_eq!(json["pin"], PIN);
    assert_eq!(json["displayName"], "Camille Dupont");
    assert_eq!(json["tollFreeNumber"]["city"], serde_json::Value::Null);
    let none = serde_json::to_value(sample_empty(NotificationKind::LicenseRemoved)).unwrap();
    for key in ["conferenceId", "tollNumber", "tollFreeNumber", "providerName", "pin"] {
        assert_eq!(none.get(key), Some(&serde_json::Value::Null), "{key}");
    }
}

#[test]
fn rendered_message_debug_output_hides_the_bodies() {
    let kind = NotificationKind::PinReset;
    let m = embedded().render(kind, Locale::En, &context(kind)).unwrap();
    let debug = format!("{m:?}");
    assert!(!debug.contains(PIN), "{debug}");
    assert!(debug.contains(&m.subject));
}

#[test]
fn render_errors_never_contain_the_pin() {
    let message = scrub(format!("value {PIN} rejected"), Some(&Pin::from_secret(PIN.to_owned())));
    assert!(!message.contains(PIN));
}

#[test]
fn templates_can_be_shared_between_tasks() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Templates>();
}
