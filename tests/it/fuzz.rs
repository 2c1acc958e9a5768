//! Bad input never panics: the topology and channels parsers (and the planner behind them)
//! on arbitrary text, and on random mutations of the shipped files.

use std::path::Path;

use proptest::prelude::*;
use switchboard::orchestrator::{parse_channels, plan};

fn shipped(name: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("topologies").join(name)).unwrap()
}

/// Applies byte-level mutations: replace, delete, insert, duplicate a line.
fn mutate(text: &str, ops: &[(usize, u8, u8)]) -> String {
    let mut bytes = text.as_bytes().to_vec();
    for &(at, op, b) in ops {
        if bytes.is_empty() {
            break;
        }
        let i = at % bytes.len();
        match op % 4 {
            0 => bytes[i] = b,
            1 => {
                bytes.remove(i);
            }
            2 => bytes.insert(i, b),
            _ => {
                let start = bytes[..i].iter().rposition(|c| *c == b'\n').map_or(0, |p| p + 1);
                let end = bytes[i..].iter().position(|c| *c == b'\n').map_or(bytes.len(), |p| i + p + 1);
                let line = bytes[start..end].to_vec();
                bytes.splice(start..start, line);
            }
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

const YAMLISH: &str = "[a-z0-9:{}\\[\\], \\-\\n\"'#&*!|>.]{0,300}";

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn topology_parser_survives_any_text(text in any::<String>()) {
        let _ = switchboard::topology::parse(&text);
    }

    #[test]
    fn topology_parser_survives_yamlish_text(text in YAMLISH) {
        let _ = switchboard::topology::parse(&text);
    }

    #[test]
    fn channels_parser_survives_any_text(text in any::<String>(), yamlish in YAMLISH) {
        let _ = parse_channels(&text);
        let _ = parse_channels(&yamlish);
    }

    #[test]
    fn mutated_shipped_files_never_panic(ops in proptest::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..8)) {
        let topo_text = mutate(&shipped("metro.yaml"), &ops);
        let chan_text = mutate(&shipped("metro.channels.yaml"), &ops);
        let topo = switchboard::topology::parse(&topo_text);
        let clean = switchboard::topology::parse(&shipped("metro.yaml")).unwrap();
        let (specs, _) = parse_channels(&chan_text);
        let _ = plan(&clean, &specs);
        if let Ok(topo) = topo {
            let (specs, _) = parse_channels(&shipped("metro.channels.yaml"));
            let _ = plan(&topo, &specs);
        }
    }
}

#[test]
fn deeply_nested_yaml_is_refused_not_overflowed() {
    let text = "[".repeat(10_000) + &"]".repeat(10_000);
    assert!(switchboard::topology::parse(&text).is_err());
    let text = "a:\n".to_string() + &(1..200).map(|i| format!("{}b:\n", " ".repeat(i))).collect::<String>();
    assert!(switchboard::topology::parse(&text).is_err());
}
