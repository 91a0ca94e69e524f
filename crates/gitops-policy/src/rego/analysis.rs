//! Checks on regorus's syntax tree of every loaded policy, before anything
//! is evaluated, for what would make evaluation recurse without bound:
//!
//! - an expression nested deeper than [`MAX_EXPR_DEPTH`] (a chain
//!   `a + b + …` is as deep as it is long, and regorus evaluates it by
//!   recursion);
//! - a rule or function that depends on itself, directly or through
//!   others. OPA refuses such policies; regorus 0.11 notices a recursive
//!   rule as it evaluates it, but a recursive function recurses until the
//!   stack overflows, which aborts the process;
//! - a chain of rules and functions using one another longer than
//!   [`MAX_RULE_CHAIN`];
//! - a call of `print`, which writes its arguments out whole, however
//!   large (unless the package defines a function of that name).
//!
//! The dependency graph is OPA's: a rule depends on every rule its
//! references can reach. `x.y` for a rule `x` of the package, `data.a.b`,
//! or a name an `import` brings in, reaches the rules at that path, under
//! it (`data.a` reads all of package `a`), and above it (`data.a.r.k` reads
//! rule `data.a.r`); a reference with a computed part (`data.a[k]`) reaches
//! everything under its fixed part. A call reaches the function it names.
//! Names a rule declares (`x := …`, `some x`, function arguments) are
//! local and reach nothing. `f(x) with g as h` makes whatever calls `g`
//! depend on `h` as well. When unsure the graph has an edge too many,
//! never one too few: a policy it refuses may in rare cases have run, but
//! one it accepts cannot recurse.

use std::collections::{BTreeSet, HashMap};

use regorus::unstable::{AssignOp, Expr, Literal, Module, Query, Ref, Rule, RuleHead, Span};

use super::PolicyError;
use super::limits::{self, MAX_EXPR_DEPTH, MAX_RULE_CHAIN};

/// Checks every module; the first problem found is the error.
pub(crate) fn check(modules: &[Ref<Module>]) -> Result<(), PolicyError> {
    let mut prints = Vec::new();
    for module in modules {
        depth(module, &mut prints)?;
    }
    let graph = Graph::build(modules);
    // `print` writes its arguments out without any limit (a value that
    // shares its parts is exponentially large written out), to the render's
    // output; a function of the package named `print` is another matter.
    for (package, span) in prints {
        if !graph.rules.contains_key(&[package, vec!["print".to_owned()]].concat()) {
            let (file, at) = site(span);
            return Err(limits::error(
                &file,
                at,
                "`print` is not available to the policies a render evaluates: it writes its arguments \
                 out whole, however large, into the render's output",
                "no `print` calls",
                "remove the call; to see a value while writing a policy, put it in a `deny` message",
            ));
        }
    }
    graph.check_cycles()?;
    graph.check_chains()
}

fn site(span: &Span) -> (String, Option<(u32, u32)>) {
    (span.source.file().clone(), Some((span.line, span.col)))
}

/// An expression or a query, as the tree walks see them.
#[derive(Clone, Copy)]
enum Node<'a> {
    Expr(&'a Expr),
    Query(&'a Query),
}

impl<'a> Node<'a> {
    fn span(self) -> &'a Span {
        match self {
            Node::Expr(e) => e.span(),
            Node::Query(q) => &q.span,
        }
    }

    /// The expressions and queries directly inside.
    fn children(self, out: &mut Vec<Node<'a>>) {
        match self {
            Node::Expr(e) => expr_children(e, out),
            Node::Query(q) => {
                for stmt in &q.stmts {
                    out.extend(stmt_nodes(stmt));
                    for with in &stmt.with_mods {
                        out.push(Node::Expr(&with.refr));
                        out.push(Node::Expr(&with.r#as));
                    }
                }
            }
        }
    }
}

fn expr_children<'a>(e: &'a Expr, out: &mut Vec<Node<'a>>) {
    match e {
        Expr::String { .. }
        | Expr::RawString { .. }
        | Expr::Number { .. }
        | Expr::Bool { .. }
        | Expr::Null { .. }
        | Expr::Var { .. } => {}
        Expr::Array { items, .. } | Expr::Set { items, .. } => {
            out.extend(items.iter().map(|i| Node::Expr(i)))
        }
        Expr::Object { fields, .. } => {
            for (_, k, v) in fields {
                out.push(Node::Expr(k));
                out.push(Node::Expr(v));
            }
        }
        Expr::ArrayCompr { term, query, .. } | Expr::SetCompr { term, query, .. } => {
            out.push(Node::Expr(term));
            out.push(Node::Query(query));
        }
        Expr::ObjectCompr { key, value, query, .. } => {
            out.push(Node::Expr(key));
            out.push(Node::Expr(value));
            out.push(Node::Query(query));
        }
        Expr::Call { fcn, params, .. } => {
            out.push(Node::Expr(fcn));
            out.extend(params.iter().map(|p| Node::Expr(p)));
        }
        Expr::UnaryExpr { expr, .. } => out.push(Node::Expr(expr)),
        Expr::RefDot { refr, .. } => out.push(Node::Expr(refr)),
        Expr::RefBrack { refr, index, .. } => {
            out.push(Node::Expr(refr));
            out.push(Node::Expr(index));
        }
        Expr::BinExpr { lhs, rhs, .. }
        | Expr::BoolExpr { lhs, rhs, .. }
        | Expr::ArithExpr { lhs, rhs, .. }
        | Expr::AssignExpr { lhs, rhs, .. } => {
            out.push(Node::Expr(lhs));
            out.push(Node::Expr(rhs));
        }
        Expr::Membership { key, value, collection, .. } => {
            out.extend(key.iter().map(|k| Node::Expr(k)));
            out.push(Node::Expr(value));
            out.push(Node::Expr(collection));
        }
    }
}

/// The expressions and queries of a rule: head, arguments, bodies, values.
fn rule_nodes(rule: &Rule) -> Vec<Node<'_>> {
    let mut out = vec![Node::Expr(head_refr(rule))];
    out.extend(rule_parts(rule));
    out
}

/// The expression that names a rule: `deny`, `a.b[x]`, `f`.
fn head_refr(rule: &Rule) -> &Expr {
    match rule {
        Rule::Spec { head, .. } => match head {
            RuleHead::Compr { refr, .. } | RuleHead::Set { refr, .. } | RuleHead::Func { refr, .. } => refr,
        },
        Rule::Default { refr, .. } => refr,
    }
}

/// The rule's expressions and queries but its name: the computed parts of
/// its head's path, arguments, bodies, values.
fn rule_parts(rule: &Rule) -> Vec<Node<'_>> {
    let mut out: Vec<Node> = flatten(head_refr(rule)).computed.into_iter().map(Node::Expr).collect();
    match rule {
        Rule::Spec { head, bodies, .. } => {
            match head {
                RuleHead::Compr { assign, .. } => out.extend(assign.iter().map(|a| Node::Expr(&a.value))),
                RuleHead::Set { key, .. } => out.extend(key.iter().map(|k| Node::Expr(k))),
                RuleHead::Func { args, assign, .. } => {
                    out.extend(args.iter().map(|a| Node::Expr(a)));
                    out.extend(assign.iter().map(|a| Node::Expr(&a.value)));
                }
            }
            for body in bodies {
                out.extend(body.assign.iter().map(|a| Node::Expr(&a.value)));
                out.push(Node::Query(&body.query));
            }
        }
        Rule::Default { args, value, .. } => {
            out.extend(args.iter().map(|a| Node::Expr(a)));
            out.push(Node::Expr(value));
        }
    }
    out
}

/// Fails when an expression of `module` nests deeper than [`MAX_EXPR_DEPTH`].
/// Iterative, so a tree of any depth is measured without recursing. Adds
/// the calls of `print` to `prints`, with the module's package.
fn depth<'m>(module: &'m Module, prints: &mut Vec<(Vec<String>, &'m Span)>) -> Result<(), PolicyError> {
    let mut stack: Vec<(Node, usize)> = vec![(Node::Expr(&module.package.refr), 1)];
    stack.extend(module.imports.iter().map(|i| (Node::Expr(&i.refr), 1)));
    for rule in &module.policy {
        stack.extend(rule_nodes(rule).into_iter().map(|n| (n, 1)));
    }
    let mut children = Vec::new();
    while let Some((node, d)) = stack.pop() {
        if d > MAX_EXPR_DEPTH {
            let (file, at) = site(node.span());
            return Err(limits::error(
                &file,
                at,
                format!(
                    "the expression here is nested more than {MAX_EXPR_DEPTH} deep (each operator of a chain \
                     like `a + b + c` or `x.a.b`, each call, bracket and comprehension is a level)"
                ),
                format!("expressions {MAX_EXPR_DEPTH} levels deep"),
                "split the expression: assign its parts to variables (`part := a + b`) and combine those",
            ));
        }
        if let Node::Expr(Expr::Call { span, fcn, .. }) = node
            && var_name(fcn) == Some("print")
        {
            let package = std::iter::once("data".to_owned())
                .chain(static_path(&module.package.refr).unwrap_or_default())
                .collect();
            prints.push((package, span));
        }
        node.children(&mut children);
        stack.extend(children.drain(..).map(|c| (c, d + 1)));
    }
    Ok(())
}

/// `a.b["c"]` as `["a", "b", "c"]`, up to the first part that is not fixed,
/// with the expression at its root and the computed parts after.
struct Flat<'a> {
    root: &'a Expr,
    fixed: Vec<String>,
    computed: Vec<&'a Expr>,
}

fn flatten(mut e: &Expr) -> Flat<'_> {
    // Walks from the outermost part in; reversed at the end.
    let mut parts: Vec<Option<String>> = Vec::new();
    let mut computed = Vec::new();
    loop {
        match e {
            Expr::RefDot { refr, field: (_, field), .. } => {
                parts.push(field.as_string().ok().map(|f| f.to_string()));
                e = refr;
            }
            Expr::RefBrack { refr, index, .. } => {
                match &**index {
                    Expr::String { value, .. } | Expr::RawString { value, .. } => {
                        parts.push(value.as_string().ok().map(|f| f.to_string()))
                    }
                    other => {
                        parts.push(None);
                        computed.push(other);
                    }
                }
                e = refr;
            }
            _ => break,
        }
    }
    parts.reverse();
    let fixed = parts.into_iter().map_while(|p| p).collect();
    Flat { root: e, fixed, computed }
}

fn var_name(e: &Expr) -> Option<&str> {
    match e {
        Expr::Var { value, .. } => value.as_string().ok().map(|s| &**s),
        _ => None,
    }
}

/// `a.b.c` of a package, import or call as its parts, when fixed.
fn static_path(e: &Expr) -> Option<Vec<String>> {
    let flat = flatten(e);
    let root = var_name(flat.root)?;
    if !flat.computed.is_empty() {
        return None;
    }
    Some(std::iter::once(root.to_owned()).chain(flat.fixed).collect())
}

/// The names a rule binds: arguments, `:=` targets, `some` and `every`
/// variables. A reference to one of them is not a reference to a rule.
fn locals(rule: &Rule) -> BTreeSet<String> {
    fn pattern(e: &Expr, out: &mut BTreeSet<String>) {
        match e {
            Expr::Var { .. } => {
                if let Some(name) = var_name(e) {
                    out.insert(name.to_owned());
                }
            }
            Expr::Array { items, .. } => items.iter().for_each(|i| pattern(i, out)),
            Expr::Object { fields, .. } => fields.iter().for_each(|(_, _, v)| pattern(v, out)),
            _ => {}
        }
    }
    let mut out = BTreeSet::new();
    if let Rule::Spec { head: RuleHead::Func { args, .. }, .. } | Rule::Default { args, .. } = rule {
        args.iter().for_each(|a| pattern(a, &mut out));
    }
    let mut stack = rule_nodes(rule);
    let mut children = Vec::new();
    while let Some(node) = stack.pop() {
        match node {
            Node::Expr(Expr::AssignExpr { op: AssignOp::ColEq, lhs, .. }) => pattern(lhs, &mut out),
            Node::Query(q) => {
                for stmt in &q.stmts {
                    match &stmt.literal {
                        Literal::SomeVars { vars, .. } => {
                            out.extend(vars.iter().map(|v| v.text().to_owned()));
                        }
                        Literal::SomeIn { key, value, .. } => {
                            key.iter().for_each(|k| pattern(k, &mut out));
                            pattern(value, &mut out);
                        }
                        Literal::Every { key, value, .. } => {
                            out.extend(key.iter().map(|k| k.text().to_owned()));
                            out.insert(value.text().to_owned());
                        }
                        Literal::Expr { .. } | Literal::NotExpr { .. } => {}
                    }
                }
            }
            Node::Expr(_) => {}
        }
        node.children(&mut children);
        stack.append(&mut children);
    }
    out
}

/// What a rule's expressions refer to.
#[derive(Default)]
struct Refs {
    /// Paths read (`data.a.b`), to their fixed part.
    data: Vec<Vec<String>>,
    /// Functions called: the name as written, and the path it resolves to.
    calls: Vec<(String, Vec<String>)>,
    /// `with target as value`: the target as written and resolved, and
    /// what the value refers to.
    withs: Vec<(String, Vec<String>, Refs)>,
}

/// Where a module's names lead.
struct Scope<'m> {
    package: Vec<String>,
    /// Import alias -> the imported path.
    imports: HashMap<String, Vec<String>>,
    locals: &'m BTreeSet<String>,
}

impl Scope<'_> {
    /// The path a reference rooted at `root` reads, if it may be a rule's.
    fn resolve(&self, root: &str, rest: &[String], local: bool) -> Option<Vec<String>> {
        let mut path = match root {
            "_" | "input" => return None,
            _ if local && self.locals.contains(root) => return None,
            "data" => vec!["data".to_owned()],
            _ => match self.imports.get(root) {
                Some(path) if path.first().is_some_and(|r| r == "data") => path.clone(),
                Some(_) => return None,
                None => self.package.iter().cloned().chain([root.to_owned()]).collect(),
            },
        };
        path.extend(rest.iter().cloned());
        Some(path)
    }

    fn call(&self, path: &[String]) -> Option<Vec<String>> {
        let (root, rest) = path.split_first()?;
        self.resolve(root, rest, false)
    }

    /// What `nodes` refer to.
    fn refs(&self, nodes: Vec<Node<'_>>) -> Refs {
        let mut refs = Refs::default();
        let mut stack = nodes;
        let mut children = Vec::new();
        while let Some(node) = stack.pop() {
            match node {
                Node::Expr(e @ (Expr::Var { .. } | Expr::RefDot { .. } | Expr::RefBrack { .. })) => {
                    let flat = flatten(e);
                    match var_name(flat.root) {
                        Some(root) => refs.data.extend(self.resolve(root, &flat.fixed, true)),
                        None => stack.push(Node::Expr(flat.root)),
                    }
                    stack.extend(flat.computed.into_iter().map(Node::Expr));
                }
                Node::Expr(Expr::Call { fcn, params, .. }) => {
                    match static_path(fcn) {
                        Some(path) => {
                            if let Some(resolved) = self.call(&path) {
                                refs.calls.push((path.join("."), resolved));
                            }
                        }
                        None => stack.push(Node::Expr(fcn)),
                    }
                    stack.extend(params.iter().map(|p| Node::Expr(p)));
                }
                Node::Query(q) => {
                    // The statements' own expressions; a `with` target is
                    // not read, and its value is read here and recorded.
                    for stmt in &q.stmts {
                        for with in &stmt.with_mods {
                            let value = self.refs(vec![Node::Expr(&with.r#as)]);
                            refs.data.extend(value.data.iter().cloned());
                            refs.calls.extend(value.calls.iter().cloned());
                            if let Some(target) = static_path(&with.refr)
                                && let Some(resolved) = self.call(&target)
                            {
                                refs.withs.push((target.join("."), resolved, value));
                            }
                        }
                        let bare = stmt_nodes(stmt);
                        stack.extend(bare);
                    }
                }
                Node::Expr(_) => {
                    node.children(&mut children);
                    stack.append(&mut children);
                }
            }
        }
        refs
    }
}

/// A statement's expressions and queries, without its `with` modifiers.
fn stmt_nodes(stmt: &regorus::unstable::LiteralStmt) -> Vec<Node<'_>> {
    let mut out = Vec::new();
    match &stmt.literal {
        Literal::SomeVars { .. } => {}
        Literal::SomeIn { key, value, collection, .. } => {
            out.extend(key.iter().map(|k| Node::Expr(k)));
            out.push(Node::Expr(value));
            out.push(Node::Expr(collection));
        }
        Literal::Expr { expr, .. } | Literal::NotExpr { expr, .. } => out.push(Node::Expr(expr)),
        Literal::Every { domain, query, .. } => {
            out.push(Node::Expr(domain));
            out.push(Node::Query(query));
        }
    }
    out
}

/// The path of a rule's head (`deny`, `a.b.c`, `f`), to its fixed part.
fn head_path(rule: &Rule) -> Option<(Vec<String>, &Span)> {
    let refr = head_refr(rule);
    let flat = flatten(refr);
    let root = var_name(flat.root)?;
    Some((std::iter::once(root.to_owned()).chain(flat.fixed).collect(), refr.span()))
}

/// A rule's name (`p.deny`), and the file, line and column of its first
/// definition.
type RuleSite = (String, String, Option<(u32, u32)>);

/// A graph node: a rule path (every rule and function defined at it), or a
/// path prefix, which reaches everything under it.
struct GNode {
    edges: Vec<usize>,
    /// For a rule: its name and where it is first defined.
    rule: Option<RuleSite>,
}

struct Graph {
    nodes: Vec<GNode>,
    /// Rule path -> its node.
    rules: HashMap<Vec<String>, usize>,
}

impl Graph {
    fn build(modules: &[Ref<Module>]) -> Graph {
        let mut nodes: Vec<GNode> = Vec::new();
        let mut rules: HashMap<Vec<String>, usize> = HashMap::new();
        let mut prefixes: HashMap<Vec<String>, usize> = HashMap::new();
        // The package and rule paths of every rule, in module order.
        let mut defined = Vec::new();
        for module in modules {
            let package: Vec<String> = std::iter::once("data".to_owned())
                .chain(static_path(&module.package.refr).unwrap_or_default())
                .collect();
            for rule in &module.policy {
                let Some((head, span)) = head_path(rule) else { continue };
                let path: Vec<String> = package.iter().cloned().chain(head).collect();
                let id = *rules.entry(path.clone()).or_insert_with(|| {
                    let (file, at) = site(span);
                    let name = path[1..].join(".");
                    nodes.push(GNode { edges: Vec::new(), rule: Some((name, file, at)) });
                    nodes.len() - 1
                });
                // Each prefix reaches its children and the rule at it.
                let mut below = id;
                for len in (1..=path.len()).rev() {
                    let (prefix, new) = match prefixes.get(&path[..len]) {
                        Some(&p) => (p, false),
                        None => {
                            nodes.push(GNode { edges: Vec::new(), rule: None });
                            prefixes.insert(path[..len].to_vec(), nodes.len() - 1);
                            (nodes.len() - 1, true)
                        }
                    };
                    nodes[prefix].edges.push(below);
                    below = prefix;
                    if !new {
                        break;
                    }
                }
                defined.push((module, rule, id));
            }
        }
        let targets = |path: &[String], out: &mut Vec<usize>| {
            if let Some(&p) = prefixes.get(path) {
                out.push(p);
            }
            for len in 1..path.len() {
                if let Some(&r) = rules.get(&path[..len]) {
                    out.push(r);
                }
            }
        };
        let mut withs = Vec::new();
        let mut calls_of: Vec<Vec<(String, Vec<String>)>> = vec![Vec::new(); nodes.len()];
        for (module, rule, id) in defined {
            let locals = locals(rule);
            let scope = Scope {
                package: std::iter::once("data".to_owned())
                    .chain(static_path(&module.package.refr).unwrap_or_default())
                    .collect(),
                imports: module
                    .imports
                    .iter()
                    .filter_map(|i| {
                        let path = static_path(&i.refr)?;
                        let alias = i.r#as.as_ref().map(|a| a.text().to_owned()).or(path.last().cloned())?;
                        Some((alias, path))
                    })
                    .collect(),
                locals: &locals,
            };
            let refs = scope.refs(rule_parts(rule));
            let mut edges = Vec::new();
            for path in &refs.data {
                targets(path, &mut edges);
            }
            for (_, path) in &refs.calls {
                edges.extend(rules.get(path));
            }
            nodes[id].edges.extend(edges);
            calls_of[id].extend(refs.calls);
            withs.extend(refs.withs);
        }
        // `with g as h`: whatever calls `g` may call `h`.
        for (written, resolved, value) in withs {
            let mut edges = Vec::new();
            for path in &value.data {
                targets(path, &mut edges);
            }
            for (_, path) in &value.calls {
                edges.extend(rules.get(path));
            }
            for (id, calls) in calls_of.iter().enumerate() {
                if calls.iter().any(|(w, r)| *w == written || *r == resolved) {
                    nodes[id].edges.extend(edges.iter().copied());
                }
            }
        }
        for node in &mut nodes {
            node.edges.sort_unstable();
            node.edges.dedup();
        }
        Graph { nodes, rules }
    }

    fn name(&self, id: usize) -> Option<&str> {
        self.nodes[id].rule.as_ref().map(|(name, _, _)| name.as_str())
    }

    /// Fails on the first cycle, naming its rules in order.
    fn check_cycles(&self) -> Result<(), PolicyError> {
        const WHITE: u8 = 0;
        const GREY: u8 = 1;
        const BLACK: u8 = 2;
        let mut color = vec![WHITE; self.nodes.len()];
        for start in 0..self.nodes.len() {
            if color[start] != WHITE {
                continue;
            }
            let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
            color[start] = GREY;
            while let Some(&mut (node, ref mut next)) = stack.last_mut() {
                let Some(&succ) = self.nodes[node].edges.get(*next) else {
                    color[node] = BLACK;
                    stack.pop();
                    continue;
                };
                *next += 1;
                match color[succ] {
                    WHITE => {
                        color[succ] = GREY;
                        stack.push((succ, 0));
                    }
                    GREY => {
                        let from = stack.iter().position(|&(n, _)| n == succ).unwrap_or(0);
                        let cycle: Vec<usize> = stack[from..]
                            .iter()
                            .map(|&(n, _)| n)
                            .filter(|&n| self.name(n).is_some())
                            .collect();
                        return Err(self.cycle_error(&cycle));
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }

    fn cycle_error(&self, cycle: &[usize]) -> PolicyError {
        let Some(&first) = cycle.first() else {
            return limits::error("policies", None, "a rule depends on itself", "no recursion", "");
        };
        let (name, file, at) = self.nodes[first].rule.clone().unwrap_or_default();
        let mut chain: Vec<&str> = cycle.iter().filter_map(|&n| self.name(n)).collect();
        chain.push(&name);
        limits::error(
            &file,
            at,
            format!("`{name}` depends on itself: {}", chain.join(" -> ")),
            "no recursion: rules and functions may not use themselves, directly or through others \
             (OPA refuses recursion too, and in regorus a recursive function overflows the stack)",
            "compute the value without the rule or function calling itself, e.g. with a comprehension \
             over the data it walks",
        )
    }

    /// Fails when a chain of rules using one another is too long.
    fn check_chains(&self) -> Result<(), PolicyError> {
        // Longest chain of rules from each node, with the next node on it;
        // the graph has no cycle here, so a post-order walk computes it.
        let mut longest: Vec<Option<(usize, Option<usize>)>> = vec![None; self.nodes.len()];
        for start in 0..self.nodes.len() {
            if longest[start].is_some() {
                continue;
            }
            let mut stack = vec![(start, false)];
            while let Some((node, done)) = stack.pop() {
                if longest[node].is_some() {
                    continue;
                }
                if !done {
                    stack.push((node, true));
                    stack.extend(
                        self.nodes[node].edges.iter().filter(|&&s| longest[s].is_none()).map(|&s| (s, false)),
                    );
                    continue;
                }
                let best = self.nodes[node]
                    .edges
                    .iter()
                    .filter_map(|&s| longest[s].map(|(len, _)| (len, s)))
                    .max_by_key(|&(len, _)| len);
                let own = usize::from(self.nodes[node].rule.is_some());
                longest[node] = Some((own + best.map_or(0, |(len, _)| len), best.map(|(_, s)| s)));
            }
        }
        let Some((start, len)) = longest
            .iter()
            .enumerate()
            .filter(|(n, _)| self.nodes[*n].rule.is_some())
            .filter_map(|(n, l)| l.map(|(len, _)| (n, len)))
            .max_by_key(|&(_, len)| len)
        else {
            return Ok(());
        };
        if len <= MAX_RULE_CHAIN {
            return Ok(());
        }
        let mut chain = Vec::new();
        let mut node = Some(start);
        while let Some(n) = node {
            chain.extend(self.name(n));
            node = longest[n].and_then(|(_, next)| next);
        }
        let shown = if chain.len() > 6 {
            format!("{} -> ... -> {}", chain[..3].join(" -> "), chain[chain.len() - 2..].join(" -> "))
        } else {
            chain.join(" -> ")
        };
        let (name, file, at) = self.nodes[start].rule.clone().unwrap_or_default();
        Err(limits::error(
            &file,
            at,
            format!("`{name}` starts a chain of {len} rules and functions, each using the next: {shown}"),
            format!("chains of {MAX_RULE_CHAIN}"),
            "compute the values in fewer steps (a comprehension instead of one rule per step)",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use regorus::Engine;

    fn check_sources(sources: &[(&str, &str)]) -> Result<(), String> {
        let mut engine = Engine::new();
        for (file, text) in sources {
            engine.add_policy((*file).into(), (*text).into()).map_err(|e| e.to_string())?;
        }
        check(engine.get_modules()).map_err(|e| e.to_string())
    }

    #[test]
    fn recursion_through_functions_rules_imports_and_data_is_refused() {
        let recursive = [
            "package p\nf(x) := f(x)\ndeny contains m if { m := f(1) }\n",
            "package p\nf(x) := g(x)\ng(x) := y if { y := f(x) }\ndeny contains m if { m := f(1) }\n",
            "package p\nr := s\ns := r\ndeny contains m if { m := r }\n",
            "package p\nr := x if { x := data.p.s }\ns := x if { some k; x := data.p[k] }\n",
            "package p\nf(x) := r\nr := f(1)\n",
            "package p\nimport data.p as me\nr := me.r\n",
            "package p\nr := count(data.p)\n",
            "package p\ng(x) := 1\nf(x) := y if { y := g(x) with g as f }\n",
        ];
        for policy in recursive {
            let e = check_sources(&[("policies/r.rego", policy)]).unwrap_err();
            assert!(e.starts_with("policies/r.rego:"), "{policy}\n{e}");
            assert!(e.contains("depends on itself"), "{policy}\n{e}");
        }
        let across = [
            ("policies/a.rego", "package a\nimport data.b\nf(x) := b.g(x)\n"),
            ("policies/b.rego", "package b\ng(x) := data.a.f(x)\n"),
        ];
        assert!(check_sources(&across).unwrap_err().contains("depends on itself"));
    }

    #[test]
    fn locals_and_builtins_are_not_rules() {
        let fine = [
            "package p\nf(x) := y if { y := x + 1 }\ny := 2\nx := f(y)\n",
            "package p\nr := [m | some m in input.a]\nm := count(r)\n",
            "package p\nconcat_all(xs) := concat(\",\", xs)\ndeny contains m if { m := concat_all([\"a\"]) }\n",
            "package p\ndeny contains m if { every m in input.x { m > 1 }; m := \"x\" }\n",
            "package p\nr := data.q.s\n",
        ];
        for policy in fine {
            check_sources(&[("policies/f.rego", policy)]).unwrap_or_else(|e| panic!("{policy}\n{e}"));
        }
        let seed = include_str!("../../../../policies/production-policies.rego");
        check_sources(&[("p.rego", seed)]).unwrap();
    }

    #[test]
    fn print_is_refused_unless_the_package_defines_it() {
        let e = check_sources(&[(
            "policies/p.rego",
            "package p\ndeny contains m if { print(\"x\", 1); m := \"a\" }\n",
        )])
        .unwrap_err();
        assert!(e.starts_with("policies/p.rego:2:") && e.contains("no `print` calls"), "{e}");
        check_sources(&[(
            "policies/p.rego",
            "package p\nprint(x) := x\ndeny contains m if { m := print(\"a\") }\n",
        )])
        .unwrap();
    }

    #[test]
    fn long_chains_and_deep_expressions_are_refused() {
        let mut chain = String::from("package p\ndeny contains m if { m := f0(1) }\n");
        for i in 0..=MAX_RULE_CHAIN {
            chain += &format!("f{i}(x) := f{}(x)\n", i + 1);
        }
        chain += &format!("f{}(x) := \"a\"\n", MAX_RULE_CHAIN + 1);
        let e = check_sources(&[("policies/c.rego", &chain)]).unwrap_err();
        assert!(e.starts_with("policies/c.rego:2:"), "{e}");
        assert!(e.contains(&format!("the limit is chains of {MAX_RULE_CHAIN}")), "{e}");

        let sum = format!("package p\nx := (1{})\n", "\n+ 1".repeat(MAX_EXPR_DEPTH + 5));
        let e = check_sources(&[("policies/s.rego", &sum)]).unwrap_err();
        assert!(e.starts_with("policies/s.rego:"), "{e}");
        assert!(e.contains("nested more than"), "{e}");
    }
}
