//! The billing run: what time and traffic cost after the plug-in's advance charge
//! ([`crate::orchestrator::billing`] decides; this loads the members, writes the ledger,
//! and ends the channels whose members' accounts cannot pay).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::orchestrator::billing::{self, Bill, Billable, Unpaid};
use crate::orchestrator::policy::ChannelState;
use crate::store::{WriteTx, charges, organizations};

use super::{Actor, Result, Service, audit};

/// What one billing run did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct BillingReport {
    /// Charges written, and their sum in cents.
    pub charges: usize,
    pub cents: i64,
    /// Channels ended because a member's account could not pay.
    pub ended: Vec<String>,
}

impl Service {
    /// Charges every paying member what it owes now: the months and hours that started since
    /// it last paid, and the traffic it carried since it was last charged. A member whose
    /// account cannot pay ends its channel, with the reason, as an ended term does.
    pub async fn bill(&self) -> Result<BillingReport> {
        let now = self.now();
        let mut report = BillingReport::default();
        let mut tx = self.db.write_background().await?;
        let members = charges::paying(&mut tx).await?;
        for channel in members.chunk_by(|a, b| a.channel_id == b.channel_id) {
            self.bill_channel(&mut tx, channel, now, &mut report).await?;
        }
        tx.commit().await?;
        if !report.ended.is_empty() {
            self.notify.notify_one();
        }
        if report.charges > 0 || !report.ended.is_empty() {
            tracing::info!(charges = report.charges, cents = report.cents, ended = report.ended.len(), "billed");
        }
        Ok(report)
    }

    /// Bills the members of one channel. When one of them cannot pay the period that
    /// starts, none is charged for time to come (the channel ends instead); traffic already
    /// carried is charged in any case.
    async fn bill_channel(
        &self,
        tx: &mut WriteTx,
        members: &[charges::Paying],
        now: i64,
        report: &mut BillingReport,
    ) -> Result<()> {
        let bills: Vec<Bill> = members
            .iter()
            .map(|p| {
                let m = Billable {
                    model: &p.model,
                    bandwidth_mbps: p.bandwidth_mbps,
                    paid_until: p.paid_until,
                    attached_at: p.attached_at,
                    bytes_used: p.bytes_used,
                    bytes_billed: p.bytes_billed,
                    state: p.channel_state,
                };
                billing::bill(&m, now)
            })
            .collect();
        // What each organization can pay, less what this channel's earlier members take.
        let mut available: BTreeMap<&str, i64> = BTreeMap::new();
        for p in members {
            if !available.contains_key(p.org_id.as_str())
                && let Some(a) = organizations::account_tx(&mut *tx, &p.org_id).await?
            {
                available.insert(&p.org_id, a.balance_cents.saturating_add(a.credit_limit_cents));
            }
        }
        let unpaid = |p: &charges::Paying, b: &Bill, can: i64| Unpaid {
            organization: p.organization.clone(),
            model: p.model.name.clone(),
            due_cents: b.cents,
            available_cents: can,
        };
        let mut left = available.clone();
        let mut why = None;
        for (p, b) in members.iter().zip(&bills).filter(|(_, b)| b.in_advance) {
            let can = left.get(p.org_id.as_str()).copied().unwrap_or(0);
            if b.cents > can && why.is_none() {
                why = Some(unpaid(p, b, can));
            }
            left.insert(&p.org_id, can - b.cents);
        }
        for (p, b) in members.iter().zip(&bills) {
            if b.in_advance && why.is_some() {
                continue; // not charged, nor marked paid: the channel ends instead
            }
            if b.cents > 0 {
                let charge = charges::NewCharge {
                    org_id: &p.org_id,
                    channel_id: &p.channel_id,
                    attachment_id: Some(&p.attachment),
                    usage_model_id: &p.model_id,
                    amount_cents: b.cents,
                    what: &b.what,
                };
                charges::record(tx, &charge, now).await?;
                report.charges += 1;
                report.cents += b.cents;
                let can = available.get(p.org_id.as_str()).copied().unwrap_or(0);
                if b.cents > can && why.is_none() {
                    why = Some(unpaid(p, b, can));
                }
                available.insert(&p.org_id, can - b.cents);
            }
            if (b.paid_until, b.bytes_billed) != (p.paid_until, p.bytes_billed) {
                charges::billed(tx, &p.attachment, b.paid_until, b.bytes_billed).await?;
            }
        }
        let (Some(why), Some(first)) = (why, members.first()) else { return Ok(()) };
        let channel = self.channel_row(tx, &first.channel_id, true).await?;
        if matches!(channel.state, ChannelState::Terminating | ChannelState::Terminated) {
            return Ok(());
        }
        let reason = why.to_string();
        let order = self.take_down(tx, &channel, &reason, now).await?;
        let actor = Actor::system("billing");
        let detail = serde_json::json!({"order": order, "organization": why.organization, "reason": reason});
        audit(tx, now, &actor, "channel.unpaid", &channel.id, detail).await?;
        report.ended.push(channel.id.clone());
        Ok(())
    }
}
