//! Which top-level keys of its first argument a hook can see, found by reading the script's
//! syntax tree at load time.
//!
//! A write uses it to skip a hook run whose result is known: when a PATCH changes only
//! attributes that neither the attribute rules put into the update payload nor `to_app` can read
//! (Okta's `active`, handled by the deactivate endpoint), `to_app` on the patched resource would
//! return what it returned on the current one.
//!
//! The analysis is conservative: a key counts as unseen only when every use of the parameter's
//! name in the hook's body (closures written there included) is a plain property read
//! `name.key…` of another key. Any other use (indexing, a method call on it, passing it to a
//! function, copying it, iterating, capturing it in a closure, a `break` carrying a value) or a
//! call that shares the hook's scope (`f!()`) means the hook may see everything. Other functions
//! cannot see the hook's variables, only what it passes them. Scripts calling `timestamp`
//! anywhere (the one source of values that differ between two runs) may see everything too.

use super::script::{ScriptLimits, build_engine};
use rhai::{ASTNode, Expr, Stmt};
use std::collections::BTreeSet;

/// What a hook can see of its first argument.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ArgReads {
    /// Possibly anything (the safe default when nothing is known).
    #[default]
    Any,
    /// Only these top-level keys.
    Keys(BTreeSet<String>),
}

impl ArgReads {
    /// Whether the hook may see the value under `key`.
    pub fn may_read(&self, key: &str) -> bool {
        match self {
            ArgReads::Any => true,
            ArgReads::Keys(keys) => keys.contains(key),
        }
    }
}

/// What hook `name(first, …)` with `arity` parameters can read of `first`, for `source` as
/// the sidecar's engine compiles it. `Any` when the script does not compile or has no such
/// function.
pub fn first_arg_reads(source: &str, name: &str, arity: usize) -> ArgReads {
    let engine = build_engine(&ScriptLimits::default());
    let Ok(ast) = engine.compile(source) else {
        return ArgReads::Any;
    };
    let hook = ast
        .iter_fn_def()
        .find(|f| f.name == name && f.params.len() == arity && f.this_type.is_none());
    let Some((param, span)) = hook.and_then(|f| {
        let span = (at(f.body.start_position())?, at(f.body.end_position())?);
        Some((f.params.first()?.clone(), span))
    }) else {
        return ArgReads::Any;
    };
    let mut keys = BTreeSet::new();
    let mut any = false;
    ast.walk(&mut |path: &[ASTNode]| {
        let (Some(top), Some(node)) = (path.first(), path.last()) else {
            return true;
        };
        // A statement without a position counts as the hook's: checking more is safe.
        let in_hook = at(top.position()).is_none_or(|p| span.0 <= p && p <= span.1);
        let call = match node {
            ASTNode::Expr(Expr::FnCall(call, ..) | Expr::MethodCall(call, ..)) => Some(call),
            ASTNode::Stmt(Stmt::FnCall(call, ..)) => Some(call),
            _ => None,
        };
        if let Some(call) = call {
            any |= call.name == "timestamp" || (in_hook && call.capture_parent_scope);
        }
        match node {
            ASTNode::Expr(Expr::Variable(var, ..)) if in_hook && var.1 == param => {
                match property_read(path) {
                    Some(key) => {
                        keys.insert(key);
                    }
                    None => any = true,
                }
            }
            // The walk does not enter a `break` value: whatever it holds is unknown.
            ASTNode::Stmt(Stmt::BreakLoop(Some(_), ..)) => any = true,
            _ => {}
        }
        !any
    });
    if any {
        ArgReads::Any
    } else {
        ArgReads::Keys(keys)
    }
}

/// A position as comparable (line, column); `None` when unknown.
fn at(pos: rhai::Position) -> Option<(usize, usize)> {
    Some((pos.line()?, pos.position().unwrap_or(0)))
}

/// The key read when the last node of `path` (the parameter) is the object of `var.key…`.
fn property_read(path: &[ASTNode]) -> Option<String> {
    let [.., ASTNode::Expr(parent), ASTNode::Expr(var)] = path else {
        return None;
    };
    let Expr::Dot(dot, ..) = parent else {
        return None;
    };
    if !std::ptr::eq(&dot.lhs, *var) {
        return None;
    }
    // `var.a.b` is `var . (a . b)`, `var.a[0]` is `var . (a [0])`: the key is the leftmost.
    let mut first = &dot.rhs;
    while let Expr::Dot(inner, ..) | Expr::Index(inner, ..) = first {
        first = &inner.lhs;
    }
    match first {
        Expr::Property(prop, ..) => Some(prop.2.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reads(source: &str) -> ArgReads {
        first_arg_reads(source, "to_app", 3)
    }

    fn keys(list: &[&str]) -> ArgReads {
        ArgReads::Keys(list.iter().map(|k| k.to_string()).collect())
    }

    #[test]
    fn property_reads_are_listed() {
        let src = r#"
            fn text(v) { if type_of(v) == "string" { v } else { "" } }
            fn to_app(scim, app, ctx) {
                if text(scim.userName).ends_with("@x") { app.x = 1; }
                app.first = scim.name.givenName;
                app.mail = scim.emails[0].value;
                let t = `${scim.title}`;
                app.kind = scim?.userType;
                app
            }
        "#;
        let r = reads(src);
        assert_eq!(
            r,
            keys(&["emails", "name", "title", "userName", "userType"])
        );
        assert!(!r.may_read("active"));
        assert!(r.may_read("userName"));
    }

    #[test]
    fn a_hook_that_ignores_its_first_argument_reads_nothing() {
        assert_eq!(reads("fn to_app(scim, app, ctx) { app }"), keys(&[]));
    }

    #[test]
    fn every_other_use_may_read_anything() {
        for body in [
            "app.a = scim[\"active\"]; app",
            "app.k = scim.keys(); app",
            "app.n = scim.len(); app",
            "let s = scim; app.a = s.active; app",
            "app.a = helper(scim); app",
            "for k in scim.keys() { app[k] = 1; } app",
            "for v in scim { app.v = v; } app",
            "app.all = scim; app",
            "app.j = `${scim}`; app",
            "let f = || scim.active; app.a = f.call(); app",
            "app.t = timestamp(); app",
            "let x = loop { break scim.active; }; app.x = x; app",
            "switch scim { _ => app }",
            "scim.helper2(); app",
        ] {
            let src = format!(
                "fn helper(x) {{ x.active }}\nfn helper2() {{ this.active }}\nfn to_app(scim, app, ctx) {{ {body} }}"
            );
            assert_eq!(reads(&src), ArgReads::Any, "{body}");
        }
    }

    #[test]
    fn only_the_hook_body_counts() {
        // Other functions' variables of the same name are other values.
        let src = "fn other(scim) { scim }\nfn to_app(scim, app, ctx) { app.u = scim.userName; app }\nfn after(scim) { scim.active }";
        assert_eq!(reads(src), keys(&["userName"]));
        // A call sharing the hook's scope lets the callee read the hook's variables.
        let src = "fn peek() { scim.active }\nfn to_app(scim, app, ctx) { app.a = peek!(); app }";
        assert_eq!(reads(src), ArgReads::Any);
        // Wherever it is, `timestamp` makes two runs differ.
        let src = "fn now() { timestamp() }\nfn to_app(scim, app, ctx) { app }";
        assert_eq!(reads(src), ArgReads::Any);
        // A write counts as a read: the analysis does not tell them apart.
        let src = "fn to_app(scim, app, ctx) { scim.active = true; app }";
        assert_eq!(reads(src), keys(&["active"]));
    }

    #[test]
    fn unknown_hooks_and_bad_scripts_may_read_anything() {
        assert_eq!(reads("fn other(scim, app, ctx) { app }"), ArgReads::Any);
        assert_eq!(reads("fn to_app(scim, app) { app }"), ArgReads::Any);
        assert_eq!(reads("fn to_app(scim, app, ctx) { app"), ArgReads::Any);
    }

    #[test]
    fn the_shipped_example_script_reads_name_and_type_only() {
        let r = reads(crate::demo::MAPPING_SCRIPT);
        assert_eq!(r, keys(&["userName", "userType"]));
    }
}
