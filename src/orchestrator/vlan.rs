//! VLAN bookkeeping: a 4096-bit set per switch, and picking the lowest ID free on a path.

use crate::topology::VlanPool;

/// A set of VLAN IDs (0..4096) as a bitmap; 512 bytes, so a 1,000-switch tree costs 0.5 MB.
#[derive(Clone, PartialEq, Eq)]
pub struct VlanSet([u64; 64]);

impl Default for VlanSet {
    fn default() -> Self {
        VlanSet([0; 64])
    }
}

impl std::fmt::Debug for VlanSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl VlanSet {
    pub fn contains(&self, vid: u16) -> bool {
        self.0.get(usize::from(vid >> 6)).is_some_and(|w| w & (1 << (vid & 63)) != 0)
    }

    pub fn insert(&mut self, vid: u16) {
        if let Some(w) = self.0.get_mut(usize::from(vid >> 6)) {
            *w |= 1 << (vid & 63);
        }
    }

    pub fn remove(&mut self, vid: u16) {
        if let Some(w) = self.0.get_mut(usize::from(vid >> 6)) {
            *w &= !(1 << (vid & 63));
        }
    }

    /// Adds every member of `other`.
    pub fn union_with(&mut self, other: &VlanSet) {
        for (a, b) in self.0.iter_mut().zip(other.0.iter()) {
            *a |= b;
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = u16> + '_ {
        (0..4096u16).filter(|v| self.contains(*v))
    }

    pub fn len(&self) -> usize {
        self.0.iter().map(|w| w.count_ones() as usize).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|w| *w == 0)
    }
}

/// The lowest ID of `pool` that is not in `taken`.
pub fn pick(pool: &VlanPool, taken: &VlanSet) -> Option<u16> {
    let mut vid = pool.first;
    while vid <= pool.last {
        if !taken.contains(vid) {
            match pool.reserved.iter().find(|(a, b)| (*a..=*b).contains(&vid)) {
                Some(&(_, end)) => vid = end.saturating_add(1),
                None => return Some(vid),
            }
            continue;
        }
        // Skip a whole word of taken IDs at a time.
        let word = taken.0.get(usize::from(vid >> 6)).copied().unwrap_or(0);
        if vid & 63 == 0 && word == u64::MAX {
            vid = vid.saturating_add(64);
        } else {
            vid += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn pick_is_lowest_free_allowed(taken in proptest::collection::vec(1u16..4095, 0..600),
                                       first in 1u16..4094, span in 0u16..4094,
                                       reserved in proptest::collection::vec((1u16..4095, 0u16..200), 0..3)) {
            let last = first.saturating_add(span).min(4094);
            let pool = VlanPool { first, last, reserved: reserved.iter().map(|&(a, l)| (a, a.saturating_add(l).min(4094))).collect() };
            let mut set = VlanSet::default();
            for t in &taken { set.insert(*t); }
            let expected = (first..=last).find(|v| pool.allows(*v) && !set.contains(*v));
            prop_assert_eq!(pick(&pool, &set), expected);
        }
    }

    #[test]
    fn set_ops() {
        let mut s = VlanSet::default();
        s.insert(1);
        s.insert(4094);
        assert!(s.contains(1) && s.contains(4094) && !s.contains(2));
        assert_eq!(s.len(), 2);
        s.remove(1);
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![4094]);
    }
}
