//! Planner benchmarks (issue 25, the planner at scale): plan 10,000 channels on a generated
//! 1,000-switch tree, 30,000 on 3,000 and 100,000 on 10,000; the change set from empty
//! switches read by reference (what `switchboard plan` prints); and one more channel with
//! all of them planned (add + remove).
//!
//! Run: `cargo bench --bench plan` (`BENCH_SCALES=10000` for one scale, by channels). Before
//! the figures each scale prints what it plans: items (the changes from empty switches),
//! the most VLANs any switch holds against the 4,094 of the pool, and that no channel was
//! refused; and at the end the time per item at each scale, measured here apart from
//! criterion (5 runs of `plan`: the fastest wall time, and the median of the CPU time the
//! thread spent, which other processes on a shared machine do not inflate the way they do
//! the wall clock), which says whether the cost grows with the items and nothing else. Targets: `plan` at 100,000 under 1 s, its time per item within 1.3x of
//! that at 10,000; one more channel under 20 µs. What a run makes is dropped outside the
//! timing (`iter_with_large_drop`): `switchboard plan` never frees it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use switchboard::orchestrator::{ChannelSpec, Planner, Preview, change_set, parse_channels, plan};
use switchboard::topology::Topology;
use switchboard::topology::generate::{ChannelOptions, TreeOptions, channels_yaml, topology_yaml};

/// (channels, switches): ten channels and four sites per switch, as `topology generate
/// --switches N --sites 4N --channels 10N` makes them.
const SCALES: &[(usize, usize)] = &[(10_000, 1_000), (30_000, 3_000), (100_000, 10_000)];
const SEED: u64 = 7;

/// The topology and `channels + 1` channel specs, as `topology generate --seed 7` makes them.
fn setup(channels: usize, switches: usize) -> (Topology, Vec<ChannelSpec>) {
    let opts =
        TreeOptions { switches, sites: 4 * switches, seed: SEED, name: "bench".into(), driver: "dry-run".into() };
    let topo = switchboard::topology::parse(&topology_yaml(&opts)).expect("generated topology is valid");
    let (specs, diags) = parse_channels(&channels_yaml(&topo, &ChannelOptions { channels: channels + 1, seed: SEED }));
    assert!(diags.is_empty());
    (topo, specs)
}

fn scales() -> Vec<(usize, usize)> {
    match std::env::var("BENCH_SCALES") {
        Ok(only) => {
            SCALES.iter().copied().filter(|(c, _)| only.split(',').any(|o| o.trim().parse() == Ok(*c))).collect()
        }
        Err(_) => SCALES.to_vec(),
    }
}

fn bench_plan(c: &mut Criterion) {
    let mut growth: Vec<String> = Vec::new();
    let mut first_per_item: Option<f64> = None;
    for (channels, switches) in scales() {
        let (topo, specs) = setup(channels, switches);
        let (existing, one_more) = specs.split_at(channels);
        let planned = match plan(&topo, existing) {
            Ok(p) => p,
            Err(errors) => panic!("{} of {channels} generated channels refused; first: {}", errors.len(), errors[0]),
        };
        assert_eq!(planned.channels().len(), channels);
        let items = Preview::new(&planned).len();
        let (busiest, most) =
            (0..switches).map(|s| (s, planned.vlans_in_use(s).len())).max_by_key(|(_, n)| *n).unwrap_or((0, 0));
        println!(
            "{channels} channels on {switches} switches: {items} items, 0 refused; most VLANs on a switch: {most} of 4094 (s{busiest})"
        );

        let mut group = c.benchmark_group("planner");
        group.sample_size(10);
        group.bench_function(format!("plan {channels} channels on {switches} switches"), |b| {
            b.iter_with_large_drop(|| plan(&topo, existing))
        });
        group.bench_function(format!("plan {channels} channels + change set from empty, by reference"), |b| {
            b.iter_with_large_drop(|| {
                plan(&topo, existing).inspect(|p| {
                    std::hint::black_box(Preview::new(p).len());
                })
            })
        });
        if channels == 10_000 {
            // The owned change set (what the engine takes), for the figure the README kept
            // before the plan was read by reference.
            group.bench_function(format!("plan {channels} channels + change set from empty, owned items"), |b| {
                b.iter_with_large_drop(|| plan(&topo, existing).map(|p| (change_set(&p, &[]), p)))
            });
        }
        group.finish();

        let mut planner: Planner<'_> = planned;
        let spec = &one_more[0];
        c.bench_function(&format!("plan 1 more channel with {channels} existing (add + remove)"), |b| {
            b.iter(|| {
                let vlan = planner.add(spec).map(|ch| ch.vlan).expect("fits");
                planner.remove(&spec.name);
                vlan
            })
        });

        // Time per item, measured apart from criterion for the growth line.
        let (mut walls, mut cpus): (Vec<Duration>, Vec<Duration>) = (0..5)
            .map(|_| {
                let (start, cpu_start) = (Instant::now(), thread_cpu_time());
                let p = plan(&topo, existing).expect("fits");
                let took = (start.elapsed(), thread_cpu_time() - cpu_start);
                drop(p);
                took
            })
            .unzip();
        walls.sort();
        cpus.sort();
        // The fastest wall time is the run least disturbed by whatever else shares the
        // machine; the CPU time is the thread's own, so its median is the steadier figure.
        let (fastest, cpu) = (walls[0], cpus[2]);
        let per_item = cpu.as_nanos() as f64 / items as f64;
        let ratio = per_item / *first_per_item.get_or_insert(per_item);
        growth.push(format!(
            "{channels} channels / {switches} switches: plan {:.0} ms CPU (median of 5), fastest wall {:.0} ms, {items} items, {per_item:.0} ns CPU per item ({ratio:.2}x the first scale)",
            cpu.as_secs_f64() * 1e3,
            fastest.as_secs_f64() * 1e3,
        ));
    }
    println!("\ngrowth check (CPU time per item of plan(), median of 5 runs):");
    for line in growth {
        println!("  {line}");
    }
}

/// The CPU time this thread has used so far.
fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid timespec for the call to write.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

criterion_group!(benches, bench_plan);
criterion_main!(benches);
