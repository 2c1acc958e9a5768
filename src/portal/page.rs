//! What every page of the portal shares: who is looking (a logged-in visitor, or the
//! login page and back), an error as a page, rendering a template, reading a form, the
//! form's CSRF field, and the socket choices forms offer.

use askama::Template;
use axum::Form;
use axum::extract::FromRequestParts;
use axum::extract::rejection::FormRejection;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{Html, IntoResponse, Redirect, Response};

use crate::service::{InterfaceView, UserRole};

use super::AppState;
use super::auth::Authed;
use super::error::AppError;
use super::words::urlencode;

/// The header's view of who is logged in.
#[derive(Clone, Debug)]
pub struct HeaderUser {
    pub email: String,
    pub organization: String,
    pub role: String,
    pub operator: bool,
    pub csrf: String,
}

impl HeaderUser {
    /// What the header shows of a logged-in visitor.
    pub fn of(authed: &Authed) -> HeaderUser {
        HeaderUser {
            email: authed.actor.email.clone(),
            organization: authed.organization.clone(),
            role: authed.actor.role.as_str().into(),
            operator: authed.actor.role == UserRole::Operator,
            csrf: authed.csrf.clone(),
        }
    }
}

/// A logged-in page visitor; anyone else is sent to the login page and back.
pub struct PageUser {
    pub authed: Authed,
    pub header: HeaderUser,
}

impl FromRequestParts<AppState> for PageUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let next = parts.uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
        match <Authed as FromRequestParts<AppState>>::from_request_parts(parts, state).await {
            Ok(authed) => Ok(PageUser { header: HeaderUser::of(&authed), authed }),
            Err(AppError::Unauthenticated) => {
                Err(Redirect::to(&format!("/login?next={}", urlencode(&next))).into_response())
            }
            Err(e) => Err(PageError::from(e).into_response()),
        }
    }
}

impl PageUser {
    pub(super) fn error(&self, e: impl Into<AppError>) -> PageError {
        PageError { user: Some(Box::new(self.header.clone())), error: e.into(), back: None }
    }
}

/// An error as a page: the same codes and statuses as the API, in words.
pub struct PageError {
    pub(super) user: Option<Box<HeaderUser>>,
    pub(super) error: AppError,
    /// Where the page links back to (the start when `None`).
    pub(super) back: Option<String>,
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    title: String,
    user: Option<HeaderUser>,
    heading: String,
    code: String,
    message: String,
    /// Where the link back goes: the page the visitor came from on this site, or the start.
    back: String,
}

/// Where a page about an error links back to: the page the visitor came from, when the
/// browser says it was one of this site's (a path only), else the start.
pub(super) fn back_link(headers: &axum::http::HeaderMap) -> String {
    let referer = headers.get(axum::http::header::REFERER).and_then(|v| v.to_str().ok()).unwrap_or("");
    let host = headers.get(axum::http::header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
    let path = referer.split_once("://").and_then(|(_, rest)| rest.strip_prefix(host)).filter(|_| !host.is_empty());
    match path {
        Some(p) if p.starts_with('/') && !p.starts_with("//") && super::words::safe_next(p) == p => p.to_string(),
        _ => "/".into(),
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let status = self.error.status();
        let body = self.error.body();
        let heading = match body.code.as_str() {
            "offer_expired" => "This offer has expired",
            "access_denied" => "Access denied",
            "invalid_link" => "This invitation link is not valid",
            "not_found" => "Not found",
            "csrf" => "Please try again",
            "cross_origin" => "Refused: this came from another site",
            "rate_limited" => "Slow down",
            "too_large" => "That was too much",
            "method_not_allowed" | "unsupported_media_type" => "This page does not take that",
            _ if status.is_server_error() => "Something went wrong",
            _ => "That did not work",
        };
        let page = ErrorPage {
            title: heading.into(),
            user: self.user.map(|u| *u),
            heading: heading.into(),
            message: match body.code.as_str() {
                // The API's words name a header a browser never sends by hand.
                "csrf" => "This form had expired or came from a page opened before you logged in: \
                           go back, reload the page and send it again."
                    .into(),
                _ => super::words::capitalized(&super::words::for_people(&body.message)),
            },
            code: body.code,
            back: self.back.unwrap_or_else(|| "/".into()),
        };
        (status, render(&page)).into_response()
    }
}

impl From<AppError> for PageError {
    fn from(error: AppError) -> Self {
        PageError { user: None, error, back: None }
    }
}

pub(super) fn render<T: Template>(t: &T) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            let reference = super::error::reference();
            tracing::error!(reference, error = %e, "template failed");
            (StatusCode::INTERNAL_SERVER_ERROR, format!("internal error (reference {reference})")).into_response()
        }
    }
}

pub(super) fn form<T>(f: Result<Form<T>, FormRejection>) -> Result<T, AppError> {
    // serde's words, without the framework's preamble ("Failed to deserialize form body").
    f.map(|Form(t)| t).map_err(|e| AppError::BadRequest(format!("bad form: {}", super::error::innermost(&e))))
}

pub(super) struct SocketOption {
    pub(super) name: String,
    pub(super) detail: String,
}

pub(super) fn socket_options(sockets: &[InterfaceView], only_free: bool) -> Vec<SocketOption> {
    sockets
        .iter()
        .filter(|s| !only_free || s.mode == "tagged" || s.channels.is_empty())
        .map(|s| SocketOption {
            name: s.name.clone(),
            detail: format!("{}:{} · {} mode · {} Mbps", s.switch, s.port, s.mode, s.capacity_mbps),
        })
        .collect()
}

/// The step between pressing an irreversible control (terminate, unplug, decline) and
/// its effect: what will happen and to whom, with the form's fields carried over and
/// `confirm=yes` added. Enter in a form's text box lands here, never on the effect.
#[derive(Template)]
#[template(path = "confirm.html")]
pub(super) struct Confirm {
    pub(super) title: String,
    pub(super) user: Option<HeaderUser>,
    pub(super) heading: String,
    pub(super) effect: String,
    /// Who loses service (interface and organization).
    pub(super) losing: Vec<String>,
    pub(super) note: String,
    pub(super) action: String,
    pub(super) csrf: String,
    /// The form's own fields, sent again with the confirmation.
    pub(super) fields: Vec<(String, String)>,
    pub(super) button: String,
    pub(super) back: String,
    pub(super) cancel: String,
}

/// Whether a form came from its confirmation page ([`Confirm`]).
pub(super) fn confirmed(confirm: &Option<String>) -> bool {
    confirm.as_deref() == Some("yes")
}
