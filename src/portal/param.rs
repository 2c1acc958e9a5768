//! A path parameter parsed into its id type ([`crate::model::id`]) before the handler runs,
//! so a malformed id never reaches the service, let alone a query.
//!
//! An id that cannot exist names nothing, so it is answered as an unknown one is, with the
//! parameter named and the shape an id has: 404 `not_found` for a channel, attachment or
//! order; for an invitation token, a secret, 403 `access_denied` as for a wrong token. Under
//! `/api/` the answer is the JSON error, elsewhere the error page (for a token cut short or
//! mistyped, headed as a wrong token's page is: "This invitation link is not valid").

use std::str::FromStr;

use axum::extract::{FromRequestParts, OriginalUri, RawPathParams};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};

use crate::model::id::IdError;

use super::error::AppError;
use super::page::PageError;

/// The route's one path parameter, as a `T`.
#[derive(Debug, Clone)]
pub struct PathId<T>(pub T);

impl<S, T> FromRequestParts<S> for PathId<T>
where
    S: Send + Sync,
    T: FromStr<Err = IdError> + Send,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        // A nested router sees its own part of the path; the original says whether it is the API's.
        let path = parts.extensions.get::<OriginalUri>().map_or(parts.uri.path(), |u| u.0.path());
        let api = path.starts_with("/api/");
        let refuse = |e: AppError| if api { e.into_response() } else { PageError::from(e).into_response() };
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|_| refuse(AppError::BadRequest("the path could not be read: check it".into())))?;
        let Some((name, value)) = params.iter().next() else {
            return Err(refuse(AppError::BadRequest("the path names nothing".into())));
        };
        value.parse().map(PathId).map_err(|e: IdError| match api {
            true => malformed(name, &e).into_response(),
            false => PageError::from(malformed_page(&e)).into_response(),
        })
    }
}

/// What a page says of a link whose id cannot be one: the same as for an unknown id, in
/// people's words (no parameter names, no id shapes).
fn malformed_page(e: &IdError) -> AppError {
    if e.secret {
        AppError::Http {
            status: StatusCode::FORBIDDEN,
            code: "invalid_link",
            message: "This invitation link is not valid: it may have been mistyped or cut short. Open the whole \
                      link from the most recent email you were sent, or ask whoever sent it for a new invitation."
                .into(),
        }
    } else {
        AppError::Http {
            status: StatusCode::NOT_FOUND,
            code: "not_found",
            message: "There is nothing at this address: the link may have been mistyped or cut short. \
                      Your channels are listed under My channels."
                .into(),
        }
    }
}

/// The answer to a path parameter `name` that is not an id of its kind.
pub fn malformed(name: &str, e: &IdError) -> AppError {
    if e.secret {
        AppError::Http {
            status: StatusCode::FORBIDDEN,
            code: "access_denied",
            message: format!("access denied: path parameter `{name}` is {e}; open the link you were sent, whole"),
        }
    } else {
        AppError::Http {
            status: StatusCode::NOT_FOUND,
            code: "not_found",
            message: format!("nothing here: path parameter `{name}` is {e}; take ids from the API's answers"),
        }
    }
}
