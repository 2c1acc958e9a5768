//! The gate every state-changing request passes before any handler runs, API and forms
//! alike:
//! - what the browser says another site sent is refused, logins included. Browsers say it
//!   with `Sec-Fetch-Site`, or else with `Origin`; clients that are not browsers send
//!   neither and pass;
//! - a write made with a session carries the session's CSRF token, whatever its content
//!   type and whether it has a body: the `X-CSRF-Token` header, or a form's `csrf` field.
//!   The forms and calls that open a session (login, registration) carry their own
//!   pre-session token instead ([`super::auth::FormToken`]).

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::auth::{CSRF_HEADER, Checked, SESSION_COOKIE, cookie, ip_of, is_safe, same};
use super::error::AppError;
use super::page::PageError;
use crate::service::ServiceError;

/// The largest form body the gate reads for its `csrf` field (the body limit of the
/// whole application).
const FORM_LIMIT: usize = 1024 * 1024;

/// The gate (see the module comment).
pub async fn gate(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if is_safe(request.method()) {
        return next.run(request).await;
    }
    if !same_origin(request.headers(), request.uri(), &state.origin) {
        let origin = request.headers().get(header::ORIGIN).and_then(|v| v.to_str().ok()).unwrap_or("");
        tracing::warn!(method = %request.method(), path = request.uri().path(), origin, "cross-site request refused");
        return refusal(request.uri(), AppError::CrossOrigin);
    }
    let Some(token) = cookie(request.headers(), state.cookie_name(SESSION_COOKIE)) else {
        return next.run(request).await;
    };
    if opens_session(request.method(), request.uri().path()) {
        return next.run(request).await;
    }
    let ip = ip_of(request.extensions());
    let session = match state.svc.session(&token, &ip.to_string()).await {
        Ok(s) => s,
        // Not a session (any more): the handler answers as to someone logged out.
        Err(ServiceError::AccessDenied) => return next.run(request).await,
        Err(e) => return refusal(request.uri(), e.into()),
    };
    let uri = request.uri().clone();
    let (mut request, sent) = match sent_token(request).await {
        Ok(r) => r,
        Err(e) => return refusal(&uri, e),
    };
    if !same(&sent, &session.csrf) {
        tracing::warn!(method = %request.method(), path = uri.path(), "write without the session's CSRF token refused");
        return refusal(&uri, AppError::Csrf);
    }
    request.extensions_mut().insert(Checked { token, session });
    next.run(request).await
}

/// `e` as the answer: JSON under `/api/`, a page elsewhere.
fn refusal(uri: &Uri, e: AppError) -> Response {
    if uri.path().starts_with("/api/") { e.into_response() } else { PageError::from(e).into_response() }
}

/// The requests that open a session: they carry a pre-session token, not a session's.
fn opens_session(method: &Method, path: &str) -> bool {
    let register = |prefix: &str| path.strip_prefix(prefix).is_some_and(|rest| rest.ends_with("/register"));
    *method == Method::POST
        && (path == "/login"
            || path == "/api/v1/session"
            || register("/invitations/")
            || register("/api/v1/invitations/"))
}

/// The CSRF token a write carries: its header, or else a form's `csrf` field (the body is
/// read, and handed on whole).
async fn sent_token(request: Request) -> Result<(Request, String), AppError> {
    if let Some(sent) = request.headers().get(CSRF_HEADER) {
        let sent = sent.to_str().unwrap_or("").to_string();
        return Ok((request, sent));
    }
    let is_form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Ok((request, String::new()));
    }
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, FORM_LIMIT)
        .await
        .map_err(|_| AppError::BadRequest("the form is too large or was cut short".into()))?;
    let sent = form_urlencoded::parse(&bytes).find(|(k, _)| k == "csrf").map(|(_, v)| v.into_owned());
    Ok((Request::from_parts(parts, Body::from(bytes)), sent.unwrap_or_default()))
}

/// Whether the browser says the request comes from this site: `Sec-Fetch-Site` where the
/// browser sends it (`same-origin`, or `none` for what the user typed), else an `Origin`
/// equal to this server's (`trusted`, from `--base-url`) or to the host the request was
/// sent to. No header at all: not a browser.
fn same_origin(headers: &HeaderMap, uri: &Uri, trusted: &str) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        return matches!(site.as_bytes(), b"same-origin" | b"none");
    }
    let Some(origin) = headers.get(header::ORIGIN) else { return true };
    let Ok(origin) = origin.to_str() else { return false };
    if !trusted.is_empty() && origin.eq_ignore_ascii_case(trusted) {
        return true;
    }
    let Some((_, origin_host)) = origin.split_once("://") else { return false };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).or_else(|| uri.authority().map(|a| a.as_str()));
    host.is_some_and(|h| h.eq_ignore_ascii_case(origin_host))
}

/// The origin (`scheme://host[:port]`) of a URL such as `--base-url`, lower case.
pub fn origin_of(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return String::new() };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    // Browsers leave the scheme's own port out of an Origin.
    let host = match (scheme.to_ascii_lowercase().as_str(), host.rsplit_once(':')) {
        ("https", Some((h, "443"))) | ("http", Some((h, "80"))) => h,
        _ => host,
    };
    format!("{scheme}://{host}").to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_compared_as_browsers_send_them() {
        assert_eq!(origin_of("https://SB.example.net:443/portal"), "https://sb.example.net");
        assert_eq!(origin_of("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
        assert_eq!(origin_of("http://sb.example.net:80"), "http://sb.example.net");
        assert_eq!(origin_of("not a url"), "");
        let mut h = HeaderMap::new();
        let uri: Uri = "/login".parse().unwrap();
        // Behind a proxy that rewrites Host, the base URL's origin is this site's.
        h.insert(header::HOST, "10.0.0.5:8080".parse().unwrap());
        h.insert(header::ORIGIN, "https://sb.example.net".parse().unwrap());
        assert!(same_origin(&h, &uri, "https://sb.example.net"));
        assert!(!same_origin(&h, &uri, "https://other.example.net"));
        // The user typed it (or followed a bookmark): not another site.
        h.insert("sec-fetch-site", "none".parse().unwrap());
        assert!(same_origin(&h, &uri, ""));
        h.insert("sec-fetch-site", "same-site".parse().unwrap());
        assert!(!same_origin(&h, &uri, "https://sb.example.net"), "a sibling subdomain is another site");
    }
}
