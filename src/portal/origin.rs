//! Refusing what another site makes a visitor's browser send: every state-changing request
//! that the browser says comes from another site is refused, API and forms alike, logins
//! included, before any handler runs. Browsers say it with `Sec-Fetch-Site`, or else with
//! `Origin`; clients that are not browsers send neither and pass (their writes still need a
//! session and its CSRF token, see [`super::auth`]).

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::auth::is_safe;
use super::error::AppError;
use super::page::PageError;

/// Refuses a state-changing request that a browser says another site made: 403
/// `cross_origin`, as JSON under `/api/` and as a page elsewhere. Requests without either
/// header come from clients that are not browsers (curl, scripts) and pass; their writes
/// still need a session and its CSRF token.
pub async fn refuse_cross_origin(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if is_safe(request.method()) || same_origin(request.headers(), request.uri(), &state.origin) {
        return next.run(request).await;
    }
    let origin = request.headers().get(header::ORIGIN).and_then(|v| v.to_str().ok()).unwrap_or("");
    tracing::warn!(method = %request.method(), path = request.uri().path(), origin, "cross-site request refused");
    if request.uri().path().starts_with("/api/") {
        AppError::CrossOrigin.into_response()
    } else {
        PageError::from(AppError::CrossOrigin).into_response()
    }
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
