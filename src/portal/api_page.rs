//! The API as a page for people (`/api`, the header's "API"): every operation by tag, with
//! its method, path, what it does and what it takes, read from the served OpenAPI document
//! (one source), and how to authenticate. The document itself stays at
//! `/api/v1/openapi.json` for programs.

use askama::Template;
use axum::response::{IntoResponse, Response};

use super::page::{HeaderUser, render};

pub struct Operation {
    pub method: String,
    pub path: String,
    pub summary: String,
    pub takes: String,
}

pub struct Section {
    pub name: String,
    pub description: String,
    pub operations: Vec<Operation>,
}

#[derive(Template)]
#[template(path = "api.html")]
struct ApiPage {
    title: String,
    user: Option<HeaderUser>,
    description: String,
    sections: Vec<Section>,
}

/// The sections of the page, from the OpenAPI document as served (its JSON): one per tag,
/// in the document's tag order, each operation in path order.
pub fn sections(doc: &serde_json::Value) -> (String, Vec<Section>) {
    let mut sections: Vec<Section> = doc["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| Section {
            name: t["name"].as_str().unwrap_or_default().to_string(),
            description: t["description"].as_str().unwrap_or_default().to_string(),
            operations: Vec::new(),
        })
        .collect();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for (method, op) in item.as_object().into_iter().flatten() {
            let tag = op["tags"][0].as_str().unwrap_or("other");
            let schema =
                |v: &serde_json::Value| v["$ref"].as_str().map(|r| r.rsplit('/').next().unwrap_or(r).to_string());
            let takes = op["requestBody"]["content"]["application/json"]["schema"]
                .as_object()
                .and_then(|_| schema(&op["requestBody"]["content"]["application/json"]["schema"]))
                .map(|s| format!("a JSON {s}"))
                .unwrap_or_default();
            let summary = without_references(op["summary"].as_str().or(op["description"].as_str()).unwrap_or_default());
            let operation = Operation { method: method.to_uppercase(), path: path.clone(), summary, takes };
            match sections.iter_mut().find(|s| s.name == tag) {
                Some(s) => s.operations.push(operation),
                None => {
                    sections.push(Section { name: tag.into(), description: String::new(), operations: vec![operation] })
                }
            }
        }
    }
    sections.retain(|s| !s.operations.is_empty());
    (doc["info"]["description"].as_str().unwrap_or_default().to_string(), sections)
}

/// The page, for whoever asks (the API's shape is no secret; its answers are).
pub fn page(doc: &serde_json::Value, user: Option<HeaderUser>) -> Response {
    let (description, sections) = sections(doc);
    render(&ApiPage { title: "API".into(), user, description, sections }).into_response()
}

/// `text` without the references to the design documents that doc comments carry ("(SPEC
/// §2 step 4)", "(seed 003)"): a page for people has no such documents.
fn without_references(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(" (") {
        let inner = &rest[i + 2..];
        match inner.find(')') {
            Some(j) if inner.starts_with("SPEC ") || inner.starts_with("seed ") => {
                out.push_str(&rest[..i]);
                rest = &inner[j + 1..];
            }
            _ => {
                out.push_str(&rest[..i + 2]);
                rest = inner;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod reference_tests {
    #[test]
    fn design_references_are_left_out() {
        assert_eq!(super::without_references("Log in (SPEC §6). Sets (the cookie)."), "Log in. Sets (the cookie).");
        assert_eq!(super::without_references("Create (SPEC §2 steps 1-2) one (seed 003)"), "Create one");
    }
}
