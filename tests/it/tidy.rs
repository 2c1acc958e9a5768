//! Architecture checks (ARCHITECTURE.md): the pure core imports no I/O crate, every module
//! says what it is for, and the house rules (SQL only in `src/store`, sqlx named only there
//! and only through its public API, the service reaches switches through the engine, the
//! portal through the service, no file over 800 lines) as a ratchet over today's offenders.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

const PURE: &[&str] = &["src/model", "src/topology", "src/orchestrator"];
const FORBIDDEN: &[&str] = &[
    "tokio",
    "sqlx",
    "rtnetlink",
    "netlink",
    "axum",
    "std::fs",
    "std::net",
    "std::process",
    "std::thread",
    "std::time",
    "std::env",
    "pnet",
    "reqwest",
    "hyper",
    "lettre",
    "File::",
];

#[test]
fn pure_core_does_no_io() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut offences = Vec::new();
    for dir in PURE {
        for file in rust_files(&root.join(dir)) {
            let text = std::fs::read_to_string(&file).unwrap();
            for (n, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or("");
                for word in FORBIDDEN {
                    if code.contains(word) {
                        offences.push(format!(
                            "{}:{}: uses `{word}`",
                            file.strip_prefix(root).unwrap().display(),
                            n + 1
                        ));
                    }
                }
            }
        }
    }
    assert!(offences.is_empty(), "the pure core must not do I/O (ARCHITECTURE.md):\n{}", offences.join("\n"));
}

#[test]
fn every_module_has_docs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let missing: Vec<String> = rust_files(&root.join("src"))
        .into_iter()
        .filter(|f| !std::fs::read_to_string(f).unwrap().trim_start().starts_with("//!"))
        .map(|f| f.strip_prefix(root).unwrap().display().to_string())
        .collect();
    assert!(missing.is_empty(), "modules without a //! paragraph: {missing:?}");
}

#[test]
fn tidy_catches_an_offence() {
    // The check above must be able to fail: a line that uses std::fs is caught.
    let line = "use std::fs::read;";
    assert!(FORBIDDEN.iter().any(|w| line.contains(w)));
}

// ---- the house: a ratchet on where code may live (ARCHITECTURE.md) ----

/// What a file may not do, or may not be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rule {
    /// SQL text or sqlx in `src/service` or `src/portal`: SQL lives in `src/store`.
    Sql,
    /// `src/service` reaching for `southbound`: the service reaches switches through the engine.
    Southbound,
    /// `src/portal` reaching for `store`: handlers call the service.
    Store,
    /// A source file over `MAX_LINES` lines.
    Long,
    /// sqlx named outside `src/store` (in `src/`, `tests/` and `benches/`: the store's query
    /// API is the way in), or sqlx-core's internals anywhere: the store speaks sqlx's public
    /// Postgres API only, behind its own types.
    Sqlx,
}

const MAX_LINES: usize = 800;

/// Today's offenders, each with how far it offends (SQL statements and sqlx uses, imports,
/// lines). The list only shrinks: a file not listed may not offend, a listed one may not
/// offend more than its number, and one that stops offending must be struck off (SQL and
/// imports also must have their number lowered as they improve, so progress stays won).
const ALLOWED: &[(&str, Rule, usize)] = &[];

/// Lines of `text` outside `//` comments.
fn code_lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines().map(|l| l.split("//").next().unwrap_or("")).filter(|l| !l.trim().is_empty())
}

/// SQL statements (string literals opening with a SQL verb) and uses of sqlx.
fn sql_count(text: &str) -> usize {
    const VERBS: &[&str] = &["SELECT ", "INSERT ", "UPDATE ", "DELETE ", "WITH ", "CREATE ", "ALTER ", "DROP "];
    code_lines(text)
        .map(|line| {
            let sqlx = usize::from(line.contains("sqlx"));
            let statements =
                line.split('"').skip(1).step_by(2).filter(|lit| VERBS.iter().any(|v| lit.trim_start().starts_with(v)));
            sqlx + statements.count()
        })
        .sum()
}

/// Lines that name the sqlx crate (`sqlx::`, `use sqlx`), or any of sqlx-core's.
fn sqlx_count(text: &str, store: bool) -> usize {
    const CORE: &str = concat!("sqlx", "_core");
    code_lines(text)
        .filter(|l| l.contains(CORE) || (!store && (l.contains("sqlx::") || l.contains("use sqlx"))))
        .count()
}

/// Lines that name module `module` (`crate::module`, `super::module`, `module::`).
fn uses_of(text: &str, module: &str) -> usize {
    let ident = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    // `module::` not ending a longer name, or `::module` not starting one (`::stored` is not `::store`).
    let names = |l: &str| {
        l.match_indices(&format!("{module}::")).any(|(i, _)| !ident(l[..i].chars().next_back()))
            || l.match_indices(&format!("::{module}")).any(|(i, m)| !ident(l[i + m.len()..].chars().next()))
    };
    code_lines(text).filter(|l| names(l)).count()
}

/// How far `file` (relative to the crate) offends `rule`; 0 when it does not.
fn offence(file: &str, text: &str, rule: Rule) -> usize {
    match rule {
        Rule::Sql if file.starts_with("src/service/") || file.starts_with("src/portal/") => sql_count(text),
        Rule::Southbound if file.starts_with("src/service/") => uses_of(text, "southbound"),
        Rule::Store if file.starts_with("src/portal/") => uses_of(text, "store"),
        Rule::Long if text.lines().count() > MAX_LINES => text.lines().count(),
        // This file names what it looks for.
        Rule::Sqlx if file == "tests/it/tidy.rs" => 0,
        Rule::Sqlx => sqlx_count(text, file.starts_with("src/store/")),
        _ => 0,
    }
}

#[test]
fn the_house_rules_only_get_better() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<PathBuf> = ["src", "tests", "benches"].iter().flat_map(|d| rust_files(&root.join(d))).collect();
    files.sort();
    let mut problems = Vec::new();
    for path in &files {
        let file = path.strip_prefix(root).unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(path).unwrap();
        for rule in [Rule::Sql, Rule::Southbound, Rule::Store, Rule::Long, Rule::Sqlx] {
            let found = offence(&file, &text, rule);
            let allowed = ALLOWED.iter().find(|(f, r, _)| *f == file && *r == rule).map(|(_, _, n)| *n);
            match (allowed, found) {
                (None, 0) => {}
                (None, n) => problems.push(format!("{file}: {rule:?} ({n}): new offence; see the rule's doc")),
                (Some(_), 0) => problems.push(format!("{file}: {rule:?} no longer offends: strike it off ALLOWED")),
                (Some(a), n) if n > a => problems.push(format!("{file}: {rule:?} got worse: {n}, allowed {a}")),
                (Some(a), n) if n < a && rule != Rule::Long => {
                    problems.push(format!("{file}: {rule:?} improved to {n}: lower its number in ALLOWED from {a}"))
                }
                _ => {}
            }
        }
    }
    for (file, rule, _) in ALLOWED {
        if !root.join(file).exists() {
            problems.push(format!("{file}: {rule:?} is listed but the file is gone: strike it off ALLOWED"));
        }
    }
    assert!(problems.is_empty(), "the house rules (tests/it/tidy.rs):\n{}", problems.join("\n"));
}

#[test]
fn the_house_rules_see_offences() {
    let sql = "let r = sqlx::query(\"SELECT id FROM channels WHERE x = $1\") // SELECT in a comment\n\
               \"  UPDATE orders SET status = $2\", \"not sql\"";
    assert_eq!(sql_count(sql), 3);
    assert_eq!(offence("src/service/x.rs", sql, Rule::Sql), 3);
    assert_eq!(offence("src/store/x.rs", sql, Rule::Sql), 0);
    assert_eq!(offence("src/service/x.rs", "use crate::southbound::Driver;", Rule::Southbound), 1);
    assert_eq!(offence("src/portal/x.rs", "let id = crate::store::new_id(\"err\");", Rule::Store), 1);
    assert_eq!(offence("src/portal/x.rs", "// the store:: is not used here", Rule::Store), 0);
    assert_eq!(offence("src/portal/x.rs", "use crate::store;", Rule::Store), 1);
    assert_eq!(offence("src/portal/x.rs", "let o = OrgName::stored(o);", Rule::Store), 0);
    assert_eq!(offence("src/portal/x.rs", "let s = restore::x();", Rule::Store), 0);
    assert_eq!(offence("src/x.rs", &"x\n".repeat(MAX_LINES + 1), Rule::Long), MAX_LINES + 1);
    assert_eq!(offence("src/x.rs", &"x\n".repeat(MAX_LINES), Rule::Long), 0);
    let driver = "use sqlx::Row;\nlet n = sqlx::query(\"SELECT 1\"); // sqlx::query in a comment\n\
                  let filter = \"info,sqlx=warn\";";
    assert_eq!(offence("src/service/x.rs", driver, Rule::Sqlx), 2);
    assert_eq!(offence("tests/it/x.rs", driver, Rule::Sqlx), 2);
    assert_eq!(offence("src/store/x.rs", driver, Rule::Sqlx), 0);
    let core = concat!("use sqlx", "_core::any::AnyValueKind;");
    assert_eq!(offence("src/store/sqlite/x.rs", core, Rule::Sqlx), 1);
}

/// The store reaches sqlx through its public API only: sqlx-core (whose internals faked
/// sqlx's rows once) is no dependency.
#[test]
fn sqlx_core_is_no_dependency() {
    let manifest = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")).unwrap();
    let core = concat!("sqlx", "-core");
    assert!(!manifest.lines().any(|l| l.trim_start().starts_with(core)), "Cargo.toml depends on {core}");
}
