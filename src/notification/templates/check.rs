//! The registries and the checks every template passes when it is loaded: `if` and
//! `unless` as strict as the rest, and no construct that could hand the PIN to a helper.

use handlebars::template::{Parameter, Template, TemplateElement};
use handlebars::{
    Context, Handlebars, Helper, HelperDef, HelperResult, JsonTruthy, Output, RenderContext, RenderError,
    RenderErrorReason, Renderable,
};

use super::error::TemplateError;

pub(super) fn registry(escape_html: bool) -> Handlebars<'static> {
    let mut registry = Handlebars::new();
    registry.set_strict_mode(true);
    if !escape_html {
        registry.register_escape_fn(handlebars::no_escape);
    }
    // A template has no reason to log, and `{{log pin}}` would put the PIN in the logs.
    registry.unregister_helper("log");
    // The built-in `if` accepts a missing variable as false, which would hide a typo in a
    // condition behind strict mode.
    registry.register_helper("if", Box::new(StrictIf { positive: true }));
    registry.register_helper("unless", Box::new(StrictIf { positive: false }));
    registry
}

/// `if` and `unless` that treat a variable absent from the context as an error, as strict
/// mode does everywhere else; `null` is still an ordinary false value.
struct StrictIf {
    positive: bool,
}

impl HelperDef for StrictIf {
    fn call<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        r: &'reg Handlebars<'reg>,
        ctx: &'rc Context,
        rc: &mut RenderContext<'reg, 'rc>,
        out: &mut dyn Output,
    ) -> HelperResult {
        let name = if self.positive { "if" } else { "unless" };
        let param = h.param(0).ok_or(RenderErrorReason::ParamNotFoundForIndex(name, 0))?;
        if param.is_value_missing() {
            return Err(RenderError::strict_error(param.relative_path()));
        }
        let include_zero = h.hash_get("includeZero").and_then(|v| v.value().as_bool()).unwrap_or(false);
        let chosen = if param.value().is_truthy(include_zero) == self.positive { h.template() } else { h.inverse() };
        match chosen {
            Some(t) => t.render(r, ctx, rc, out),
            None => Ok(()),
        }
    }
}

/// Refuses the constructs that could carry the PIN into a helper, and thereby into
/// handlebars' debug log, and those a self-contained e-mail template has no use for.
pub(super) fn check_elements(template: &Template, file: &str) -> Result<(), TemplateError> {
    for (index, element) in template.elements.iter().enumerate() {
        let mapping = template.mapping.get(index);
        let fail = |reason: String| TemplateError::Unsafe {
            file: file.to_owned(),
            line: mapping.map(|m| m.0),
            column: mapping.map(|m| m.1),
            reason,
        };
        match element {
            TemplateElement::Expression(ht) | TemplateElement::HtmlExpression(ht) => {
                // `{{name}}` alone only prints a value, which handlebars does not log.
                let prints_value =
                    ht.params.is_empty() && ht.hash.is_empty() && !matches!(ht.name, Parameter::Subexpression(_));
                if !prints_value {
                    check_helper_call(&ht.name, &ht.params, ht.hash.values()).map_err(fail)?;
                }
            }
            TemplateElement::HelperBlock(ht) => {
                check_helper_call(&ht.name, &ht.params, ht.hash.values()).map_err(fail)?;
                for inner in [&ht.template, &ht.inverse].into_iter().flatten() {
                    check_elements(inner, file)?;
                }
            }
            TemplateElement::DecoratorExpression(_)
            | TemplateElement::DecoratorBlock(_)
            | TemplateElement::PartialExpression(_)
            | TemplateElement::PartialBlock(_) => {
                return Err(fail(
                    "partials and decorators are not supported: each e-mail template must be self-contained".to_owned(),
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

fn check_helper_call<'a>(
    name: &Parameter,
    params: &'a [Parameter],
    hash: impl Iterator<Item = &'a Parameter>,
) -> Result<(), String> {
    let helper = name.as_name().unwrap_or("(subexpression)");
    check_parameter(name, helper)?;
    for param in params.iter().chain(hash) {
        check_parameter(param, helper)?;
    }
    Ok(())
}

fn check_parameter(param: &Parameter, helper: &str) -> Result<(), String> {
    match param {
        Parameter::Subexpression(sub) => match sub.as_element() {
            TemplateElement::Expression(ht) => check_helper_call(&ht.name, &ht.params, ht.hash.values()),
            _ => Err("unsupported subexpression".to_owned()),
        },
        Parameter::Literal(_) => Ok(()),
        other => match other.as_name() {
            Some(raw) => check_reference(raw, helper),
            None => Ok(()),
        },
    }
}

/// A helper may be given any variable except the PIN, and never the whole context (which
/// holds the PIN): `this`, `.`, `..` or `@root`.
fn check_reference(raw: &str, helper: &str) -> Result<(), String> {
    let segments: Vec<&str> = raw.split(['.', '/']).map(|s| s.trim_matches(['[', ']'])).collect();
    if segments.contains(&"pin") {
        return Err(format!(
            "`{raw}` gives the PIN to the helper `{helper}`, and handlebars logs helper arguments; write the PIN only as {{{{pin}}}}"
        ));
    }
    if matches!(segments.last().copied(), None | Some("" | "this" | ".." | "@root")) {
        return Err(format!(
            "`{raw}` gives the whole message context, PIN included, to the helper `{helper}`, and handlebars logs helper arguments; name the variable instead"
        ));
    }
    Ok(())
}
