//! Who is asking: the session cookie, CSRF on every write, the client's address, and rate
//! limits on the endpoints that guess at secrets (login, invitation tokens).
//!
//! A session is a 256-bit token in an HttpOnly, SameSite=Lax cookie (Secure under TLS).
//! Three defences against another site acting through a visitor's browser:
//! - every state-changing request a browser says comes from another site is refused, API
//!   and forms alike ([`super::origin`], from `Sec-Fetch-Site`, else `Origin`);
//! - every write made with a session carries the session's CSRF token, in the
//!   `X-CSRF-Token` header or a `csrf` form field, whatever its content type and whether
//!   it has a body: checked by the same gate ([`super::origin`]), which hands the session
//!   it found to [`Authed`];
//! - the forms that open a session (login, registration) carry a pre-session token
//!   ([`FormToken`]) that must match a cookie of its own, so another site cannot log a
//!   visitor into an account of its choosing.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::time::Duration;

use axum::extract::{ConnectInfo, FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::response::Response;

use crate::service::{Actor, ServiceError};

use super::AppState;
use super::error::AppError;

/// The session cookie's name. Over HTTPS cookies carry the `__Host-` prefix, so that no
/// sibling subdomain can set them for us (a planted session cookie logs a visitor in as
/// someone else without any request from another site).
pub const SESSION_COOKIE: &str = "sb_session";
/// The header API writes carry the CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// The cookie holding the login and registration forms' pre-session token.
pub const FORM_COOKIE: &str = "sb_form";

/// A logged-in user, with the session's CSRF token (already checked on writes).
#[derive(Clone, Debug)]
pub struct Authed {
    pub actor: Actor,
    pub csrf: String,
    /// The cookie value, to end the session.
    pub token: String,
    /// Where the request came from.
    pub ip: IpAddr,
    /// The name of the actor's organization.
    pub organization: String,
    /// When the session ends (ms since the epoch).
    pub expires_at: i64,
}

/// The client's address, as an extractor that cannot fail.
#[derive(Clone, Copy, Debug)]
pub struct ClientIp(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(client_ip(parts)))
    }
}

impl FromRequestParts<AppState> for Authed {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = cookie(&parts.headers, state.cookie_name(SESSION_COOKIE)).ok_or(AppError::Unauthenticated)?;
        let ip = client_ip(parts);
        // A write's session was found, and its CSRF token checked, by the gate
        // (`origin.rs`); anything else looks it up here.
        let found = parts.extensions.get::<Checked>().filter(|c| c.token == token).map(|c| c.session.clone());
        let session = match found {
            Some(s) => s,
            None => match state.svc.session(&token, &ip.to_string()).await {
                Ok(s) => s,
                Err(ServiceError::AccessDenied) => return Err(AppError::Unauthenticated),
                Err(e) => return Err(e.into()),
            },
        };
        let crate::service::Session { actor, csrf, organization, expires_at } = session;
        Ok(Authed { actor, csrf, token, ip, organization, expires_at })
    }
}

impl OptionalFromRequestParts<AppState> for Authed {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Option<Self>, Self::Rejection> {
        match <Authed as FromRequestParts<AppState>>::from_request_parts(parts, state).await {
            Ok(a) => Ok(Some(a)),
            Err(AppError::Unauthenticated) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// A write's session, found and its CSRF token checked by the gate (`origin.rs`), for
/// [`Authed`] to take instead of looking it up again.
#[derive(Clone)]
pub(super) struct Checked {
    pub(super) token: String,
    pub(super) session: crate::service::Session,
}

/// The pre-session token of the forms that open a session (login, registration): a random
/// value in an HttpOnly, SameSite=Strict cookie and in the form's `csrf` field. Another
/// site can post the form but can neither read nor set the cookie, so the two differ.
#[derive(Clone, Debug)]
pub struct FormToken {
    value: String,
    /// Other cookies of the same name the browser sent.
    also: Vec<String>,
    /// Not in the browser's cookie yet: the answer must set it.
    fresh: bool,
    /// Served over HTTPS: a `__Host-` cookie, `Secure`.
    secure: bool,
}

impl FromRequestParts<AppState> for FormToken {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let name = state.cookie_name(FORM_COOKIE);
        // Every cookie of that name counts: one planted with a longer path would come
        // first, and must not lock the person out of the form.
        let values: Vec<String> = cookies(&parts.headers, name)
            .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
            .collect();
        Ok(match values.first() {
            Some(v) => {
                FormToken { value: v.clone(), also: values[1..].to_vec(), fresh: false, secure: state.secure_cookies }
            }
            None => FormToken { secure: state.secure_cookies, ..FormToken::new() },
        })
    }
}

impl Default for FormToken {
    /// No token: for pages shown to someone logged in, whose forms carry the session's.
    fn default() -> FormToken {
        FormToken { value: String::new(), also: Vec::new(), fresh: true, secure: false }
    }
}

impl FormToken {
    fn new() -> FormToken {
        let bytes: [u8; 32] = rand::random();
        FormToken { value: hex::encode(bytes), also: Vec::new(), fresh: true, secure: false }
    }

    /// The value the form carries.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// Checks the form's `csrf` field against the cookie.
    pub fn check(&self, sent: &str) -> Result<(), AppError> {
        let known = !self.fresh && (same(sent, &self.value) | self.also.iter().any(|v| same(sent, v)));
        if known { Ok(()) } else { Err(AppError::Csrf) }
    }

    /// Sets the cookie on a response that shows the form, when the browser lacks it.
    pub fn set_cookie(&self, response: &mut Response) {
        if !self.fresh {
            return;
        }
        let cookie = if self.secure {
            format!("__Host-{FORM_COOKIE}={}; Path=/; HttpOnly; SameSite=Strict; Secure", self.value)
        } else {
            format!("{FORM_COOKIE}={}; Path=/; HttpOnly; SameSite=Strict", self.value)
        };
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
    }
}

pub(crate) fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Compares in time that does not depend on where the strings differ.
pub(super) fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The value of cookie `name` (the first, if several).
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    cookies(headers, name).next()
}

/// Every value of cookie `name`, in the order the browser sent them.
fn cookies<'a>(headers: &'a HeaderMap, name: &'a str) -> impl Iterator<Item = String> + 'a {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .filter(move |(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// The `Set-Cookie` value that opens (or, with `max_age_secs == 0`, ends) a session.
fn session_cookie(token: &str, max_age_secs: u64, secure: bool) -> String {
    if secure {
        format!("__Host-{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}; Secure")
    } else {
        format!("{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}")
    }
}

impl AppState {
    /// What cookie `name` is called here: `__Host-name` over HTTPS.
    pub fn cookie_name(&self, name: &'static str) -> &'static str {
        match (self.secure_cookies, name) {
            (true, SESSION_COOKIE) => "__Host-sb_session",
            (true, FORM_COOKIE) => "__Host-sb_form",
            _ => name,
        }
    }

    /// Sets the session cookie on `response`: `session`'s token until it expires, or, with
    /// `None`, an empty cookie that ends the browser's session (logging out).
    pub fn set_session_cookie(&self, response: &mut Response, session: Option<&crate::service::NewSession>) {
        let cookie = match session {
            Some(s) => session_cookie(
                &s.token,
                u64::try_from((s.expires_at - self.svc.now()) / 1000).unwrap_or(0),
                self.secure_cookies,
            ),
            None => session_cookie("", 0, self.secure_cookies),
        };
        if let Ok(v) = axum::http::HeaderValue::from_str(&cookie) {
            response.headers_mut().insert(header::SET_COOKIE, v);
        }
    }
}

/// The client's address (from the connection; the loopback address when there is none,
/// as in tests that call the router directly).
pub fn client_ip(parts: &Parts) -> IpAddr {
    ip_of(&parts.extensions)
}

/// The client's address from a request's extensions (see [`client_ip`]).
pub fn ip_of(extensions: &axum::http::Extensions) -> IpAddr {
    extensions.get::<ConnectInfo<SocketAddr>>().map_or(IpAddr::from([127, 0, 0, 1]), |ConnectInfo(addr)| addr.ip())
}

/// An endpoint group and a client address.
type BucketKey = (&'static str, IpAddr);

/// Rate limits per (endpoint group, client address): `burst` requests at once, then one
/// every `every` (governor's GCRA, the token bucket's equivalent with one timestamp a key).
/// Per instance; enough to make guessing passwords or tokens hopeless.
#[derive(Debug)]
pub struct RateLimiter {
    limits: governor::DefaultKeyedRateLimiter<BucketKey>,
}

impl RateLimiter {
    pub fn new(burst: u32, every: Duration) -> RateLimiter {
        let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
        let quota = governor::Quota::with_period(every.max(Duration::from_nanos(1)))
            .unwrap_or_else(|| governor::Quota::per_second(NonZeroU32::MIN))
            .allow_burst(burst);
        RateLimiter { limits: governor::RateLimiter::keyed(quota) }
    }

    /// Takes one request from the bucket, or says how many seconds until there is one.
    pub fn check(&self, group: &'static str, ip: IpAddr) -> Result<(), AppError> {
        if self.limits.len() > 100_000 {
            // Forget addresses whose limit is back to full rather than grow without bound
            // under a flood of addresses.
            self.limits.retain_recent();
        }
        self.limits.check_key(&(group, ip)).map_err(|not_until| {
            let wait = not_until.wait_time_from(governor::clock::Clock::now(self.limits.clock()));
            AppError::RateLimited(wait.as_secs() + u64::from(wait.subsec_nanos() > 0))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_empties_and_says_when_to_come_back() {
        let limiter = RateLimiter::new(3, Duration::from_secs(10));
        let ip = IpAddr::from([10, 0, 0, 1]);
        for _ in 0..3 {
            assert!(limiter.check("login", ip).is_ok());
        }
        match limiter.check("login", ip) {
            Err(AppError::RateLimited(secs)) => assert!((1..=10).contains(&secs), "{secs}"),
            other => panic!("expected a refusal, got {other:?}"),
        }
        // Another address and another group have their own buckets.
        assert!(limiter.check("login", IpAddr::from([10, 0, 0, 2])).is_ok());
        assert!(limiter.check("token", ip).is_ok());
    }

    #[test]
    fn cookies_are_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, "a=1; sb_session=abc; b=2".parse().unwrap());
        assert_eq!(cookie(&h, SESSION_COOKIE).as_deref(), Some("abc"));
        assert_eq!(cookie(&h, "missing"), None);
    }

    #[test]
    fn csrf_comparison_needs_the_whole_token() {
        assert!(same("abcd", "abcd"));
        assert!(!same("abc", "abcd"));
        assert!(!same("abce", "abcd"));
        assert!(!same("", "abcd"));
    }
}
