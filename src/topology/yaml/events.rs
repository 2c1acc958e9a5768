//! Builds the [`Node`] tree straight from saphyr-parser's events, with no tree in between.
//!
//! saphyr's own loader builds a node tree with a hash map per mapping, which we then
//! converted into ours and dropped: at 100,000 channels that was a quarter of the CPU of
//! `switchboard plan` (docs/performance.md). This reader keeps every answer of the loader
//! and the converter it replaces: scalars resolved by saphyr's own function, duplicate keys
//! and runaway aliases refused with the loader's messages at its positions, aliases copied,
//! tags ignored, the nesting limit and its first offending node, the first problem of a
//! document in document order. A test holds the two readers equal on generated YAML.
//!
//! Not a general YAML loader: it exists for [`super::parse`].

use std::collections::{HashMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};

use saphyr::Scalar;
use saphyr_parser::{Event, Marker, Parser, ScanError, Span, SpannedEventReceiver, Tag};

use super::{MAX_DEPTH, Node, Value};
use crate::model::{Diagnostic, Pos};

/// One document: its root, and the first problem in it in document order (what the old
/// converter stopped at).
pub(super) struct Document {
    pub root: Node,
    /// Where the root starts (a tagged scalar's tag, where the root's own position is 1:1).
    pub pos: Pos,
    pub error: Option<Diagnostic>,
}

/// A syntax error of `text` as a diagnostic, in words where saphyr's are about itself.
fn syntax(text: &str, e: &ScanError) -> Diagnostic {
    let m = e.marker();
    if let Some(tab) = misplaced_tab(text, m.line(), e.info()) {
        return Diagnostic::new(
            tab,
            "YAML syntax: a tab where YAML wants spaces (indentation, or after `:` or `-`): use spaces",
        );
    }
    let at = Pos { line: m.line(), col: m.col() + 1 };
    // saphyr marks a quoted string's errors where the string opens, and names what it
    // was doing there rather than what is wrong: a quote left open.
    if e.info().contains("quoted scalar") {
        let quote = text.lines().nth(m.line().saturating_sub(1)).and_then(|l| l.chars().nth(m.col()));
        if let Some(q @ ('"' | '\'')) = quote {
            return Diagnostic::new(
                at,
                format!(
                    "YAML syntax: the string quoted with {q} here is not closed: end it with {q} on the same \
                     line (a quote inside it is written {})",
                    if q == '"' { "\\\"" } else { "''" }
                ),
            );
        }
    }
    Diagnostic::new(at, format!("YAML syntax: {}", e.info()))
}

/// The documents of `text`, or the error that stops a whole load (syntax, a duplicate key,
/// an alias past its budget), as `YAML syntax: ...`.
pub(super) fn load(text: &str) -> Result<Vec<Document>, Diagnostic> {
    let mut builder = Builder { alias_budget: ALIAS_BUDGET, ..Builder::default() };
    let syntax = |e: &ScanError| syntax(text, e);
    // The parser's own error wins over one found while building, as in saphyr's loader.
    Parser::new_from_iter(text.chars()).load(&mut builder, true).map_err(|e| syntax(&e))?;
    match builder.fatal {
        Some(e) => Err(syntax(&e)),
        None => Ok(builder.docs),
    }
}

/// Where a tab stands in for a space, for a scanner error about tabs or whitespace at
/// `line`: saphyr reports a tab that indents a line on the line before it, and a tab after
/// `:` as "not followed by whitespace". The first tab in the leading blanks, or right after
/// `:` or `-`, on that line or the next.
fn misplaced_tab(text: &str, line: usize, info: &str) -> Option<Pos> {
    if !(info.contains("tab") || info.contains("whitespace")) {
        return None;
    }
    for (n, l) in text.lines().enumerate().skip(line.saturating_sub(1)).take(2) {
        let lead = l.len() - l.trim_start_matches([' ', '\t']).len();
        let after_sign = [l.find(":\t"), l.find("-\t")].into_iter().flatten().min().map(|i| i + 1);
        let at = l.get(..lead).and_then(|blank| blank.find('\t')).or(after_sign);
        if let Some(at) = at {
            let col = l.get(..at).map_or(at, |s| s.chars().count());
            return Some(Pos { line: n + 1, col: col + 1 });
        }
    }
    None
}

/// saphyr's default budget of nodes that aliases may copy ("billion laughs").
const ALIAS_BUDGET: usize = 100_000;

/// Mappings up to this many entries look for a duplicate key by comparing each; larger ones
/// (the switches and interfaces of a topology) keep a set of the keys' hashes.
const SCAN_KEYS: usize = 8;

#[derive(Default)]
struct Builder {
    docs: Vec<Document>,
    /// The collections open, innermost last.
    stack: Vec<Frame>,
    /// The current document's root, once read, and where it starts.
    root: Option<(Node, Pos)>,
    /// The first problem of the current document.
    error: Option<Diagnostic>,
    /// Anchored nodes by anchor id, with whether each is an invalid value.
    anchors: HashMap<usize, (Node, bool)>,
    alias_budget: usize,
    /// An error that stops the load.
    fatal: Option<ScanError>,
}

struct Frame {
    pos: Pos,
    anchor: usize,
    /// A tag outside the core schema: keys that differ by it differ.
    tag: Option<String>,
    /// How deep this collection's children are.
    child_depth: usize,
    kind: Collection,
    /// The first problem in the collection so far.
    error: Option<Diagnostic>,
}

/// How a finished node is placed.
struct Placed {
    /// Where saphyr's node starts.
    pos: Pos,
    anchor: usize,
    /// Whether the node is an invalid value.
    bad: bool,
    /// Its tag outside the core schema.
    tag: Option<String>,
    /// Where a duplicate of it as a key is reported.
    mark: Marker,
    /// Its first problem.
    error: Option<Diagnostic>,
}

// A frame per collection open, a handful at a time: their size does not matter.
#[allow(clippy::large_enum_variant)]
enum Collection {
    Seq(Vec<Node>),
    Map(MapFrame),
}

#[derive(Default)]
struct MapFrame {
    entries: Vec<(Node, Node)>,
    /// The key read, waiting for its value, with its tag outside the core schema and
    /// where a duplicate of it is reported.
    key: Option<(Node, Option<String>, Marker, Option<Diagnostic>)>,
    /// The entries whose keys have a tag outside the core schema, with it.
    key_tags: Vec<(usize, String)>,
    /// Hashes of the keys, once the mapping is past [`SCAN_KEYS`] entries.
    hashes: Option<HashSet<u64>>,
}

impl<'input> SpannedEventReceiver<'input> for Builder {
    fn on_event(&mut self, ev: Event<'input>, span: Span) {
        if self.fatal.is_some() {
            return;
        }
        if let Err(e) = self.event(ev, span) {
            self.fatal = Some(e);
        }
    }
}

impl Builder {
    fn event(&mut self, ev: Event<'_>, span: Span) -> Result<(), ScanError> {
        let mark = span.start;
        let pos = pos_of(mark);
        match ev {
            Event::DocumentStart(_) | Event::Nothing | Event::StreamStart | Event::StreamEnd => {}
            Event::DocumentEnd => {
                let (root, root_pos) = match self.root.take() {
                    Some(root) => root,
                    // An empty document: saphyr's loader makes an invalid value of it.
                    None => {
                        self.note(Some(Diagnostic::new(pos, "invalid YAML value")));
                        (Node { pos, value: Value::Null }, pos)
                    }
                };
                self.docs.push(Document { root, pos: root_pos, error: self.error.take() });
            }
            Event::SequenceStart(anchor, tag) => self.open(pos, anchor, tag.as_deref(), Collection::Seq(Vec::new())),
            Event::MappingStart(anchor, tag) => {
                self.open(pos, anchor, tag.as_deref(), Collection::Map(MapFrame::default()))
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let Some(frame) = self.stack.pop() else { return Ok(()) };
                let value = match frame.kind {
                    Collection::Seq(items) => Value::Seq(items),
                    Collection::Map(map) => Value::Map(map.entries),
                };
                let placed = Placed {
                    pos: frame.pos,
                    anchor: frame.anchor,
                    bad: false,
                    tag: frame.tag,
                    mark,
                    error: frame.error,
                };
                self.insert(Node { pos: frame.pos, value }, placed)?;
            }
            Event::Scalar(text, style, anchor, tag) => {
                let depth = self.depth();
                // A tag outside the core schema: saphyr reads the scalar as if untagged and
                // wraps it, and the converter took the inner node, whose position saphyr
                // never set (1:1), one level deeper.
                let custom = tag.as_deref().filter(|t| !t.is_yaml_core_schema()).map(ToString::to_string);
                let (inner_pos, core_tag) = match custom {
                    Some(_) => (Pos { line: 1, col: 1 }, None),
                    None => (pos, tag),
                };
                let (value, bad) = match Scalar::parse_from_cow_and_metadata(text, style, core_tag.as_ref()) {
                    Some(Scalar::Null) => (Value::Null, false),
                    Some(Scalar::Boolean(b)) => (Value::Bool(b), false),
                    Some(Scalar::Integer(i)) => (Value::Int(i), false),
                    Some(Scalar::FloatingPoint(f)) => (Value::Float(f.into_inner()), false),
                    Some(Scalar::String(s)) => (Value::Str(s.into_owned()), false),
                    None => (Value::Null, true),
                };
                let error = too_deep_at(pos, depth)
                    .or_else(|| custom.as_ref().and_then(|_| too_deep_at(inner_pos, depth + 1)))
                    .or_else(|| bad.then(|| Diagnostic::new(pos, "invalid YAML value")));
                let placed = Placed { pos, anchor, bad, tag: custom, mark, error };
                self.insert(Node { pos: inner_pos, value }, placed)?;
            }
            Event::Alias(id) => {
                let depth = self.depth();
                let (node, bad) = match self.anchors.get(&id) {
                    Some((anchored, bad)) => {
                        if !within_budget(anchored, &mut self.alias_budget) {
                            return Err(ScanError::new_str(
                                mark,
                                "alias expansion exceeded the maximum node budget (possible billion-laughs attack)",
                            ));
                        }
                        let mut copy = anchored.clone();
                        copy.pos = pos;
                        (copy, *bad)
                    }
                    None => (Node { pos, value: Value::Null }, true),
                };
                // The copy's own nodes sit deeper here than where they were anchored.
                let error = too_deep(&node, depth)
                    .and_then(|deep| too_deep_at(deep, MAX_DEPTH + 1))
                    .or_else(|| bad.then(|| Diagnostic::new(pos, "invalid YAML value")));
                self.insert(node, Placed { pos, anchor: 0, bad, tag: None, mark, error })?;
            }
        }
        Ok(())
    }

    /// Opens a collection.
    fn open(&mut self, pos: Pos, anchor: usize, tag: Option<&Tag>, kind: Collection) {
        // A tag outside the core schema wraps the collection in one more level, which the
        // converter counted against the depth (at the same position).
        let tag = tag.filter(|t| !t.is_yaml_core_schema()).map(ToString::to_string);
        let depth = self.depth() + usize::from(tag.is_some());
        let error = too_deep_at(pos, depth);
        self.stack.push(Frame { pos, anchor, tag, child_depth: depth + 1, kind, error });
    }

    /// How deep a node read now is (the root is 0).
    fn depth(&self) -> usize {
        self.stack.last().map_or(0, |f| f.child_depth)
    }

    /// Keeps the first problem of the innermost collection open (or of the document), as
    /// the first problem of a node stays with it until the node is kept.
    fn note(&mut self, error: Option<Diagnostic>) {
        let first = match self.stack.last_mut() {
            Some(frame) => &mut frame.error,
            None => &mut self.error,
        };
        if first.is_none() {
            *first = error;
        }
    }

    /// Puts a finished node where it belongs: the root, the next item of a list, or a key
    /// or value of a mapping. `mark` is where a duplicate of it as a key is reported.
    /// saphyr's loader marks "no key yet" with an invalid value, so an invalid key is
    /// dropped and the node after it becomes the key; a key left without a value when its
    /// mapping ends is dropped too. A node's first problem (`placed.error`) counts only
    /// once the node is kept.
    fn insert(&mut self, node: Node, placed: Placed) -> Result<(), ScanError> {
        let Placed { pos, anchor, bad, tag, mark, error } = placed;
        if anchor > 0 {
            self.anchors.insert(anchor, (node.clone(), bad));
        }
        let Some(frame) = self.stack.last_mut() else {
            self.root = Some((node, pos));
            self.note(error);
            return Ok(());
        };
        match &mut frame.kind {
            Collection::Seq(items) => {
                items.push(node);
                self.note(error);
            }
            Collection::Map(map) => match map.key.take() {
                // An invalid key is dropped, with whatever problem it had.
                None if bad => {}
                None => map.key = Some((node, tag, mark, error)),
                Some((key, key_tag, key_mark, key_error)) => {
                    if let Some(first) = map.first(&key, key_tag.as_deref()) {
                        let name = match &key.value {
                            Value::Str(s) => format!("`{s}`"),
                            Value::Int(i) => format!("`{i}`"),
                            Value::Bool(b) => format!("`{b}`"),
                            other => other.describe().to_string(),
                        };
                        return Err(ScanError::new(
                            key_mark,
                            format!("duplicated key {name} in mapping (first at {first}): give it once"),
                        ));
                    }
                    if let Some(t) = key_tag {
                        map.key_tags.push((map.entries.len(), t));
                    }
                    if let Some(hashes) = &mut map.hashes {
                        hashes.insert(key_hash(&key));
                    }
                    map.entries.push((key, node));
                    if map.hashes.is_none() && map.entries.len() > SCAN_KEYS {
                        map.hashes = Some(map.entries.iter().map(|(k, _)| key_hash(k)).collect());
                    }
                    self.note(key_error);
                    self.note(error);
                }
            },
        }
        Ok(())
    }
}

impl MapFrame {
    /// Whether `key` equals a key already in the mapping, as saphyr compares keys.
    /// Where `key` (with `tag`) is a key of this mapping already, if it is.
    fn first(&self, key: &Node, tag: Option<&str>) -> Option<Pos> {
        if self.hashes.as_ref().is_some_and(|h| !h.contains(&key_hash(key))) {
            return None;
        }
        let tag_of = |i: usize| self.key_tags.iter().find(|(at, _)| *at == i).map(|(_, t)| t.as_str());
        self.entries.iter().enumerate().find(|(i, (k, _))| same(k, key) && tag_of(*i) == tag).map(|(_, (k, _))| k.pos)
    }
}

/// Equality of keys as saphyr's nodes have it: positions do not count, a NaN equals a NaN,
/// mappings compare in order. (The tags of a key's own entries are not kept, so keys that
/// differ only there count as equal here; a key's own tag is compared by the caller.)
fn same(a: &Node, b: &Node) -> bool {
    match (&a.value, &b.value) {
        (Value::Float(x), Value::Float(y)) => x == y || (x.is_nan() && y.is_nan()),
        (Value::Seq(x), Value::Seq(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b)),
        (Value::Map(x), Value::Map(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|((ka, va), (kb, vb))| same(ka, kb) && same(va, vb))
        }
        (x, y) => x == y,
    }
}

/// A hash that equal keys ([`same`]) share.
fn key_hash(key: &Node) -> u64 {
    let mut h = DefaultHasher::new();
    match &key.value {
        Value::Null => 0u8.hash(&mut h),
        Value::Bool(b) => (1u8, b).hash(&mut h),
        Value::Int(i) => (2u8, i).hash(&mut h),
        // 0.0 and -0.0 are equal, and so are all NaNs.
        Value::Float(f) if *f == 0.0 => 3u8.hash(&mut h),
        Value::Float(f) if f.is_nan() => 4u8.hash(&mut h),
        Value::Float(f) => (5u8, f.to_bits()).hash(&mut h),
        Value::Str(s) => (6u8, s).hash(&mut h),
        Value::Seq(items) => (7u8, items.len()).hash(&mut h),
        Value::Map(entries) => (8u8, entries.len()).hash(&mut h),
    }
    h.finish()
}

/// The nesting error for a node at `depth`, if it is too deep.
fn too_deep_at(pos: Pos, depth: usize) -> Option<Diagnostic> {
    (depth > MAX_DEPTH).then(|| Diagnostic::new(pos, format!("YAML nested deeper than {MAX_DEPTH} levels")))
}

fn pos_of(mark: Marker) -> Pos {
    Pos { line: mark.line().max(1), col: mark.col() + 1 }
}

/// Takes an anchored node's size from the alias budget, as saphyr counts it (a mapping's
/// key is one node); false when the budget runs out.
fn within_budget(node: &Node, budget: &mut usize) -> bool {
    if *budget == 0 {
        return false;
    }
    *budget -= 1;
    match &node.value {
        Value::Seq(items) => items.iter().all(|n| within_budget(n, budget)),
        Value::Map(entries) => entries.iter().all(|(_, v)| {
            if *budget == 0 {
                return false;
            }
            *budget -= 1;
            within_budget(v, budget)
        }),
        _ => true,
    }
}

/// The position of the first node (in document order) of a copied subtree placed at
/// `depth` that is nested too deep.
fn too_deep(node: &Node, depth: usize) -> Option<Pos> {
    if depth > MAX_DEPTH {
        return Some(node.pos);
    }
    match &node.value {
        Value::Seq(items) => items.iter().find_map(|n| too_deep(n, depth + 1)),
        Value::Map(entries) => {
            entries.iter().find_map(|(k, v)| too_deep(k, depth + 1).or_else(|| too_deep(v, depth + 1)))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use saphyr::{LoadableYamlNode, MarkedYaml, YamlData};

    use super::super::{MAX_DEPTH, Node, Value, parse};
    use crate::model::{Diagnostic, Pos};

    /// The reader this module replaced: saphyr's loader, then its tree converted to ours.
    fn parse_through_saphyr_tree(text: &str) -> Result<Node, Diagnostic> {
        let docs = MarkedYaml::load_from_str(text).map_err(|e| super::syntax(text, &e))?;
        let mut docs = docs.into_iter();
        let first = match docs.next() {
            Some(doc) => convert(doc, 0)?,
            None => return Ok(Node { pos: Pos { line: 1, col: 1 }, value: Value::Null }),
        };
        if let Some(second) = docs.next() {
            return Err(Diagnostic::new(
                pos_of(&second),
                "YAML holds more than one document (---): put everything in one",
            ));
        }
        Ok(first)
    }

    fn pos_of(node: &MarkedYaml<'_>) -> Pos {
        Pos { line: node.span.start.line().max(1), col: node.span.start.col() + 1 }
    }

    fn convert(node: MarkedYaml<'_>, depth: usize) -> Result<Node, Diagnostic> {
        let pos = pos_of(&node);
        if depth > MAX_DEPTH {
            return Err(Diagnostic::new(pos, format!("YAML nested deeper than {MAX_DEPTH} levels")));
        }
        let value = match node.data {
            YamlData::Value(scalar) => match scalar {
                saphyr::Scalar::Null => Value::Null,
                saphyr::Scalar::Boolean(b) => Value::Bool(b),
                saphyr::Scalar::Integer(i) => Value::Int(i),
                saphyr::Scalar::FloatingPoint(f) => Value::Float(f.into_inner()),
                saphyr::Scalar::String(s) => Value::Str(s.into_owned()),
            },
            YamlData::Representation(text, _, _) => Value::Str(text.into_owned()),
            YamlData::Sequence(items) => {
                Value::Seq(items.into_iter().map(|n| convert(n, depth + 1)).collect::<Result<_, _>>()?)
            }
            YamlData::Mapping(map) => {
                Value::Map(
                    map.into_iter()
                        .map(|(k, v)| Ok((convert(k, depth + 1)?, convert(v, depth + 1)?)))
                        .collect::<Result<_, Diagnostic>>()?,
                )
            }
            YamlData::Tagged(_, inner) => return convert(*inner, depth + 1),
            YamlData::Alias(_) => {
                return Err(Diagnostic::new(pos, "YAML aliases (*name) are not supported here: write the value out"));
            }
            YamlData::BadValue => return Err(Diagnostic::new(pos, "invalid YAML value")),
        };
        Ok(Node { pos, value })
    }

    /// Both readers' answers, spelled out (`Debug`, so that NaNs compare equal).
    /// What the event reader and saphyr's tree give for `text`. The reader names a
    /// duplicated key and where it was first; the tree said only "duplicated key in
    /// mapping", so that part of the reader's message is put back to the tree's words
    /// (the position and everything else compare as they are).
    fn both(text: &str) -> (String, String) {
        let new = format!("{:?}", parse(text));
        let new = match (new.find("duplicated key "), new.find(": give it once")) {
            (Some(a), Some(b)) if a < b => {
                format!("{}duplicated key in mapping{}", &new[..a], &new[b + ": give it once".len()..])
            }
            _ => new,
        };
        (new, format!("{:?}", parse_through_saphyr_tree(text)))
    }

    #[test]
    fn a_duplicated_key_is_named_with_where_it_was_first() {
        let e = parse("name: t\nswitches:\n  a: {}\n  b: {}\n  a: {}\n").unwrap_err();
        assert!(format!("{e:?}").contains("duplicated key `a` in mapping (first at 3:3): give it once"), "{e:?}");
    }

    /// Pieces of YAML that stress what the reader must keep: scalars of every type and
    /// style, tags in and out of the core schema, anchors and aliases (known and not),
    /// flow and block collections, duplicate keys, documents, comments, and syntax errors.
    fn piece() -> impl Strategy<Value = &'static str> {
        proptest::sample::select(vec![
            "a",
            "b",
            "a",
            "1",
            "'1'",
            "\"a\"",
            "~",
            "null",
            "true",
            "False",
            "1.5",
            ".nan",
            ".NaN",
            "-0.0",
            "0.0",
            "0x1f",
            "+3",
            "!!int x",
            "!!int 7",
            "!!str 1",
            "!!float 2",
            "!!null ~",
            "!!bool no",
            "!foo",
            "!!map",
            "!!seq",
            "&a",
            "&b",
            "*a",
            "*b",
            "*c",
            "{",
            "}",
            "[",
            "]",
            ", ",
            ": ",
            ":",
            "- ",
            "\n",
            "\n  ",
            "\n    ",
            "\n- ",
            "---\n",
            "...\n",
            " #c",
            "? ",
            "|\n  x\n",
            "'",
            "\"\\t\"",
        ])
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

        /// On any text, the event reader gives what saphyr's tree converted gave: the same
        /// nodes at the same positions, or the same first error.
        #[test]
        fn reads_as_the_saphyr_tree_did(pieces in proptest::collection::vec(piece(), 0..24)) {
            let text: String = pieces.concat();
            let (new, old) = both(&text);
            prop_assert_eq!(new, old, "{:?}", text);
        }
    }

    #[test]
    fn reads_as_the_saphyr_tree_did_on_shaped_files() {
        let deep_seq = format!("{}x{}", "[".repeat(70), "]".repeat(70));
        let deep_map =
            (0..70).map(|i| format!("{}k{i}:\n", "  ".repeat(i))).collect::<String>() + &"  ".repeat(70) + "v\n";
        let deep_tagged = format!("{}x{}", "!t [".repeat(33), "]".repeat(33));
        let deep_alias =
            format!("a: &x {}y{}\nb: {}*x{}\n", "[".repeat(40), "]".repeat(40), "[".repeat(30), "]".repeat(30));
        let laughs = "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: [*e, *e]\n";
        let many = (0..40).map(|i| format!("k{i}: {i}\n")).collect::<String>();
        let cases = [
            "",
            "# only a comment\n",
            "---\n",
            "--- \n...\n",
            "a: 1\n---\nb: 2\n",
            "a: 1\n---\nb: 1\nb: 2\n",
            "a: 1\na: 2\n",
            "'a': 1\na: 2\n",
            "1: x\n'1': y\n",
            ".nan: 1\n.NaN: 2\n",
            "0.0: 1\n-0.0: 2\n",
            "!!int x: 1\n!!int y: 2\n",
            "!!int x: 1\n~: 2\n",
            "~: 1\n!!int x: 2\n",
            "[a, b]: 1\n[a, b]: 2\n",
            "{a: 1}: 1\n{a: 2}: 2\n",
            "a: &x [1, 2]\nb: *x\n",
            "a: &x {k: v}\nb: *x\nc: *x\n",
            "a: *nope\n",
            "a: &x !!int q\nb: *x\n",
            "- !foo {name: a}\n- !!map {b: 1}\n- !bar [1]\n",
            "key: !!str 12\nother: !custom 12\n",
            &deep_seq,
            &deep_map,
            &deep_tagged,
            &deep_alias,
            laughs,
            &many,
            &format!("{many}k7: again\n"),
            &format!("{many}k77: fine\n"),
            include_str!("../../../topologies/metro.yaml"),
        ];
        for text in cases {
            let (new, old) = both(text);
            assert_eq!(new, old, "{text:?}");
        }
    }
}
