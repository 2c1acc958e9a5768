//! A small positioned YAML tree on top of `saphyr`, and a reader that turns it into typed
//! values while collecting every problem with its `line:col`.
//!
//! serde_yaml is archived and serde's data model loses positions, so the topology and channel
//! parsers walk this tree by hand. That also lets them report *all* errors of a file at once.
//! The tree is built from saphyr-parser's events as they come ([`events`]).

use compact_str::{CompactString, ToCompactString};

use crate::model::{Diagnostic, Pos};

/// A YAML node with the position where it starts.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub pos: Pos,
    pub value: Value,
}

/// The YAML data model after tag resolution (YAML 1.2 core schema).
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    /// Keys in document order. Duplicate keys are a parse error.
    Map(Vec<(Node, Node)>),
}

impl Value {
    /// What a user would call this kind of value, for error messages.
    pub fn describe(&self) -> &'static str {
        match self {
            Value::Null => "nothing (null)",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

mod events;

/// Parses one YAML document. An empty file is `Null`; more than one document is an error.
pub fn parse(text: &str) -> Result<Node, Diagnostic> {
    let mut docs = events::load(text)?.into_iter();
    let first = match docs.next() {
        Some(doc) => match doc.error {
            Some(e) => return Err(e),
            None => doc.root,
        },
        None => return Ok(Node { pos: Pos { line: 1, col: 1 }, value: Value::Null }),
    };
    if let Some(second) = docs.next() {
        return Err(Diagnostic::new(second.pos, "YAML holds more than one document (---): put everything in one"));
    }
    Ok(first)
}

/// Nesting deeper than this is refused rather than risking the stack on hostile input.
const MAX_DEPTH: usize = 64;

/// Collects diagnostics while typed values are read out of a [`Node`] tree.
#[derive(Default, Debug)]
pub struct Reader {
    pub diagnostics: Vec<Diagnostic>,
}

impl Reader {
    pub fn error(&mut self, pos: Pos, message: impl Into<String>) {
        self.diagnostics.push(Diagnostic::new(pos, message));
    }

    /// Opens a mapping, or records an error and returns `None`.
    pub fn map<'n>(&mut self, node: &'n Node, what: &str) -> Option<Fields<'n>> {
        match &node.value {
            Value::Map(entries) => Some(Fields { pos: node.pos, entries, used: Used::new(entries.len()) }),
            other => {
                self.error(node.pos, format!("{what} must be a mapping, found {}", other.describe()));
                None
            }
        }
    }

    /// A list; `null` counts as empty (so `links:` with nothing after it is fine).
    pub fn seq<'n>(&mut self, node: &'n Node, what: &str) -> &'n [Node] {
        match &node.value {
            Value::Seq(items) => items,
            Value::Null => &[],
            other => {
                self.error(node.pos, format!("{what} must be a list, found {}", other.describe()));
                &[]
            }
        }
    }

    /// A string. Plain scalars such as `1` or `true` are accepted as their text, since port
    /// and switch names are often numbers.
    pub fn string(&mut self, node: &Node, what: &str) -> Option<String> {
        self.compact(node, what).map(CompactString::into_string)
    }

    /// [`Reader::string`] as a [`CompactString`]: made from the text in place, so a name of
    /// up to 24 bytes costs no allocation (a channels file holds hundreds of thousands).
    pub fn compact(&mut self, node: &Node, what: &str) -> Option<CompactString> {
        match &node.value {
            Value::Str(s) => Some(CompactString::from(s.as_str())),
            Value::Int(i) => Some(i.to_compact_string()),
            Value::Bool(b) => Some(b.to_compact_string()),
            other => {
                self.error(node.pos, format!("{what} must be a string, found {}", other.describe()));
                None
            }
        }
    }

    pub fn int(&mut self, node: &Node, what: &str, min: i64, max: i64) -> Option<i64> {
        match &node.value {
            Value::Int(i) if (min..=max).contains(i) => Some(*i),
            Value::Int(i) => {
                self.error(node.pos, format!("{what} {i} is out of range {min}-{max}"));
                None
            }
            // A whole number past i64 (`99999999999999999999`) reads as a float; one in
            // range written as a float (`100.0`) is still not a whole number's spelling.
            Value::Float(f) if f.fract() == 0.0 && (*f < min as f64 || *f > max as f64) => {
                self.error(node.pos, format!("{what} {f} is out of range {min}-{max}"));
                None
            }
            Value::Float(f) => {
                self.error(node.pos, format!("{what} must be a whole number from {min} to {max}, found {f}"));
                None
            }
            other => {
                self.error(
                    node.pos,
                    format!("{what} must be a whole number from {min} to {max}, found {}", other.describe()),
                );
                None
            }
        }
    }

    pub fn parse_str<T>(&mut self, node: &Node, what: &str) -> Option<T>
    where
        T: std::str::FromStr,
        T::Err: std::fmt::Display,
    {
        // Parsed from the node's text in place: no copy of it is made.
        let parsed = match &node.value {
            Value::Str(s) => s.parse(),
            _ => self.string(node, what)?.parse(),
        };
        match parsed {
            Ok(v) => Some(v),
            Err(e) => {
                self.error(node.pos, format!("{what}: {e}"));
                None
            }
        }
    }
}

/// The entries of one mapping. Reading a key marks it used; [`Fields::finish`] reports
/// every key nobody asked for, which catches typos such as `swtiches:`.
pub struct Fields<'n> {
    pub pos: Pos,
    entries: &'n [(Node, Node)],
    used: Used,
}

/// Which entries of a mapping were read: bits for the small mappings of channels, members,
/// switches and interfaces (one allocation less for each), a list for larger ones.
enum Used {
    Bits(u64),
    List(Vec<bool>),
}

impl Used {
    fn new(len: usize) -> Used {
        if len <= 64 { Used::Bits(0) } else { Used::List(vec![false; len]) }
    }

    fn mark(&mut self, i: usize) {
        match self {
            Used::Bits(bits) => *bits |= 1u64.checked_shl(i as u32).unwrap_or(0),
            Used::List(list) => {
                if let Some(u) = list.get_mut(i) {
                    *u = true;
                }
            }
        }
    }

    fn get(&self, i: usize) -> bool {
        match self {
            Used::Bits(bits) => bits.checked_shr(i as u32).is_some_and(|b| b & 1 != 0),
            Used::List(list) => list.get(i).copied().unwrap_or(false),
        }
    }
}

impl<'n> Fields<'n> {
    /// The value of `key`, if present.
    pub fn get(&mut self, key: &str) -> Option<&'n Node> {
        for (i, (k, v)) in self.entries.iter().enumerate() {
            if matches!(&k.value, Value::Str(s) if s == key) {
                self.used.mark(i);
                return Some(v);
            }
        }
        None
    }

    /// The value of `key`, or an error at the mapping if it is missing.
    /// `what` names the mapping in the message; it is spelled out only if there is one.
    pub fn require(&mut self, reader: &mut Reader, key: &str, what: impl std::fmt::Display) -> Option<&'n Node> {
        let v = self.get(key);
        if v.is_some() {
            return v;
        }
        // A key not read yet that is a slip of this one (`endpoint`, `memebrs`): one error at
        // it, and its value read as the key's, rather than "missing" here and "unknown" there.
        let slip = self.entries.iter().enumerate().find_map(|(i, (k, v))| match &k.value {
            Value::Str(s) if !self.used.get(i) && !crate::topology::suggest(s, &[key]).is_empty() => Some((i, k, s, v)),
            _ => None,
        });
        if let Some((i, k, name, v)) = slip {
            self.used.mark(i);
            reader.error(k.pos, format!("unknown key `{name}` in {what}, did you mean `{key}`?"));
            return Some(v);
        }
        reader.error(self.pos, format!("{what} is missing `{key}`"));
        None
    }

    /// Reports keys that were never read, listing the ones that are allowed.
    pub fn finish(self, reader: &mut Reader, what: impl std::fmt::Display, allowed: &[&str]) {
        for (i, (k, _)) in self.entries.iter().enumerate() {
            if self.used.get(i) {
                continue;
            }
            let name = match &k.value {
                Value::Str(s) => s.clone(),
                other => format!("<{}>", other.describe()),
            };
            let near = crate::topology::suggest(&name, allowed);
            reader
                .error(k.pos, format!("unknown key `{name}` in {what}{near}; expected one of: {}", allowed.join(", ")));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tab in place of a space is reported where it is, saying so.
    #[test]
    fn a_tab_for_a_space_is_reported_where_it_is() {
        for (text, at) in [("a:\n  b: 1\n\tc: 2\n", (3, 1)), ("a:\n  b:\tx\n", (2, 5))] {
            let e = parse(text).expect_err(text);
            assert!(e.message.contains("a tab where YAML wants spaces"), "{text:?}: {e}");
            assert_eq!((e.pos.line, e.pos.col), at, "{text:?}: {e}");
        }
        // Where YAML takes a tab, it is taken.
        assert!(parse("- a\n-\tb\n").is_ok());
    }

    #[test]
    fn positions_are_one_based() {
        let n = parse("a: 1\nb:\n  - x\n  - 'y'\n").unwrap();
        let Value::Map(m) = n.value else { panic!() };
        assert_eq!(m[0].0.pos, Pos { line: 1, col: 1 });
        assert_eq!(m[1].0.pos, Pos { line: 2, col: 1 });
        let Value::Seq(items) = &m[1].1.value else { panic!() };
        assert_eq!(items[1].pos, Pos { line: 4, col: 5 });
        assert_eq!(items[1].value, Value::Str("y".into()));
    }

    #[test]
    fn an_unclosed_quote_is_named_where_it_opens() {
        for (text, at, quote) in [
            ("name: \"metro\nswitches: {s1: {}}\n", (1, 7), '"'),
            ("name: t\nswitches: {s1: {driver: 'dry-run}}\n", (2, 25), '\''),
        ] {
            let e = parse(text).expect_err(text);
            assert_eq!((e.pos.line, e.pos.col), at, "{text:?}: {e}");
            assert!(e.message.contains(&format!("quoted with {quote} here is not closed")), "{text:?}: {e}");
        }
    }

    #[test]
    fn syntax_error_has_position() {
        let e = parse("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(e.message.starts_with("YAML syntax"), "{e}");
        assert!(e.pos.line >= 1);
    }

    #[test]
    fn duplicate_keys_are_an_error() {
        let e = parse("a: 1\na: 2\n").unwrap_err();
        assert!(e.message.contains("YAML syntax"), "{e}");
    }

    #[test]
    fn empty_is_null_and_two_docs_refused() {
        assert_eq!(parse("").unwrap().value, Value::Null);
        assert!(parse("a: 1\n---\nb: 2\n").is_err());
    }
}
