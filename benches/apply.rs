//! Apply benchmark (issue: linux driver): the change set of N channels on the metro lab
//! through the linux driver, against `bridge -batch` (with `ip -batch` and `tc -batch` for
//! the few link and tc lines) applying the dry-run rendering of the same change set, in the
//! same run; and the time from apply start to the first frame between two new members.
//!
//! Needs root and the VLAN-filtering kernel: run `scripts/bench-apply`, which builds this
//! and runs it under scripts/run-in-vm. Prints a Markdown table.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use switchboard::engine::{self, Event};
use switchboard::orchestrator::{Planner, change_set, parse_channels, plan};
use switchboard::southbound::dry_run::batches;
use switchboard::southbound::linux::{lab, probe};
use switchboard::topology::Topology;
use switchboard::topology::generate::{ChannelOptions, channels_yaml};

fn main() {
    if std::env::var("SWITCHBOARD_LAB_GUEST").as_deref() != Ok("1") {
        eprintln!("run this through scripts/bench-apply (it needs the VLAN-filtering kernel of scripts/run-in-vm)");
        std::process::exit(2);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let topo =
        switchboard::topology::parse(&std::fs::read_to_string(root.join("topologies/metro.yaml")).unwrap()).unwrap();
    let rounds: usize = std::env::var("BENCH_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(3);
    lab::down(&topo).unwrap();
    lab::up(&topo, &mut |_| {}).unwrap();
    reset(&topo);

    println!(
        "| channels | changes | linux driver (apply + verify) | linux driver (sending only) | `ip/bridge/tc -batch` | ratio |"
    );
    println!("|---|---|---|---|---|---|");
    for n in [100usize, 1000] {
        let (specs, diags) = parse_channels(&channels_yaml(&topo, &ChannelOptions { channels: n, seed: 7 }));
        assert!(diags.is_empty());
        let planner = plan(&topo, &specs).unwrap_or_else(|e| panic!("{n} channels do not fit metro: {:?}", e.first()));
        let mut linux = Vec::new();
        let mut sending = Vec::new();
        let mut batch = Vec::new();
        let mut changes = 0;
        for _ in 0..rounds {
            let (total, send, c) = linux_apply(&planner);
            changes = c;
            linux.push(total);
            sending.push(send);
            reset(&topo);
            batch.push(batch_apply(&topo, &planner));
            reset(&topo);
        }
        let (l, s, b) = (median(&mut linux), median(&mut sending), median(&mut batch));
        let rate = |d: Duration| changes as f64 / d.as_secs_f64();
        println!(
            "| {n} | {changes} | {:.0} ms, {:.0}/s | {:.0} ms, {:.0}/s | {:.0} ms, {:.0}/s | {:.1}x |",
            ms(l),
            rate(l),
            ms(s),
            rate(s),
            ms(b),
            rate(b),
            b.as_secs_f64() / l.as_secs_f64()
        );
    }

    // First frame: acme-1a sends to acme-7c every 200 µs; the apply of their channel starts.
    let spec = "- {name: first, kind: p2p, members: [acme-1a, acme-7c]}";
    let (specs, _) = parse_channels(spec);
    let planner = plan(&topo, &specs).unwrap();
    let mut delays = Vec::new();
    let mut applies = Vec::new();
    for _ in 0..rounds.max(5) {
        let (arrived, apply_time) = probe::first_arrival(&topo, "acme-1a", "acme-7c", Duration::from_secs(5), || {
            let t = Instant::now();
            let mut drivers = engine::connect(&topo).unwrap();
            engine::apply(&planner, &mut drivers, &mut |_| {}).unwrap();
            t.elapsed()
        })
        .unwrap();
        delays.push(arrived.expect("no frame within 5 s"));
        applies.push(apply_time);
        reset(&topo);
    }
    println!();
    println!(
        "first frame between two new members (acme-1a -> acme-7c, 5 switches): median {:.1} ms after apply start \
         (the whole apply incl. connect and read-back: median {:.1} ms); {} runs",
        ms(median(&mut delays)),
        ms(median(&mut applies)),
        delays.len()
    );
    lab::down(&topo).unwrap();
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Back to the baseline (ports on the bridges, no channels).
fn reset(topo: &Topology) {
    let planner = Planner::new(topo);
    let mut drivers = engine::connect(topo).unwrap();
    engine::apply(&planner, &mut drivers, &mut |_| {}).unwrap();
}

/// (whole apply with read, diff, verify; time inside the drivers' apply; changes)
fn linux_apply(planner: &Planner<'_>) -> (Duration, Duration, usize) {
    let mut drivers = engine::connect(planner.topology()).unwrap();
    let mut sending = Duration::ZERO;
    let t = Instant::now();
    let report = engine::apply(planner, &mut drivers, &mut |e| {
        if let Event::Applied { elapsed, .. } = e {
            sending += *elapsed;
        }
    })
    .unwrap();
    (t.elapsed(), sending, report.changes)
}

/// The same change set, rendered by the dry-run driver, through iproute2's batch mode; then
/// checks the switches hold exactly what the linux driver would have made.
fn batch_apply(topo: &Topology, planner: &Planner<'_>) -> Duration {
    let mut drivers = engine::connect(topo).unwrap();
    let actual = engine::read_all(&mut drivers).unwrap();
    let cs = change_set(planner, &actual);
    let dir = std::env::temp_dir().join(format!("swb-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut jobs = Vec::new();
    for sw in &cs.switches {
        let ns = sw.driver.netns().unwrap().to_string();
        for (k, (tool, lines)) in batches(&sw.changes, sw.driver.bridge()).into_iter().enumerate() {
            let file = dir.join(format!("{}-{k}", sw.switch));
            std::fs::write(&file, lines.join("\n") + "\n").unwrap();
            jobs.push((tool.as_str(), ns.clone(), file));
        }
    }
    let t = Instant::now();
    for (tool, ns, file) in &jobs {
        let st = Command::new(tool).args(["-n", ns, "-batch"]).arg(file).status().unwrap();
        assert!(st.success(), "{tool} -batch failed");
    }
    let elapsed = t.elapsed();
    let _ = std::fs::remove_dir_all(&dir);
    let drift = engine::drift(planner, &mut drivers).unwrap();
    assert!(drift.is_empty(), "bridge -batch did not reach the planned state: {} differences", drift.len());
    elapsed
}
