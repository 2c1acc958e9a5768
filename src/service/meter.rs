//! Max GB (seed 003), enforced from the switches' counters while a channel runs.
//!
//! Every sweep, the worker reads, for each member of an active channel whose usage model
//! has an allowance, the byte counter (in plus out) of the switch port that carries its
//! traffic in that channel: the access port of a `port`-mode interface, the channel's
//! 802.1Q sub-interface of a `tagged` one. The first reading is the baseline; later ones
//! add what the counter moved (a counter that went back was reset and counts from zero).
//! A member past its allowance ends the channel, like the end of a term: a removal order,
//! its VLANs freed, the reason naming the model, the interface and the traffic.
//!
//! Members under a model that charges by the GB are read the same way, so what they used is
//! known. Switches without counters (those the worker drives with the dry-run driver: every
//! switch under `serve --dry-run` or `--demo`, whatever the topology says) are not metered,
//! and their members say so ([`Service::metering_where_counted`]); no counter is invented.
//! A member whose counters could not be read keeps since when and why, for its page.
//! Counters are read outside any database transaction; only the bookkeeping takes the writer.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::engine;
use crate::model::InterfaceMode;
use crate::orchestrator::policy::{self, ChannelState, Refused};
use crate::store::meter;
use crate::topology::Topology;

use super::{Actor, Result, Service, audit};

/// What one metering pass did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct MeterReport {
    /// Members whose counters were read.
    pub read: usize,
    /// Members that could not be read (switch unreachable, port missing); retried next time.
    pub unread: usize,
    /// Channels ended because a member used up its allowance.
    pub ended: Vec<String>,
}

/// A metered member and where its traffic is counted.
struct Metered {
    member: meter::Member,
    /// Where its traffic is counted: (switch, port).
    counter: (String, String),
}

impl Service {
    /// Reads the metered members' counters, records their traffic, and ends the channels
    /// of members past their allowance.
    pub async fn meter(&self) -> Result<MeterReport> {
        let rows = meter::metered(&self.db).await?;
        if rows.is_empty() {
            return Ok(MeterReport::default());
        }
        let topo = self.topology().await?;
        let mut members = Vec::with_capacity(rows.len());
        for member in rows {
            let Some(counter) = counter_port(&topo, &member.interface, member.tag) else { continue };
            // The worker's driver choice: a switch it drives dry has no counters to read.
            if self.driver_kind(&topo, &counter.0) == "dry-run" {
                continue;
            }
            members.push(Metered { member, counter });
        }
        let mut ports: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for m in &members {
            ports.entry(m.counter.0.clone()).or_default().push(m.counter.1.clone());
        }
        let topo2 = topo.clone();
        let readings = tokio::task::spawn_blocking(move || read_counters(&topo2, &ports))
            .await
            .map_err(|e| super::ServiceError::Conflict(format!("the metering task failed: {e}")))?;

        let now = self.now();
        let actor = Actor::system("meter");
        let mut report = MeterReport::default();
        let mut tx = self.db.write_background().await?;
        for Metered { member: m, counter } in &members {
            let Some(&bytes) = readings.bytes.get(counter) else {
                if !readings.uncounted.contains(&counter.0) {
                    report.unread += 1;
                    let reason = match readings.failed.get(&counter.0) {
                        Some(why) => format!("its counters could not be read: {why}"),
                        None => format!("{} has no counter for port {}", counter.0, counter.1),
                    };
                    meter::failed(&mut tx, &m.attachment, &reason, now).await?;
                }
                continue;
            };
            report.read += 1;
            let used = m.used.saturating_add(policy::usage_delta(m.seen, bytes));
            meter::record(&mut tx, &m.attachment, used, bytes, now).await?;
            let Some(quota) = m.quota else { continue };
            if used <= quota.bytes() || report.ended.contains(&m.channel) {
                continue;
            }
            let channel = self.channel_row(&mut tx, &m.channel, true).await?;
            if channel.state != ChannelState::Active {
                continue;
            }
            let why = Refused::QuotaUsed {
                model: m.model.clone(),
                allowed: quota,
                interface: m.interface.clone(),
                used: policy::gigabytes(used),
            };
            let order = self.take_down(&mut tx, &channel, &why.to_string(), now).await?;
            audit(
                &mut tx,
                now,
                &actor,
                "channel.quota_used",
                &m.channel,
                serde_json::json!({"order": order, "interface": m.interface, "bytes": used, "allowed_mb": quota.megabytes}),
            )
            .await?;
            report.ended.push(m.channel.clone());
        }
        tx.commit().await?;
        if !report.ended.is_empty() {
            self.notify.notify_one();
        }
        if report.unread > 0 {
            tracing::warn!(unread = report.unread, "some members' counters could not be read");
        }
        tracing::debug!(read = report.read, ended = report.ended.len(), "metered");
        Ok(report)
    }
}

/// The (switch, port) whose counter carries `interface`'s traffic in a channel tagged `tag`.
fn counter_port(topo: &Topology, interface: &str, tag: Option<u16>) -> Option<(String, String)> {
    let iface = topo.interface(interface)?;
    let port = match iface.mode {
        InterfaceMode::Port => iface.port.clone(),
        InterfaceMode::Tagged => format!("{}.{}", iface.port, tag?),
    };
    Some((iface.switch.clone(), port))
}

/// Counter readings by (switch, port), the switches that have no counters, and why the
/// others that could not be read could not.
#[derive(Default)]
struct Readings {
    bytes: BTreeMap<(String, String), u64>,
    uncounted: Vec<String>,
    failed: BTreeMap<String, String>,
}

/// Reads `ports` (by switch) through each switch's driver (blocking).
fn read_counters(topo: &Topology, ports: &BTreeMap<String, Vec<String>>) -> Readings {
    let mut out = Readings::default();
    for (switch, wanted) in ports {
        let Some(sw) = topo.switch_index(switch).and_then(|s| topo.switches.get(s)) else { continue };
        match engine::connect_switch(sw).and_then(|mut d| d.port_bytes(wanted)) {
            Ok(Some(bytes)) => out.bytes.extend(bytes.into_iter().map(|(port, b)| ((switch.clone(), port), b))),
            Ok(None) => out.uncounted.push(switch.clone()),
            Err(e) => {
                tracing::warn!(switch, error = %e, "cannot read counters");
                out.failed.insert(switch.clone(), e.to_string());
            }
        }
    }
    out
}
