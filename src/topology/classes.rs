//! Classes of service: the topology's `classes:` map, class name -> the PCP (0-7) that a
//! channel of that class carries in its S-tag on the trunks (issue 18 item 4), so an
//! operator's core can queue by it.
//!
//! `standard` is always a class: PCP 0 unless the file maps it to another; a channel that
//! names no class is `standard`.

use std::collections::BTreeMap;

use serde::Serialize;

use super::yaml::{Node, Reader, Value};

/// The class of a channel that names none.
pub const DEFAULT_CLASS: &str = "standard";

/// Class name -> PCP (0-7). Always holds [`DEFAULT_CLASS`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Classes(BTreeMap<String, u8>);

impl Default for Classes {
    fn default() -> Self {
        Classes(BTreeMap::from([(DEFAULT_CLASS.to_string(), 0)]))
    }
}

impl Classes {
    /// The PCP of `class`; `None` for a class the topology does not name.
    pub fn pcp(&self, class: &str) -> Option<u8> {
        self.0.get(class).copied()
    }

    /// The class names, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// (class, PCP) in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, u8)> {
        self.0.iter().map(|(k, v)| (k.as_str(), *v))
    }

    /// These classes with `class` at `pcp`.
    pub fn with(&self, class: &str, pcp: u8) -> Classes {
        let mut out = self.clone();
        out.0.insert(class.to_string(), pcp);
        out
    }

    /// Whether this is what a file without `classes:` gives.
    pub fn is_default(&self) -> bool {
        *self == Classes::default()
    }
}

/// Reads `classes: {NAME: PCP, ...}`, reporting each problem at its position.
pub(super) fn read(r: &mut Reader, node: &Node) -> Classes {
    let mut out = Classes::default();
    let entries = match &node.value {
        Value::Map(entries) => entries.as_slice(),
        Value::Null => &[],
        other => {
            r.error(
                node.pos,
                format!("`classes` must be a mapping of class name -> PCP (0-7), found {}", other.describe()),
            );
            return out;
        }
    };
    for (key, value) in entries {
        let Some(name) = r.string(key, "a class name") else { continue };
        if !super::is_usable_name(&name) {
            r.error(
                key.pos,
                format!(
                    "class name {name:?} is not usable: use 1-64 letters, digits, '-', '_' or '.', starting with a letter or digit"
                ),
            );
            continue;
        }
        if let Some(pcp) = r.int(value, &format!("the PCP of class `{name}`"), 0, 7) {
            out.0.insert(name, pcp as u8);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classes(text: &str) -> Result<Classes, Vec<String>> {
        crate::topology::parsed(text, |t| t.classes)
    }

    const BASE: &str = "name: t\nswitches: {s0: {}}\n";

    #[test]
    fn standard_is_pcp_0_unless_the_file_says_otherwise() {
        let c = classes(BASE).unwrap();
        assert!(c.is_default());
        assert_eq!(c.pcp("standard"), Some(0));
        assert_eq!(c.pcp("gold"), None);
        let c = classes(&format!("{BASE}classes: {{gold: 5, premium: 3}}\n")).unwrap();
        assert_eq!(c.iter().collect::<Vec<_>>(), [("gold", 5), ("premium", 3), ("standard", 0)]);
        let c = classes(&format!("{BASE}classes: {{standard: 1}}\n")).unwrap();
        assert_eq!(c.pcp("standard"), Some(1));
    }

    #[test]
    fn bad_classes_are_reported_where_they_are() {
        let e = classes(&format!("{BASE}classes: {{gold: 8}}\n")).unwrap_err();
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(e[0].starts_with("3:") && e[0].contains("PCP of class `gold`"), "{e:?}");
        let e = classes(&format!("{BASE}classes:\n  gold: -1\n  'a b': 2\n")).unwrap_err();
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(e[0].starts_with("4:") && e[1].starts_with("5:") && e[1].contains("\"a b\""), "{e:?}");
        let e = classes(&format!("{BASE}classes: [gold]\n")).unwrap_err();
        assert!(e[0].contains("`classes` must be a mapping"), "{e:?}");
    }
}
