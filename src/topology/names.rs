//! Names to indices, looked up on memory that stays in cache: the names one after another
//! in one string, and a hash table of bare indices.
//!
//! A channel's members are found by name, a lookup per member. A `HashMap<String, usize>`
//! keeps 32-byte buckets and compares against each name's own allocation, somewhere in the
//! heap the topology was parsed into: at 40,000 interfaces (a 10,000-switch metro) both are
//! cache misses, and the lookup was a seventh of planning 100,000 channels. Here the table
//! is 4 bytes an entry and the names sit side by side, under a megabyte for that metro.

use std::hash::BuildHasher;

use hashbrown::{DefaultHashBuilder, HashTable};

#[derive(Clone, Default)]
pub(super) struct NameIndex {
    /// Every name, one after another.
    text: String,
    /// Name `i` is `text[ends[i - 1]..ends[i]]` (from 0 for `i = 0`).
    ends: Vec<u32>,
    /// Indices into `ends`, by their name's hash.
    table: HashTable<u32>,
    hasher: DefaultHashBuilder,
}

impl NameIndex {
    /// The index of names given in order; a name given twice finds its last position, as
    /// a map collected from the same list would.
    pub(super) fn new<'a>(names: impl IntoIterator<Item = &'a str>) -> NameIndex {
        let mut index = NameIndex::default();
        for (i, name) in names.into_iter().enumerate() {
            let Ok(i) = u32::try_from(i) else { break };
            let start = index.text.len();
            index.text.push_str(name);
            let Ok(end) = u32::try_from(index.text.len()) else {
                index.text.truncate(start);
                break;
            };
            index.ends.push(end);
            let hash = index.hasher.hash_one(name);
            let NameIndex { text, ends, table, hasher } = &mut index;
            match table.find_mut(hash, |k| name_at(text, ends, *k) == Some(name)) {
                Some(k) => *k = i,
                None => {
                    table.insert_unique(hash, i, |k| name_at(text, ends, *k).map_or(0, |n| hasher.hash_one(n)));
                }
            }
        }
        index
    }

    pub(super) fn get(&self, name: &str) -> Option<usize> {
        let hash = self.hasher.hash_one(name);
        self.table.find(hash, |k| name_at(&self.text, &self.ends, *k) == Some(name)).map(|k| *k as usize)
    }
}

fn name_at<'a>(text: &'a str, ends: &[u32], k: u32) -> Option<&'a str> {
    let k = k as usize;
    let start = k.checked_sub(1).map_or(Some(0), |j| ends.get(j).copied())? as usize;
    text.get(start..*ends.get(k)? as usize)
}

impl std::fmt::Debug for NameIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NameIndex").field("names", &self.ends.len()).finish()
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
