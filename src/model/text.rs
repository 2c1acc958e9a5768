//! Text a person or a client sent (names, emails, reasons, descriptions): the one rule
//! every such field is held to. UTF-8 (the type says so) without control characters (a
//! NUL byte is one: PostgreSQL cannot store it, SQLite would), trimmed, and at most a
//! field's own number of characters: longer text is refused, never cut.
//!
//! A request's text fields are typed ([`ChannelName`], [`Reason`], ...): each type holds
//! its rule, so text is checked once, where it is read (a JSON body, a form), and the
//! service takes only checked text. The message names the field ("a reason must be at
//! most 500 printable characters"); a JSON body's error adds where it was (`invitees[0].name`).

use std::str::FromStr;

use serde::Serialize;

/// Why a field's text was refused, with the field's name and what to send instead.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field} must be {rule}")]
pub struct TextError {
    pub field: String,
    pub rule: String,
}

/// `s` trimmed, when it is 1 to `max` characters without control characters. The limit
/// holds for the text as sent, spaces included, as the OpenAPI schema says.
pub fn required(field: &str, s: &str, max: usize) -> Result<String, TextError> {
    let t = s.trim();
    if t.is_empty() || !fits(s, max) {
        return Err(TextError { field: field.into(), rule: format!("1-{max} printable characters") });
    }
    Ok(t.to_string())
}

/// As [`required`], but empty text is allowed (and is empty).
pub fn optional(field: &str, s: &str, max: usize) -> Result<String, TextError> {
    if !fits(s, max) {
        return Err(TextError { field: field.into(), rule: format!("at most {max} printable characters") });
    }
    Ok(s.trim().to_string())
}

/// An email address as sent (not trimmed: a form trims its own lines), lower-cased: one
/// `@` after something, then a domain with a dot that neither starts nor ends it; no
/// spaces or control characters; at most `max` characters.
pub fn email(field: &str, s: &str, max: usize) -> Result<String, TextError> {
    let plain = |c: char| !c.is_whitespace() && !c.is_control() && c != '@';
    let ok = s.chars().count() <= max
        && s.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && local.chars().all(plain)
                && domain.chars().all(plain)
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        });
    if !ok {
        return Err(TextError { field: field.into(), rule: "an address like name@example.com".into() });
    }
    Ok(s.to_lowercase())
}

/// A name that ends up in interface, namespace and file names (a topology's switches and
/// interfaces): 1-`max` ASCII letters, digits, '-', '_' or '.', starting with a letter or a
/// digit.
pub fn usable_name(field: &str, s: &str, max: usize) -> Result<String, TextError> {
    if !is_usable_name(s, max) {
        return Err(TextError {
            field: field.into(),
            rule: format!("1-{max} letters, digits, '-', '_' or '.', starting with a letter or digit"),
        });
    }
    Ok(s.to_string())
}

/// Whether `s` is a usable name of at most `max` bytes (see [`usable_name`]).
pub fn is_usable_name(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        && s.as_bytes().first().is_some_and(|b| b.is_ascii_alphanumeric())
}

/// Whether `s` has no control character.
pub fn printable(s: &str) -> bool {
    !s.chars().any(char::is_control)
}

fn fits(t: &str, max: usize) -> bool {
    printable(t) && t.chars().count() <= max
}

/// What the schemas say of each rule (ECMA-262 patterns, as OpenAPI takes them). A control
/// character is Unicode's Cc: U+0000-U+001F and U+007F-U+009F.
const PRINTABLE: &str = r"^[^\x00-\x1f\x7f-\x9f]*$";
const EMAIL: &str = concat!(
    r"^[^\s@\x00-\x1f\x7f-\x9f]+@[^\s@.\x00-\x1f\x7f-\x9f][^\s@\x00-\x1f\x7f-\x9f]*",
    r"\.[^\s@\x00-\x1f\x7f-\x9f]*[^\s@.\x00-\x1f\x7f-\x9f]$"
);
const USABLE_NAME: &str = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$";

macro_rules! text_type {
    ($(#[$doc:meta])* $name:ident, what = $what:literal, max = $max:literal, $rule:ident, min = $min:literal,
     pattern = $pattern:ident $(, $default:ident)?) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Serialize $(, $default)?)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// The field, for messages.
            pub const WHAT: &'static str = $what;
            /// The most characters it takes.
            pub const MAX: usize = $max;

            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// Text the store kept (checked when it was written), taken as it is.
            pub fn stored(s: impl Into<String>) -> Self {
                $name(s.into())
            }
        }

        impl FromStr for $name {
            type Err = TextError;
            fn from_str(s: &str) -> Result<Self, TextError> {
                $rule($what, s, $max).map($name)
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                super::string_schema($what, $pattern, $min, $max)
            }
        }

        impl utoipa::ToSchema for $name {}

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        checked_string!($name);
    };
}

text_type!(
    /// A channel's name: 1-64 characters.
    ChannelName, what = "a channel name", max = 64, required, min = 1, pattern = PRINTABLE
);
text_type!(
    /// An offer's description: up to 2,000 characters.
    Description, what = "a description", max = 2000, optional, min = 0, pattern = PRINTABLE, Default
);
text_type!(
    /// A person's name as they register: 1-100 characters.
    PersonName, what = "a name", max = 100, required, min = 1, pattern = PRINTABLE
);
text_type!(
    /// An organization's name as it registers: 1-100 characters.
    OrgName, what = "an organization name", max = 100, required, min = 1, pattern = PRINTABLE
);
text_type!(
    /// What an offer's creator knows of an invitee's name (pre-fills registration): up to
    /// 100 characters.
    InviteeName, what = "an invitee's name", max = 100, optional, min = 0, pattern = PRINTABLE, Default
);
text_type!(
    /// What an offer's creator knows of an invitee's organization: up to 100 characters.
    InviteeOrgName, what = "an invitee's organization name", max = 100, optional, min = 0, pattern = PRINTABLE, Default
);
text_type!(
    /// Why a channel is terminated (the audit log, the other parties): up to 500 characters.
    Reason, what = "a reason", max = 500, optional, min = 0, pattern = PRINTABLE, Default
);

text_type!(
    /// An email address: at most 254 characters, stored lower-case.
    Email, what = "an email address", max = 254, email, min = 5, pattern = EMAIL
);
text_type!(
    /// A service interface's name, as the topology names it: 1-64 letters, digits, '-',
    /// '_' or '.'.
    InterfaceName, what = "an interface name", max = 64, usable_name, min = 1, pattern = USABLE_NAME
);
text_type!(
    /// A class of service, as the operator's accounts name them: 1-64 characters.
    ClassName, what = "a class of service", max = 64, required, min = 1, pattern = PRINTABLE
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_trimmed_and_refused_never_cut() {
        assert_eq!(required("a name", "  Ops  ", 10).as_deref(), Ok("Ops"));
        assert!(required("a name", "   ", 10).is_err());
        assert!(required("a name", &"x".repeat(11), 10).is_err(), "too long is refused");
        assert_eq!(required("a name", &"é".repeat(10), 10).map(|s| s.chars().count()), Ok(10), "characters, not bytes");
        assert!(required("a name", "a\u{0}b", 10).is_err(), "NUL");
        assert!(required("a name", "a\u{1b}[31mb", 10).is_err(), "escape");
        assert!(required("a name", "a\nb", 10).is_err(), "one line");
        assert_eq!(optional("a reason", "", 10).as_deref(), Ok(""));
        let e = optional("a reason", "\u{7f}", 10).unwrap_err();
        assert_eq!(e.to_string(), "a reason must be at most 10 printable characters");
        assert_eq!(required("a name", "שלום 👋", 10).as_deref(), Ok("שלום 👋"), "any script, emoji");
    }

    #[test]
    fn typed_text_holds_its_rule_and_names_its_field() {
        assert_eq!(" Ops ".parse::<ChannelName>().map(|n| n.to_string()), Ok("Ops".to_string()));
        let e = "x".repeat(65).parse::<ChannelName>().unwrap_err();
        assert_eq!(e.to_string(), "a channel name must be 1-64 printable characters");
        assert!("".parse::<ChannelName>().is_err() && "".parse::<Reason>().is_ok());
        assert!("done\u{0}".parse::<Reason>().is_err() && "x".repeat(501).parse::<Reason>().is_err());
        let json: Result<Reason, _> = serde_json::from_str(r#""a\u0007""#);
        assert!(json.unwrap_err().to_string().starts_with("a reason must be"));
        let json: InviteeOrgName = serde_json::from_str(r#"" Globex ""#).unwrap();
        assert_eq!((json.as_str(), serde_json::to_string(&json).unwrap().as_str()), ("Globex", r#""Globex""#));
    }
}
