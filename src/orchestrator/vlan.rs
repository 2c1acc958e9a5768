//! VLAN bookkeeping: a 4096-bit set per switch, and picking the lowest ID free on a path.

use crate::topology::VlanPool;

/// A set of VLAN IDs (0..4096) as a bitmap; 512 bytes, so a 1,000-switch tree costs 0.5 MB.
/// Aligned to a cache line, so that VLANs 0-511 (where the lowest free one of a busy
/// switch lies) are one line, the one [`crate::orchestrator::Planner`]'s look-ahead reads,
/// not two.
#[derive(Clone, PartialEq, Eq)]
#[repr(align(64))]
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

/// The lowest ID of `pool` that is in none of `taken` and is not `also`: [`pick`] of their
/// union, without making it. Reads the sets a word (64 IDs) at a time and stops at the first
/// word with a free ID, so a path of lightly used switches costs one cache line of each.
pub fn pick_among(pool: &VlanPool, taken: &[&VlanSet], also: Option<u16>) -> Option<u16> {
    let mut vid = pool.first;
    while vid <= pool.last {
        let w = usize::from(vid >> 6);
        let mut word = taken.iter().fold(0u64, |acc, set| acc | set.0.get(w).copied().unwrap_or(0));
        if let Some(a) = also.filter(|a| usize::from(a >> 6) == w) {
            word |= 1 << (a & 63);
        }
        // IDs below `vid` in this word are behind us; count them as taken.
        let free = !word & (u64::MAX << (vid & 63));
        if free == 0 {
            vid = ((w as u16) + 1).saturating_mul(64);
            if w == 63 {
                break;
            }
            continue;
        }
        let candidate = (w as u16) * 64 + free.trailing_zeros() as u16;
        if candidate > pool.last {
            break;
        }
        match pool.reserved.iter().find(|(a, b)| (*a..=*b).contains(&candidate)) {
            Some(&(_, end)) => vid = end.saturating_add(1),
            None => return Some(candidate),
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

    proptest! {
        #[test]
        fn pick_among_is_pick_of_the_union(sets in proptest::collection::vec(proptest::collection::vec(1u16..4095, 0..300), 0..4),
                                            also in proptest::option::of(1u16..4095),
                                            first in 1u16..4094, span in 0u16..4094,
                                            reserved in proptest::collection::vec((1u16..4095, 0u16..200), 0..3)) {
            let last = first.saturating_add(span).min(4094);
            let pool = VlanPool { first, last, reserved: reserved.iter().map(|&(a, l)| (a, a.saturating_add(l).min(4094))).collect() };
            let sets: Vec<VlanSet> = sets.iter().map(|ids| {
                let mut set = VlanSet::default();
                for id in ids { set.insert(*id); }
                set
            }).collect();
            let mut union = VlanSet::default();
            for set in &sets { union.union_with(set); }
            if let Some(a) = also { union.insert(a); }
            let refs: Vec<&VlanSet> = sets.iter().collect();
            prop_assert_eq!(pick_among(&pool, &refs, also), pick(&pool, &union));
        }
    }

    #[test]
    fn pick_among_skips_full_words_and_reserved_ranges() {
        let pool = VlanPool { first: 2, last: 4094, reserved: vec![(130, 200)] };
        let mut a = VlanSet::default();
        for v in 2..128 {
            a.insert(v);
        }
        let mut b = VlanSet::default();
        b.insert(128);
        assert_eq!(pick_among(&pool, &[&a, &b], Some(129)), Some(201));
        assert_eq!(pick_among(&pool, &[&a], None), Some(128));
        let full = VlanPool { first: 4094, last: 4094, reserved: vec![] };
        let mut c = VlanSet::default();
        c.insert(4094);
        assert_eq!(pick_among(&full, &[&c], None), None);
        assert_eq!(pick_among(&full, &[], None), Some(4094));
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
