//! Architecture checks (ARCHITECTURE.md): the pure core imports no I/O crate, and every
//! module says what it is for.

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
