//! The one error layer: whatever refused a request, the client gets the documented shape.
//! Under `/api/` that is JSON `{code, message}`; elsewhere a readable page with a link back
//! to where the visitor came from. The handlers' own errors already have that shape; what
//! the framework answers before any handler runs (an unknown path or method, a media type
//! it does not take, a body over the limit, a path it cannot decode) is reshaped here, so
//! no framework default text reaches a client.

use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::AppError;
use super::page::{PageError, back_link};

/// Paths whose answers are neither the API's nor pages (they keep their own shape).
const OWN_SHAPE: [&str; 2] = ["/healthz", "/metrics"];

/// The layer (see the module comment).
pub async fn shape_errors(request: Request, next: Next) -> Response {
    let path = request.uri().path().to_string();
    let back = back_link(request.headers());
    let get = request.method() == axum::http::Method::GET;
    let response = next.run(request).await;
    let status = response.status();
    if status == StatusCode::METHOD_NOT_ALLOWED && get && !path.starts_with("/api/") {
        // The address a form was sent to, opened again (reloaded, reopened, from history):
        // the page the form is on.
        return axum::response::Redirect::to(&form_page(&path)).into_response();
    }
    if !(status.is_client_error() || status.is_server_error()) || OWN_SHAPE.contains(&path.as_str()) {
        return response;
    }
    let kind = response.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let (json, html) = (kind.starts_with("application/json"), kind.starts_with("text/html"));
    let api = path.starts_with("/api/");
    if (api && json) || (!api && html) {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 64 * 1024).await.unwrap_or_default();
    let said = String::from_utf8_lossy(&text).trim().to_string();
    // An API error on a page's path keeps its words.
    let said = match serde_json::from_str::<serde_json::Value>(&said) {
        Ok(v) if json => v["message"].as_str().unwrap_or_default().to_string(),
        _ => said,
    };
    let error = reshaped(status, &said, api);
    let mut out =
        if api { error.into_response() } else { PageError { user: None, error, back: Some(back) }.into_response() };
    // What the client needs to act on stays: the methods a path takes, when to retry.
    for name in [header::ALLOW, header::RETRY_AFTER] {
        if let Some(v) = parts.headers.get(&name) {
            out.headers_mut().insert(name, v.clone());
        }
    }
    out
}

/// The page whose form posts to `path` (an action's address: `/channels/{id}/terminate`,
/// `/people/{id}/remove`): the path without its action, or the list the object is on when
/// the object has no page of its own.
fn form_page(path: &str) -> String {
    let parent = path.trim_end_matches('/').rsplit_once('/').map_or("/", |(p, _)| p);
    let segments: Vec<&str> = parent.split('/').filter(|s| !s.is_empty()).collect();
    match segments.as_slice() {
        ["attachments", ..] => "/channels".into(),
        ["people", ..] => "/people".into(),
        [] => "/".into(),
        _ => parent.to_string(),
    }
}

/// The framework's refusal (its status and text) as our error, with a next step.
fn reshaped(status: StatusCode, said: &str, api: bool) -> AppError {
    let http = |code: &'static str, message: String| AppError::Http { status, code, message };
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => AppError::TooLarge(super::error::BODY_LIMIT),
        StatusCode::NOT_FOUND if api => {
            http("not_found", "nothing here: the API's paths are in /api/v1/openapi.json".into())
        }
        StatusCode::NOT_FOUND => http("not_found", "there is no page at this address: go back, or start again".into()),
        StatusCode::METHOD_NOT_ALLOWED => http(
            "method_not_allowed",
            "this path does not take that method: the Allow header lists those it takes".into(),
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => http(
            "unsupported_media_type",
            format!("{}: send the body as application/json", first_line(said, "not a media type this path takes")),
        ),
        StatusCode::REQUEST_TIMEOUT | StatusCode::GATEWAY_TIMEOUT => {
            http("timeout", "the request took too long: try again".into())
        }
        s if s.is_server_error() => http("internal", first_line(said, "the server failed").into()),
        _ => http("invalid_input", format!("{}: check the path and the body", first_line(said, "bad request"))),
    }
}

fn first_line<'a>(text: &'a str, otherwise: &'a str) -> &'a str {
    text.lines().next().filter(|l| !l.is_empty()).unwrap_or(otherwise)
}

#[cfg(test)]
mod tests {
    use super::form_page;

    #[test]
    fn a_form_address_leads_back_to_its_page() {
        assert_eq!(form_page("/channels/ch-1/terminate"), "/channels/ch-1");
        assert_eq!(form_page("/channels/ch-1/offers"), "/channels/ch-1");
        assert_eq!(form_page("/invitations/abc/accept"), "/invitations/abc");
        assert_eq!(form_page("/attachments/att-1/detach"), "/channels");
        assert_eq!(form_page("/people/usr-1/remove"), "/people");
        assert_eq!(form_page("/logout"), "/");
    }
}
