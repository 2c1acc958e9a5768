//! A [`Topology`] written back as YAML in the documented format, so that a program can make a
//! topology file (`lab up --agents` writes the lab with every switch behind its agent) that
//! [`super::parse`] reads back to the same topology. Comments and layout of the original file
//! are not kept. Every string is written double-quoted (JSON escaping is valid YAML), so no
//! name can be read back as a number, a boolean or null.

use std::fmt::Write;

use super::{DriverConfig, Topology};

/// Why a topology cannot be written in the file format.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error(
        "remote switches `{a}` and `{b}` are reached from different management namespaces; a topology file gives one, under `remote:`"
    )]
    MixedNetns { a: String, b: String },
    #[error("remote switches `{a}` and `{b}` have different timeouts; a topology file gives one set, under `remote:`")]
    MixedTimeouts { a: String, b: String },
}

/// The topology as YAML that parses back to it (positions aside).
pub fn yaml(topo: &Topology) -> Result<String, RenderError> {
    let q = |s: &str| serde_json::Value::String(s.to_string()).to_string();
    let mut out = String::new();
    let _ = writeln!(out, "name: {}", q(&topo.name));
    let _ = write!(out, "vlans:\n  pool: {}\n", q(&format!("{}-{}", topo.pool.first, topo.pool.last)));
    if !topo.pool.reserved.is_empty() {
        let ranges: Vec<String> = topo.pool.reserved.iter().map(|(a, b)| q(&format!("{a}-{b}"))).collect();
        let _ = writeln!(out, "  reserved: [{}]", ranges.join(", "));
    }
    if !topo.classes.is_default() {
        let classes: Vec<String> = topo.classes.iter().map(|(c, pcp)| format!("{}: {pcp}", q(c))).collect();
        let _ = writeln!(out, "classes: {{{}}}", classes.join(", "));
    }
    // The management namespace exists only as a topology-wide default.
    let mut netns: Option<(&str, &str)> = None;
    for sw in &topo.switches {
        if let DriverConfig::Remote { mgmt_netns: Some(ns), .. } = &sw.driver {
            match netns {
                Some((first, other)) if other != ns => {
                    return Err(RenderError::MixedNetns { a: first.to_string(), b: sw.name.clone() });
                }
                Some(_) => {}
                None => netns = Some((&sw.name, ns)),
            }
        }
    }
    // So are the timeouts.
    let mut timeouts: Option<(&str, super::Timeouts)> = None;
    for sw in &topo.switches {
        if let DriverConfig::Remote { timeouts: t, .. } = &sw.driver {
            match timeouts {
                Some((first, other)) if other != *t => {
                    return Err(RenderError::MixedTimeouts { a: first.to_string(), b: sw.name.clone() });
                }
                Some(_) => {}
                None => timeouts = Some((&sw.name, *t)),
            }
        }
    }
    let mut remote = Vec::new();
    if let Some((_, ns)) = netns {
        remote.push(format!("netns: {}", q(ns)));
    }
    if let Some((_, t)) = timeouts.filter(|(_, t)| !t.is_default()) {
        remote.push(format!("timeouts: {{connect: {}, read: {}, write: {}}}", t.connect, t.read, t.write));
    }
    if !remote.is_empty() {
        let _ = writeln!(out, "remote: {{{}}}", remote.join(", "));
    }
    if !topo.organizations.is_empty() {
        out.push_str("organizations:\n");
        for (org, contacts) in topo.organizations.iter() {
            let contacts: Vec<String> = contacts.iter().map(|c| q(c)).collect();
            let _ = writeln!(out, "  {}: {{contacts: [{}]}}", q(org), contacts.join(", "));
        }
    }
    out.push_str("switches:\n");
    for sw in &topo.switches {
        let mut fields = vec![format!("driver: {}", sw.driver.kind()), format!("bridge: {}", q(sw.driver.bridge()))];
        match &sw.driver {
            DriverConfig::Linux { netns, .. } | DriverConfig::DryRun { netns, .. } => {
                fields.extend(netns.iter().map(|ns| format!("netns: {}", q(ns))));
            }
            DriverConfig::Remote { address, tls, .. } => {
                fields.push(format!("address: {}", q(address)));
                if let Some(tls) = tls {
                    fields.push(format!("ca: {}, cert: {}, key: {}", q(&tls.ca), q(&tls.cert), q(&tls.key)));
                }
            }
        }
        if let Some(ports) = &sw.ports {
            let ports: Vec<String> = ports.iter().map(|p| q(p)).collect();
            fields.push(format!("ports: [{}]", ports.join(", ")));
        }
        let _ = writeln!(out, "  {}: {{{}}}", q(&sw.name), fields.join(", "));
    }
    if !topo.links.is_empty() {
        out.push_str("links:\n");
        for link in &topo.links {
            let _ = writeln!(out, "  - endpoints: [{}, {}]", q(&link.a.to_string()), q(&link.b.to_string()));
        }
    }
    if !topo.interfaces.is_empty() {
        out.push_str("interfaces:\n");
        for iface in &topo.interfaces {
            let macs: Vec<String> = iface.macs.iter().map(|m| q(&m.to_string())).collect();
            let _ = writeln!(
                out,
                "  {}: {{organization: {}, switch: {}, port: {}, mode: {}, capacity: {}, macs: [{}]}}",
                q(&iface.name),
                q(&iface.organization),
                q(&iface.switch),
                q(&iface.port),
                iface.mode.as_str(),
                iface.capacity_mbps,
                macs.join(", ")
            );
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn same(a: &Topology, b: &Topology) {
        assert_eq!(a.name, b.name);
        assert_eq!(a.pool, b.pool);
        assert_eq!(a.classes, b.classes);
        assert_eq!(a.organizations, b.organizations);
        let strip = |t: &Topology| {
            (
                t.switches.iter().map(|s| (s.name.clone(), s.driver.clone(), s.ports.clone())).collect::<Vec<_>>(),
                t.links.iter().map(|l| (l.a.clone(), l.b.clone())).collect::<Vec<_>>(),
                t.interfaces
                    .iter()
                    .map(|i| {
                        (
                            i.name.clone(),
                            i.organization.clone(),
                            i.switch.clone(),
                            i.port.clone(),
                            i.macs.clone(),
                            i.capacity_mbps,
                            i.mode,
                        )
                    })
                    .collect::<Vec<_>>(),
            )
        };
        assert_eq!(strip(a), strip(b));
    }

    #[test]
    fn shipped_topologies_read_back_the_same() {
        let shipped = [
            ("metro.yaml", include_str!("../../topologies/metro.yaml")),
            ("p2p-small.yaml", include_str!("../../topologies/p2p-small.yaml")),
        ];
        for (file, text) in shipped {
            let topo = super::super::parse(text).unwrap_or_else(|d| panic!("{file}: {d:?}"));
            let written = yaml(&topo).unwrap();
            let back = super::super::parse(&written).unwrap_or_else(|d| panic!("{file}: {d:?}\n{written}"));
            same(&topo, &back);
        }
    }

    #[test]
    fn remote_switches_keep_address_certificates_and_management_namespace() {
        let text = r#"
name: "true"
vlans: {pool: 10-20, reserved: [12-13]}
classes: {gold: 5, "2nd": 2}
organizations: {"yes": {contacts: ["@yes.example", "Noc@No.example"]}, "1": {contacts: []}}
remote: {ca: /p/ca.pem, cert: /p/o.pem, key: /p/o-key.pem, netns: lab-mgmt}
switches:
  "1": {driver: remote, address: "10.255.0.2:4443", bridge: br0, ports: [a, b]}
  s2: {driver: remote, address: "10.255.0.3:4443", ca: /q/ca.pem, cert: /q/o.pem, key: /q/k.pem}
links:
  - endpoints: ["1:a", "s2:x"]
interfaces:
  "null": {organization: "yes", switch: "1", port: b, mode: tagged, capacity: 10G, macs: ["02:00:00:00:00:01"]}
"#;
        let topo = super::super::parse(text).unwrap();
        let written = yaml(&topo).unwrap();
        let back = super::super::parse(&written).unwrap_or_else(|d| panic!("{d:?}\n{written}"));
        same(&topo, &back);
        assert!(written.contains("remote: {netns: \"lab-mgmt\"}"), "{written}");
    }
}
