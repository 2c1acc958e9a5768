//! An organization's inbox (the offers waiting for it, each opening its invitation page, so
//! a lost email loses nothing), and the creator's hold on the invitations it sent: withdraw
//! one (irreversible, confirmed first) or send it again with a fresh link (issue 24, item 5).

use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::extract::rejection::FormRejection;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::model::id::{ChannelId, InviteeId};
use crate::model::utc_minute as when;

use super::AppState;
use super::page::{Confirm, HeaderUser, PageError, PageUser, confirmed, form, render};
use super::param::PathId;
use super::words::urlencode;

struct WaitingRow {
    id: String,
    offered_by: String,
    channel: String,
    service: String,
    description: String,
    addressed_to: String,
    expires: String,
}

#[derive(Template)]
#[template(path = "inbox.html")]
struct InboxPage {
    title: String,
    user: Option<HeaderUser>,
    offers: Vec<WaitingRow>,
}

/// The offers waiting for the visitor's organization.
pub(super) async fn view_inbox_get(State(state): State<AppState>, user: PageUser) -> Result<Response, PageError> {
    let waiting = state.svc.inbox(&user.authed.actor).await.map_err(|e| user.error(e))?;
    Ok(render(&InboxPage {
        title: "Offers for you".into(),
        user: Some(user.header.clone()),
        offers: waiting
            .into_iter()
            .map(|w| WaitingRow {
                id: w.invitee_id.to_string(),
                offered_by: w.offered_by,
                channel: w.channel_name,
                service: format!("{} · {} Mbps", w.kind.label(), w.bandwidth_mbps),
                description: w.description,
                addressed_to: w.addressed_to,
                expires: when(w.expires_at),
            })
            .collect(),
    }))
}

/// The invitee rows' forms: CSRF (checked by the gate), the channel page to go back to,
/// and for withdrawing, `confirm` once the creator has seen what it means ([`Confirm`]).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct InviteeForm {
    #[serde(default, rename = "csrf")]
    _csrf: String,
    #[serde(default)]
    channel: String,
    #[serde(default)]
    who: String,
    #[serde(default)]
    confirm: Option<String>,
}

impl InviteeForm {
    fn back(&self) -> String {
        match self.channel.parse::<ChannelId>() {
            Ok(c) => format!("/channels/{c}"),
            Err(_) => "/channels".into(),
        }
    }
}

/// Withdraws an invitation after its confirmation: its link is refused from then on.
pub(super) async fn view_withdraw_post(
    State(state): State<AppState>,
    user: PageUser,
    PathId(id): PathId<InviteeId>,
    f: Result<Form<InviteeForm>, FormRejection>,
) -> Result<Response, PageError> {
    let f = form(f).map_err(|e| user.error(e))?;
    let back = f.back();
    if !confirmed(&f.confirm) {
        let who = if f.who.is_empty() { "this invitee".to_string() } else { f.who.clone() };
        return Ok(render(&Confirm {
            title: "Withdraw?".into(),
            user: Some(user.header.clone()),
            heading: format!("Withdraw the invitation to {who}?"),
            effect: "Withdrawing closes this invitation: its link stops working at once and it can no longer be \
                     accepted. To invite them again later, send a new offer."
                .into(),
            losing: Vec::new(),
            note: String::new(),
            action: format!("/invitees/{id}/withdraw"),
            csrf: user.authed.csrf.clone(),
            fields: vec![("channel".into(), f.channel.clone()), ("who".into(), f.who.clone())],
            button: "Withdraw the invitation".into(),
            back,
            cancel: "Keep it".into(),
        }));
    }
    state.svc.withdraw_invitation(&user.authed.actor, &id).await.map_err(|e| user.error(e))?;
    Ok(Redirect::to(&back).into_response())
}

#[derive(Template)]
#[template(path = "offer_created.html")]
struct ResentPage {
    title: String,
    user: Option<HeaderUser>,
    channel_id: String,
    mailed: bool,
    invitations: Vec<(String, String)>,
}

/// Sends an invitation again with a fresh link (the old one stops working), and shows it.
pub(super) async fn view_resend_post(
    State(state): State<AppState>,
    user: PageUser,
    PathId(id): PathId<InviteeId>,
    f: Result<Form<InviteeForm>, FormRejection>,
) -> Result<Response, PageError> {
    let f = form(f).map_err(|e| user.error(e))?;
    let inv = state.svc.resend_invitation(&user.authed.actor, &id).await.map_err(|e| user.error(e))?;
    let who = inv.email.clone().or_else(|| inv.organization.clone()).unwrap_or_else(|| f.who.clone());
    Ok(render(&ResentPage {
        title: "Invitation sent again".into(),
        user: Some(user.header.clone()),
        channel_id: urlencode(&f.channel),
        mailed: state.svc.mails_invitations(),
        invitations: vec![(who, inv.url)],
    })
    .into_response())
}
