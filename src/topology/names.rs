//! Names to indices, looked up on memory that stays in cache: the names one after another
//! in one string, and a hash table of small entries pointing into it.
//!
//! A channel's members are found by name, a lookup per member. A `HashMap<String, usize>`
//! keeps 32-byte buckets and compares against each name's own allocation, somewhere in the
//! heap the topology was parsed into: at 40,000 interfaces (a 10,000-switch metro) both are
//! cache misses, and the lookup was a seventh of planning 100,000 channels. Here an entry
//! is 12 bytes and the names sit side by side, under a megabyte for that metro.

use std::hash::BuildHasher;

use hashbrown::{DefaultHashBuilder, HashTable};

#[derive(Clone, Default)]
pub(super) struct NameIndex {
    /// Every name, one after another.
    text: String,
    /// (index, where the name starts in `text`, its length), by the name's hash: what a
    /// lookup needs is in the entry, so it reads the table and the name and nothing else.
    table: HashTable<(u32, u32, u32)>,
    hasher: DefaultHashBuilder,
}

impl NameIndex {
    /// The index of names given in order; a name given twice finds its last position, as
    /// a map collected from the same list would.
    pub(super) fn new<'a>(names: impl IntoIterator<Item = &'a str>) -> NameIndex {
        let mut index = NameIndex::default();
        for (i, name) in names.into_iter().enumerate() {
            let (Ok(i), Ok(start), Ok(len)) =
                (u32::try_from(i), u32::try_from(index.text.len()), u32::try_from(name.len()))
            else {
                break;
            };
            if start.checked_add(len).is_none() {
                break;
            }
            index.text.push_str(name);
            let hash = index.hasher.hash_one(name);
            let NameIndex { text, table, hasher, .. } = &mut index;
            match table.find_mut(hash, |e| name_at(text, *e) == Some(name)) {
                Some(e) => *e = (i, start, len),
                None => {
                    table.insert_unique(hash, (i, start, len), |e| name_at(text, *e).map_or(0, |n| hasher.hash_one(n)));
                }
            }
        }
        index
    }

    pub(super) fn get(&self, name: &str) -> Option<usize> {
        let hash = self.hasher.hash_one(name);
        self.table.find(hash, |e| name_at(&self.text, *e) == Some(name)).map(|e| e.0 as usize)
    }
}

fn name_at(text: &str, (_, start, len): (u32, u32, u32)) -> Option<&str> {
    text.get(start as usize..start as usize + len as usize)
}

impl std::fmt::Debug for NameIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NameIndex").field("names", &self.table.len()).finish()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::NameIndex;

    proptest! {
        /// The index answers what a map collected from the same names answers, for names
        /// it holds (repeats included: the last position) and names it does not.
        #[test]
        fn finds_what_a_map_finds(names in proptest::collection::vec("[a-c]{0,3}", 0..40), asked in "[a-c]{0,3}") {
            let map: std::collections::HashMap<&str, usize> =
                names.iter().enumerate().map(|(i, n)| (n.as_str(), i)).collect();
            let index = NameIndex::new(names.iter().map(String::as_str));
            for n in names.iter().map(String::as_str).chain([asked.as_str()]) {
                prop_assert_eq!(index.get(n), map.get(n).copied(), "{:?}", n);
            }
        }
    }
}
