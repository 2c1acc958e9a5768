//! Planner benchmarks (issue: core planner): plan 10,000 channels on a generated
//! 1,000-switch tree, and plan one more channel when 10,000 exist.
//!
//! Run: `cargo bench --bench plan`. Targets: under 1 s and under 1 ms.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use criterion::{Criterion, criterion_group, criterion_main};
use switchboard::orchestrator::{Planner, change_set, parse_channels, plan};
use switchboard::topology::generate::{ChannelOptions, TreeOptions, channels_yaml, topology_yaml};

const SWITCHES: usize = 1_000;
const SITES: usize = 4_000;
const CHANNELS: usize = 10_000;

fn setup() -> (switchboard::topology::Topology, Vec<switchboard::orchestrator::ChannelSpec>) {
    let opts =
        TreeOptions { switches: SWITCHES, sites: SITES, seed: 42, name: "bench".into(), driver: "dry-run".into() };
    let topo = switchboard::topology::parse(&topology_yaml(&opts)).expect("generated topology is valid");
    let (specs, diags) = parse_channels(&channels_yaml(&topo, &ChannelOptions { channels: CHANNELS + 1, seed: 42 }));
    assert!(diags.is_empty());
    (topo, specs)
}

fn bench_plan(c: &mut Criterion) {
    let (topo, specs) = setup();
    let (existing, one_more) = specs.split_at(CHANNELS);
    let planned = plan(&topo, existing).expect("every generated channel fits");
    assert_eq!(planned.channels().len(), CHANNELS);

    let mut group = c.benchmark_group("planner");
    group.sample_size(10);
    group.bench_function("plan 10000 channels on 1000 switches", |b| {
        b.iter(|| plan(&topo, existing).map(|p| p.channels().len()))
    });
    group.bench_function("plan 10000 channels + change set from empty", |b| {
        b.iter(|| plan(&topo, existing).map(|p| change_set(&p, &[]).len()))
    });
    group.finish();

    let mut planner: Planner<'_> = planned;
    let spec = &one_more[0];
    c.bench_function("plan 1 more channel with 10000 existing (add + remove)", |b| {
        b.iter(|| {
            let vlan = planner.add(spec).map(|ch| ch.vlan).expect("fits");
            planner.remove(&spec.name);
            vlan
        })
    });
}

criterion_group!(benches, bench_plan);
criterion_main!(benches);
