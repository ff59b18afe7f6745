//! Templates: a command argument or URL parsed once, at load, into text,
//! placeholders (`{region}`…), variables (`{vars.NAME}`) and secrets (`${env:VAR}`,
//! kept as written: they are resolved only when used). `{{` and `}}` write braces.
//! Rendering takes a [`Context`]: what each placeholder means where it is written.

use std::collections::BTreeMap;
use std::fmt;

use super::Located;
use crate::error::Span;

/// The placeholders a template may use; each place allows some of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placeholder {
    Region,
    From,
    To,
    Environment,
    Service,
    Backup,
}

impl Placeholder {
    pub const ALL: [Self; 6] = [
        Self::Region,
        Self::From,
        Self::To,
        Self::Environment,
        Self::Service,
        Self::Backup,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Region => "region",
            Self::From => "from",
            Self::To => "to",
            Self::Environment => "environment",
            Self::Service => "service",
            Self::Backup => "backup",
        }
    }

    fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.name() == name)
    }
}

/// One piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Placeholder(Placeholder),
    Var(String),
    Secret(String),
}

/// A parsed command argument or URL, with the span it was written at (templates
/// are equal when their parts are, wherever they were written).
#[derive(Debug, Clone)]
pub struct Template {
    parts: Vec<Part>,
    pub span: Span,
}

impl PartialEq for Template {
    fn eq(&self, other: &Self) -> bool {
        self.parts == other.parts
    }
}

impl Eq for Template {}

/// Why a text is not a template: a message and a help line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    pub message: String,
    pub help: String,
}

/// `vars.`: the prefix of a variable placeholder.
const VARS: &str = "vars.";

impl Template {
    /// Parses `text`: `{{`/`}}` are braces, `${env:VAR}` a secret, `{NAME}` a
    /// placeholder and `{vars.NAME}` a variable.
    pub fn parse(text: &str, span: Span) -> Result<Self, TemplateError> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        while let Some(at) = rest.find(['{', '}', '$']) {
            literal.push_str(&rest[..at]);
            let tail = &rest[at..];
            if let Some(after) = tail.strip_prefix("{{") {
                literal.push('{');
                rest = after;
            } else if let Some(after) = tail.strip_prefix("}}") {
                literal.push('}');
                rest = after;
            } else if tail.starts_with('}') {
                return Err(error(
                    "a lone `}`",
                    "write `}}` for a literal brace (and `{{` for `{`), as in a JSON body",
                ));
            } else if let Some((name, after)) = secret(tail) {
                flush(&mut literal, &mut parts);
                parts.push(Part::Secret(name.to_string()));
                rest = after;
            } else if let Some(after) = tail.strip_prefix('$') {
                literal.push('$');
                rest = after;
            } else {
                let (name, after) = braced(tail)?;
                flush(&mut literal, &mut parts);
                parts.push(placeholder(name)?);
                rest = after;
            }
        }
        literal.push_str(rest);
        flush(&mut literal, &mut parts);
        Ok(Self { parts, span })
    }

    /// A template of plain text.
    #[cfg(test)]
    pub fn text(text: &str) -> Self {
        let mut parts = Vec::new();
        flush(&mut text.to_string(), &mut parts);
        Self { parts, span: 0..0 }
    }

    /// The placeholders written, in order.
    pub fn placeholders(&self) -> impl Iterator<Item = Placeholder> + '_ {
        self.parts.iter().filter_map(|part| match part {
            Part::Placeholder(p) => Some(*p),
            _ => None,
        })
    }

    /// The variables written, in order.
    pub fn vars(&self) -> impl Iterator<Item = &str> + '_ {
        self.parts.iter().filter_map(|part| match part {
            Part::Var(name) => Some(name.as_str()),
            _ => None,
        })
    }

    /// The text with every placeholder and variable `context` knows replaced; secrets
    /// stay `${env:VAR}` (resolved when used), and anything unknown stays as written.
    pub fn render(&self, context: &Context<'_>) -> String {
        self.render_template(context).to_string()
    }

    /// The template with every placeholder and variable `context` knows replaced by
    /// text; what it does not know stays.
    #[must_use]
    pub fn render_template(&self, context: &Context<'_>) -> Self {
        let mut parts = Vec::new();
        let mut literal = String::new();
        for part in &self.parts {
            let value = match part {
                Part::Text(text) => Some(text.as_str()),
                Part::Placeholder(p) => context.value(*p),
                Part::Var(name) => context.var(name),
                Part::Secret(_) => None,
            };
            if let Some(value) = value {
                literal.push_str(value);
            } else {
                flush(&mut literal, &mut parts);
                parts.push(part.clone());
            }
        }
        flush(&mut literal, &mut parts);
        Self {
            parts,
            span: self.span.clone(),
        }
    }

    /// The template as it would be written: braces doubled (what plan files hold).
    pub fn source(&self) -> String {
        self.parts
            .iter()
            .map(|part| match part {
                Part::Text(text) => text.replace('{', "{{").replace('}', "}}"),
                Part::Placeholder(p) => format!("{{{}}}", p.name()),
                Part::Var(name) => format!("{{{VARS}{name}}}"),
                Part::Secret(name) => format!("${{env:{name}}}"),
            })
            .collect()
    }
}

/// The text a reader sees: braces single, placeholders and secrets as written.
impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for part in &self.parts {
            match part {
                Part::Text(text) => f.write_str(text)?,
                Part::Placeholder(p) => write!(f, "{{{}}}", p.name())?,
                Part::Var(name) => write!(f, "{{{VARS}{name}}}")?,
                Part::Secret(name) => write!(f, "${{env:{name}}}")?,
            }
        }
        Ok(())
    }
}

impl serde::Serialize for Template {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.source())
    }
}

impl<'de> serde::Deserialize<'de> for Template {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text, 0..0).map_err(|e| serde::de::Error::custom(e.message))
    }
}

fn error(message: &str, help: &str) -> TemplateError {
    TemplateError {
        message: message.to_string(),
        help: help.to_string(),
    }
}

fn flush(literal: &mut String, parts: &mut Vec<Part>) {
    if !literal.is_empty() {
        parts.push(Part::Text(std::mem::take(literal)));
    }
}

/// `${env:NAME}` at the start of `text`: the name and what follows.
fn secret(text: &str) -> Option<(&str, &str)> {
    let inner = text.strip_prefix("${env:")?;
    let end = inner.find('}')?;
    Some((&inner[..end], &inner[end + 1..]))
}

/// `{NAME}` at the start of `text`: the name and what follows.
fn braced(text: &str) -> Result<(&str, &str), TemplateError> {
    let inner = &text[1..];
    match inner.find(['{', '}']) {
        Some(end) if inner[end..].starts_with('}') => Ok((&inner[..end], &inner[end + 1..])),
        _ => Err(error(
            "a `{` that opens no placeholder",
            "write `{{` for a literal brace (and `}}` for `}`), as in a JSON body",
        )),
    }
}

fn placeholder(name: &str) -> Result<Part, TemplateError> {
    if let Some(var) = name.strip_prefix(VARS) {
        if !var.is_empty()
            && var
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Ok(Part::Var(var.to_string()));
        }
        return Err(error(
            &format!("`{{{name}}}` is not a variable name"),
            "write `{vars.NAME}` with NAME made of letters, digits, `-` and `_`",
        ));
    }
    if let Some(placeholder) = Placeholder::parse(name) {
        return Ok(Part::Placeholder(placeholder));
    }
    let names = Placeholder::ALL.map(Placeholder::name);
    let help = match crate::suggest::did_you_mean(name, names) {
        Some(close) => format!("did you mean `{{{close}}}`?"),
        None => "the placeholders are {region}, {from}, {to}, {environment}, {service}, {backup} and {vars.NAME}; write `{{` and `}}` for literal braces".to_string(),
    };
    Err(TemplateError {
        message: format!("unknown placeholder `{{{name}}}`"),
        help,
    })
}

/// Variables by name (`[environment.vars]`, `[regions.NAME.vars]`).
pub type Vars = BTreeMap<String, Located<String>>;

/// What the placeholders of one place mean: the values known there.
#[derive(Debug, Clone, Copy, Default)]
pub struct Context<'a> {
    pub environment: Option<&'a str>,
    pub region: Option<&'a str>,
    pub from: Option<&'a str>,
    pub to: Option<&'a str>,
    pub service: Option<&'a str>,
    pub backup: Option<&'a str>,
    /// The environment's variables, then those of `region` (which override them).
    pub vars: Option<&'a Vars>,
    pub region_vars: Option<&'a Vars>,
}

impl<'a> Context<'a> {
    fn value(&self, placeholder: Placeholder) -> Option<&'a str> {
        match placeholder {
            Placeholder::Region => self.region,
            Placeholder::From => self.from,
            Placeholder::To => self.to,
            Placeholder::Environment => self.environment,
            Placeholder::Service => self.service,
            Placeholder::Backup => self.backup,
        }
    }

    fn var(&self, name: &str) -> Option<&'a str> {
        let region = self.region_vars.and_then(|vars| vars.get(name));
        let value = region.or_else(|| self.vars.and_then(|vars| vars.get(name)));
        value.map(|v| v.value.as_str())
    }

    #[must_use]
    pub fn service(self, service: &'a str) -> Self {
        Self {
            service: Some(service),
            ..self
        }
    }

    #[must_use]
    pub fn from(self, from: &'a str) -> Self {
        Self {
            from: Some(from),
            ..self
        }
    }

    #[must_use]
    pub fn to(self, to: &'a str) -> Self {
        Self {
            to: Some(to),
            ..self
        }
    }

    #[must_use]
    pub fn backup(self, backup: &'a str) -> Self {
        Self {
            backup: Some(backup),
            ..self
        }
    }
}

/// An argument vector of templates; in a plan, rendered.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Command(pub Vec<Template>);

impl Command {
    /// A command of plain arguments.
    #[cfg(test)]
    pub fn plain(argv: impl IntoIterator<Item = impl AsRef<str>>) -> Self {
        Self(
            argv.into_iter()
                .map(|a| Template::text(a.as_ref()))
                .collect(),
        )
    }

    /// Every argument rendered (see [`Template::render`]).
    pub fn render(&self, context: &Context<'_>) -> Vec<String> {
        self.0.iter().map(|arg| arg.render(context)).collect()
    }

    /// The command with every argument rendered, as a command again.
    #[must_use]
    pub fn render_command(&self, context: &Context<'_>) -> Self {
        Self(
            self.0
                .iter()
                .map(|arg| arg.render_template(context))
                .collect(),
        )
    }

    /// The arguments as text (of a rendered command: what runs).
    pub fn argv(&self) -> Vec<String> {
        self.0.iter().map(ToString::to_string).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Template {
        Template::parse(text, 0..0).expect("a template")
    }

    #[test]
    fn braces_double_placeholders_render_and_secrets_stay() {
        let template = parse(r#"{{"region": "{region}", "key": "${env:KEY}"}}"#);
        let context = Context {
            region: Some("eu-west-1"),
            ..Context::default()
        };
        assert_eq!(
            template.render(&context),
            r#"{"region": "eu-west-1", "key": "${env:KEY}"}"#
        );
        assert_eq!(
            template.source(),
            r#"{{"region": "{region}", "key": "${env:KEY}"}}"#
        );
        let rendered = template.render_template(&context);
        assert_eq!(
            rendered.source(),
            r#"{{"region": "eu-west-1", "key": "${env:KEY}"}}"#
        );
        assert_eq!(parse(&rendered.source()), rendered);
    }

    #[test]
    fn region_vars_override_environment_vars() {
        let vars =
            |value: &str| Vars::from([("host".to_string(), Located::new(value.to_string(), 0..0))]);
        let (env, region) = (vars("db.example"), vars("db.eu.example"));
        let template = parse("{vars.host}");
        let mut context = Context {
            vars: Some(&env),
            ..Context::default()
        };
        assert_eq!(template.render(&context), "db.example");
        context.region_vars = Some(&region);
        assert_eq!(template.render(&context), "db.eu.example");
    }

    #[test]
    fn unknown_placeholders_and_lone_braces_are_refused() {
        for bad in [
            "{regoin}",
            r#"{"initializeFrom": 1}"#,
            "a } b",
            "{region",
            "{vars.}",
        ] {
            assert!(
                Template::parse(bad, 0..0).is_err(),
                "{bad} should be refused"
            );
        }
        let error = Template::parse("{regoin}", 0..0).unwrap_err();
        assert_eq!(error.help, "did you mean `{region}`?");
    }
}
