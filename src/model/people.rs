//! Words for people: a message written for API clients (field paths, backticks, kind
//! codes, "interface") as a page or an email shows it to a person, in the vocabulary the
//! portal, the emails and the docs share: E-Line, E-Tree, E-LAN; port; channel.

/// A message written for API clients, as a page shows it to a person: a field path at its
/// start in words (`auto_accept[1]: ...` is "Rule 2: ...", `notifications.recipients[0]`
/// "Recipient 1", `invitees[2].email` "Invitee 3's email"), names quoted with typographic
/// quotes instead of backticks, channel kinds by their names (E-Line, E-Tree, E-LAN), and
/// a service interface by what people call it, a port.
pub fn for_people(message: &str) -> String {
    let (head, rest) = match message.split_once(": ") {
        Some((head, rest)) if is_field_path(head) => (field_in_words(head), rest),
        _ => (String::new(), message),
    };
    let mut out = typographic_quotes(rest);
    let words = [
        ("mp2mp", "E-LAN"),
        ("p2mp", "E-Tree"),
        ("p2p", "E-Line"),
        ("service interfaces", "ports"),
        ("service interface", "port"),
        ("interfaces", "ports"),
        ("interface", "port"),
    ];
    for (code, name) in words {
        out = replace_word(&out, code, name);
    }
    if head.is_empty() { out } else { format!("{head}: {out}") }
}

/// Whether `s` is a field path (`auto_accept[1]`, `invitees[0].org_name`, `email`).
fn is_field_path(s: &str) -> bool {
    !s.is_empty()
        && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '.' | '[' | ']'))
        && s.contains(['[', '_', '.'])
}

/// A field path in words: its last list index, counted from 1, names the item; the field
/// after it follows ("Invitee 3's email").
fn field_in_words(path: &str) -> String {
    let words = |s: &str| s.replace('_', " ");
    let Some(open) = path.rfind('[') else { return capitalized(&words(path.rsplit('.').next().unwrap_or(path))) };
    let list = path[..open].rsplit('.').next().unwrap_or("");
    let index: usize = path[open + 1..].split(']').next().and_then(|n| n.parse().ok()).unwrap_or(0);
    let after = path[open..].split_once("].").map(|(_, f)| words(f));
    let item = match list {
        "auto_accept" => "Rule".to_string(),
        "recipients" => "Recipient".to_string(),
        "invitees" => "Invitee".to_string(),
        other => capitalized(words(other).trim_end_matches('s')),
    };
    match after {
        Some(f) => format!("{item} {}'s {f}", index + 1),
        None => format!("{item} {}", index + 1),
    }
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
}

/// `text` with every whole word `word` (not part of a longer name) replaced by `by`.
fn replace_word(text: &str, word: &str, by: &str) -> String {
    let part = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '-');
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(word) {
        let before = rest[..i].chars().next_back().or(out.chars().next_back());
        let after = rest[i + word.len()..].chars().next();
        out.push_str(&rest[..i]);
        out.push_str(if part(before) || part(after) { word } else { by });
        rest = &rest[i + word.len()..];
    }
    out.push_str(rest);
    out
}

/// Text from a lower layer (a driver's error) as a page shows it: the names it quotes in
/// backticks in typographic quotes.
pub fn typographic_quotes(s: &str) -> String {
    let mut opening = true;
    s.chars()
        .map(|c| match c {
            '`' => {
                opening = !opening;
                if opening { '”' } else { '“' }
            }
            c => c,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_for_api_clients_read_as_words_on_pages() {
        assert_eq!(
            for_people("auto_accept[1]: `globex-8a` is not one of your organization's interfaces"),
            "Rule 2: “globex-8a” is not one of your organization's ports"
        );
        assert_eq!(
            for_people("notifications.recipients[0]: `x` is not an email address"),
            "Recipient 1: “x” is not an email address"
        );
        assert_eq!(for_people("invitees[2].org_name: too long"), "Invitee 3's org name: too long");
        assert_eq!(
            for_people("the account does not support p2mp channels (it supports p2p, mp2mp)"),
            "the account does not support E-Tree channels (it supports E-Line, E-LAN)"
        );
        assert_eq!(for_people("port acme-p2p carries one"), "port acme-p2p carries one", "inside a name: kept");
        assert_eq!(
            for_people("interface `acme-1a` is in port mode: use a tagged-mode interface"),
            "port “acme-1a” is in port mode: use a tagged-mode port"
        );
        assert_eq!(for_people("service interface `x` belongs to interfaces-2"), "port “x” belongs to interfaces-2");
        assert_eq!(for_people("Line 3 (“a: b”): not an email address"), "Line 3 (“a: b”): not an email address");
    }
}
