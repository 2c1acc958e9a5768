//! An organization's account as it sees it (issue: the portal journey, item 1): its status,
//! balance, credit limit and what it can still be charged, its limits and how much of them
//! it uses, and its charges ledger. And the charge itself: a member that plugs into a
//! channel under a usage model that charges in advance is charged then, in the same
//! transaction as the plug-in, so a refused or rolled-back plug-in charges nothing.

use serde::Serialize;

use crate::model::ChannelKind;
use crate::orchestrator::policy::{self, UsageModel};
use crate::store::{WriteTx, channels, charges, organizations};

use super::{Actor, Result, Service, ServiceError};

/// One charge of the ledger.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ChargeView {
    pub at: i64,
    pub channel_id: String,
    pub channel: String,
    /// In the operator's currency's smallest unit (cents).
    pub amount_cents: i64,
    pub what: String,
}

/// An organization's account and ledger.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct AccountView {
    pub organization: String,
    /// `active`, `suspended` or `closed`.
    pub status: String,
    /// The operator's currency (ISO 4217), for every amount here.
    pub currency: String,
    pub balance_cents: i64,
    pub credit_limit_cents: i64,
    /// What may still be charged in advance: balance plus credit limit.
    pub available_cents: i64,
    /// The channel kinds it may create or join.
    pub kinds: Vec<ChannelKind>,
    pub max_bandwidth_mbps: u64,
    pub max_channels: u64,
    pub channels_held: u64,
    pub classes: Vec<String>,
    /// The latest charges, newest first.
    pub charges: Vec<ChargeView>,
}

/// How many charges the account view lists.
const LEDGER: i64 = 200;

impl Service {
    /// `actor`'s organization's account and ledger. The operator's staff have no account.
    pub async fn my_account(&self, actor: &Actor) -> Result<AccountView> {
        if actor.is_operator() {
            return Err(ServiceError::NotFound("an account: the operator's staff have none".into()));
        }
        let a = organizations::account(&self.db, &actor.org_id).await?;
        let charges = charges::of_org(&self.db, &actor.org_id, LEDGER).await?;
        let held = channels::held_by(&mut self.db.read().await?, &actor.org_id).await?;
        Ok(AccountView {
            organization: self.organization_name(&actor.org_id).await?,
            status: a.status.as_str().into(),
            currency: self.config.currency.clone(),
            balance_cents: a.balance_cents,
            credit_limit_cents: a.credit_limit_cents,
            available_cents: a.balance_cents.saturating_add(a.credit_limit_cents),
            kinds: a.kinds,
            max_bandwidth_mbps: a.max_bandwidth_mbps,
            max_channels: a.max_channels,
            channels_held: u64::try_from(held).unwrap_or(0),
            classes: a.classes,
            charges: charges
                .into_iter()
                .map(|c| ChargeView {
                    at: c.at,
                    channel_id: c.channel_id,
                    channel: c.channel,
                    amount_cents: c.amount_cents,
                    what: c.what,
                })
                .collect(),
        })
    }

    /// The catalogue as `actor`'s organization sees it when creating a channel of
    /// `bandwidth_mbps`: each usage model with what would refuse it for this account
    /// (`Terms::refused`, the rules `create_channel` applies to the model), told before it
    /// chooses. The operator's staff see it as it is.
    pub async fn catalog_for(&self, actor: &Actor, bandwidth_mbps: u64) -> Result<Vec<super::CatalogEntry>> {
        let mut catalog = self.catalog().await?;
        if actor.is_operator() {
            return Ok(catalog);
        }
        let Ok(account) = organizations::account(&self.db, &actor.org_id).await else { return Ok(catalog) };
        let now = self.now();
        for t in catalog.iter_mut().flat_map(|d| d.usage_models.iter_mut()) {
            t.refused = policy::model_refusals(&account, &t.model, bandwidth_mbps, 1, now);
        }
        Ok(catalog)
    }

    /// Charges `org_id` what `model` takes in advance for a `bandwidth_mbps` channel, for
    /// the member `attachment_id` just plugged into `channel_id`; nothing when it takes
    /// nothing in advance. Inside the plug-in's transaction, after its checks passed.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn charge_advance(
        &self,
        tx: &mut WriteTx,
        org_id: &str,
        channel_id: &str,
        attachment_id: &str,
        model_id: &str,
        model: &UsageModel,
        bandwidth_mbps: u64,
        now: i64,
    ) -> Result<()> {
        let amount = policy::upfront_cents(model, bandwidth_mbps);
        if amount == 0 {
            return Ok(());
        }
        let what = format!("{}: charged in advance", model.name);
        let charge = charges::NewCharge {
            org_id,
            channel_id,
            attachment_id: Some(attachment_id),
            usage_model_id: model_id,
            amount_cents: amount,
            what: &what,
        };
        charges::record(tx, &charge, now).await?;
        Ok(())
    }
}

/// Gives back what the members of channel `channel_id` paid for it in advance, when it ends
/// without ever having carried traffic (a draft or an offer nobody completed, an activation
/// that failed): a month paid for a service never delivered is not kept. A refund is a
/// charge of the opposite amount, in the ledger beside the charge.
pub(super) async fn refund_unused(tx: &mut WriteTx, channel_id: &str, now: i64) -> Result<()> {
    for (org_id, attachment, model, cents) in charges::paid_for(tx, channel_id).await? {
        let refund = charges::NewCharge {
            org_id: &org_id,
            channel_id,
            attachment_id: Some(&attachment),
            usage_model_id: &model,
            amount_cents: -cents,
            what: "refund: the channel ended before it carried traffic",
        };
        charges::record(tx, &refund, now).await?;
    }
    Ok(())
}
