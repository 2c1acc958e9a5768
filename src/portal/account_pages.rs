//! An organization's account page (`/account`, issue: the portal journey, item 1): status,
//! balance, credit limit and what can still be charged in advance, limits and how much of
//! them is used, and the charges ledger, in the operator's currency.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;

use crate::model::utc_minute as when;

use super::AppState;
use super::page::{HeaderUser, PageError, PageUser, render};
use super::words::amount;

pub fn router() -> Router<AppState> {
    Router::new().route("/account", get(view_account_get))
}

struct ChargeRow {
    at: String,
    channel_id: String,
    channel: String,
    what: String,
    amount: String,
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    title: String,
    user: Option<HeaderUser>,
    organization: String,
    status: String,
    active: bool,
    balance: String,
    credit: String,
    available: String,
    kinds: String,
    max_bandwidth: u64,
    channels: String,
    classes: String,
    charges: Vec<ChargeRow>,
}

async fn view_account_get(State(state): State<AppState>, user: PageUser) -> Result<Response, PageError> {
    let a = state.svc.my_account(&user.authed.actor).await.map_err(|e| user.error(e))?;
    let c = &a.currency;
    let kinds: Vec<&str> = a.kinds.iter().map(|k| k.label()).collect();
    Ok(render(&AccountPage {
        title: "Account".into(),
        user: Some(user.header.clone()),
        active: a.status == "active",
        status: a.status.clone(),
        balance: amount(a.balance_cents, c),
        credit: amount(a.credit_limit_cents, c),
        available: amount(a.available_cents, c),
        kinds: kinds.join(", "),
        max_bandwidth: a.max_bandwidth_mbps,
        channels: format!("{} of {}", a.channels_held, a.max_channels),
        classes: a.classes.join(", "),
        charges: a
            .charges
            .iter()
            .map(|g| ChargeRow {
                at: when(g.at),
                channel_id: g.channel_id.clone(),
                channel: if g.channel.is_empty() { g.channel_id.clone() } else { g.channel.clone() },
                what: g.what.clone(),
                amount: amount(g.amount_cents, c),
            })
            .collect(),
        organization: a.organization,
    }))
}
