//! The sandboxed Rhai engine and hook calls.
//!
//! One engine is built by [`build_engine`] with every limit set (operations, call depth,
//! expression depth, string/array/map sizes), no file or network access, no `eval`, no blocking
//! `sleep`, and `print` / `debug` routed to tracing. Scripts are compiled once at load time; a hook
//! gets a fresh empty scope per call (top-level statements are not re-run). A script refuses a
//! request with `reject(status, scimType, detail)` or `reject(status, detail)`; a runtime failure
//! or a limit hit becomes a 500 SCIM error whose log line names the hook, the script and the
//! position, never the values the hook was working on. Each hook is given only the keys of its
//! arguments it uses, and a returned argument is written back over the caller's value
//! ([`super::hook_args`]).
//!
//! Helpers registered for scripts besides Rhai's standard library (all pure):
//! - `blank(x)`: true for `()`, a string of only whitespace, an empty array or an empty map;
//! - `coalesce(a, b)`: `a` unless it is blank, else `b`.

use super::hook_args::{self, ArgReads, ArgUse, HookPlan};
use crate::error::{ClientError, Error, InternalError, Result, ScimType};
use rhai::{AST, CallFnOptions, Dynamic, Engine, EvalAltResult, Position};
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The tracing target of everything scripts print and of hook failures.
const TARGET: &str = "scim_sidecar::script";

/// Limits applied to every script. The defaults are generous for mapping work and tight enough
/// that a runaway script stops in well under a millisecond budget of a request.
#[derive(Debug, Clone)]
pub struct ScriptLimits {
    pub max_operations: u64,
    pub max_call_depth: usize,
    pub max_expr_depth: usize,
    pub max_string_size: usize,
    pub max_array_size: usize,
    pub max_map_size: usize,
}

impl Default for ScriptLimits {
    fn default() -> Self {
        ScriptLimits {
            max_operations: 100_000,
            max_call_depth: 32,
            max_expr_depth: 64,
            max_string_size: 64 * 1024,
            max_array_size: 10_000,
            max_map_size: 10_000,
        }
    }
}

/// What `reject(...)` throws: a type scripts cannot build themselves, so a plain `throw` can never
/// pass for a rejection.
#[derive(Debug, Clone)]
struct Rejection {
    status: u16,
    scim_type: Option<ScimType>,
    detail: String,
}

fn reject_error(
    status: &Dynamic,
    scim_type: Option<&Dynamic>,
    detail: &Dynamic,
) -> Box<EvalAltResult> {
    let status = status
        .as_int()
        .ok()
        .or_else(|| {
            status
                .as_immutable_string_ref()
                .ok()
                .and_then(|s| s.trim().parse().ok())
        })
        .and_then(|n| u16::try_from(n).ok())
        .filter(|n| (400..=499).contains(n))
        .unwrap_or(400);
    let scim_type = scim_type.and_then(|t| {
        t.as_immutable_string_ref()
            .ok()
            .and_then(|s| ScimType::parse(s.trim()))
    });
    let detail = match detail.as_immutable_string_ref() {
        Ok(s) => s.to_string(),
        Err(_) => detail.to_string(),
    };
    let marker = Rejection {
        status,
        scim_type,
        detail,
    };
    Box::new(EvalAltResult::ErrorRuntime(
        Dynamic::from(marker),
        Position::NONE,
    ))
}

fn is_blank(x: &Dynamic) -> bool {
    if x.is_unit() {
        return true;
    }
    if let Ok(s) = x.as_immutable_string_ref() {
        return s.trim().is_empty();
    }
    if let Ok(a) = x.as_array_ref() {
        return a.is_empty();
    }
    if let Ok(m) = x.as_map_ref() {
        return m.is_empty();
    }
    false
}

fn refuse_sleep() -> Box<EvalAltResult> {
    // Reported like a missing function, so the log line says what happened.
    Box::new(EvalAltResult::ErrorFunctionNotFound(
        "sleep (not available in mapping scripts)".into(),
        Position::NONE,
    ))
}

/// Builds the one kind of engine every script runs on. A limit of 0 is raised to 1: in Rhai 0
/// means "unlimited", which must never happen by accident of configuration.
pub fn build_engine(limits: &ScriptLimits) -> Engine {
    let mut engine = Engine::new();
    engine
        .set_max_operations(limits.max_operations.max(1))
        .set_max_call_levels(limits.max_call_depth.max(1))
        .set_max_expr_depths(limits.max_expr_depth.max(1), limits.max_expr_depth.max(1))
        .set_max_string_size(limits.max_string_size.max(1))
        .set_max_array_size(limits.max_array_size.max(1))
        .set_max_map_size(limits.max_map_size.max(1))
        // Undeclared variables are compile errors: hooks see only their parameters, so a typo
        // should fail at start-up, not on the first request.
        .set_strict_variables(true)
        // No run-time string interning: hooks `let` record values (e-mails, names) that are
        // mostly distinct, so Rhai's 256-entry interner stayed full and scanned every entry to
        // evict one on each new string, behind an engine-wide lock. Strings in the compiled
        // script are shared without it.
        .set_max_strings_interned(0)
        .disable_symbol("eval");
    engine.on_print(|s| tracing::info!(target: TARGET, "{s}"));
    engine.on_debug(|s, source, pos| {
        tracing::debug!(
            target: TARGET,
            script = source.unwrap_or(""),
            line = pos.line().unwrap_or(0),
            column = pos.position().unwrap_or(0),
            "{s}"
        )
    });

    // The standard library's `sleep` blocks the thread (a tokio worker here): replace it.
    engine.register_fn("sleep", |_: rhai::INT| -> Result<(), Box<EvalAltResult>> {
        Err(refuse_sleep())
    });
    engine.register_fn(
        "sleep",
        |_: rhai::FLOAT| -> Result<(), Box<EvalAltResult>> { Err(refuse_sleep()) },
    );

    engine.register_fn(
        "reject",
        |status: Dynamic,
         scim_type: Dynamic,
         detail: Dynamic|
         -> Result<Dynamic, Box<EvalAltResult>> {
            Err(reject_error(&status, Some(&scim_type), &detail))
        },
    );
    engine.register_fn(
        "reject",
        |status: Dynamic, detail: Dynamic| -> Result<Dynamic, Box<EvalAltResult>> {
            Err(reject_error(&status, None, &detail))
        },
    );
    engine.register_fn("blank", |x: Dynamic| is_blank(&x));
    engine.register_fn(
        "coalesce",
        |a: Dynamic, b: Dynamic| {
            if is_blank(&a) { b } else { a }
        },
    );
    engine
}

/// A compiled script with the engine it runs on. `Send + Sync`: shared across requests via `Arc`.
pub struct Script {
    pub path: PathBuf,
    engine: Arc<Engine>,
    ast: AST,
    limits: ScriptLimits,
    /// What each possible hook reads of its arguments (see [`super::hook_args`]).
    plans: HashMap<String, HookPlan>,
}

impl std::fmt::Debug for Script {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Script").field("path", &self.path).finish()
    }
}

impl Script {
    /// Compiles `source`; the error reads `path:line:column: message`.
    pub fn compile(source: &str, path: &Path, limits: &ScriptLimits) -> Result<Script, String> {
        let engine = build_engine(limits);
        let mut ast = engine.compile(source).map_err(|e| {
            let pos = e.position();
            match (pos.line(), pos.position()) {
                (Some(line), Some(col)) => {
                    format!("{}:{line}:{col}: {}", path.display(), e.err_type())
                }
                (Some(line), None) => format!("{}:{line}: {}", path.display(), e.err_type()),
                _ => format!("{}: {}", path.display(), e.err_type()),
            }
        })?;
        ast.set_source(path.display().to_string());
        let plans = hook_args::plans(&ast);
        Ok(Script {
            path: path.to_path_buf(),
            engine: Arc::new(engine),
            ast,
            limits: limits.clone(),
            plans,
        })
    }

    /// Whether the script defines `name` with exactly `arity` parameters (methods on `this` are
    /// not hooks and do not count).
    pub fn has_fn(&self, name: &str, arity: usize) -> bool {
        self.ast
            .iter_functions()
            .any(|f| f.name == name && f.params.len() == arity && f.this_type.is_none())
    }

    /// Calls hook `name(a, b, ctx)` and returns its result as JSON. A `reject(...)` becomes
    /// `ClientError::Rejected`; any other failure `InternalError::Script { hook }` (logged here,
    /// with the script path and position, at error level).
    ///
    /// Only the parts of the arguments the hook can reach are converted (see
    /// [`super::hook_args`]); the result is the same as converting everything.
    pub fn call_hook(&self, name: &str, a: Value, b: Value, ctx: Value) -> Result<Value> {
        self.call_planned(name, [Arg::Owned(a), Arg::Owned(b), Arg::Owned(ctx)])
    }

    /// [`Script::call_hook`] with the first argument borrowed: converted straight from the
    /// caller's value instead of from a deep copy of it.
    pub fn call_hook_ref(&self, name: &str, a: &Value, b: Value, ctx: Value) -> Result<Value> {
        self.call_planned(name, [Arg::Borrowed(a), Arg::Owned(b), Arg::Owned(ctx)])
    }

    /// [`Script::call_hook`] converting every argument whole and the whole result back: what
    /// hooks did before the analysis, kept to check that both give the same answers.
    #[cfg(test)]
    fn call_hook_whole(&self, name: &str, a: Value, b: Value, ctx: Value) -> Result<Value> {
        let args = (json_to_dynamic(a), json_to_dynamic(b), json_to_dynamic(ctx));
        let out = self.eval_hook(name, args)?;
        let value =
            dynamic_to_json(out).map_err(|e| self.failure(name, "converting the result", &e))?;
        self.check_size(name, value)
    }

    /// What hook `name` is given of its arguments.
    #[cfg(test)]
    pub(crate) fn plan(&self, name: &str) -> Option<&HookPlan> {
        self.plans.get(name)
    }

    /// What the result of hook `name` (three parameters) can depend on of its first argument;
    /// `Any` for a function the script does not define.
    pub fn first_arg_reads(&self, name: &str) -> ArgReads {
        match self.plans.get(name) {
            Some(plan) => ArgReads::of_first(plan, hook_args::calls_timestamp(&self.ast)),
            None => ArgReads::Any,
        }
    }

    fn call_planned<'a>(&self, name: &str, args: [Arg<'a>; 3]) -> Result<Value> {
        // Every three-parameter function has a plan; a missing hook fails in `eval_hook`.
        let whole;
        let plan = match self.plans.get(name) {
            Some(plan) => plan,
            None => {
                whole = HookPlan::whole(3);
                &whole
            }
        };
        // The argument the result is written over, kept as the caller gave it.
        let mut base: Option<Arg<'a>> = None;
        let mut dynamics = [Dynamic::UNIT, Dynamic::UNIT, Dynamic::UNIT];
        for (i, arg) in args.into_iter().enumerate() {
            dynamics[i] = match (plan.args.get(i), arg.value()) {
                (Some(ArgUse::Keys(keys)), Value::Object(map)) => {
                    let narrowed = Dynamic::from_map(
                        keys.iter()
                            .filter_map(|k| {
                                map.get(k)
                                    .map(|v| (k.as_str().into(), json_ref_to_dynamic(v)))
                            })
                            .collect(),
                    );
                    if plan.returns_arg == Some(i) {
                        base = Some(arg);
                    }
                    narrowed
                }
                // Whole: moved when owned, so nothing is copied twice.
                _ => arg.into_dynamic(),
            };
        }
        let [da, db, dc] = dynamics;
        let out = self.eval_hook(name, (da, db, dc))?;
        let result = match base {
            // The hook returned its own (narrowed) argument: write what it holds over the
            // caller's value, so the keys it never looked at are not converted at all.
            Some(base) => {
                let mut base = base.into_value();
                let returned = out.flatten().try_cast::<rhai::Map>().ok_or_else(|| {
                    self.report(name, "the hook returned a changed type", Position::NONE)
                })?;
                if let Some(obj) = base.as_object_mut() {
                    for (k, v) in returned {
                        let v = dynamic_to_json(v)
                            .map_err(|e| self.failure(name, "converting the result", &e))?;
                        obj.insert(k.into(), v);
                    }
                }
                base
            }
            None => {
                dynamic_to_json(out).map_err(|e| self.failure(name, "converting the result", &e))?
            }
        };
        self.check_size(name, result)
    }

    /// Runs the hook; its result is an object map (anything else is an error).
    fn eval_hook(&self, name: &str, args: (Dynamic, Dynamic, Dynamic)) -> Result<Dynamic> {
        // A fresh scope per call and no top-level statements: hooks are plain functions of their
        // arguments, and nothing a script does at the top level costs time on every request.
        let options = CallFnOptions::new().eval_ast(false).rewind_scope(true);
        let out = self
            .engine
            .call_fn_with_options::<Dynamic>(
                options,
                &mut rhai::Scope::new(),
                &self.ast,
                name,
                args,
            )
            .map_err(|e| match rejection(&e) {
                Some(r) => Error::Client(ClientError::Rejected {
                    status: r.status,
                    scim_type: r.scim_type,
                    detail: r.detail,
                }),
                None => self.failure(name, "running", &e),
            })?;

        if !out.is_map() {
            let what = format!("the hook returned {}, not an object map", out.type_name());
            return Err(self.report(name, &what, Position::NONE));
        }
        Ok(out)
    }

    /// Rhai 1.27 does not check the map limit on `m[new_key] = v`: check what leaves the hook.
    fn check_size(&self, name: &str, value: Value) -> Result<Value> {
        if let Some(what) = self.oversized(&value) {
            return Err(self.report(name, &format!("the hook's result: {what}"), Position::NONE));
        }
        Ok(value)
    }

    /// Which size limit a JSON value exceeds, counted like Rhai does: every array element, map
    /// entry and string byte at any depth.
    fn oversized(&self, value: &Value) -> Option<&'static str> {
        fn walk(v: &Value, sizes: &mut (usize, usize, usize)) {
            match v {
                Value::Array(a) => {
                    sizes.0 += a.len();
                    a.iter().for_each(|x| walk(x, sizes));
                }
                Value::Object(m) => {
                    sizes.1 += m.len();
                    m.values().for_each(|x| walk(x, sizes));
                }
                Value::String(s) => sizes.2 += s.len(),
                _ => {}
            }
        }
        let mut sizes = (0, 0, 0);
        walk(value, &mut sizes);
        let l = &self.limits;
        if sizes.0 > l.max_array_size.max(1) {
            Some("Size of array too large")
        } else if sizes.1 > l.max_map_size.max(1) {
            Some("Size of object map too large")
        } else if sizes.2 > l.max_string_size.max(1) {
            Some("Length of string too large")
        } else {
            None
        }
    }

    fn failure(&self, hook: &str, stage: &str, err: &EvalAltResult) -> Error {
        let what = format!("{stage}: {}", describe(err.unwrap_inner()));
        self.report(hook, &what, innermost_position(err))
    }

    /// Logs one error line and builds the error. `what` is value-free by construction.
    fn report(&self, hook: &str, what: &str, pos: Position) -> Error {
        let (line, column) = (pos.line().unwrap_or(0), pos.position().unwrap_or(0));
        let at = if line == 0 {
            self.path.display().to_string()
        } else {
            format!("{}:{line}:{column}", self.path.display())
        };
        tracing::error!(
            target: TARGET,
            hook,
            script = %self.path.display(),
            line,
            column,
            "mapping script hook failed: {what}"
        );
        Error::Internal(InternalError::Script {
            hook: hook.to_string(),
            message: format!("{at}: {what}"),
        })
    }
}

/// A hook argument as the caller has it.
enum Arg<'a> {
    Owned(Value),
    Borrowed(&'a Value),
}

impl Arg<'_> {
    fn value(&self) -> &Value {
        match self {
            Arg::Owned(v) => v,
            Arg::Borrowed(v) => v,
        }
    }

    fn into_dynamic(self) -> Dynamic {
        match self {
            Arg::Owned(v) => json_to_dynamic(v),
            Arg::Borrowed(v) => json_ref_to_dynamic(v),
        }
    }

    fn into_value(self) -> Value {
        match self {
            Arg::Owned(v) => v,
            Arg::Borrowed(v) => v.clone(),
        }
    }
}

/// JSON → Rhai: the values `rhai::serde::to_dynamic` gives (`null` → `()`, integers beyond
/// `INT` → floats, objects → maps), built directly. Hook arguments are converted on every call,
/// and serde's generic path cost about a third of a small hook's time.
fn json_to_dynamic(value: Value) -> Dynamic {
    match value {
        Value::Null => Dynamic::UNIT,
        Value::Bool(b) => Dynamic::from_bool(b),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Dynamic::from_int(i),
            (None, Some(f)) => Dynamic::from_float(f),
            (None, None) => Dynamic::UNIT,
        },
        Value::String(s) => Dynamic::from(s),
        Value::Array(items) => {
            Dynamic::from_array(items.into_iter().map(json_to_dynamic).collect())
        }
        Value::Object(map) => Dynamic::from_map(
            map.into_iter()
                .map(|(k, v)| (k.into(), json_to_dynamic(v)))
                .collect(),
        ),
    }
}

/// [`json_to_dynamic`] from a borrowed value.
fn json_ref_to_dynamic(value: &Value) -> Dynamic {
    match value {
        Value::Null => Dynamic::UNIT,
        Value::Bool(b) => Dynamic::from_bool(*b),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Dynamic::from_int(i),
            (None, Some(f)) => Dynamic::from_float(f),
            (None, None) => Dynamic::UNIT,
        },
        Value::String(s) => Dynamic::from(rhai::ImmutableString::from(s.as_str())),
        Value::Array(items) => Dynamic::from_array(items.iter().map(json_ref_to_dynamic).collect()),
        Value::Object(map) => Dynamic::from_map(
            map.iter()
                .map(|(k, v)| (k.as_str().into(), json_ref_to_dynamic(v)))
                .collect(),
        ),
    }
}

/// Rhai → JSON, as `rhai::serde::from_dynamic` does it, built directly for the common types
/// (unit, booleans, numbers, strings, arrays, maps). Anything else (characters, blobs, custom
/// types) goes through `from_dynamic`, with its results and errors.
fn dynamic_to_json(value: Dynamic) -> std::result::Result<Value, Box<EvalAltResult>> {
    // A value shared by a closure: its current content.
    let value = value.flatten();
    if value.is_unit() {
        return Ok(Value::Null);
    }
    if let Ok(b) = value.as_bool() {
        return Ok(Value::Bool(b));
    }
    if let Ok(i) = value.as_int() {
        return Ok(Value::from(i));
    }
    if let Ok(f) = value.as_float() {
        return Ok(serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number));
    }
    if value.is_string() {
        return match value.into_immutable_string() {
            Ok(s) => Ok(Value::String(s.into_owned())),
            Err(t) => Err(format!("a string of type {t}").into()),
        };
    }
    if value.is_array() {
        let items = value.into_array()?;
        return items
            .into_iter()
            .map(dynamic_to_json)
            .collect::<std::result::Result<Vec<_>, _>>()
            .map(Value::Array);
    }
    if value.is_map() {
        let map = value
            .try_cast::<rhai::Map>()
            .ok_or_else(|| Box::<EvalAltResult>::from("a map that is not a map"))?;
        let mut out = serde_json::Map::with_capacity(map.len());
        for (k, v) in map {
            out.insert(k.into(), dynamic_to_json(v)?);
        }
        return Ok(Value::Object(out));
    }
    rhai::serde::from_dynamic(&value)
}

/// The position closest to the failure: limit errors carry none themselves, but the function
/// call they happened in does.
fn innermost_position(err: &EvalAltResult) -> Position {
    match err {
        EvalAltResult::ErrorInFunctionCall(_, _, inner, pos) => {
            let p = innermost_position(inner);
            if p.is_none() { *pos } else { p }
        }
        other => other.position(),
    }
}

fn rejection(err: &EvalAltResult) -> Option<Rejection> {
    match err.unwrap_inner() {
        EvalAltResult::ErrorRuntime(v, _) => v.read_lock::<Rejection>().map(|r| r.clone()),
        _ => None,
    }
}

/// A description of a script error that never includes data values: variants whose message can
/// carry values (thrown values, arithmetic operands, index values) are summarised by kind.
fn describe(err: &EvalAltResult) -> String {
    use EvalAltResult as E;
    match err {
        E::ErrorRuntime(v, _) => format!("the script threw a value of type {}", v.type_name()),
        E::ErrorArithmetic(msg, _) => msg
            .split(':')
            .next()
            .filter(|s| !s.trim().is_empty())
            .unwrap_or("arithmetic error")
            .trim()
            .to_string(),
        E::ErrorIndexNotFound(v, _) => format!("invalid index of type {}", v.type_name()),
        E::ErrorVariableExists(..)
        | E::ErrorForbiddenVariable(..)
        | E::ErrorVariableNotFound(..)
        | E::ErrorPropertyNotFound(..)
        | E::ErrorFunctionNotFound(..)
        | E::ErrorUnboundThis(..)
        | E::ErrorMismatchDataType(..)
        | E::ErrorMismatchOutputType(..)
        | E::ErrorIndexingType(..)
        | E::ErrorArrayBounds(..)
        | E::ErrorStringBounds(..)
        | E::ErrorBitFieldBounds(..)
        | E::ErrorFor(..)
        | E::ErrorNonPureMethodCallOnConstant(..)
        | E::ErrorAssignmentToConstant(..)
        | E::ErrorTooManyOperations(..)
        | E::ErrorTooManyVariables(..)
        | E::ErrorStackOverflow(..)
        | E::ErrorDataTooLarge(..) => {
            // These messages name types, variables, functions or sizes only; the position is
            // reported separately.
            let text = err.to_string();
            let suffix = format!(" ({})", err.position());
            match text.strip_suffix(&suffix) {
                Some(s) if !err.position().is_none() => s.to_string(),
                _ => text,
            }
        }
        E::ErrorDotExpr(..) => "invalid property access".to_string(),
        E::ErrorTerminated(..) => "the script was terminated".to_string(),
        E::ErrorSystem(..) => "system error".to_string(),
        _ => "script error".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn compile(src: &str) -> Script {
        match Script::compile(src, Path::new("hooks/test.rhai"), &ScriptLimits::default()) {
            Ok(s) => s,
            Err(e) => panic!("compile failed: {e}"),
        }
    }

    fn call(s: &Script, name: &str) -> Result<Value> {
        s.call_hook(name, json!({}), json!({}), json!({}))
    }

    fn script_error(r: Result<Value>) -> (String, String) {
        match r {
            Err(Error::Internal(InternalError::Script { hook, message })) => (hook, message),
            other => panic!("expected a script error, got {other:?}"),
        }
    }

    #[test]
    fn direct_conversions_agree_with_rhai_serde() {
        let samples = [
            json!(null),
            json!(true),
            json!(0),
            json!(-7),
            json!(i64::MAX),
            json!(u64::MAX),
            json!(1.5),
            json!(-0.25),
            json!("text ✓"),
            json!([1, "a", null, [true, 2.5]]),
            json!({"b": 1, "a": {"z": [1.25, {"k": null}]}, "": ""}),
            json!({"id": 1042, "status": "active", "big": 18446744073709551615u64}),
        ];
        for v in samples {
            let fast = json_to_dynamic(v.clone());
            let slow = rhai::serde::to_dynamic(v.clone()).unwrap();
            assert_eq!(fast.type_name(), slow.type_name(), "{v}");
            assert_eq!(fast.to_string(), slow.to_string(), "{v}");
            let back: Value = rhai::serde::from_dynamic(&slow).unwrap();
            assert_eq!(dynamic_to_json(fast).unwrap(), back, "{v}");
        }
        // Values only a script makes: characters, shared (captured) values, non-finite floats,
        // blobs, function pointers. Same result as rhai's serde path, or an error for both.
        let engine = Engine::new();
        for src in [
            "'x'",
            "[1, 'y', #{a: ()}]",
            "let x = #{a: 1}; let f = || x.a; x",
            "let s = [\"t\"]; let f = || s.len(); s",
            "1.0 / 0.0",
            "blob(3, 7)",
            "Fn(\"abs\")",
            "timestamp()",
        ] {
            let d: Dynamic = engine.eval(src).unwrap();
            let slow = rhai::serde::from_dynamic::<Value>(&d);
            match (dynamic_to_json(d), slow) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "{src}"),
                (Err(_), Err(_)) => {}
                (a, b) => panic!("{src}: direct {a:?}, serde {b:?}"),
            }
        }
    }

    #[test]
    fn script_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Script>();
        check::<Arc<Script>>();
    }

    #[test]
    fn realistic_hook_round_trips_json() {
        let s = compile(
            r#"
            // Give new users a default role and build a display name.
            fn to_app(user, record, ctx) {
                if record.role == () { record.role = "member"; }
                let first = user.name?.givenName ?? "";
                let last = user.name?.familyName ?? "";
                let display = first + " " + last;
                display.trim();
                record.display_name = display;
                record.tenant = ctx.tenant;
                record.email_count = user.emails.len();
                record
            }
            "#,
        );
        assert!(s.has_fn("to_app", 3));
        let user = json!({
            "userName": "ada@example.com",
            "name": {"givenName": "Ada", "familyName": "Lovelace"},
            "emails": [{"value": "ada@example.com", "primary": true}],
        });
        let record = json!({
            "email": "ada@example.com",
            "age": 36,
            "score": 1.5,
            "active": true,
            "manager": null,
            "tags": ["a", 2, false, null, {"x": [1]}],
            "nested": {"deep": {"deeper": [1, 2, 3]}},
        });
        let out = s
            .call_hook("to_app", user, record, json!({"tenant": "acme"}))
            .unwrap();
        assert_eq!(
            out,
            json!({
                "email": "ada@example.com",
                "age": 36,
                "score": 1.5,
                "active": true,
                "manager": null,
                "tags": ["a", 2, false, null, {"x": [1]}],
                "nested": {"deep": {"deeper": [1, 2, 3]}},
                "role": "member",
                "display_name": "Ada Lovelace",
                "tenant": "acme",
                "email_count": 1,
            })
        );

        // An existing role is kept and missing names give an empty display name.
        let out = s
            .call_hook(
                "to_app",
                json!({"emails": []}),
                json!({"role": "admin"}),
                json!({"tenant": null}),
            )
            .unwrap();
        assert_eq!(out["role"], "admin");
        assert_eq!(out["display_name"], "");
        assert_eq!(out["tenant"], Value::Null);
    }

    #[test]
    fn a_borrowed_first_argument_converts_like_an_owned_one() {
        let s = compile(
            r#"
            fn echo(a, b, ctx) { #{ a: a, b: b, ctx: ctx } }
            "#,
        );
        let a = json!({
            "s": "text", "i": -7, "big": 18446744073709551615u64, "f": 0.25, "t": true,
            "n": null, "list": ["x", 1, {"k": [null]}], "obj": {"inner": "v"},
        });
        let owned = s
            .call_hook("echo", a.clone(), json!({}), json!({"op": 1}))
            .unwrap();
        let borrowed = s
            .call_hook_ref("echo", &a, json!({}), json!({"op": 1}))
            .unwrap();
        assert_eq!(borrowed, owned);
        assert_eq!(borrowed["a"]["list"][2]["k"][0], Value::Null);
        assert_eq!(borrowed["a"]["big"].as_f64(), Some(18446744073709551615.0));
        assert_eq!(borrowed["ctx"]["op"], 1);
    }

    #[test]
    fn hooks_get_a_fresh_scope_and_top_level_code_does_not_run() {
        let s = compile(
            r#"
            // Would exhaust the operation limit if it ran on every call.
            loop { }
            fn hook(a, b, c) { let x = 1; #{ x: x } }
            "#,
        );
        for _ in 0..3 {
            assert_eq!(call(&s, "hook").unwrap(), json!({"x": 1}));
        }
    }

    #[test]
    fn operation_limit_stops_an_infinite_loop() {
        let s = compile("fn hook(a, b, c) { let i = 0; loop { i += 1; } }");
        let (hook, message) = script_error(call(&s, "hook"));
        assert_eq!(hook, "hook");
        assert!(message.contains("Too many operations"), "{message}");
        assert!(message.starts_with("hooks/test.rhai"), "{message}");
    }

    #[test]
    fn call_depth_limit_stops_deep_recursion() {
        let s = compile("fn down(n) { down(n + 1) } fn hook(a, b, c) { down(0) }");
        let (_, message) = script_error(call(&s, "hook"));
        assert!(message.contains("Stack overflow"), "{message}");
    }

    #[test]
    fn size_limits_stop_huge_strings_arrays_and_maps() {
        let limits = ScriptLimits {
            max_map_size: 100,
            ..ScriptLimits::default()
        };
        let s = Script::compile(
            r#"
            fn big_string(a, b, c) { let s = "x"; loop { s += s; } }
            fn big_array(a, b, c) { let v = [1]; loop { v += v; } }
            fn big_map(a, b, c) { let m = #{}; let i = 0; loop { m.set(`k${i}`, i); i += 1; } }
            fn returned_map(a, b, c) { let m = #{}; let i = 0; while i < 101 { m[`k${i}`] = i; i += 1; } m }
            fn returned_ok(a, b, c) { let m = #{}; let i = 0; while i < 100 { m[`k${i}`] = i; i += 1; } m }
            "#,
            Path::new("big.rhai"),
            &limits,
        )
        .unwrap();
        for (hook, kind) in [
            ("big_string", "Length of string"),
            ("big_array", "Size of array"),
            ("big_map", "Size of object map"),
            ("returned_map", "Size of object map"),
        ] {
            let (_, message) = script_error(call(&s, hook));
            assert!(message.contains("too large"), "{hook}: {message}");
            assert!(message.contains(kind), "{hook}: {message}");
        }
        assert_eq!(
            call(&s, "returned_ok")
                .unwrap()
                .as_object()
                .map(|m| m.len()),
            Some(100)
        );
        // Within limits the same kind of work succeeds.
        let ok = compile(r#"fn hook(a, b, c) { let s = "x"; s += s; #{ s: s } }"#);
        assert_eq!(call(&ok, "hook").unwrap(), json!({"s": "xx"}));
    }

    #[test]
    fn expression_depth_limit_is_a_compile_error() {
        let deep = format!(
            "fn hook(a, b, c) {{ #{{ x: {}1{} }} }}",
            "(".repeat(200),
            ")".repeat(200)
        );
        let err =
            Script::compile(&deep, Path::new("deep.rhai"), &ScriptLimits::default()).unwrap_err();
        assert!(err.starts_with("deep.rhai:1:"), "{err}");
        let shallow = "fn hook(a, b, c) { #{ x: ((1)) } }";
        assert!(Script::compile(shallow, Path::new("ok.rhai"), &ScriptLimits::default()).is_ok());
    }

    #[test]
    fn eval_is_refused() {
        let src = r#"fn hook(a, b, c) { eval("40 + 2") }"#;
        match Script::compile(src, Path::new("e.rhai"), &ScriptLimits::default()) {
            Err(e) => assert!(e.starts_with("e.rhai:1:20: "), "{e}"),
            // Should a Rhai version accept the text, the call must still fail.
            Ok(s) => {
                script_error(call(&s, "hook"));
            }
        }
    }

    #[test]
    fn sleep_is_refused_without_blocking() {
        let s = compile("fn hook(a, b, c) { sleep(1000); #{} }");
        let (_, message) = script_error(call(&s, "hook"));
        assert!(message.contains("sleep (not available"), "{message}");
        let s = compile("fn hook(a, b, c) { sleep(1000.0); #{} }");
        script_error(call(&s, "hook"));
    }

    #[test]
    fn limits_of_zero_do_not_mean_unlimited() {
        let limits = ScriptLimits {
            max_operations: 0,
            ..ScriptLimits::default()
        };
        let s =
            Script::compile("fn hook(a, b, c) { loop {} }", Path::new("z.rhai"), &limits).unwrap();
        let (_, message) = script_error(call(&s, "hook"));
        assert!(message.contains("Too many operations"), "{message}");
    }

    #[test]
    fn reject_with_scim_type() {
        let s = compile(
            r#"fn hook(a, b, c) { reject(403, "sensitive", "contractors cannot be provisioned") }"#,
        );
        match call(&s, "hook") {
            Err(Error::Client(ClientError::Rejected {
                status,
                scim_type,
                detail,
            })) => {
                assert_eq!(status, 403);
                assert_eq!(scim_type, Some(ScimType::Sensitive));
                assert_eq!(detail, "contractors cannot be provisioned");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn reject_without_scim_type_and_with_bad_values() {
        let s = compile(
            r#"
            fn plain(a, b, c) { reject(409, "already there") }
            fn not_client(a, b, c) { reject(503, "uniqueness", "x") }
            fn unknown_type(a, b, c) { reject(422, "noSuchType", "y") }
            fn empty_type(a, b, c) { reject(400, "", "z") }
            fn string_status(a, b, c) { reject("404", "gone") }
            fn nested(a, b, c) { helper() }
            fn helper() { reject(400, "INVALIDVALUE", "deep") }
            "#,
        );
        let rejected = |name: &str| match call(&s, name) {
            Err(Error::Client(ClientError::Rejected {
                status,
                scim_type,
                detail,
            })) => (status, scim_type, detail),
            other => panic!("{name}: {other:?}"),
        };
        assert_eq!(rejected("plain"), (409, None, "already there".into()));
        assert_eq!(
            rejected("not_client"),
            (400, Some(ScimType::Uniqueness), "x".into())
        );
        assert_eq!(rejected("unknown_type"), (422, None, "y".into()));
        assert_eq!(rejected("empty_type"), (400, None, "z".into()));
        assert_eq!(rejected("string_status"), (404, None, "gone".into()));
        assert_eq!(
            rejected("nested"),
            (400, Some(ScimType::InvalidValue), "deep".into())
        );
    }

    #[test]
    fn a_thrown_value_is_not_a_rejection_and_is_not_logged() {
        let s = compile(r#"fn hook(a, b, c) { throw "secret-token-123" }"#);
        let (_, message) = script_error(call(&s, "hook"));
        assert!(!message.contains("secret-token-123"), "{message}");
        assert!(
            message.contains("threw a value of type string"),
            "{message}"
        );
    }

    #[test]
    fn runtime_errors_become_script_errors_without_values() {
        let s = compile(
            r#"
            fn div(a, b, c) { let n = a.n; #{ x: n / 0 } }
            fn types(a, b, c) { #{ x: a.name - 1 } }
            fn missing_fn(a, b, c) { no_such_function(a) }
            fn index(a, b, c) { let v = [1]; #{ x: v[5] } }
            "#,
        );
        let (_, m) = script_error(s.call_hook("div", json!({"n": 987654}), json!({}), json!({})));
        assert!(m.contains("Division by zero"), "{m}");
        assert!(!m.contains("987654"), "{m}");
        assert!(m.starts_with("hooks/test.rhai:2:"), "{m}");
        let (_, m) = script_error(s.call_hook(
            "types",
            json!({"name": "confidential"}),
            json!({}),
            json!({}),
        ));
        assert!(m.contains("Function not found"), "{m}");
        assert!(!m.contains("confidential"), "{m}");
        let (_, m) = script_error(call(&s, "missing_fn"));
        assert!(m.contains("no_such_function"), "{m}");
        let (_, m) = script_error(call(&s, "index"));
        assert!(m.contains("out of bounds"), "{m}");
    }

    #[test]
    fn results_must_be_object_maps() {
        let s = compile(
            r#"
            fn unit(a, b, c) { }
            fn number(a, b, c) { 42 }
            fn array(a, b, c) { [1, 2] }
            fn closure(a, b, c) { #{ f: || 1 } }
            "#,
        );
        for hook in ["unit", "number", "array"] {
            let (h, m) = script_error(call(&s, hook));
            assert_eq!(h, hook);
            assert!(m.contains("not an object map"), "{m}");
        }
        // A map holding a value JSON cannot express is a script error too.
        script_error(call(&s, "closure"));
    }

    #[test]
    fn calling_a_missing_hook_or_wrong_arity_is_a_script_error() {
        let s = compile("fn hook(a, b) { #{} }");
        let (_, m) = script_error(call(&s, "hook"));
        assert!(m.contains("Function not found"), "{m}");
        script_error(call(&s, "absent"));
    }

    #[test]
    fn compile_errors_name_file_line_and_column() {
        let err = Script::compile(
            "fn ok(a, b, c) { #{} }\nfn broken(a, b, c) {\n    let x = ;\n}\n",
            Path::new("mappings/app/hooks.rhai"),
            &ScriptLimits::default(),
        )
        .unwrap_err();
        assert!(err.starts_with("mappings/app/hooks.rhai:3:13: "), "{err}");
        // Undeclared variables are caught at compile time.
        let err = Script::compile(
            "fn hook(a, b, c) {\n  #{ x: undeclared }\n}",
            Path::new("h.rhai"),
            &ScriptLimits::default(),
        )
        .unwrap_err();
        assert!(err.starts_with("h.rhai:2:"), "{err}");
        assert!(err.contains("undeclared"), "{err}");
    }

    #[test]
    fn has_fn_checks_name_and_arity() {
        let s = compile(
            "fn to_app(user, record, ctx) { record }\nfn from_app(record) { record }\nprivate fn inner(a, b, c) { a }",
        );
        assert!(s.has_fn("to_app", 3));
        assert!(!s.has_fn("to_app", 2));
        assert!(!s.has_fn("to_app", 4));
        assert!(s.has_fn("from_app", 1));
        assert!(!s.has_fn("from_app", 3));
        assert!(!s.has_fn("missing", 3));
        assert!(s.has_fn("inner", 3));
    }

    #[test]
    fn helpers_blank_and_coalesce() {
        let s = compile(
            r#"
            fn hook(a, b, c) {
                #{
                    unit: blank(()), spaces: blank("  "), text: blank("x"),
                    empty_array: blank([]), array: blank([1]), empty_map: blank(#{}),
                    zero: blank(0),
                    pick: coalesce(a.nickname, a.given), keep: coalesce(a.given, "z"),
                }
            }
            "#,
        );
        let out = s
            .call_hook(
                "hook",
                json!({"nickname": " ", "given": "Ada"}),
                json!({}),
                json!({}),
            )
            .unwrap();
        assert_eq!(
            out,
            json!({
                "unit": true, "spaces": true, "text": false,
                "empty_array": true, "array": false, "empty_map": true, "zero": false,
                "pick": "Ada", "keep": "Ada",
            })
        );
    }

    #[test]
    fn print_and_debug_do_not_fail() {
        let s = compile(r#"fn hook(a, b, c) { print("hello"); debug(a); #{ ok: true } }"#);
        assert_eq!(call(&s, "hook").unwrap(), json!({"ok": true}));
    }

    /// Narrowed arguments and results written over the caller's value answer exactly what
    /// converting everything answers, for every kind of use the analysis tells apart.
    #[test]
    fn narrowed_hooks_answer_like_whole_ones() {
        let scripts = [
            "fn hook(a, b, c) { b }",
            "fn hook(a, b, c) { b.x = a.email; b }",
            "fn hook(a, b, c) { b.name.givenName = \"Z\"; b.emails[0].value = a.email; b }",
            "fn hook(a, b, c) { b.gone = (); b.missing_read = a.nothing; b }",
            "fn hook(a, b, c) { if c.stored { return b; } b.emails = [#{ value: a.email }]; b }",
            "fn hook(a, b, c) { b[\"quoted key\"] = a[\"n\"]; b }",
            "fn hook(a, b, c) { b.email.trim(); b.email.make_upper(); b }",
            "fn hook(a, b, c) { b.y = 1; b; }",
            "fn hook(a, b, c) { let m = b; m.x = 1; m }",
            "fn hook(a, b, c) { b.remove(\"email\"); b }",
            "fn hook(a, b, c) { #{ only: a.email, stored: c.stored } }",
            "fn hook(a, b, c) { if a.n > 1 { return #{ n: a.n }; } b }",
            "fn hook(a, b, c) { a }",
            "fn hook(a, b, c) { a.n = a.n + 1; a }",
            "fn hook(a, b, c) { b.big = 18446744073709551615; b }",
            "fn hook(a, b, c) { b.x = 1; 42 }",
            "fn hook(a, b, c) { b.count = b.len(); b }",
            "fn hook(a, b, c) { reject(400, \"invalidValue\", \"no \" + a.email) }",
            "fn hook(a, b, c) { g!(); b } fn g() { let b = #{ x: 1 }; }",
        ];
        let a = json!({"email": "ada@example.com", "n": 2, "nested": {"x": [1, 2, {"y": null}]}});
        let b = json!({
            "userName": "ada", "email": "  Ada@Example.com ", "emails": [{"value": "old", "type": "work"}],
            "name": {"givenName": "Ada", "familyName": "Lovelace"}, "active": true,
            "huge": 18446744073709551615u64, "gone": "x", "quoted key": 1,
        });
        let c = json!({"stored": false, "operation": "get"});
        for src in scripts {
            let s = compile(src);
            for (a, b, c) in [
                (a.clone(), b.clone(), c.clone()),
                (json!({}), json!({}), json!({"stored": true})),
                (a.clone(), Value::Null, c.clone()),
                (json!([1, 2]), json!("text"), json!(7)),
            ] {
                let narrowed = s.call_hook("hook", a.clone(), b.clone(), c.clone());
                let by_ref = s.call_hook_ref("hook", &a, b.clone(), c.clone());
                let whole = s.call_hook_whole("hook", a.clone(), b.clone(), c.clone());
                match (&narrowed, &whole) {
                    (Ok(n), Ok(w)) => {
                        // The whole path turns integers beyond 64 bits into floats on the way
                        // through; a field the hook never touched now keeps its exact value.
                        let mut w = w.clone();
                        if let (Some(orig), Some(obj)) = (b.get("huge"), w.as_object_mut())
                            && obj.contains_key("huge")
                            && n.get("huge") == Some(orig)
                        {
                            obj.insert("huge".into(), orig.clone());
                        }
                        assert_eq!(n, &w, "{src} with {a} {b} {c}");
                    }
                    (Err(n), Err(w)) => assert_eq!(n.to_string(), w.to_string(), "{src}"),
                    _ => panic!("{src} with {a} {b} {c}: {narrowed:?} vs {whole:?}"),
                }
                assert_eq!(
                    format!("{:?}", by_ref.map_err(|e| e.to_string())),
                    format!("{:?}", narrowed.map_err(|e| e.to_string())),
                    "{src}"
                );
            }
        }
    }
}
