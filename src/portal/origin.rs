//! The gate every request passes before any handler runs, API and forms alike:
//! - a path or query that is not UTF-8 once decoded, or holds a control character, and a
//!   JSON body or form whose text holds one (a NUL byte: PostgreSQL cannot store it,
//!   SQLite would), is refused with 400 `invalid_input` naming where, so both databases
//!   see the same inputs. Line breaks and tabs pass here; each field's own rule
//!   (`model::text`) says whether it may hold them;
//! - a body over the limit is refused with 413 `too_large`;
//! - what the browser says another site sent is refused, logins included. Browsers say it
//!   with `Sec-Fetch-Site`, or else with `Origin`; clients that are not browsers send
//!   neither and pass;
//! - a write made with a session carries the session's CSRF token, whatever its content
//!   type and whether it has a body: the `X-CSRF-Token` header, or a form's `csrf` field.
//!   The forms and calls that open a session (login, registration) carry their own
//!   pre-session token instead ([`super::auth::FormToken`]).

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::auth::{CSRF_HEADER, Checked, SESSION_COOKIE, cookie, ip_of, is_safe, same};
use super::error::AppError;
use super::error::BODY_LIMIT;
use super::page::PageError;
use crate::service::ServiceError;

/// The gate (see the module comment).
pub async fn gate(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if let Err(e) = check_uri(request.uri()) {
        return refusal(request.uri(), e);
    }
    if is_safe(request.method()) {
        return next.run(request).await;
    }
    if !same_origin(request.headers(), request.uri(), &state.origin) {
        let origin = request.headers().get(header::ORIGIN).and_then(|v| v.to_str().ok()).unwrap_or("");
        tracing::warn!(method = %request.method(), path = request.uri().path(), origin, "cross-site request refused");
        return refusal(request.uri(), AppError::CrossOrigin);
    }
    let uri = request.uri().clone();
    let (mut request, form_token) = match read_body(request).await {
        Ok(r) => r,
        Err(e) => return refusal(&uri, e),
    };
    let Some(token) = cookie(request.headers(), state.cookie_name(SESSION_COOKIE)) else {
        return next.run(request).await;
    };
    if opens_session(request.method(), uri.path()) {
        return next.run(request).await;
    }
    let ip = ip_of(request.extensions());
    let session = match state.svc.session(&token, &ip.to_string()).await {
        Ok(s) => s,
        // Not a session (any more): the handler answers as to someone logged out.
        Err(ServiceError::AccessDenied) => return next.run(request).await,
        Err(e) => return refusal(&uri, e.into()),
    };
    let sent = match request.headers().get(CSRF_HEADER) {
        Some(h) => h.to_str().unwrap_or("").to_string(),
        None => form_token.unwrap_or_default(),
    };
    if !same(&sent, &session.csrf) {
        tracing::warn!(method = %request.method(), path = uri.path(), "write without the session's CSRF token refused");
        return refusal(&uri, AppError::Csrf);
    }
    request.extensions_mut().insert(Checked { token, session });
    next.run(request).await
}

/// Refuses a path or query that is not UTF-8 once decoded, or holds a control character.
fn check_uri(uri: &Uri) -> Result<(), AppError> {
    let decoded = percent_encoding::percent_decode_str(uri.path()).decode_utf8();
    match decoded {
        Err(_) => {
            return Err(AppError::BadRequest("the path is not UTF-8 once decoded: send UTF-8, percent-encoded".into()));
        }
        Ok(p) if !printable(&p) => {
            return Err(AppError::BadRequest("the path holds a control character: send printable text".into()));
        }
        Ok(_) => {}
    }
    let query = uri.query().unwrap_or("");
    let raw = percent_encoding::percent_decode_str(query).collect::<Vec<u8>>();
    if std::str::from_utf8(&raw).is_err() {
        return Err(AppError::BadRequest("the query is not UTF-8 once decoded: send UTF-8, percent-encoded".into()));
    }
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        if !printable(&k) || !printable(&v) {
            return Err(AppError::BadRequest(format!(
                "query parameter `{}` holds a control character",
                k.escape_debug()
            )));
        }
    }
    Ok(())
}

/// Text the gate lets through: no control character but line breaks and tabs.
fn printable(s: &str) -> bool {
    !s.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
}

/// Reads a write's body (at most [`BODY_LIMIT`]), checks the text of a JSON body or form,
/// and hands the request on whole, with a form's `csrf` field if it has one.
async fn read_body(request: Request) -> Result<(Request, Option<String>), AppError> {
    let too_large = || AppError::TooLarge(BODY_LIMIT);
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > BODY_LIMIT) {
        return Err(too_large());
    }
    let kind = request.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let (parts, body) = request.into_parts();
    let bytes: Bytes = axum::body::to_bytes(body, BODY_LIMIT).await.map_err(|_| too_large())?;
    let mut csrf = None;
    if kind.starts_with("application/x-www-form-urlencoded") {
        for (k, v) in form_urlencoded::parse(&bytes) {
            if !printable(&k) || !printable(&v) {
                return Err(AppError::BadRequest(format!(
                    "bad form: field `{}` holds a control character",
                    k.escape_debug()
                )));
            }
            if k == "csrf" {
                csrf = Some(v.into_owned());
            }
        }
    } else if kind.starts_with("application/json")
        && let Ok(value) = serde_json::from_slice::<serde_json::Value>(&bytes)
    {
        // Text that is not JSON is the handler's to refuse, with what serde says of it.
        check_json(&value, &mut String::new())?;
    }
    Ok((Request::from_parts(parts, Body::from(bytes)), csrf))
}

/// Refuses a JSON value with a control character in a string or a key, naming where
/// (`invitees[0].name`).
fn check_json(value: &serde_json::Value, at: &mut String) -> Result<(), AppError> {
    let refuse = |at: &str| {
        let at = if at.is_empty() { "the body" } else { at };
        AppError::BadRequest(format!("bad JSON body: {at} holds a control character: send printable text"))
    };
    match value {
        serde_json::Value::String(s) if !printable(s) => Err(refuse(at)),
        serde_json::Value::Array(items) => {
            for (k, item) in items.iter().enumerate() {
                let len = at.len();
                at.push_str(&format!("[{k}]"));
                check_json(item, at)?;
                at.truncate(len);
            }
            Ok(())
        }
        serde_json::Value::Object(fields) => {
            for (name, item) in fields {
                let len = at.len();
                if !at.is_empty() {
                    at.push('.');
                }
                at.push_str(&name.escape_debug().to_string());
                if !printable(name) {
                    return Err(refuse(at));
                }
                check_json(item, at)?;
                at.truncate(len);
            }
            Ok(())
        }
        _ => Ok(()),
    }
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
            || path.starts_with("/welcome/")
            || register("/invitations/")
            || register("/api/v1/invitations/"))
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
