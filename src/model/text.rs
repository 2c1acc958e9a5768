//! Text a person or a client sent (names, emails, reasons, descriptions): the one rule
//! every such field is held to. UTF-8 (the type says so) without control characters (a
//! NUL byte is one: PostgreSQL cannot store it, SQLite would), trimmed, and at most a
//! field's own number of characters: longer text is refused, never cut.

/// Why a field's text was refused, with the field's name and what to send instead.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field} must be {rule}")]
pub struct TextError {
    pub field: String,
    pub rule: String,
}

/// `s` trimmed, when it is 1 to `max` characters without control characters.
pub fn required(field: &str, s: &str, max: usize) -> Result<String, TextError> {
    let t = s.trim();
    if t.is_empty() || !fits(t, max) {
        return Err(TextError { field: field.into(), rule: format!("1-{max} printable characters") });
    }
    Ok(t.to_string())
}

/// As [`required`], but empty text is allowed (and is empty).
pub fn optional(field: &str, s: &str, max: usize) -> Result<String, TextError> {
    let t = s.trim();
    if !fits(t, max) {
        return Err(TextError { field: field.into(), rule: format!("at most {max} printable characters") });
    }
    Ok(t.to_string())
}

/// Whether `s` has no control character.
pub fn printable(s: &str) -> bool {
    !s.chars().any(char::is_control)
}

fn fits(t: &str, max: usize) -> bool {
    printable(t) && t.chars().count() <= max
}

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
}
