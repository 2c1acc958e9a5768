//! The portal's pictures, drawn on the server as SVG (no script needed to see them):
//! the metro tree with a channel's path lit up, and an organization's sockets (service
//! interfaces) with the wires (channels) plugged into them (claims 5-7 of seed 002).
//! Pure functions of their inputs, so tests can check what is drawn.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use crate::topology::Topology;

/// Escapes text for HTML and SVG.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const COLUMN: f64 = 74.0;
const ROW: f64 = 86.0;
const MARGIN: f64 = 40.0;

/// The switch tree, top down from the root: every switch and trunk, the sites hanging off
/// their access switches. Switches in `path` and the sites in `members` are highlighted.
pub fn metro_tree(topo: &Topology, path: &BTreeSet<String>, members: &BTreeSet<String>) -> String {
    let n = topo.switches.len();
    if n == 0 {
        return String::new();
    }
    // Children in file order, then x by a depth-first walk: leaves take the next column,
    // a parent sits over the middle of its children.
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); n];
    for s in 1..n {
        if let Some((p, _)) = topo.parent(s) {
            children[p].push(s);
        }
    }
    let mut x = vec![0.0f64; n];
    let mut next_column = 0.0f64;
    let mut stack = vec![(0usize, false)];
    while let Some((s, expanded)) = stack.pop() {
        if expanded || children[s].is_empty() {
            x[s] = if children[s].is_empty() {
                let c = next_column;
                // Room for the switch's sites under it.
                next_column += (topo.interfaces_on(&topo.switches[s].name).count().max(1) as f64).max(1.5);
                c + (topo.interfaces_on(&topo.switches[s].name).count().max(1) as f64 - 1.0) / 2.0
            } else {
                let xs: Vec<f64> = children[s].iter().map(|c| x[*c]).collect();
                (xs.iter().cloned().fold(f64::INFINITY, f64::min)
                    + xs.iter().cloned().fold(f64::NEG_INFINITY, f64::max))
                    / 2.0
            };
        } else {
            stack.push((s, true));
            for c in children[s].iter().rev() {
                stack.push((*c, false));
            }
        }
    }
    let depth_max = (0..n).map(|s| topo.depth(s)).max().unwrap_or(0);
    let px = |s: usize| MARGIN + x[s] * COLUMN;
    let py = |s: usize| MARGIN + topo.depth(s) as f64 * ROW;
    let width = MARGIN * 2.0 + next_column.max(1.0) * COLUMN;
    let height = MARGIN * 2.0 + (depth_max as f64 + 1.0) * ROW + 20.0;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="tree" viewBox="0 0 {width:.0} {height:.0}" role="img" aria-label="metro switch tree"><title>The metro switch tree{}</title>"#,
        if path.is_empty() {
            String::new()
        } else {
            format!("; the channel's path: {}", esc(&path.iter().cloned().collect::<Vec<_>>().join(", ")))
        }
    );
    for (s, kids) in children.iter().enumerate() {
        for c in kids {
            let on = path.contains(&topo.switches[s].name) && path.contains(&topo.switches[*c].name);
            let _ = write!(
                svg,
                r#"<line class="trunk{}" x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}"/>"#,
                if on { " on" } else { "" },
                px(s),
                py(s),
                px(*c),
                py(*c)
            );
        }
    }
    for (s, sw) in topo.switches.iter().enumerate() {
        let sites: Vec<_> = topo.interfaces_on(&sw.name).collect();
        for (k, iface) in sites.iter().enumerate() {
            let sx = px(s) + (k as f64 - (sites.len() as f64 - 1.0) / 2.0) * COLUMN * 0.9;
            let sy = py(s) + ROW * 0.62;
            let on = members.contains(&iface.name);
            let _ = write!(
                svg,
                r#"<line class="access{on_class}" x1="{:.1}" y1="{:.1}" x2="{sx:.1}" y2="{sy:.1}"/><circle class="site{on_class}" cx="{sx:.1}" cy="{sy:.1}" r="6"><title>{} ({})</title></circle><text class="site-label{on_class}" x="{sx:.1}" y="{:.1}">{}</text>"#,
                px(s),
                py(s),
                esc(&iface.name),
                esc(&iface.organization),
                sy + 18.0,
                esc(&iface.name),
                on_class = if on { " on" } else { "" },
            );
        }
        let on = path.contains(&sw.name);
        let _ = write!(
            svg,
            r#"<g class="switch{}"><rect x="{:.1}" y="{:.1}" width="52" height="24" rx="5"/><text x="{:.1}" y="{:.1}">{}</text></g>"#,
            if on { " on" } else { "" },
            px(s) - 26.0,
            py(s) - 12.0,
            px(s),
            py(s) + 4.5,
            esc(&sw.name)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// One wire: a channel and the state it is in.
#[derive(Clone, Debug)]
pub struct Wire {
    pub channel_id: String,
    pub name: String,
    pub state: String,
    pub vlan: Option<u16>,
}

/// My sockets down the left, my channels down the right, a wire from each socket to each
/// channel plugged into it. Each channel links to its page.
pub fn sockets_and_wires(
    sockets: &[(String, String)],
    wires: &[Wire],
    plugged: &BTreeMap<String, Vec<String>>,
) -> String {
    let rows = sockets.len().max(wires.len()).max(1) as f64;
    let height = 30.0 + rows * 56.0;
    let (sx, cx) = (150.0, 520.0);
    let sy = |i: usize| 40.0 + i as f64 * 56.0;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="board" viewBox="0 0 760 {height:.0}" role="img" aria-label="my ports and the channels plugged into them"><title>My ports (drawn as sockets) and channels (drawn as wires)</title>"#
    );
    let index: BTreeMap<&str, usize> = wires.iter().enumerate().map(|(i, w)| (w.channel_id.as_str(), i)).collect();
    for (i, (socket, _)) in sockets.iter().enumerate() {
        for ch in plugged.get(socket).into_iter().flatten() {
            if let Some(&j) = index.get(ch.as_str()) {
                let state = &wires[j].state;
                let _ = write!(
                    svg,
                    r#"<path class="wire state-{}" d="M {:.1} {:.1} C {:.1} {:.1}, {:.1} {:.1}, {:.1} {:.1}"/>"#,
                    esc(state),
                    sx + 14.0,
                    sy(i),
                    sx + 180.0,
                    sy(i),
                    cx - 180.0,
                    sy(j),
                    cx - 8.0,
                    sy(j)
                );
            }
        }
    }
    for (i, (socket, detail)) in sockets.iter().enumerate() {
        let _ = write!(
            svg,
            r#"<g class="socket" data-socket="{}"><title>plug a new channel into {}</title><circle cx="{sx:.1}" cy="{:.1}" r="13"/><circle class="hole" cx="{:.1}" cy="{:.1}" r="3"/><circle class="hole" cx="{:.1}" cy="{:.1}" r="3"/><text class="socket-label" x="{:.1}" y="{:.1}">{}</text><text class="socket-detail" x="{:.1}" y="{:.1}">{}</text></g>"#,
            esc(socket),
            esc(socket),
            sy(i),
            sx - 4.5,
            sy(i),
            sx + 4.5,
            sy(i),
            sx - 22.0,
            sy(i) - 2.0,
            esc(socket),
            sx - 22.0,
            sy(i) + 13.0,
            esc(detail)
        );
    }
    for (j, w) in wires.iter().enumerate() {
        let vlan = w.vlan.map(|v| format!(" · VLAN {v}")).unwrap_or_default();
        let _ = write!(
            svg,
            r#"<a href="/channels/{}"><g class="plug state-{}"><rect x="{:.1}" y="{:.1}" width="16" height="16" rx="3"/><text x="{:.1}" y="{:.1}">{}</text><text class="plug-detail" x="{:.1}" y="{:.1}">{}{}</text></g></a>"#,
            esc(&w.channel_id),
            esc(&w.state),
            cx - 8.0,
            sy(j) - 8.0,
            cx + 16.0,
            sy(j) - 1.0,
            esc(&w.name),
            cx + 16.0,
            sy(j) + 13.0,
            esc(&w.state),
            vlan
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOPO: &str = "name: t
vlans: {pool: 10-20}
switches:
  core: {bridge: br0}
  a1: {bridge: br0}
  a2: {bridge: br0}
links:
  - endpoints: [core:p1, a1:up]
  - endpoints: [core:p2, a2:up]
interfaces:
  x-1: {organization: x, switch: a1, port: c1, mode: port, capacity: 1G, macs: ['02:00:00:00:00:01']}
  y-1: {organization: y, switch: a2, port: c1, mode: port, capacity: 1G, macs: ['02:00:00:00:00:02']}
";

    #[test]
    fn the_path_and_members_are_lit_and_names_escaped() {
        let topo = crate::topology::parse(TOPO).unwrap();
        let path: BTreeSet<String> = ["core", "a1"].map(String::from).into();
        let members: BTreeSet<String> = ["x-1"].map(String::from).into();
        let svg = metro_tree(&topo, &path, &members);
        assert_eq!(svg.matches(r#"<line class="trunk on""#).count(), 1, "{svg}");
        assert_eq!(svg.matches(r#"<line class="trunk""#).count(), 1, "{svg}");
        assert_eq!(svg.matches(r#"<g class="switch on""#).count(), 2);
        assert_eq!(svg.matches(r#"<circle class="site on""#).count(), 1);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert_eq!(esc("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
    }

    #[test]
    fn each_plugged_channel_gets_one_wire() {
        let sockets = vec![("x-1".to_string(), "a1:c1".to_string()), ("x-2".to_string(), "a2:c1".to_string())];
        let wires = vec![
            Wire { channel_id: "ch-1".into(), name: "<b>".into(), state: "active".into(), vlan: Some(10) },
            Wire { channel_id: "ch-2".into(), name: "two".into(), state: "draft".into(), vlan: None },
        ];
        let plugged: BTreeMap<String, Vec<String>> =
            [("x-1".to_string(), vec!["ch-1".to_string(), "ch-2".to_string()])].into();
        let svg = sockets_and_wires(&sockets, &wires, &plugged);
        assert_eq!(svg.matches("<path class=\"wire").count(), 2);
        assert!(svg.contains("VLAN 10"));
        assert!(svg.contains("&lt;b&gt;") && !svg.contains("<b>"));
        assert!(svg.contains(r#"href="/channels/ch-1""#));
    }
}
