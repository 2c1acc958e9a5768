//! [`plan`]: a whole channel set planned in one go, as `switchboard plan` and the benches do.
//!
//! Each channel goes through the same checks and books as [`Planner::add`]; what differs is
//! the map of channels by name. `add` finds a channel's place in it (a B-tree keyed by
//! string) once per channel, which at 100,000 channels was a fifth of planning and grew with
//! the count: ~17 string comparisons on cold memory and a shift of the node's channels for
//! each. Here a name is looked up in a hash map of the names planned so far, and the map is
//! built once at the end, from the channels sorted by name.

use std::collections::BTreeMap;

use compact_str::CompactString;

use crate::model::Pos;
use crate::topology::Topology;

use super::super::spec::ChannelSpec;
use super::{PlanError, PlannedChannel, Planner};

/// Plans `specs` in one go: pinned VLANs first, then file order. Returns every refusal.
pub fn plan<'t>(topology: &'t Topology, specs: &[ChannelSpec]) -> Result<Planner<'t>, Vec<PlanError>> {
    let mut planner = Planner::new(topology);
    // Room for what the channels will hold, asked for at once: a VLAN set for each switch,
    // and the use of about two interfaces a channel (each has two members or more; fewer
    // when they share interfaces, and never more than the topology has), and as many tag
    // sets: a tagged member's interface gets one, a port-mode one's does not, and room
    // asked for and not used is never touched.
    planner.books.used.reserve(topology.switches.len());
    planner.books.interfaces.reserve(specs.len().saturating_mul(2));
    planner.books.tags.reserve(specs.len().saturating_mul(2));
    let mut errors = Vec::new();
    // The channels planned, each with its key in the map of channels, copied from the
    // channel's name while it is in cache (at the end it no longer is).
    // Each in an `Option` from the start, for [`by_name`] to take them out in its order
    // without a pass that wraps them (a read and a write of every channel, 15 MB at
    // 100,000 channels, by then out of cache).
    let mut planned: Vec<Option<(CompactString, PlannedChannel)>> = Vec::with_capacity(specs.len());
    // Their order by name's first bytes, also made while the name is in cache.
    let mut order: Vec<(u128, u32)> = Vec::with_capacity(specs.len());
    // Where each name planned so far was read: what a later channel of that name is told.
    // foldhash, seeded at random, as for the topology's names: SipHash cost more than the
    // map's memory.
    let mut first: hashbrown::HashMap<&str, Pos> = hashbrown::HashMap::with_capacity(specs.len());
    let pinned = specs.iter().filter(|s| s.vlan.is_some() || s.leaf_vlan.is_some());
    let free = specs.iter().filter(|s| s.vlan.is_none() && s.leaf_vlan.is_none());
    let in_order: Vec<&ChannelSpec> = pinned.chain(free).collect();
    // Each member's interface, for the channels a window ahead.
    let mut found: Vec<Option<usize>> = Vec::new();
    let mut ends: Vec<usize> = Vec::with_capacity(AHEAD);
    for window in in_order.chunks(AHEAD) {
        found.clear();
        ends.clear();
        for spec in window {
            found.extend(spec.members.iter().map(|m| topology.interface_index(&m.interface)));
            ends.push(found.len());
        }
        let ahead = planner.books.look_ahead(topology, window, &found, &ends);
        for (spec, ahead) in window.iter().zip(ahead) {
            let earlier = first.get(spec.name.as_str()).copied();
            match planner.books.plan_channel(topology, spec, earlier, Some(ahead)) {
                Ok(channel) => {
                    first.insert(&spec.name, channel.pos);
                    order.push((prefix(&spec.name), u32::try_from(planned.len()).unwrap_or(u32::MAX)));
                    planned.push(Some((channel.name.clone(), channel)));
                }
                Err(mut e) => errors.append(&mut e),
            }
        }
    }
    if errors.is_empty() {
        planner.channels = by_name(planned, order);
        Ok(planner)
    } else {
        errors.sort_by_key(|a| a.pos);
        // A VLAN or tag is held by one channel at a time, and none is freed here: who holds
        // it now held it when the channel was refused.
        super::holders::name(topology, &mut errors, planned.iter().flatten().map(|(_, c)| c));
        Err(errors)
    }
}

/// How many channels ahead [`plan`] looks up what their planning will read: their members'
/// interfaces by name, and what those lead to (`Books::look_ahead`).
///
/// On a large metro each of those is memory no longer in cache. Made one channel at a
/// time, between the channel's other work, the misses came one after another; a window's
/// lookups do not wait on each other, and the processor overlaps them.
const AHEAD: usize = 32;

/// A name's first 16 bytes, packed in a number that sorts as they do (shorter names padded
/// with NUL bytes, which sort first).
fn prefix(name: &str) -> u128 {
    let mut bytes = [0u8; 16];
    let n = name.len().min(16);
    if let (Some(to), Some(from)) = (bytes.get_mut(..n), name.as_bytes().get(..n)) {
        to.copy_from_slice(from);
    }
    u128::from_be_bytes(bytes)
}

/// The channels (of different names) as the planner keeps them, by name: `planned` with
/// their keys, and `order`, each one's position and its name's [`prefix`]. Sorted first by
/// those numbers, in one array, instead of by strings all over the heap; the map is then
/// built from a sorted run, without searching it.
fn by_name(
    mut planned: Vec<Option<(CompactString, PlannedChannel)>>,
    mut order: Vec<(u128, u32)>,
) -> BTreeMap<CompactString, PlannedChannel> {
    let name = |i: u32| planned.get(i as usize).and_then(Option::as_ref).map_or("", |c| c.0.as_str());
    // Equal prefixes (names of 16 bytes or more, or with NUL bytes) compare in full.
    order.sort_unstable_by(|a, b| a.0.cmp(&b.0).then_with(|| name(a.1).cmp(name(b.1))));
    order.into_iter().filter_map(|(_, i)| planned.get_mut(i as usize).and_then(Option::take)).collect()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use crate::orchestrator::parse_channels;

    /// Two switches, four tagged sites: room for many channels of any names.
    const TOPO: &str = "
name: t
switches: {a: {}, b: {}}
links:
  - endpoints: [a:ab, b:ba]
interfaces:
  w: {organization: o, switch: a, port: pw, capacity: 100G, mode: tagged, macs: ['02:00:00:00:00:01']}
  x: {organization: o, switch: a, port: px, capacity: 100G, mode: tagged, macs: ['02:00:00:00:00:02']}
  y: {organization: o, switch: b, port: py, capacity: 100G, mode: tagged, macs: ['02:00:00:00:00:03']}
  z: {organization: o, switch: b, port: pz, capacity: 100G, mode: tagged, macs: ['02:00:00:00:00:04']}
";

    proptest! {
        /// Planned in one go, a channel set gives what adding its channels one by one
        /// gives: the same channels by name (names that share long prefixes, repeat, or
        /// are refused included), or the same refusals.
        #[test]
        fn plan_is_add_one_by_one(
            picks in proptest::collection::vec((0usize..6, 0usize..4, 0usize..4, proptest::option::of(2u16..40)), 0..40)
        ) {
            let topo = crate::topology::parse(TOPO).unwrap();
            let names = ["c", "c1", "c10", "a-very-long-channel-name-1", "a-very-long-channel-name-2", "-bad"];
            let sites = ["w", "x", "y", "z"];
            let text: String = picks
                .iter()
                .map(|(n, a, b, vlan)| {
                    let vlan = vlan.map(|v| format!(", vlan: {v}")).unwrap_or_default();
                    format!("- {{name: '{}', kind: p2p{vlan}, members: [{}, {}]}}\n", names[*n], sites[*a], sites[*b])
                })
                .collect();
            let (specs, _) = parse_channels(&text);
            let mut one_by_one = super::Planner::new(&topo);
            let mut errors = Vec::new();
            let pinned = specs.iter().filter(|s| s.vlan.is_some());
            for spec in pinned.chain(specs.iter().filter(|s| s.vlan.is_none())) {
                if let Err(mut e) = one_by_one.add(spec) {
                    errors.append(&mut e);
                }
            }
            errors.sort_by_key(|e| e.pos);
            match super::plan(&topo, &specs) {
                Ok(planner) => {
                    prop_assert!(errors.is_empty());
                    prop_assert_eq!(planner.channels(), one_by_one.channels());
                }
                Err(e) => prop_assert_eq!(e, errors),
            }
        }
    }
}
