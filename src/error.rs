//! Every failure the sidecar can answer, grouped by the side that failed (the SCIM client, the
//! application, or the sidecar itself), and the one exhaustive table that turns each variant into
//! an RFC 7644 §3.12 error: HTTP status, `scimType` and `detail`. An error raised inside the
//! mapping carries the [`Rule`] it arose in (`Error::InRule`), for the log line and, when
//! configured ([`ErrorDetail`]), the `detail`.
//!
//! Pure code: rendering the envelope lives in [`crate::scim::error_body`].

use std::fmt;

/// The `scimType` values of RFC 7644 §3.12 (table 9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScimType {
    InvalidFilter,
    TooMany,
    Uniqueness,
    Mutability,
    InvalidSyntax,
    InvalidPath,
    NoTarget,
    InvalidValue,
    InvalidVers,
    Sensitive,
}

impl ScimType {
    pub fn as_str(self) -> &'static str {
        match self {
            ScimType::InvalidFilter => "invalidFilter",
            ScimType::TooMany => "tooMany",
            ScimType::Uniqueness => "uniqueness",
            ScimType::Mutability => "mutability",
            ScimType::InvalidSyntax => "invalidSyntax",
            ScimType::InvalidPath => "invalidPath",
            ScimType::NoTarget => "noTarget",
            ScimType::InvalidValue => "invalidValue",
            ScimType::InvalidVers => "invalidVers",
            ScimType::Sensitive => "sensitive",
        }
    }

    /// Parses a `scimType` as written in RFC 7644 (case-insensitive, for scripts).
    pub fn parse(s: &str) -> Option<Self> {
        const ALL: [ScimType; 10] = [
            ScimType::InvalidFilter,
            ScimType::TooMany,
            ScimType::Uniqueness,
            ScimType::Mutability,
            ScimType::InvalidSyntax,
            ScimType::InvalidPath,
            ScimType::NoTarget,
            ScimType::InvalidValue,
            ScimType::InvalidVers,
            ScimType::Sensitive,
        ];
        ALL.into_iter().find(|t| t.as_str().eq_ignore_ascii_case(s))
    }
}

impl fmt::Display for ScimType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Any failure while serving a SCIM request.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error(transparent)]
    App(#[from] AppError),
    #[error(transparent)]
    Internal(#[from] InternalError),
    /// An error raised while running one part of the mapping: answered exactly as `error`, with
    /// `rule` named in the log line (and in `detail` with `server.error_detail = "mapping"`).
    #[error("{error}")]
    InRule { rule: Box<Rule>, error: Box<Error> },
}

/// The part of a mapping an error arose in. Names only: never values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// `users.update`, `groups.members.add`, `users.id_field`, `users.hooks.to_app`,
    /// `users.attribute`.
    pub name: String,
    /// The hook's function name, for hook errors.
    pub hook: Option<String>,
    /// The rule's SCIM path as written (`emails[type eq "work"].value`), for attribute rules.
    pub attribute: Option<String>,
}

impl Rule {
    /// An application call, by its label (`users.update`).
    pub fn call(label: &str) -> Rule {
        Rule {
            name: label.to_string(),
            hook: None,
            attribute: None,
        }
    }

    /// A script hook of a resource type (`users`, `to_app`).
    pub fn hook(resource: &str, hook: &str) -> Rule {
        Rule {
            name: format!("{resource}.hooks.{hook}"),
            hook: Some(hook.to_string()),
            attribute: None,
        }
    }

    /// An attribute rule of a resource type (`users`, `name.familyName`).
    pub fn attribute(resource: &str, scim: &str) -> Rule {
        Rule {
            name: format!("{resource}.attribute"),
            hook: None,
            attribute: Some(scim.to_string()),
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.attribute {
            Some(a) => write!(f, "{} \"{a}\"", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// What the SCIM `detail` of an error says about the mapping (`server.error_detail`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ErrorDetail {
    /// Never which mapping rule was involved (the default: `detail` reaches the IdP's admin).
    #[default]
    Generic,
    /// Also names the rule, e.g. `… (mapping: users.update)`: for staging.
    Mapping,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The SCIM client sent something we cannot or will not do (4xx).
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{0}")]
    InvalidFilter(String),
    #[error("{0}")]
    TooMany(String),
    #[error("{0}")]
    Uniqueness(String),
    #[error("{0}")]
    Mutability(String),
    #[error("{0}")]
    InvalidSyntax(String),
    #[error("{0}")]
    InvalidPath(String),
    #[error("{0}")]
    NoTarget(String),
    #[error("{0}")]
    InvalidValue(String),
    #[error("{0}")]
    NotFound(String),
    #[error("a valid bearer token is required")]
    Unauthorized,
    #[error("method {method} is not allowed on this endpoint")]
    MethodNotAllowed { method: String },
    #[error("the request body exceeds the limit of {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("{0}")]
    NotImplemented(String),
    /// A mapping script refused the request with its own status, `scimType` and message.
    #[error("{detail}")]
    Rejected {
        status: u16,
        scim_type: Option<ScimType>,
        detail: String,
    },
}

/// The application answered badly or not at all. Application bodies never reach `detail`.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The application refused *our* credentials (401/403): a deployment problem, not the client's.
    #[error("the application rejected the sidecar's credentials (HTTP {status})")]
    Unauthorized { status: u16 },
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("the application refused the values (HTTP {status})")]
    BadRequest { status: u16 },
    #[error("the application is rate limiting requests")]
    RateLimited { retry_after: Option<u64> },
    #[error("the application failed (HTTP {status})")]
    ServerError { status: u16 },
    #[error("the application did not answer in time")]
    Timeout,
    #[error("the application is unreachable")]
    Unreachable(String),
    /// The answer did not have the shape the mapping expects (not JSON, record missing, …).
    #[error("the application's answer did not match the mapping: {0}")]
    BadResponse(String),
    #[error("the application answered with unexpected HTTP status {status}")]
    UnexpectedStatus { status: u16 },
    /// An error answer a mapping's `[[….errors]]` entry recognised, answered as the entry says
    /// (the entry is the error's [`Rule`]); `detail` is the entry's text or a generic one.
    #[error("the application answered HTTP {app_status}, answered as its `errors` entry says")]
    Mapped {
        app_status: u16,
        status: u16,
        scim_type: Option<ScimType>,
        detail: Option<String>,
    },
}

/// The sidecar itself failed or is overloaded.
#[derive(Debug, thiserror::Error)]
pub enum InternalError {
    #[error("mapping script hook `{hook}` failed")]
    Script { hook: String, message: String },
    #[error("the id store failed")]
    Store(String),
    #[error("the request took too long")]
    Timeout,
    #[error("the service is busy; retry later")]
    Overloaded,
    #[error("an internal error occurred")]
    Panic,
    #[error("an internal error occurred")]
    Bug(String),
}

/// How an error is answered: HTTP status, `scimType`, and optional `Retry-After` seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorClass {
    pub status: u16,
    pub scim_type: Option<ScimType>,
    pub retry_after: Option<u64>,
}

const fn class(status: u16, scim_type: Option<ScimType>) -> ErrorClass {
    ErrorClass {
        status,
        scim_type,
        retry_after: None,
    }
}

impl Error {
    /// Names the mapping rule this error arose in. An error that already names one keeps it: the
    /// innermost rule is the most precise.
    pub fn in_rule(self, rule: Rule) -> Error {
        match self {
            Error::InRule { .. } => self,
            other => Error::InRule {
                rule: Box::new(rule),
                error: Box::new(other),
            },
        }
    }

    /// The error itself, without the rule it arose in.
    pub fn root(&self) -> &Error {
        match self {
            Error::InRule { error, .. } => error.root(),
            other => other,
        }
    }

    /// The mapping rule the error arose in, if known.
    pub fn rule(&self) -> Option<&Rule> {
        match self {
            Error::InRule { rule, .. } => Some(rule),
            _ => None,
        }
    }

    /// The application error, whichever rule it arose in.
    pub fn app(&self) -> Option<&AppError> {
        match self.root() {
            Error::App(a) => Some(a),
            _ => None,
        }
    }

    /// The error table (DESIGN.md §7). Exhaustive on purpose: a new variant must be placed here.
    pub fn class(&self) -> ErrorClass {
        use ScimType as T;
        match self {
            Error::InRule { error, .. } => error.class(),
            Error::Client(e) => match e {
                ClientError::InvalidFilter(_) => class(400, Some(T::InvalidFilter)),
                ClientError::TooMany(_) => class(400, Some(T::TooMany)),
                ClientError::Uniqueness(_) => class(409, Some(T::Uniqueness)),
                ClientError::Mutability(_) => class(400, Some(T::Mutability)),
                ClientError::InvalidSyntax(_) => class(400, Some(T::InvalidSyntax)),
                ClientError::InvalidPath(_) => class(400, Some(T::InvalidPath)),
                ClientError::NoTarget(_) => class(400, Some(T::NoTarget)),
                ClientError::InvalidValue(_) => class(400, Some(T::InvalidValue)),
                ClientError::NotFound(_) => class(404, None),
                ClientError::Unauthorized => class(401, None),
                ClientError::MethodNotAllowed { .. } => class(405, None),
                ClientError::PayloadTooLarge { .. } => class(413, None),
                ClientError::NotImplemented(_) => class(501, None),
                ClientError::Rejected {
                    status, scim_type, ..
                } => class(*status, *scim_type),
            },
            Error::App(e) => match e {
                AppError::Unauthorized { .. } => class(502, None),
                AppError::NotFound(_) => class(404, None),
                AppError::Conflict(_) => class(409, Some(T::Uniqueness)),
                AppError::BadRequest { .. } => class(400, Some(T::InvalidValue)),
                AppError::RateLimited { retry_after } => ErrorClass {
                    status: 429,
                    scim_type: None,
                    retry_after: Some(retry_after.unwrap_or(30)),
                },
                AppError::ServerError { .. } => class(502, None),
                AppError::Timeout => class(504, None),
                AppError::Unreachable(_) => class(502, None),
                AppError::BadResponse(_) => class(502, None),
                AppError::UnexpectedStatus { .. } => class(502, None),
                AppError::Mapped {
                    status, scim_type, ..
                } => class(*status, *scim_type),
            },
            Error::Internal(e) => match e {
                InternalError::Script { .. } => class(500, None),
                InternalError::Store(_) => class(500, None),
                InternalError::Timeout => class(504, None),
                InternalError::Overloaded => ErrorClass {
                    status: 429,
                    scim_type: None,
                    retry_after: Some(1),
                },
                InternalError::Panic => class(500, None),
                InternalError::Bug(_) => class(500, None),
            },
        }
    }

    /// The `detail` shown to the client (and to the IdP admin): never an application body,
    /// never a script's internal message, and never which mapping rule, endpoint or hook was
    /// involved — that is for the integrator, in the log line (`Display` and [`Error::rule`]),
    /// where the request's span adds the operation and resource type. [`Error::detail_for`]
    /// names the rule when `server.error_detail = "mapping"`.
    pub fn detail(&self) -> String {
        match self {
            Error::InRule { error, .. } => error.detail(),
            Error::App(AppError::BadResponse(_)) => {
                "the application's answer did not match the mapping".into()
            }
            Error::Internal(InternalError::Script { .. }) => "a mapping script failed".into(),
            Error::App(AppError::Mapped {
                detail: Some(d), ..
            }) => d.clone(),
            Error::App(AppError::Mapped {
                app_status, status, ..
            }) if *status >= 500 => format!("the application failed (HTTP {app_status})"),
            Error::App(AppError::Mapped { app_status, .. }) => {
                format!("the application refused the request (HTTP {app_status})")
            }
            _ => self.to_string(),
        }
    }

    /// The `detail` under a `server.error_detail` setting: with `Mapping`, the rule is appended
    /// (its name and the attribute's SCIM path; never values).
    pub fn detail_for(&self, mode: ErrorDetail) -> String {
        match (mode, self.rule()) {
            (ErrorDetail::Mapping, Some(rule)) => format!("{} (mapping: {rule})", self.detail()),
            _ => self.detail(),
        }
    }

    // Short constructors for the client-side errors the protocol code raises most.
    pub fn invalid_filter(msg: impl Into<String>) -> Self {
        ClientError::InvalidFilter(msg.into()).into()
    }
    pub fn invalid_path(msg: impl Into<String>) -> Self {
        ClientError::InvalidPath(msg.into()).into()
    }
    pub fn invalid_value(msg: impl Into<String>) -> Self {
        ClientError::InvalidValue(msg.into()).into()
    }
    pub fn invalid_syntax(msg: impl Into<String>) -> Self {
        ClientError::InvalidSyntax(msg.into()).into()
    }
    pub fn no_target(msg: impl Into<String>) -> Self {
        ClientError::NoTarget(msg.into()).into()
    }
    pub fn mutability(msg: impl Into<String>) -> Self {
        ClientError::Mutability(msg.into()).into()
    }
    pub fn uniqueness(msg: impl Into<String>) -> Self {
        ClientError::Uniqueness(msg.into()).into()
    }
    pub fn too_many(msg: impl Into<String>) -> Self {
        ClientError::TooMany(msg.into()).into()
    }
    pub fn not_found(msg: impl Into<String>) -> Self {
        ClientError::NotFound(msg.into()).into()
    }
    pub fn bug(msg: impl Into<String>) -> Self {
        InternalError::Bug(msg.into()).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(e: impl Into<Error>, status: u16, t: Option<&str>) {
        let e = e.into();
        let c = e.class();
        assert_eq!(c.status, status, "{e:?}");
        assert_eq!(c.scim_type.map(ScimType::as_str), t, "{e:?}");
    }

    #[test]
    fn client_errors_map_to_rfc_statuses() {
        let s = || "x".to_string();
        check(ClientError::InvalidFilter(s()), 400, Some("invalidFilter"));
        check(ClientError::TooMany(s()), 400, Some("tooMany"));
        check(ClientError::Uniqueness(s()), 409, Some("uniqueness"));
        check(ClientError::Mutability(s()), 400, Some("mutability"));
        check(ClientError::InvalidSyntax(s()), 400, Some("invalidSyntax"));
        check(ClientError::InvalidPath(s()), 400, Some("invalidPath"));
        check(ClientError::NoTarget(s()), 400, Some("noTarget"));
        check(ClientError::InvalidValue(s()), 400, Some("invalidValue"));
        check(ClientError::NotFound(s()), 404, None);
        check(ClientError::Unauthorized, 401, None);
        check(ClientError::MethodNotAllowed { method: s() }, 405, None);
        check(ClientError::PayloadTooLarge { limit: 1 }, 413, None);
        check(ClientError::NotImplemented(s()), 501, None);
        check(
            ClientError::Rejected {
                status: 403,
                scim_type: Some(ScimType::Sensitive),
                detail: s(),
            },
            403,
            Some("sensitive"),
        );
    }

    #[test]
    fn app_errors_never_blame_the_client_for_our_credentials() {
        check(AppError::Unauthorized { status: 401 }, 502, None);
        check(AppError::Unauthorized { status: 403 }, 502, None);
        check(AppError::NotFound("x".into()), 404, None);
        check(AppError::Conflict("x".into()), 409, Some("uniqueness"));
        check(
            AppError::BadRequest { status: 422 },
            400,
            Some("invalidValue"),
        );
        check(AppError::ServerError { status: 500 }, 502, None);
        check(AppError::Timeout, 504, None);
        check(AppError::Unreachable("x".into()), 502, None);
        check(AppError::BadResponse("x".into()), 502, None);
        check(AppError::UnexpectedStatus { status: 302 }, 502, None);
        let e: Error = AppError::RateLimited {
            retry_after: Some(7),
        }
        .into();
        assert_eq!(e.class().status, 429);
        assert_eq!(e.class().retry_after, Some(7));
        let e: Error = AppError::RateLimited { retry_after: None }.into();
        assert_eq!(
            e.class().retry_after,
            Some(30),
            "Okta needs an integer Retry-After"
        );
    }

    #[test]
    fn mapped_app_errors_answer_as_the_mapping_says() {
        let mapped = |status, scim_type, detail: Option<&str>| -> Error {
            Error::from(AppError::Mapped {
                app_status: 422,
                status,
                scim_type,
                detail: detail.map(str::to_string),
            })
            .in_rule(Rule::call("users.create.errors[2]"))
        };
        let e = mapped(403, Some(ScimType::Sensitive), Some("Seat limit reached."));
        assert_eq!(
            (e.class().status, e.class().scim_type),
            (403, Some(ScimType::Sensitive))
        );
        assert_eq!(e.detail(), "Seat limit reached.");
        assert_eq!(
            e.rule().map(|r| r.name.as_str()),
            Some("users.create.errors[2]")
        );
        assert_eq!(
            e.detail_for(ErrorDetail::Mapping),
            "Seat limit reached. (mapping: users.create.errors[2])"
        );
        let e = mapped(400, None, None);
        assert_eq!(e.detail(), "the application refused the request (HTTP 422)");
        assert!(
            !e.detail().contains("errors[2]"),
            "mapping names stay in the log"
        );
        assert_eq!(
            mapped(503, None, None).detail(),
            "the application failed (HTTP 422)"
        );
    }

    #[test]
    fn internal_errors_hide_their_cause() {
        check(
            InternalError::Script {
                hook: "to_app".into(),
                message: "secret detail".into(),
            },
            500,
            None,
        );
        check(InternalError::Store("x".into()), 500, None);
        check(InternalError::Timeout, 504, None);
        check(InternalError::Panic, 500, None);
        check(InternalError::Bug("x".into()), 500, None);
        let e: Error = InternalError::Overloaded.into();
        assert_eq!((e.class().status, e.class().retry_after), (429, Some(1)));
        let e: Error = InternalError::Script {
            hook: "h".into(),
            message: "secret detail".into(),
        }
        .into();
        assert!(!e.detail().contains("secret"));
    }

    #[test]
    fn mapping_details_stay_in_the_log() {
        let e: Error =
            AppError::BadResponse("active: the application value at `status` …".into()).into();
        assert_eq!(
            e.detail(),
            "the application's answer did not match the mapping"
        );
        assert!(
            e.to_string()
                .contains("active: the application value at `status`")
        );
        let e: Error = InternalError::Script {
            hook: "to_app".into(),
            message: "x.rhai:3:4: boom".into(),
        }
        .into();
        assert_eq!(e.detail(), "a mapping script failed");
        assert!(
            e.to_string().contains("to_app"),
            "the log line names the hook"
        );
        let e: Error = AppError::ServerError { status: 500 }.into();
        assert_eq!(e.detail(), e.to_string());
    }

    #[test]
    fn a_rule_is_named_in_detail_only_when_configured() {
        let e =
            Error::from(AppError::ServerError { status: 500 }).in_rule(Rule::call("users.update"));
        assert_eq!(e.class().status, 502);
        assert_eq!(e.detail(), "the application failed (HTTP 500)");
        assert_eq!(e.detail_for(ErrorDetail::Generic), e.detail());
        assert_eq!(
            e.detail_for(ErrorDetail::Mapping),
            "the application failed (HTTP 500) (mapping: users.update)"
        );
        assert!(matches!(
            e.app(),
            Some(AppError::ServerError { status: 500 })
        ));
        // The innermost rule wins.
        let e = e.in_rule(Rule::call("users.get"));
        assert_eq!(e.rule().map(|r| r.name.as_str()), Some("users.update"));

        let e = Error::from(AppError::BadResponse("name.familyName: …".into()))
            .in_rule(Rule::attribute("users", "name.familyName"));
        assert_eq!(
            e.detail_for(ErrorDetail::Mapping),
            "the application's answer did not match the mapping \
             (mapping: users.attribute \"name.familyName\")"
        );
        let e = Error::from(InternalError::Script {
            hook: "to_app".into(),
            message: "x.rhai:1:2: secret detail".into(),
        })
        .in_rule(Rule::hook("users", "to_app"));
        assert_eq!(e.class().status, 500);
        let d = e.detail_for(ErrorDetail::Mapping);
        assert_eq!(d, "a mapping script failed (mapping: users.hooks.to_app)");
        // Without a rule, the setting changes nothing.
        let e: Error = AppError::Timeout.into();
        assert_eq!(e.detail_for(ErrorDetail::Mapping), e.detail());
    }

    #[test]
    fn scim_type_parse_round_trips() {
        for t in [
            ScimType::InvalidFilter,
            ScimType::Uniqueness,
            ScimType::Sensitive,
        ] {
            assert_eq!(ScimType::parse(t.as_str()), Some(t));
            assert_eq!(ScimType::parse(&t.as_str().to_uppercase()), Some(t));
        }
        assert_eq!(ScimType::parse("nope"), None);
    }
}
