//! Setup shared by the service benchmarks: a generated tree imported into a fresh
//! orchestrator, and a catalogue of one definition with a free usage model.

use std::sync::Arc;

use switchboard::model::ChannelKind;
use switchboard::service::{Actor, DefinitionSpec, Service, UsageModelSpec};
use switchboard::topology::Topology;
use switchboard::topology::generate::{TreeOptions, topology_yaml};

/// Imports a generated tree of `switches` and `sites` (dry-run driver) and creates the
/// catalogue. Returns the topology and the free usage model's ID.
pub async fn seed(svc: &Service, switches: usize, sites: usize, seed: u64) -> (Arc<Topology>, String) {
    let system = Actor::system("bench");
    let opts = TreeOptions { switches, sites, seed, name: "bench".into(), driver: "dry-run".into() };
    svc.import_topology(&system, &topology_yaml(&opts), "generated").await.unwrap();
    let topo = svc.topology().await.unwrap();
    let (def, _) = svc
        .create_definition(
            &system,
            &DefinitionSpec {
                name: "Bench".into(),
                kinds: vec![ChannelKind::P2p, ChannelKind::P2mp, ChannelKind::Mp2mp],
                min_bandwidth_mbps: 1,
                max_bandwidth_mbps: 100_000,
                classes: vec!["standard".into()],
                drivers: vec!["dry-run".into()],
                relations: Default::default(),
            },
        )
        .await
        .unwrap();
    let model = svc
        .create_usage_model(&system, &def, &UsageModelSpec { name: "free".into(), ..Default::default() })
        .await
        .unwrap();
    (topo, model.to_string())
}
