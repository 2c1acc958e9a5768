//! The one HTTP error type: every failure becomes JSON `{code, message}` with a stable code
//! and a status that fits it. Internal detail (database errors) never reaches the client; it
//! is logged once, with a reference the client gets, so an operator can find it.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::service::ServiceError;

/// The JSON body of every error.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Stable, machine-readable: `not_found`, `access_denied`, `offer_expired`,
    /// `over_bandwidth`, `csrf`, `cross_origin`, `rate_limited`, `unauthenticated`, `invalid_input`, ...
    pub code: String,
    /// For people: what went wrong and what to do.
    pub message: String,
}

/// The largest body a request may carry (the gate in `origin.rs` holds every request to it).
pub const BODY_LIMIT: usize = 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Service(#[from] ServiceError),
    #[error("log in first: POST /api/v1/session with your email and password")]
    Unauthenticated,
    #[error("missing or wrong CSRF token: send the token from the login answer (or /api/v1/me) in X-CSRF-Token")]
    Csrf,
    #[error(
        "refused: the browser says this request comes from another site; send it from Switchboard's own pages (or from a client that is not a browser)"
    )]
    CrossOrigin,
    #[error("too many requests: try again in {0} s")]
    RateLimited(u64),
    #[error("{0}")]
    BadRequest(String),
    #[error("the request body is over {} MiB: send less", .0 / (1024 * 1024))]
    TooLarge(usize),
    /// What the framework refused before any handler (an unknown method, media type, a
    /// timeout), reshaped by [`shape_errors`].
    #[error("{message}")]
    Http { status: StatusCode, code: &'static str, message: String },
}

impl AppError {
    pub fn code(&self) -> &'static str {
        match self {
            AppError::Service(e) => e.code(),
            AppError::Unauthenticated => "unauthenticated",
            AppError::Csrf => "csrf",
            AppError::CrossOrigin => "cross_origin",
            AppError::RateLimited(_) => "rate_limited",
            AppError::BadRequest(_) => "invalid_input",
            AppError::TooLarge(_) => "too_large",
            AppError::Http { code, .. } => code,
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            AppError::Service(e) => match e {
                ServiceError::Refused(_) => StatusCode::UNPROCESSABLE_ENTITY,
                ServiceError::OfferExpired => StatusCode::GONE,
                ServiceError::AccessDenied | ServiceError::Forbidden(_) => StatusCode::FORBIDDEN,
                ServiceError::NotFound(_) => StatusCode::NOT_FOUND,
                ServiceError::Invalid(_) => StatusCode::BAD_REQUEST,
                ServiceError::Conflict(_) => StatusCode::CONFLICT,
                ServiceError::BadCredentials => StatusCode::UNAUTHORIZED,
                ServiceError::TakenOver => StatusCode::CONFLICT,
                ServiceError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
            },
            AppError::Unauthenticated => StatusCode::UNAUTHORIZED,
            AppError::Csrf | AppError::CrossOrigin => StatusCode::FORBIDDEN,
            AppError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::Http { status, .. } => *status,
        }
    }

    /// The body: internal errors say only where to look.
    pub fn body(&self) -> ErrorBody {
        let message = if self.status().is_server_error() {
            let reference = reference();
            tracing::error!(reference, error = %self, "request failed");
            format!("internal error (reference {reference}); the operator's log has the details")
        } else {
            self.to_string()
        };
        ErrorBody { code: self.code().to_string(), message }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut response = (status, Json(self.body())).into_response();
        if let AppError::RateLimited(secs) = self
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        response
    }
}

/// `Json` whose rejections are our JSON errors (with serde's message: which field, what).
/// A body is a JSON object, as the API's schema says of every one: serde alone reads a
/// struct from an array of its fields too (`["a@b.example", "pw"]` as credentials).
#[derive(Debug, Clone, Copy, Default)]
pub struct AppJson<T>(pub T);

/// A `T` read only from a JSON object.
struct Object<T>(T);

impl<'de, T: serde::Deserialize<'de>> serde::Deserialize<'de> for Object<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::model::strict::object(d).map(Object)
    }
}

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequest<S> for AppJson<T> {
    type Rejection = AppError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, AppError> {
        let Json(Object(value)) = Json::<Object<T>>::from_request(req, state).await?;
        Ok(AppJson(value))
    }
}

/// [`AppJson`], or `T`'s default when the request has no body at all: for a write whose
/// every field is optional (`terminate` with no reason), where a client sends nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonOrNothing<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned + Default> FromRequest<S> for JsonOrNothing<T> {
    type Rejection = AppError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, AppError> {
        let (parts, body) = req.into_parts();
        let bytes = axum::body::to_bytes(body, BODY_LIMIT).await.map_err(|_| AppError::TooLarge(BODY_LIMIT))?;
        if bytes.is_empty() {
            return Ok(JsonOrNothing(T::default()));
        }
        let req = axum::extract::Request::from_parts(parts, axum::body::Body::from(bytes));
        let AppJson(value) = AppJson::<T>::from_request(req, state).await?;
        Ok(JsonOrNothing(value))
    }
}

impl From<JsonRejection> for AppError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection.status() {
            StatusCode::UNSUPPORTED_MEDIA_TYPE => AppError::Http {
                status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
                code: "unsupported_media_type",
                message: "the body must be JSON: send it with Content-Type: application/json".into(),
            },
            StatusCode::PAYLOAD_TOO_LARGE => AppError::TooLarge(BODY_LIMIT),
            // What serde says, with where (`invitees[0].email: ...`), without the framework's
            // own preamble.
            _ => AppError::BadRequest(format!("bad JSON body: {}", innermost(&rejection))),
        }
    }
}

/// The last error of `e`'s chain of sources, the one that says what was wrong, in words:
/// serde names the Rust type it wanted (`expected u16`), which a client's author should not
/// need to know.
pub(super) fn innermost(e: &(dyn std::error::Error + 'static)) -> String {
    let mut at = e;
    while let Some(next) = at.source() {
        at = next;
    }
    in_words(&at.to_string())
}

/// `message` with serde's Rust type names said as what they take.
fn in_words(message: &str) -> String {
    const TYPES: [(&str, &str); 9] = [
        ("expected u8", "expected a whole number from 0 to 255"),
        ("expected u16", "expected a whole number from 0 to 65535"),
        ("expected u32", "expected a whole number from 0 to 4294967295"),
        ("expected u64", "expected a whole number, 0 or more"),
        ("expected usize", "expected a whole number, 0 or more"),
        ("expected i32", "expected a whole number"),
        ("expected i64", "expected a whole number"),
        ("expected f64", "expected a number"),
        ("expected a borrowed string", "expected a string"),
    ];
    let mut out = message.to_string();
    for (rust, words) in TYPES {
        // Whole words only: `expected u16` is not the start of `expected u160`.
        let mut from = 0;
        while let Some(at) = out[from..].find(rust).map(|i| i + from) {
            let end = at + rust.len();
            if out[end..].starts_with(|c: char| c.is_ascii_alphanumeric()) {
                from = end;
                continue;
            }
            out.replace_range(at..end, words);
            from = at + words.len();
        }
    }
    out
}

/// `Query` whose rejections are our JSON errors: "the query: channel: not a channel id ...".
#[derive(Debug, Clone, Copy, Default, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(AppError))]
pub struct AppQuery<T>(pub T);

impl From<axum::extract::rejection::QueryRejection> for AppError {
    fn from(rejection: axum::extract::rejection::QueryRejection) -> Self {
        AppError::BadRequest(format!("the query: {}", innermost(&rejection)))
    }
}

impl<T: Serialize> IntoResponse for AppJson<T> {
    fn into_response(self) -> Response {
        Json(self.0).into_response()
    }
}

/// A new reference for an internal error: the client gets it, the log has it with the
/// details, so the operator can find one from the other.
pub fn reference() -> String {
    format!("err-{}", uuid::Uuid::now_v7().simple())
}

#[cfg(test)]
mod tests {
    #[test]
    fn serde_type_names_are_said_in_words() {
        assert_eq!(
            super::in_words("customer_vlan: invalid type: string \"abc\", expected u16 at line 1 column 25"),
            "customer_vlan: invalid type: string \"abc\", expected a whole number from 0 to 65535 at line 1 column 25"
        );
        assert_eq!(
            super::in_words("bandwidth_mbps: invalid value: integer `-5`, expected u64"),
            "bandwidth_mbps: invalid value: integer `-5`, expected a whole number, 0 or more"
        );
        assert_eq!(super::in_words("expected u160"), "expected u160");
    }
}
