//! Golden tests: the plan of each shipped topology with its example channels, in both
//! formats, as the owned change set renders it and as `switchboard plan` writes it from the
//! planner by reference. Update after an intended change with `UPDATE_EXPECT=1 cargo test golden`.

use std::path::Path;

use expect_test::expect_file;
use switchboard::cli::plan::{Format, PLAN_FORMAT, PlanReport, render, write_plan};
use switchboard::orchestrator::{ChannelReport, change_set, parse_channels, plan};

/// The plan in both formats: rendered from `change_set`, then as `plan` writes it.
fn plan_of(name: &str) -> [(String, String); 2] {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("topologies");
    let topo =
        switchboard::topology::parse(&std::fs::read_to_string(root.join(format!("{name}.yaml"))).unwrap()).unwrap();
    let (specs, diags) = parse_channels(&std::fs::read_to_string(root.join(format!("{name}.channels.yaml"))).unwrap());
    assert!(diags.is_empty(), "{diags:?}");
    let planner = plan(&topo, &specs).unwrap();
    let changes = change_set(&planner, &[]);
    let report = PlanReport {
        format: PLAN_FORMAT,
        topology: topo.name.clone(),
        channels: planner.channels().values().map(|c| ChannelReport::new(&topo, c)).collect(),
        switches: changes.switches.clone(),
    };
    let written = |format| {
        let mut out = Vec::new();
        write_plan(&mut out, &planner, format).unwrap();
        String::from_utf8(out).unwrap()
    };
    [
        (render(&changes), serde_json::to_string_pretty(&report).unwrap() + "\n"),
        (written(Format::Bridge), written(Format::Json)),
    ]
}

#[test]
fn p2p_small_plan() {
    for (bridge, json) in plan_of("p2p-small") {
        expect_file!["golden/p2p-small.plan.sh"].assert_eq(&bridge);
        expect_file!["golden/p2p-small.plan.json"].assert_eq(&json);
    }
}

#[test]
fn metro_plan() {
    for (bridge, json) in plan_of("metro") {
        expect_file!["golden/metro.plan.sh"].assert_eq(&bridge);
        expect_file!["golden/metro.plan.json"].assert_eq(&json);
    }
}
