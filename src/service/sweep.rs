//! The sweep: what time does to channels and offers without anyone asking. Offers expire,
//! usage terms end, and channels pause outside their usage model's time window and resume
//! inside it; each change opens the order that carries it out.

use std::collections::BTreeMap;

use crate::orchestrator::policy::ChannelState;
use crate::store::{WriteTx, catalog, offers};

use super::flow::set_state;
use super::{Actor, Result, Service, audit};

impl Service {
    /// Expires offers past their date, ends channels whose usage term is over, and pauses and
    /// resumes channels at their usage models' time windows.
    pub async fn sweep(&self) -> Result<usize> {
        let now = self.now();
        let mut tx = self.db.write_background().await?;
        let expired = offers::expire_invitees(&mut tx, now).await?;
        let ended = catalog::term_ended(&mut tx, now).await?;
        let actor = Actor::system("sweep");
        let mut n = usize::try_from(expired).unwrap_or(0);
        for id in ended {
            let channel = self.channel_row(&mut tx, &id, true).await?;
            let order = self.take_down(&mut tx, &channel, "the usage model's term ended", now).await?;
            audit(&mut tx, now, &actor, "channel.term_ended", &id, serde_json::json!({"order": order})).await?;
            n += 1;
        }
        n += self.pause_and_resume(&mut tx, now).await?;
        tx.commit().await?;
        if n > 0 {
            self.notify.notify_one();
        }
        Ok(n)
    }

    /// Time windows (seed 003): an active channel with a member whose usage model's window
    /// is closed is paused (its configuration removed, its VLANs kept); a paused channel
    /// whose members' windows are all open again resumes. Returns how many changed.
    async fn pause_and_resume(&self, tx: &mut WriteTx, now: i64) -> Result<usize> {
        let rows = catalog::windows(tx).await?;
        // Channel -> (state, its members' windows as (usage model, window)).
        type Windows = Vec<(String, (u32, u32))>;
        let mut channels: BTreeMap<String, (String, Windows)> = BTreeMap::new();
        for r in rows {
            let entry = channels.entry(r.channel_id).or_insert_with(|| (String::new(), Vec::new()));
            entry.0 = r.state;
            let (start, end) = (r.window_start_min, r.window_end_min);
            if let (Some(a), Some(b)) =
                (start.and_then(|v| u32::try_from(v).ok()), end.and_then(|v| u32::try_from(v).ok()))
            {
                entry.1.push((r.usage_model.unwrap_or_default(), (a, b)));
            }
        }
        let actor = Actor::system("sweep");
        let mut n = 0;
        for (id, (state, windows)) in channels {
            let closed = crate::orchestrator::policy::closed_window(windows.iter().map(|(m, w)| (m.as_str(), *w)), now);
            let (from, to, action, reason, event) = match (state.as_str(), closed) {
                ("active", Some(why)) => (
                    ChannelState::Active,
                    ChannelState::Paused,
                    "pause",
                    format!("paused: {why}; it resumes when the window opens"),
                    "channel.paused",
                ),
                ("paused", None) => {
                    (ChannelState::Paused, ChannelState::Provisioning, "resume", String::new(), "channel.resumed")
                }
                _ => continue,
            };
            set_state(tx, &id, from, to, &reason, now).await?;
            let order = super::flow::insert_order(tx, &id, action, now).await?;
            audit(tx, now, &actor, event, &id, serde_json::json!({"order": order, "reason": reason})).await?;
            n += 1;
        }
        Ok(n)
    }
}
