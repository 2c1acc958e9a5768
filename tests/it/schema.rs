//! The published JSON Schemas accept every shipped file and reject broken ones, so editors
//! that validate with them agree with `switchboard topology check`.

use std::path::Path;

use switchboard::topology::yaml::{self, Node, Value};

fn to_json(node: &Node) -> serde_json::Value {
    match &node.value {
        Value::Null => serde_json::Value::Null,
        Value::Bool(b) => (*b).into(),
        Value::Int(i) => (*i).into(),
        Value::Float(f) => serde_json::Number::from_f64(*f).map_or(serde_json::Value::Null, serde_json::Value::Number),
        Value::Str(s) => s.clone().into(),
        Value::Seq(items) => items.iter().map(to_json).collect(),
        Value::Map(entries) => entries
            .iter()
            .map(|(k, v)| {
                (
                    match &k.value {
                        Value::Str(s) => s.clone(),
                        other => format!("{other:?}"),
                    },
                    to_json(v),
                )
            })
            .collect::<serde_json::Map<_, _>>()
            .into(),
    }
}

fn validator(name: &str) -> jsonschema::Validator {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("schema").join(name)).unwrap()).unwrap();
    jsonschema::validator_for(&schema).unwrap()
}

fn load(text: &str) -> serde_json::Value {
    to_json(&yaml::parse(text).unwrap())
}

#[test]
fn shipped_files_match_the_schemas() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("topologies");
    let topo = validator("topology.schema.json");
    let chans = validator("channels.schema.json");
    let mut n = 0;
    for entry in std::fs::read_dir(&root).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        let v = if name.ends_with(".channels.yaml") { &chans } else { &topo };
        let errors: Vec<String> = v.iter_errors(&load(&text)).map(|e| format!("{}: {e}", e.instance_path())).collect();
        assert!(errors.is_empty(), "{name}: {errors:?}");
        n += 1;
    }
    assert!(n >= 4);
}

#[test]
fn schemas_reject_what_check_rejects() {
    let topo = validator("topology.schema.json");
    for bad in [
        "switches: {a: {}}\n",                                        // no name
        "name: x\nswitches: {a: {driver: linux}}\n",                  // linux without bridge
        "name: x\nswitches: {a: {driver: quantum}}\n",                // unknown driver
        "name: x\nswitches: {a: {}}\nlinks: [{endpoints: [a:p1]}]\n", // one endpoint
        "name: x\nswitches: {a: {}}\ninterfaces: {i: {organization: o, switch: a, port: p, capacity: 1, macs: [zz]}}\n",
        "name: x\nswtiches: {a: {}}\n",
    ] {
        assert!(!topo.is_valid(&load(bad)), "schema accepted:\n{bad}");
        assert!(switchboard::topology::parse(bad).is_err(), "check accepted:\n{bad}");
    }
    let chans = validator("channels.schema.json");
    assert!(!chans.is_valid(&load("- {name: a, kind: hub, members: []}\n")));
    assert!(!chans.is_valid(&load("- {name: a, kind: p2p, members: [{interface: x, customer_vlan: 5000}]}\n")));
}

/// What `lab up --agents` writes (every switch remote, `remote: {netns}`) matches the schema,
/// and a management namespace with a `/` is refused by both.
#[test]
fn the_written_remote_topology_matches_the_schema() {
    use switchboard::topology::{DriverConfig, TlsPaths};
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("topologies/metro.yaml")).unwrap();
    let mut topo = switchboard::topology::parse(&text).unwrap();
    let tls =
        TlsPaths { ca: "/p/ca.pem".into(), cert: "/p/orchestrator.pem".into(), key: "/p/orchestrator-key.pem".into() };
    for (k, sw) in topo.switches.iter_mut().enumerate() {
        sw.driver = DriverConfig::Remote {
            address: format!("10.255.0.{}:4443", k + 2),
            bridge: "br0".into(),
            tls: Some(tls.clone()),
            mgmt_netns: Some("metro-mgmt".into()),
            timeouts: switchboard::topology::Timeouts { connect: 3, read: 20, write: 90 },
        };
    }
    let written = switchboard::topology::render::yaml(&topo).unwrap();
    let v = validator("topology.schema.json");
    let errors: Vec<String> = v.iter_errors(&load(&written)).map(|e| format!("{}: {e}", e.instance_path())).collect();
    assert!(errors.is_empty(), "{errors:?}\n{written}");
    let bad = written.replace("netns: \"metro-mgmt\"", "netns: \"a/b\"");
    assert!(!v.is_valid(&load(&bad)));
    assert!(switchboard::topology::parse(&bad).is_err());
}
