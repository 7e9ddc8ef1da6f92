//! Which parts of its arguments a hook can see, worked out once from the script's syntax tree.
//!
//! Converting a whole record and a whole SCIM resource into Rhai maps, and the result back, was
//! most of a small hook's cost: `from_app` in the example mapping reads one field of the record
//! and sets one of the resource. When a parameter is only ever used as `param.key`,
//! `param["key"]` or `param.key.more…` (read, written, or a method called on the field), the hook
//! gets a map with just those keys. When, in addition, every way out of the function returns that
//! same parameter untouched as a whole (`…; param` at the end, `return param;`), the result is the
//! caller's JSON value with the returned keys written over it: what the hook changed, and nothing
//! it did not look at converted twice.
//!
//! Anything else — the parameter passed to a function, assigned, returned inside an expression,
//! iterated, indexed by a computed key, a method called on it, a variable of the same name
//! declared — makes that parameter whole, exactly as before; `break value`, `try`/`catch`,
//! closures and `f!()` calls (which run `f` in the hook's scope) make every parameter whole. The analysis only ever narrows what is converted; the script runs the same code.

use rhai::{AST, ASTFlags, ASTNode, Expr, ScriptFuncDef, Stmt};
use std::collections::{BTreeSet, HashMap};

/// How much of one argument a hook is given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArgUse {
    /// The whole value, converted as is.
    Whole,
    /// Only these top-level keys of an object (sorted, unique); other values are given whole.
    Keys(Vec<String>),
}

/// What a hook needs of its arguments, and whether its result is one of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookPlan {
    pub args: Vec<ArgUse>,
    /// `Some(i)`: every return path returns parameter `i` itself, which is passed as `Keys`; the
    /// result is argument `i` with the returned map's entries written over it.
    pub returns_arg: Option<usize>,
}

/// What a hook's result can depend on of its first argument: a write uses it to skip running
/// `to_app` a second time when a PATCH changed only keys the hook cannot see (Okta's `active`).
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

    /// From a hook's plan: the keys it is given of its first argument, unless it gets that
    /// argument whole or returns it (then its result carries every key). A script that calls
    /// `timestamp` anywhere (`impure`) gives different results on two runs: anything.
    pub fn of_first(plan: &HookPlan, impure: bool) -> ArgReads {
        match plan.args.first() {
            Some(ArgUse::Keys(keys)) if !impure && plan.returns_arg != Some(0) => {
                ArgReads::Keys(keys.iter().cloned().collect())
            }
            _ => ArgReads::Any,
        }
    }
}

/// Whether any function of the script calls `timestamp`, the one source of values that differ
/// between two runs of the same hook on the same arguments.
pub fn calls_timestamp(ast: &AST) -> bool {
    !ast.walk(&mut |nodes: &[ASTNode]| {
        !matches!(
            nodes.last(),
            Some(ASTNode::Expr(Expr::FnCall(call, ..) | Expr::MethodCall(call, ..)))
                | Some(ASTNode::Stmt(Stmt::FnCall(call, ..))) if call.name == "timestamp"
        )
    })
}

impl HookPlan {
    /// The plan that converts everything: what a hook got before this analysis.
    pub fn whole(arity: usize) -> HookPlan {
        HookPlan {
            args: vec![ArgUse::Whole; arity],
            returns_arg: None,
        }
    }
}

/// Per parameter, while walking: keys seen, and whether anything made it whole.
#[derive(Default)]
struct Seen {
    keys: Vec<String>,
    whole: bool,
    /// Returned bare from a return position.
    returned: bool,
}

/// Works out the plan of every function of `ast` that could be a hook (three parameters, not a
/// method), by name.
pub fn plans(ast: &AST) -> HashMap<String, HookPlan> {
    ast.iter_fn_def()
        .filter(|f| f.this_type.is_none() && f.params.len() == 3)
        .map(|f| (f.name.to_string(), plan(f)))
        .collect()
}

/// Works out the plan for one script function.
fn plan(def: &rhai::Shared<ScriptFuncDef>) -> HookPlan {
    let params: Vec<&str> = def.params.iter().map(|p| p.as_str()).collect();
    let arity = params.len();
    // The function's body is reached through an AST of that one function (the body's own type
    // is not exported by Rhai).
    let mut module = rhai::Module::new();
    module.set_script_fn(def.clone());
    let one = AST::new_from_module(module);

    // First pass: the last top-level statement, whose value is the function's result.
    let mut tail: Option<*const Stmt> = None;
    let mut tail_kind = TailKind::Other;
    one.walk(&mut |nodes: &[ASTNode]| {
        if let [ASTNode::Stmt(s)] = nodes {
            tail = Some(*s as *const Stmt);
            tail_kind = match s {
                Stmt::Expr(e) if param_index(e, &params).is_some() => TailKind::Param,
                Stmt::Return(..) => TailKind::Return,
                _ => TailKind::Other,
            };
        }
        true
    });
    let mut seen: Vec<Seen> = params.iter().map(|_| Seen::default()).collect();
    let mut opaque = false;
    // Whether some return path yields something other than a bare parameter.
    let mut other_return = tail_kind == TailKind::Other;

    one.walk(&mut |nodes: &[ASTNode]| {
        let Some(node) = nodes.last() else {
            return true;
        };
        match node {
            // Parts `walk` does not visit, or names it does not show as variables: give up on
            // the whole function rather than guess.
            ASTNode::Stmt(Stmt::BreakLoop(Some(_), ..))
            | ASTNode::Stmt(Stmt::TryCatch(..))
            | ASTNode::Stmt(Stmt::Share(..))
            | ASTNode::Expr(Expr::Custom(..)) => {
                opaque = true;
                return false;
            }
            // `f!()` runs `f` in the hook's own scope: it may use any parameter by name.
            ASTNode::Stmt(Stmt::FnCall(call, ..))
            | ASTNode::Expr(Expr::FnCall(call, ..) | Expr::MethodCall(call, ..))
                if call.capture_parent_scope =>
            {
                opaque = true;
                return false;
            }
            ASTNode::Stmt(Stmt::Var(x, ..)) => shadow(&x.0.name, &params, &mut seen),
            ASTNode::Stmt(Stmt::For(x, ..)) => {
                shadow(&x.0.name, &params, &mut seen);
                if let Some(counter) = &x.1 {
                    shadow(&counter.name, &params, &mut seen);
                }
            }
            // A `return` of anything but a bare parameter (`return;` included).
            ASTNode::Stmt(Stmt::Return(e, flags, _))
                if !flags.contains(ASTFlags::BREAK)
                    && e.as_ref().is_none_or(|e| param_index(e, &params).is_none()) =>
            {
                other_return = true;
            }
            ASTNode::Expr(e @ Expr::Variable(..)) => {
                if let Some(i) = param_index(e, &params) {
                    classify(i, e, nodes, tail, &mut seen);
                }
            }
            _ => {}
        }
        true
    });
    if opaque {
        return HookPlan::whole(arity);
    }

    let returned: Vec<usize> = (0..arity).filter(|&i| seen[i].returned).collect();
    // One parameter, and only it, leaves the function: its keys can be written over the caller's.
    let returns_arg = match returned.as_slice() {
        [i] if !other_return && !seen[*i].whole => Some(*i),
        _ => None,
    };
    let args = seen
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            // Returned without being the overlay target: the caller needs it whole.
            if s.whole || (s.returned && returns_arg != Some(i)) {
                ArgUse::Whole
            } else {
                let mut keys = s.keys;
                keys.sort();
                keys.dedup();
                ArgUse::Keys(keys)
            }
        })
        .collect();
    HookPlan { args, returns_arg }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum TailKind {
    /// A bare parameter.
    Param,
    /// A `return` statement (looked at like every other).
    Return,
    /// Anything else: the function's value is not a bare parameter.
    Other,
}

/// The index of the parameter a bare variable expression names.
fn param_index(e: &Expr, params: &[&str]) -> Option<usize> {
    match e {
        Expr::Variable(x, ..) => params.iter().position(|p| *p == x.1.as_str()),
        _ => None,
    }
}

/// A variable declared with a parameter's name: later uses may mean either, so it is whole.
fn shadow(name: &str, params: &[&str], seen: &mut [Seen]) {
    if let Some(i) = params.iter().position(|p| *p == name) {
        seen[i].whole = true;
    }
}

/// Records one use of parameter `i` (the last node of `nodes`).
fn classify(i: usize, var: &Expr, nodes: &[ASTNode], tail: Option<*const Stmt>, seen: &mut [Seen]) {
    let parent = nodes.len().checked_sub(2).map(|p| nodes[p]);
    match parent {
        Some(ASTNode::Expr(Expr::Dot(bin, ..))) if std::ptr::eq(&bin.lhs, var) => {
            match first_property(&bin.rhs) {
                Some(key) => seen[i].keys.push(key),
                None => seen[i].whole = true,
            }
        }
        Some(ASTNode::Expr(Expr::Index(bin, ..))) if std::ptr::eq(&bin.lhs, var) => {
            match first_literal_key(&bin.rhs) {
                Some(key) => seen[i].keys.push(key),
                None => seen[i].whole = true,
            }
        }
        Some(ASTNode::Stmt(Stmt::Return(Some(e), flags, _)))
            if !flags.contains(ASTFlags::BREAK) && std::ptr::eq(&**e, var) =>
        {
            seen[i].returned = true;
        }
        // The function's last statement, at the top level of its body.
        Some(ASTNode::Stmt(s @ Stmt::Expr(e)))
            if nodes.len() == 2 && tail == Some(s as *const Stmt) && std::ptr::eq(&**e, var) =>
        {
            seen[i].returned = true;
        }
        _ => seen[i].whole = true,
    }
}

/// `x.key…`: the first property name of the right-hand side of a dot.
fn first_property(rhs: &Expr) -> Option<String> {
    match rhs {
        Expr::Property(x, ..) => Some(x.2.to_string()),
        Expr::Dot(bin, ..) | Expr::Index(bin, ..) => match &bin.lhs {
            Expr::Property(x, ..) => Some(x.2.to_string()),
            _ => None,
        },
        _ => None,
    }
}

/// `x["key"]…`: a string literal index, possibly followed by more of the chain.
fn first_literal_key(rhs: &Expr) -> Option<String> {
    match rhs {
        Expr::StringConstant(s, ..) => Some(s.to_string()),
        Expr::Dot(bin, ..) | Expr::Index(bin, ..) => match &bin.lhs {
            Expr::StringConstant(s, ..) => Some(s.to_string()),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::script::{Script, ScriptLimits};
    use std::path::Path;

    fn plan_of(src: &str) -> HookPlan {
        let s = Script::compile(src, Path::new("t.rhai"), &ScriptLimits::default()).unwrap();
        s.plan("hook").cloned().expect("a plan for hook")
    }

    fn keys(k: &[&str]) -> ArgUse {
        ArgUse::Keys(k.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn the_example_mappings_hooks_see_only_the_fields_they_use() {
        let src = std::fs::read_to_string("mappings/example-app/example-app.rhai").unwrap();
        let s = Script::compile(&src, Path::new("e.rhai"), &ScriptLimits::default()).unwrap();
        let from_app = s.plan("from_app").unwrap();
        assert_eq!(
            from_app.args,
            vec![keys(&["email"]), keys(&["emails"]), keys(&["stored"])]
        );
        assert_eq!(from_app.returns_arg, Some(1));
        let to_app = s.plan("to_app").unwrap();
        assert_eq!(
            to_app.args,
            vec![
                keys(&["userName", "userType"]),
                keys(&["display_name", "first_name", "last_name", "role"]),
                keys(&["operation"]),
            ]
        );
        assert_eq!(to_app.returns_arg, Some(1));
    }

    #[test]
    fn property_reads_writes_chains_and_literal_indexes_narrow() {
        let p = plan_of(
            r#"fn hook(a, b, c) {
                let x = a.name.givenName + a["family"] + a?.nick;
                b.out = x; b["other"].deep = 1; b.list[0] = 2; c.flag.to_string();
                b
            }"#,
        );
        assert_eq!(
            p.args,
            vec![
                keys(&["family", "name", "nick"]),
                keys(&["list", "other", "out"]),
                keys(&["flag"])
            ]
        );
        assert_eq!(p.returns_arg, Some(1));
        // `return b` anywhere, and the tail, are the same way out.
        let p = plan_of("fn hook(a, b, c) { if a.x { return b; } b.y = 1; return b; }");
        assert_eq!(p.returns_arg, Some(1));
        // Unused parameters need nothing at all.
        assert_eq!(
            plan_of("fn hook(a, b, c) { #{} }").args,
            vec![keys(&[]), keys(&[]), keys(&[])]
        );
    }

    #[test]
    fn any_other_use_makes_a_parameter_whole() {
        let whole_a = [
            "fn hook(a, b, c) { f(a); #{} } fn f(x) { x }",
            "fn hook(a, b, c) { let x = a; x }",
            "fn hook(a, b, c) { a.keys(); #{} }",
            "fn hook(a, b, c) { a.remove(\"k\"); a }",
            "fn hook(a, b, c) { for k in a.keys() {} #{} }",
            "fn hook(a, b, c) { let k = \"x\"; a[k] }",
            "fn hook(a, b, c) { \"x\" in a }",
            "fn hook(a, b, c) { a = #{}; a }",
            "fn hook(a, b, c) { let a = #{ y: 1 }; a }",
            "fn hook(a, b, c) { for a in b.items { print(a.x); } #{} }",
            "fn hook(a, b, c) { #{ inner: a } }",
            "fn hook(a, b, c) { if b.x { a } else { #{} } }",
            "fn hook(a, b, c) { if b.x { return a; } b }",
            "fn hook(a, b, c) { if b.x { return #{}; } a }",
        ];
        for src in whole_a {
            let p = plan_of(src);
            assert_eq!(p.args[0], ArgUse::Whole, "{src}");
            assert_ne!(p.returns_arg, Some(0), "{src}");
        }
        // Constructs the walk cannot see into: every parameter whole.
        for src in [
            "fn hook(a, b, c) { let r = loop { break a; }; r }",
            "fn hook(a, b, c) { try { a.x } catch (e) { 0 }; b }",
            "fn hook(a, b, c) { let f = || a.x; b }",
            // Under strict variables `g` cannot name the hook's variables, but it can add one
            // to the hook's scope that hides a parameter.
            "fn hook(a, b, c) { g!(); b } fn g() { let b = #{ x: 1 }; }",
        ] {
            assert_eq!(plan_of(src), HookPlan::whole(3), "{src}");
        }
    }

    fn reads(source: &str) -> ArgReads {
        Script::compile(source, Path::new("t.rhai"), &ScriptLimits::default())
            .unwrap()
            .first_arg_reads("to_app")
    }

    fn key_set(list: &[&str]) -> ArgReads {
        ArgReads::Keys(list.iter().map(|k| k.to_string()).collect())
    }

    #[test]
    fn first_argument_reads_list_property_reads_and_writes() {
        let src = r#"
            fn text(v) { if type_of(v) == "string" { v } else { "" } }
            fn to_app(scim, app, ctx) {
                if text(scim.userName).ends_with("@x") { app.x = 1; }
                app.first = scim.name.givenName;
                app.mail = scim.emails[0].value;
                let t = `${scim.title}`;
                app.kind = scim?.userType;
                app.a = scim["active"];
                scim.locale = "x";
                app
            }
        "#;
        let r = reads(src);
        assert_eq!(
            r,
            key_set(&[
                "active", "emails", "locale", "name", "title", "userName", "userType"
            ])
        );
        assert!(!r.may_read("department"));
        assert!(r.may_read("userName"));
        assert_eq!(reads("fn to_app(scim, app, ctx) { app }"), key_set(&[]));
        // Other functions' variables of the same name are other values.
        let src =
            "fn other(scim) { scim }\nfn to_app(scim, app, ctx) { app.u = scim.userName; app }";
        assert_eq!(reads(src), key_set(&["userName"]));
        let shipped = std::fs::read_to_string("mappings/example-app/example-app.rhai").unwrap();
        assert_eq!(reads(&shipped), key_set(&["userName", "userType"]));
    }

    #[test]
    fn first_argument_reads_anything_on_every_other_use() {
        for body in [
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
            // Returning it: the result carries every key.
            "scim",
            "app.a = peek!(); app",
        ] {
            let src = format!(
                "fn helper(x) {{ x.active }}\nfn helper2() {{ this.active }}\nfn peek() {{ 1 }}\n\
                 fn to_app(scim, app, ctx) {{ {body} }}"
            );
            assert_eq!(reads(&src), ArgReads::Any, "{body}");
        }
        // Wherever it is, `timestamp` makes two runs differ.
        let src = "fn now() { timestamp() }\nfn to_app(scim, app, ctx) { app }";
        assert_eq!(reads(src), ArgReads::Any);
        // No such hook (or not with three parameters).
        assert_eq!(reads("fn other(scim, app, ctx) { app }"), ArgReads::Any);
        assert_eq!(reads("fn to_app(scim, app) { app }"), ArgReads::Any);
    }
}
