//! Per-index state of the planner kept only for the indices that have some: VLAN sets of
//! switches, use of interfaces. Not a general map: keys are indices into the topology.

/// Per-index state that most indices never need: a 1,000-switch tree with 4,000 sites would
/// otherwise cost megabytes of empty VLAN sets for every planner made, and the orchestrator
/// makes one per order. Absent means empty.
#[derive(Clone, Debug)]
pub struct Sparse<T> {
    len: usize,
    map: std::collections::HashMap<usize, T, std::hash::BuildHasherDefault<IndexHasher>>,
}

/// Hashes an index with one multiplication. The keys are indices into the topology, not
/// text from outside, so SipHash's defence against chosen keys buys nothing here, and it
/// cost ~20 ns on each of the several lookups a member and a path switch make.
#[derive(Clone, Copy, Debug, Default)]
struct IndexHasher(u64);

impl std::hash::Hasher for IndexHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(*b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }

    fn write_usize(&mut self, i: usize) {
        // An odd multiplier is a bijection on the low bits the table indexes by, and mixes
        // the index into the high bits it keeps as tags.
        self.0 = (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

impl<T: Default> Sparse<T> {
    pub fn new(len: usize) -> Self {
        Sparse { len, map: Default::default() }
    }

    pub fn get(&self, i: usize) -> Option<&T> {
        self.map.get(&i)
    }

    pub fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        self.map.get_mut(&i)
    }

    /// The state of index `i`, made empty on first use; `None` past the end.
    pub fn slot(&mut self, i: usize) -> Option<&mut T> {
        (i < self.len).then(|| self.map.entry(i).or_default())
    }
}
