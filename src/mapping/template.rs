//! Path and query templates (`/api/v1/users/{id}`, `email={value}`), parsed at load time.
//!
//! Every substituted value is percent-encoded (in paths as one segment, `/` `?` `#` `%` `.` and
//! CR/LF included; in queries as one component), so no SCIM value can change which application URL
//! is called. Literal text is taken as written by the integrator (the mapping compiler refuses
//! literal characters that cannot appear in a URL).

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Bytes left alone in a substituted path segment: ALPHA / DIGIT / `-` / `_` / `~`. The dot is
/// encoded too, so that a value of `.` or `..` can never become a relative path step.
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'~');

/// Bytes left alone in a query component: RFC 3986 unreserved (`A-Za-z0-9-._~`).
const QUERY_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A parsed template: literal text and `{name}` placeholders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Var(String),
}

impl Template {
    /// Parses a template; `{name}` must be one of `allowed` (the error names the variable and
    /// lists the allowed ones). `{{` and `}}` are literal braces.
    pub fn parse(text: &str, allowed: &[&str]) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut chars = text.char_indices().peekable();
        while let Some((pos, c)) = chars.next() {
            match c {
                '{' if chars.peek().map(|&(_, n)| n) == Some('{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek().map(|&(_, n)| n) == Some('}') => {
                    chars.next();
                    literal.push('}');
                }
                '}' => {
                    return Err(format!(
                        "unmatched `}}` at column {}; write `}}}}` for a literal brace",
                        column(text, pos)
                    ));
                }
                '{' => {
                    let mut name = String::new();
                    let mut closed = false;
                    for (_, n) in chars.by_ref() {
                        match n {
                            '}' => {
                                closed = true;
                                break;
                            }
                            '{' => break,
                            _ => name.push(n),
                        }
                    }
                    if !closed {
                        return Err(format!(
                            "unclosed `{{` at column {}; write `{{{{` for a literal brace",
                            column(text, pos)
                        ));
                    }
                    if !allowed.contains(&name.as_str()) {
                        return Err(unknown_variable(&name, allowed));
                    }
                    if !literal.is_empty() {
                        parts.push(Part::Literal(std::mem::take(&mut literal)));
                    }
                    parts.push(Part::Var(name));
                }
                _ => literal.push(c),
            }
        }
        if !literal.is_empty() {
            parts.push(Part::Literal(literal));
        }
        Ok(Template { parts })
    }

    /// Renders for a URL path: each value percent-encoded as a single path segment.
    pub fn render_path(&self, var: &dyn Fn(&str) -> Option<String>) -> String {
        self.render(var, PATH_SEGMENT)
    }

    /// Renders a query parameter value, percent-encoded as a query component.
    pub fn render_query(&self, var: &dyn Fn(&str) -> Option<String>) -> String {
        self.render(var, QUERY_COMPONENT)
    }

    fn render(&self, var: &dyn Fn(&str) -> Option<String>, set: &'static AsciiSet) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(text) => out.push_str(text),
                Part::Var(name) => {
                    if let Some(value) = var(name) {
                        out.extend(utf8_percent_encode(&value, set));
                    }
                }
            }
        }
        out
    }

    /// The variable names used.
    pub fn vars(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Var(v) => Some(v.as_str()),
            Part::Literal(_) => None,
        })
    }

    /// The literal text between the placeholders (with `{{`/`}}` already turned into braces), so
    /// the compiler can check it is usable in a URL.
    pub fn literals(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Literal(l) => Some(l.as_str()),
            Part::Var(_) => None,
        })
    }
}

/// Percent-encodes a query parameter name or value (everything but RFC 3986 unreserved).
pub fn encode_query_component(s: &str) -> String {
    utf8_percent_encode(s, QUERY_COMPONENT).to_string()
}

/// 1-based character column of byte offset `pos`.
fn column(text: &str, pos: usize) -> usize {
    text[..pos].chars().count() + 1
}

fn unknown_variable(name: &str, allowed: &[&str]) -> String {
    if allowed.is_empty() {
        format!("unknown variable {{{name}}}; no variables are allowed here")
    } else {
        let list: Vec<String> = allowed.iter().map(|a| format!("{{{a}}}")).collect();
        format!("unknown variable {{{name}}}; allowed: {}", list.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(value: &str) -> impl Fn(&str) -> Option<String> + '_ {
        move |name: &str| (name == "id" || name == "value").then(|| value.to_string())
    }

    fn path(t: &str, value: &str) -> String {
        Template::parse(t, &["id"])
            .unwrap()
            .render_path(&with(value))
    }

    #[test]
    fn parses_literals_and_placeholders() {
        let t = Template::parse("/api/v1/users/{id}/roles", &["id"]).unwrap();
        assert_eq!(t.vars().collect::<Vec<_>>(), ["id"]);
        assert_eq!(
            t.literals().collect::<Vec<_>>(),
            ["/api/v1/users/", "/roles"]
        );
        assert_eq!(t.render_path(&with("42")), "/api/v1/users/42/roles");
        let plain = Template::parse("/api/users", &[]).unwrap();
        assert_eq!(plain.vars().count(), 0);
        assert_eq!(plain.render_path(&with("x")), "/api/users");
    }

    #[test]
    fn doubled_braces_are_literal() {
        let t = Template::parse("a{{b}}c{id}", &["id"]).unwrap();
        assert_eq!(t.render_path(&with("1")), "a{b}c1");
        assert_eq!(t.vars().count(), 1);
        // `{{id}}` is the literal text `{id}`, not a placeholder.
        let t = Template::parse("{{id}}", &[]).unwrap();
        assert_eq!(t.render_path(&with("1")), "{id}");
    }

    #[test]
    fn unknown_variable_is_named_with_the_allowed_ones() {
        let e = Template::parse("/users/{user_id}", &["id"]).unwrap_err();
        assert_eq!(e, "unknown variable {user_id}; allowed: {id}");
        let e = Template::parse("/users/{id}", &[]).unwrap_err();
        assert_eq!(e, "unknown variable {id}; no variables are allowed here");
        let e = Template::parse("{x}", &["id", "value"]).unwrap_err();
        assert_eq!(e, "unknown variable {x}; allowed: {id}, {value}");
        let e = Template::parse("{}", &["id"]).unwrap_err();
        assert!(e.contains("unknown variable {}"), "{e}");
    }

    #[test]
    fn unbalanced_braces_are_errors() {
        let e = Template::parse("/users/{id", &["id"]).unwrap_err();
        assert!(e.contains("unclosed `{` at column 8"), "{e}");
        let e = Template::parse("/users/{i{d}", &["id"]).unwrap_err();
        assert!(e.contains("unclosed"), "{e}");
        let e = Template::parse("/users/id}", &["id"]).unwrap_err();
        assert!(e.contains("unmatched `}` at column 10"), "{e}");
    }

    #[test]
    fn path_values_are_one_opaque_segment() {
        assert_eq!(path("/u/{id}", "../admin"), "/u/%2E%2E%2Fadmin");
        assert_eq!(path("/u/{id}", ".."), "/u/%2E%2E");
        assert_eq!(path("/u/{id}", "."), "/u/%2E");
        assert_eq!(path("/u/{id}", "a?x=1"), "/u/a%3Fx%3D1");
        assert_eq!(path("/u/{id}", "a#frag"), "/u/a%23frag");
        assert_eq!(path("/u/{id}", "%2e%2e"), "/u/%252e%252e");
        assert_eq!(path("/u/{id}", "a\r\nX-Evil: 1"), "/u/a%0D%0AX-Evil%3A%201");
        assert_eq!(path("/u/{id}", "a b&c=d"), "/u/a%20b%26c%3Dd");
        assert_eq!(path("/u/{id}", "zoë"), "/u/zo%C3%AB");
        assert_eq!(path("/u/{id}", "A-z_0~9"), "/u/A-z_0~9");
        assert_eq!(path("/u/{id}", "a\\b"), "/u/a%5Cb");
        for nasty in ["../x", "?", "#", "%2e", "..", "\r\n", "ü/..", "&a=b", "a/b"] {
            let out = path("/u/{id}/x", nasty);
            let inner = &out["/u/".len()..out.len() - "/x".len()];
            assert!(
                !inner.contains(['/', '?', '#', '.', '\r', '\n', ' ', '&', '=']),
                "{nasty:?} rendered as {out:?}"
            );
            assert!(inner.is_ascii());
        }
    }

    #[test]
    fn query_values_are_one_component() {
        let t = Template::parse("{value}", &["value"]).unwrap();
        assert_eq!(
            t.render_query(&with("ada@example.com")),
            "ada%40example.com"
        );
        assert_eq!(t.render_query(&with("a&admin=true")), "a%26admin%3Dtrue");
        assert_eq!(t.render_query(&with("a b+c")), "a%20b%2Bc");
        assert_eq!(t.render_query(&with("x#y")), "x%23y");
        assert_eq!(t.render_query(&with("50%")), "50%25");
        assert_eq!(t.render_query(&with("l\r\nx")), "l%0D%0Ax");
        assert_eq!(t.render_query(&with("Zoë")), "Zo%C3%AB");
        // Unreserved characters, dots included, stay as they are in a query.
        assert_eq!(t.render_query(&with("a.b-c_d~e")), "a.b-c_d~e");
        let t = Template::parse("email:{value}", &["value"]).unwrap();
        assert_eq!(t.render_query(&with("a&b")), "email:a%26b");
    }

    #[test]
    fn missing_variables_render_empty() {
        let t = Template::parse("/u/{id}", &["id"]).unwrap();
        assert_eq!(t.render_path(&|_| None), "/u/");
        assert_eq!(t.render_query(&|_| None), "/u/");
    }

    #[test]
    fn query_names_are_encoded() {
        assert_eq!(encode_query_component("filter[email]"), "filter%5Bemail%5D");
        assert_eq!(encode_query_component("per_page"), "per_page");
        assert_eq!(encode_query_component("a=b&c"), "a%3Db%26c");
        assert_eq!(encode_query_component(""), "");
    }
}
