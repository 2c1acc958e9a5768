//! Who holds what a refusal says is taken: the channel using a VLAN on a switch, or a
//! customer tag on an interface. The books keep counts and sets, not names; the holder is
//! looked for only when a channel is refused, in one pass over the channels planned.

use std::collections::HashMap;

use crate::topology::Topology;

use super::{PlanError, PlannedChannel, Refusal};

/// Names in `errors` the channel (of `channels`) holding each VLAN or tag said to be
/// taken. One that no channel holds (a VLAN the caller reserved) stays unnamed.
pub(super) fn name<'c>(
    topo: &Topology,
    errors: &mut [PlanError],
    channels: impl IntoIterator<Item = &'c PlannedChannel>,
) {
    // What is looked for, and the channel found holding it: VLANs by switch index, tags
    // by interface name.
    let mut on_switch: HashMap<(usize, u16), Option<String>> = HashMap::new();
    let mut on_interface: HashMap<String, Vec<(u16, Option<String>)>> = HashMap::new();
    for e in errors.iter() {
        match &e.refusal {
            Refusal::VlanTaken { vid, switch, .. } => {
                if let Some(s) = topo.switch_index(switch) {
                    on_switch.insert((s, *vid), None);
                }
            }
            Refusal::VlanIsCustomerTag { vid, interface, .. } | Refusal::CustomerVlanTaken { vid, interface, .. } => {
                on_interface.entry(interface.clone()).or_default().push((*vid, None));
            }
            _ => {}
        }
    }
    if on_switch.is_empty() && on_interface.is_empty() {
        return;
    }
    for c in channels {
        let path = if on_switch.is_empty() { &[][..] } else { &c.path[..] };
        for s in path {
            for vid in std::iter::once(c.vlan).chain(c.leaf_vlan) {
                if let Some(holder) = on_switch.get_mut(&(*s, vid)) {
                    *holder = Some(c.name.to_string());
                }
            }
        }
        for m in &c.members {
            let Some(tag) = m.customer_vlan else { continue };
            for (vid, holder) in on_interface.get_mut(m.interface.as_str()).into_iter().flatten() {
                if *vid == tag {
                    *holder = Some(c.name.to_string());
                }
            }
        }
    }
    for e in errors.iter_mut() {
        match &mut e.refusal {
            Refusal::VlanTaken { vid, switch, channel } => {
                *channel = topo.switch_index(switch).and_then(|s| on_switch.get(&(s, *vid))).cloned().flatten();
            }
            Refusal::VlanIsCustomerTag { vid, interface, channel }
            | Refusal::CustomerVlanTaken { vid, interface, channel } => {
                *channel = on_interface
                    .get(interface.as_str())
                    .and_then(|held| held.iter().find(|(v, _)| v == vid))
                    .and_then(|(_, holder)| holder.clone());
            }
            _ => {}
        }
    }
}
