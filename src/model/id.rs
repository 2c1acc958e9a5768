//! Identifiers a client names in a path, a query or a body: each its own type, parsed at the
//! edge, so an id that cannot exist (the wrong prefix, length or characters: `ch-nope`, a
//! NUL byte, 10,000 characters) never reaches a query and both databases never see it.
//!
//! The shapes are the ones the store makes: `PREFIX-` then a UUID's 32 lower-case hex digits
//! (`ch-0190f5c2…`), and an invitation token's 64 lower-case hex digits. An id read back from
//! the database is the store's own and is taken as it is ([`ChannelId::stored`]).

use std::str::FromStr;

use serde::Serialize;

/// Why text is not an id of some kind: what the kind is and the shape it has.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not {what} ({shape})")]
pub struct IdError {
    pub what: &'static str,
    pub shape: &'static str,
    /// A token is a secret: one that cannot exist is answered like a wrong one.
    pub secret: bool,
}

/// Whether `s` is `prefix` followed by `digits` lower-case hex digits.
fn is_shaped(s: &str, prefix: &str, digits: usize) -> bool {
    s.strip_prefix(prefix)
        .is_some_and(|hex| hex.len() == digits && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, prefix = $prefix:literal, digits = $digits:literal, what = $what:literal,
     shape = $shape:literal, secret = $secret:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                let pattern = format!("^{}[0-9a-f]{{{}}}$", $prefix, $digits);
                let len = $prefix.len() + $digits;
                super::string_schema(concat!($what, ": ", $shape), &pattern, len, len)
            }
        }

        impl utoipa::ToSchema for $name {}

        impl $name {
            /// What the id names, for messages: "a channel id".
            pub const WHAT: &'static str = $what;

            /// An id the store made or read back from its own rows (never a client's text).
            pub fn stored(id: impl Into<String>) -> Self {
                $name(id.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                if is_shaped(s, $prefix, $digits) {
                    Ok($name(s.to_string()))
                } else {
                    Err(IdError { what: $what, shape: $shape, secret: $secret })
                }
            }
        }

        checked_string!($name);

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }

        impl PartialEq<$name> for String {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }
    };
}

id_type!(
    /// A channel: `ch-` and 32 hex digits.
    ChannelId, prefix = "ch-", digits = 32, what = "a channel id", shape = "`ch-` and 32 hex digits", secret = false
);
id_type!(
    /// One interface plugged into a channel: `att-` and 32 hex digits.
    AttachmentId, prefix = "att-", digits = 32, what = "an attachment id", shape = "`att-` and 32 hex digits",
    secret = false
);
id_type!(
    /// A provisioning order: `ord-` and 32 hex digits.
    OrderId, prefix = "ord-", digits = 32, what = "an order id", shape = "`ord-` and 32 hex digits", secret = false
);
id_type!(
    /// A usage model of the catalogue (how a member pays): `um-` and 32 hex digits.
    UsageModelId, prefix = "um-", digits = 32, what = "a usage model id", shape = "`um-` and 32 hex digits",
    secret = false
);
id_type!(
    /// One invitee of an offer (whom an invitation is for), as its creator and its inbox
    /// name it: `inv-` and 32 hex digits. Not a secret: its pages are only for those two.
    InviteeId, prefix = "inv-", digits = 32, what = "an invitee id", shape = "`inv-` and 32 hex digits",
    secret = false
);
id_type!(
    /// The secret in an invitation's URL: 256 random bits as 64 hex digits.
    InvitationToken, prefix = "", digits = 64, what = "an invitation token", shape = "64 hex digits", secret = true
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_the_shape_the_store_makes_and_nothing_else() {
        let hex = "0190f5c2a1b24c3d8e9f00112233aabb";
        assert_eq!(format!("ch-{hex}").parse::<ChannelId>().map(String::from), Ok(format!("ch-{hex}")));
        assert!(format!("att-{hex}").parse::<AttachmentId>().is_ok());
        assert!(format!("ord-{hex}").parse::<OrderId>().is_ok());
        assert!("ab".repeat(32).parse::<InvitationToken>().is_ok());
        let refused = [
            "ch-nope".to_string(),
            String::new(),
            format!("att-{hex}"),
            format!("ch-{}", hex.to_uppercase()),
            format!("ch-{hex}0"),
            format!("ch-{}", &hex[1..]),
            format!("ch-{hex}\u{0}"),
            format!(" ch-{hex}"),
            format!("ch-{}", "é".repeat(16)),
            "x".repeat(10_000),
        ];
        for s in &refused {
            assert_eq!(
                s.parse::<ChannelId>(),
                Err(IdError { what: "a channel id", shape: "`ch-` and 32 hex digits", secret: false }),
                "{s:?}"
            );
        }
        let e = "G".repeat(64).parse::<InvitationToken>().unwrap_err();
        assert_eq!((e.to_string().as_str(), e.secret), ("not an invitation token (64 hex digits)", true));
        let json: Result<ChannelId, _> = serde_json::from_str(r#""ch-nope""#);
        assert!(json.unwrap_err().to_string().contains("not a channel id"));
        assert_eq!(serde_json::to_string(&ChannelId::stored(format!("ch-{hex}"))).unwrap(), format!("\"ch-{hex}\""));
    }
}
