//! What the tc items' netlink code shares (msgs.rs, pcp.rs, l2cp.rs): the clsact hooks, the
//! gact drop action, and the action options netlink-packet-route keeps raw.

use rtnetlink::packet_core::{DefaultNla, Nla};
use rtnetlink::packet_route::tc::{
    TcAction, TcActionAttribute, TcActionOption, TcAttribute, TcHandle, TcMessage, TcOption,
};

use crate::orchestrator::Direction;

/// TCA_GACT_PARMS and TC_ACT_SHOT from linux/tc_act/tc_gact.h and pkt_cls.h.
pub(super) const TCA_GACT_PARMS: u16 = 2;
pub(super) const TC_ACT_SHOT: i32 = 2;

/// The options of `action` kept raw by netlink-packet-route (it knows no police or vlan
/// options): (attribute kind, value).
pub(super) fn raw_options(action: &TcAction) -> impl Iterator<Item = (u16, Vec<u8>)> + '_ {
    action
        .attributes
        .iter()
        .filter_map(|a| match a {
            TcActionAttribute::Options(o) => Some(o),
            _ => None,
        })
        .flatten()
        .filter_map(|o| match o {
            TcActionOption::Other(nla) => {
                let mut value = vec![0u8; nla.value_len()];
                nla.emit_value(&mut value);
                Some((nla.kind(), value))
            }
            _ => None,
        })
}

/// The clsact hook a direction's filters hang from (ffff:fff2 ingress, ffff:fff3 egress).
pub(super) fn tc_parent(direction: Direction) -> TcHandle {
    let minor = match direction {
        Direction::Ingress => TcHandle::MIN_INGRESS,
        Direction::Egress => TcHandle::MIN_EGRESS,
    };
    TcHandle { major: 0xffff, minor }
}

/// A gact action that drops (`action drop`). netlink-packet-route has no typed gact, so its
/// parameters (struct tc_gen: index, capab, action, refcnt, bindcnt) are written raw.
pub(super) fn gact_drop() -> TcAction {
    let mut parms = Vec::with_capacity(20);
    for v in [0i32, 0, TC_ACT_SHOT, 0, 0] {
        parms.extend_from_slice(&v.to_ne_bytes());
    }
    let mut action = TcAction::default();
    action.attributes = vec![
        TcActionAttribute::Kind("gact".into()),
        TcActionAttribute::Options(vec![TcActionOption::Other(DefaultNla::new(TCA_GACT_PARMS, parms))]),
    ];
    action
}

/// The options of a filter read back, of every kind.
pub(super) fn filter_options(f: &TcMessage) -> impl Iterator<Item = &TcOption> {
    f.attributes
        .iter()
        .filter_map(|a| match a {
            TcAttribute::Options(o) => Some(o),
            _ => None,
        })
        .flatten()
}
