//! Per-index state of the planner kept only for the indices that have some: VLAN sets of
//! switches, use of interfaces. Not a general map: keys are indices into the topology.

/// Per-index state that most indices never need: a 1,000-switch tree with 4,000 sites would
/// otherwise cost megabytes of empty VLAN sets for every planner made, and the orchestrator
/// makes one per order. Absent means empty.
///
/// The states are kept in the order they were first used, found through a dense array of
/// positions (4 bytes an index, made on first use). A hash map did the same with a probe
/// of its control bytes and buckets, which a plan of 100,000 channels on 10,000 switches
/// found on cold memory at every switch of every path.
#[derive(Clone, Debug)]
pub struct Sparse<T> {
    len: usize,
    /// For each index, its state's position in `values` plus one; 0 when it has none.
    /// Empty until the first state is made.
    at: Vec<u32>,
    values: Vec<T>,
}

impl<T: Default> Sparse<T> {
    pub fn new(len: usize) -> Self {
        Sparse { len, at: Vec::new(), values: Vec::new() }
    }

    pub fn get(&self, i: usize) -> Option<&T> {
        let k = (*self.at.get(i)? as usize).checked_sub(1)?;
        self.values.get(k)
    }

    pub fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        let k = (*self.at.get(i)? as usize).checked_sub(1)?;
        self.values.get_mut(k)
    }

    /// Asks for room for the states of `n` more indices (no more than `len` in all) at once. A plan of a
    /// whole channel set knows roughly how many it will make: grown one doubling at a
    /// time, the VLAN sets of a 10,000-switch metro were copied a megabyte at a time, on
    /// memory long out of cache. Room not used is never touched.
    pub fn reserve(&mut self, n: usize) {
        self.values.reserve(n.min(self.len.saturating_sub(self.values.len())));
    }

    /// The state of index `i`, made empty on first use; `None` past the end.
    pub fn slot(&mut self, i: usize) -> Option<&mut T> {
        if i >= self.len {
            return None;
        }
        if self.at.is_empty() {
            self.at = vec![0; self.len];
        }
        let at = self.at.get_mut(i)?;
        if *at == 0 {
            self.values.push(T::default());
            *at = u32::try_from(self.values.len()).ok()?;
        }
        let k = (*at as usize).checked_sub(1)?;
        self.values.get_mut(k)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::Sparse;

    proptest! {
        /// What is written through `slot` is read back by `get` and `get_mut`, index by
        /// index; an index never written reads as absent, and one past the end is refused.
        #[test]
        fn keeps_each_index_apart(len in 0usize..50, writes in proptest::collection::vec((0usize..60, 1u32..100), 0..80)) {
            let mut sparse: Sparse<u32> = Sparse::new(len);
            let mut model = std::collections::HashMap::new();
            for (i, v) in writes {
                match sparse.slot(i) {
                    Some(x) => {
                        prop_assert!(i < len);
                        *x += v;
                        *model.entry(i).or_insert(0) += v;
                    }
                    None => prop_assert!(i >= len),
                }
            }
            for i in 0..60 {
                prop_assert_eq!(sparse.get(i).copied(), model.get(&i).copied());
                prop_assert_eq!(sparse.get_mut(i).map(|x| *x), model.get(&i).copied());
            }
        }
    }
}
