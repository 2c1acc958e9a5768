//! One channel's page (SPEC §2, §6): its members, invitees and orders, kept live by
//! server-sent events, and its forms to offer it, detach a member and terminate it.

use std::collections::{BTreeMap, BTreeSet};
use std::convert::Infallible;
use std::time::Duration;

use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::extract::rejection::FormRejection;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::model::id::{AttachmentId, ChannelId};
use crate::model::text::{Description, Reason, TextError};
use crate::model::{ChannelKind, Role, utc_minute as when};
use crate::orchestrator::policy::UsageModel;
use crate::service::{ChannelView, InviteeSpec, NewOffer, ServiceError, UserRole};

use super::AppState;
use super::error::AppError;
use super::page::{Confirm, HeaderUser, PageError, PageUser, confirmed, form, render};
use super::param::PathId;
use super::svg;
use super::words::vlan_text;
use super::words::{PathMember, PathShown, path_shown, price, urlencode, usage, when_opt};

// ---- one channel ----

struct AttachmentRow {
    id: String,
    interface: String,
    organization: String,
    role: String,
    tag: String,
    /// Its policer's rate (Mbps): its own, or else the channel's.
    bandwidth: u64,
    since: String,
    /// The member's own usage model and its price.
    model: String,
    price: String,
    /// Its traffic as counted, or why it is not (see `words::usage`).
    usage: String,
    can_detach: bool,
}

struct InviteeRow {
    id: String,
    who: String,
    /// Whether the viewer may withdraw it or send it again (its creator's admin, while it
    /// can still be answered).
    can_manage: bool,
    status: &'static str,
    accessed: String,
    answered: String,
    /// Why its organization's auto-accept rule could not accept it, in words.
    rule_refused: String,
}

/// What an order does, in words.
fn order_action(action: &str) -> &str {
    match action {
        "activate" => "put on the switches",
        "modify" => "change on the switches",
        "deactivate" => "take off the switches",
        "pause" => "pause",
        "resume" => "resume",
        other => other,
    }
}

struct OrderRow {
    id: String,
    action: String,
    status: String,
    created: String,
    finished: String,
    reason: String,
}

#[derive(Template)]
#[template(path = "channel_live_partial.html")]
struct ChannelLive {
    id: String,
    csrf: String,
    state: String,
    reason: String,
    vlan: String,
    service: String,
    bandwidth: u64,
    class: String,
    attachments: Vec<AttachmentRow>,
    invitees: Vec<InviteeRow>,
    orders: Vec<OrderRow>,
    /// The viewer is the operator's staff (order IDs lead to the orders' pages).
    operator: bool,
    /// Where it runs, in path order (empty before it is on the switches, and after).
    path: PathShown,
    /// Whether its configuration is on the switches.
    on_switches: bool,
    /// When, by whom and why it ended, once it did (or is ending).
    ended: Option<EndedText>,
    tree: String,
}

/// How the channel ended, as its page says it.
struct EndedText {
    at: String,
    by: String,
    reason: String,
}

#[derive(Template)]
#[template(path = "channel.html")]
struct ChannelPage {
    title: String,
    user: Option<HeaderUser>,
    id: String,
    name: String,
    kind: String,
    kind_label: &'static str,
    notice: String,
    error: String,
    live: String,
    is_creator: bool,
    /// An E-Line with both ends: nobody else can join, so there is nothing to offer.
    full: bool,
    can_terminate: bool,
    /// The termination reason typed so far, and why it was refused.
    reason: String,
    reason_error: String,
    /// The offer form as typed, and why it was refused (every bad line at once).
    offer: OfferTyped,
    offer_errors: Vec<String>,
    csrf: String,
}

/// The offer form's fields as the creator typed them.
struct OfferTyped {
    invitees: String,
    description: String,
    days: String,
    role: String,
    allow_reoffer: bool,
}

async fn channel_live(state: &AppState, user: &PageUser, channel: &ChannelView) -> Result<ChannelLive, PageError> {
    let actor = &user.authed.actor;
    let offers = state.svc.offers(actor, &channel.id).await.map_err(|e| user.error(e))?;
    let orders = state.svc.orders(actor, Some(&channel.id)).await.map_err(|e| user.error(e))?;
    let mine: BTreeSet<String> =
        state.svc.interfaces(actor).await.map_err(|e| user.error(e))?.into_iter().map(|i| i.name).collect();
    let live = !matches!(channel.state.as_str(), "terminated" | "terminating");
    let topo = state.svc.topology().await.map_err(|e| user.error(e))?;
    let ended = match live {
        true => None,
        false => state.svc.ending(actor, &channel.id).await.map_err(|e| user.error(e))?,
    };
    // Each member's own terms, from the catalogue (the creator's model is only the creator's).
    let catalog = state.svc.catalog().await.map_err(|e| user.error(e))?;
    let models: BTreeMap<&str, &UsageModel> =
        catalog.iter().flat_map(|d| &d.usage_models).map(|t| (t.usage_model_id.as_str(), &t.model)).collect();
    let currency = state.svc.config.currency.as_str();
    let path: BTreeSet<String> = channel.path.iter().cloned().collect();
    let members: BTreeSet<String> = channel.live_attachments().map(|a| a.interface.clone()).collect();
    let on_path: Vec<PathMember> = channel
        .live_attachments()
        .filter_map(|a| {
            let switch = topo.interface(&a.interface).and_then(|i| topo.switch_index(&i.switch))?;
            let root = channel.kind == ChannelKind::P2mp && a.role == Role::Root;
            Some(PathMember { label: a.interface.clone(), switch, root })
        })
        .collect();
    let on_switches = !channel.path.is_empty() && live;
    // A subscriber sees its own sites, this channel's members and the switches between
    // them and the root; other customers' sites are not drawn. The operator sees it all.
    let seen;
    let drawn = if actor.is_operator() {
        &*topo
    } else {
        let sites: BTreeSet<String> = mine.iter().chain(&members).cloned().collect();
        seen = topo.seen_through(&sites, &path);
        &seen
    };
    // The offers listed are the viewer's organization's own (or every one, for the operator).
    let manages = actor.role == UserRole::Admin;
    Ok(ChannelLive {
        path: if on_switches { path_shown(&topo, &on_path) } else { PathShown::default() },
        on_switches,
        ended: ended.map(|e| EndedText { at: when(e.at), by: e.by, reason: e.reason }),
        tree: svg::metro_tree(drawn, &path, &members),
        id: channel.id.to_string(),
        csrf: user.authed.csrf.clone(),
        state: channel.state.as_str().into(),
        reason: channel.reason.clone(),
        vlan: vlan_text(channel),
        service: format!("{} v{}", channel.definition, channel.definition_version),
        bandwidth: channel.bandwidth_mbps,
        class: channel.class.clone(),
        attachments: channel
            .live_attachments()
            .map(|a| AttachmentRow {
                id: a.id.to_string(),
                interface: a.interface.clone(),
                organization: a.organization.clone(),
                role: if channel.kind == ChannelKind::P2mp {
                    match a.role {
                        Role::Root => "root".into(),
                        _ => "leaf".into(),
                    }
                } else {
                    "member".into()
                },
                tag: a.customer_vlan.map(|t| t.to_string()).unwrap_or_else(|| "—".into()),
                bandwidth: a.bandwidth_mbps,
                since: when(a.attached_at),
                model: a.usage_model.clone(),
                price: models
                    .get(a.usage_model_id.as_str())
                    .map(|m| price(m, currency, Some(a.bandwidth_mbps)))
                    .unwrap_or_default(),
                usage: usage(a.bytes_used, &a.metering),
                can_detach: live && actor.acts_for(mine.contains(&a.interface)),
            })
            .collect(),
        invitees: offers
            .iter()
            .flat_map(|o| o.invitees.iter())
            .map(|i| InviteeRow {
                rule_refused: i.auto_accept_refused.as_deref().map(super::words::for_people).unwrap_or_default(),
                id: i.id.clone(),
                who: i.email.clone().or_else(|| i.organization.clone()).unwrap_or_else(|| i.name.clone()),
                can_manage: i.open && manages,
                status: if i.unplugged_at.is_some() {
                    "unplugged"
                } else if i.accepted {
                    "accepted"
                } else if i.declined {
                    "declined"
                } else if i.withdrawn {
                    "withdrawn"
                } else if i.expired {
                    "expired"
                } else if !i.open {
                    "closed"
                } else if i.registered {
                    "registered"
                } else if i.accessed_at.is_some() {
                    "opened"
                } else {
                    "invited"
                },
                accessed: when_opt(i.accessed_at),
                answered: when_opt(i.unplugged_at.or(i.accepted_at).or(i.declined_at)),
            })
            .collect(),
        operator: actor.is_operator(),
        orders: orders
            .iter()
            .map(|o| OrderRow {
                id: o.id.to_string(),
                action: order_action(&o.action).into(),
                status: o.status.clone(),
                created: when(o.created_at),
                finished: when_opt(o.finished_at),
                reason: o.reason.clone(),
            })
            .collect(),
    })
}

async fn channel_page(
    state: &AppState,
    user: &PageUser,
    id: &ChannelId,
    notice: String,
    error: String,
) -> Result<ChannelPage, PageError> {
    let actor = &user.authed.actor;
    let channel = state.svc.channel(actor, id).await.map_err(|e| user.error(e))?;
    let live = channel_live(state, user, &channel).await?;
    let is_creator = channel.organization == user.header.organization && actor.role == UserRole::Admin;
    let ended = matches!(channel.state.as_str(), "terminated" | "terminating");
    Ok(ChannelPage {
        title: channel.name.clone(),
        user: Some(user.header.clone()),
        id: channel.id.to_string(),
        name: channel.name.clone(),
        kind: channel.kind.as_str().into(),
        kind_label: channel.kind.label(),
        notice,
        error,
        live: live.render().map_err(|e| user.error(AppError::BadRequest(e.to_string())))?,
        is_creator: is_creator && !ended,
        full: crate::orchestrator::policy::max_members(channel.kind)
            .is_some_and(|max| channel.live_attachments().count() >= max),
        can_terminate: (is_creator || actor.is_operator()) && !ended,
        reason: String::new(),
        reason_error: String::new(),
        offer: OfferTyped {
            invitees: String::new(),
            description: format!("Join {}", channel.name),
            days: String::new(),
            role: "leaf".into(),
            allow_reoffer: false,
        },
        offer_errors: Vec::new(),
        csrf: user.authed.csrf.clone(),
    })
}

pub(super) async fn view_channel_get(
    State(state): State<AppState>,
    user: PageUser,
    PathId(id): PathId<ChannelId>,
) -> Result<Response, PageError> {
    Ok(render(&channel_page(&state, &user, &id, String::new(), String::new()).await?))
}

/// The part of the channel page that changes, fetched again on every change event.
pub(super) async fn view_channel_live_get(
    State(state): State<AppState>,
    user: PageUser,
    PathId(id): PathId<ChannelId>,
) -> Result<Response, PageError> {
    let channel = state.svc.channel(&user.authed.actor, &id).await.map_err(|e| user.error(e))?;
    Ok(render(&channel_live(&state, &user, &channel).await?))
}

/// Server-sent events: `change` whenever the channel, its members, invitees or orders
/// change. Read from the database once a second, so a change made by any instance (another
/// portal process, a worker) reaches every open page.
pub(super) async fn view_channel_events_get(
    State(state): State<AppState>,
    user: PageUser,
    PathId(id): PathId<ChannelId>,
) -> Result<Sse<impl futures::Stream<Item = Result<Event, Infallible>>>, PageError> {
    let actor = user.authed.actor.clone();
    state.svc.channel(&actor, &id).await.map_err(|e| user.error(e))?;
    let svc = state.svc.clone();
    let stream =
        futures::stream::unfold((svc, actor, id, String::new(), true), |(svc, actor, id, last, first)| async move {
            let mut last = last;
            loop {
                if !first {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                let now = svc.channel_fingerprint(&actor, &id).await.unwrap_or_default();
                if first || now != last {
                    let event = Event::default().event("change").data(if first { "hello" } else { "changed" });
                    return Some((Ok(event), (svc, actor, id, now, false)));
                }
                last = now;
            }
        });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct OfferForm {
    /// The session's CSRF token, checked by the gate (`origin.rs`).
    #[serde(default, rename = "csrf")]
    _csrf: String,
    invitees: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    expires_in_days: String,
    #[serde(default)]
    role: Option<Role>,
    #[serde(default)]
    allow_reoffer: Option<String>,
}

#[derive(Template)]
#[template(path = "offer_created.html")]
struct OfferCreatedPage {
    title: String,
    user: Option<HeaderUser>,
    channel_id: String,
    mailed: bool,
    invitations: Vec<(String, String)>,
}

/// One line of the offer form: `org:NAME`, or `EMAIL[, NAME[, ORGANIZATION]]` (what the
/// creator knows pre-fills registration).
fn invitee_line(line: &str, role: Option<Role>) -> Result<InviteeSpec, String> {
    if let Some(org) = line.strip_prefix("org:") {
        let organization = org.trim().parse().map_err(|e: TextError| e.to_string())?;
        return Ok(InviteeSpec { organization: Some(organization), role, ..Default::default() });
    }
    let mut parts = line.splitn(3, ',').map(str::trim);
    let email = parts.next().unwrap_or_default();
    let email = email.parse().map_err(|_| format!("`{email}` is not an email address"))?;
    Ok(InviteeSpec {
        email: Some(email),
        name: parts.next().unwrap_or_default().parse().map_err(|e: TextError| e.to_string())?,
        org_name: parts.next().unwrap_or_default().parse().map_err(|e: TextError| e.to_string())?,
        role,
        ..Default::default()
    })
}

/// The service's refusal of an offer, a line of the form each: "invitees[N]: why" names the
/// line invitee N (from 0) came from; the rest is said as it is, in people's words.
fn by_line(message: &str, from_line: &[String]) -> Vec<String> {
    message
        .lines()
        .map(|m| {
            let numbered = m.strip_prefix("invitees[").and_then(|r| r.split_once("]: ")).and_then(|(n, why)| {
                let n: usize = n.parse().ok()?;
                Some(format!("{}: {}", from_line.get(n)?, super::words::for_people(why)))
            });
            numbered.unwrap_or_else(|| super::words::for_people(m))
        })
        .collect()
}

/// SPEC §2 step 3: one invitee per line, an email or `org:NAME`.
pub(super) async fn view_offer_post(
    State(state): State<AppState>,
    user: PageUser,
    PathId(id): PathId<ChannelId>,
    f: Result<Form<OfferForm>, FormRejection>,
) -> Result<Response, PageError> {
    let f = form(f).map_err(|e| user.error(e))?;
    // Every line is read, and every bad one reported at once, beside the form that keeps
    // what was typed; the service's own refusals come back the same way.
    let mut errors = Vec::new();
    let mut invitees = Vec::new();
    // Which line each invitee came from, for the service's refusals ("invitees[1]: ...").
    let mut from_line = Vec::new();
    for (n, line) in f.invitees.lines().enumerate().map(|(n, l)| (n + 1, l.trim())).filter(|(_, l)| !l.is_empty()) {
        match invitee_line(line, f.role) {
            Ok(spec) => {
                invitees.push(spec);
                from_line.push(format!("Line {n} (“{line}”)"));
            }
            Err(why) => errors.push(format!("Line {n} (“{line}”): {}", super::words::for_people(&why.to_string()))),
        }
    }
    let description = f.description.parse::<Description>().map_err(|e| errors.push(e.to_string())).ok();
    let expires_in_days = match f.expires_in_days.trim() {
        "" => None,
        d => match d.parse::<u32>() {
            Ok(days) => Some(days),
            Err(_) => {
                errors.push(format!("“{d}” is not a number of days"));
                None
            }
        },
    };
    let offered = match description {
        Some(description) if errors.is_empty() => {
            let offer = NewOffer { description, expires_in_days, allow_reoffer: f.allow_reoffer.is_some(), invitees };
            state.svc.offer(&user.authed.actor, &id, &offer).await
        }
        // Bad lines: what the service would say of the good ones is reported with them, so
        // one more round fixes everything.
        Some(description) if !invitees.is_empty() => {
            let offer = NewOffer { description, expires_in_days, allow_reoffer: f.allow_reoffer.is_some(), invitees };
            if let Err(e @ (ServiceError::Invalid(_) | ServiceError::Refused(_) | ServiceError::Conflict(_))) =
                state.svc.check_offer(&user.authed.actor, &id, &offer).await
            {
                errors.extend(by_line(&e.to_string(), &from_line));
                // In the order of the lines.
                let line = |e: &String| -> usize {
                    e.strip_prefix("Line ").and_then(|r| r.split(' ').next()?.parse().ok()).unwrap_or(usize::MAX)
                };
                errors.sort_by_key(line);
            }
            Err(ServiceError::Invalid(errors.join("\n")))
        }
        _ => Err(ServiceError::Invalid(errors.join("\n"))),
    };
    match offered {
        Ok(created) => Ok(render(&OfferCreatedPage {
            title: "Invitations sent".into(),
            user: Some(user.header.clone()),
            channel_id: id.to_string(),
            mailed: state.svc.mails_invitations(),
            invitations: created
                .invitations
                .iter()
                .map(|i| (i.email.clone().or_else(|| i.organization.clone()).unwrap_or_default(), i.url.clone()))
                .collect(),
        })),
        Err(e @ (ServiceError::Invalid(_) | ServiceError::Refused(_) | ServiceError::Conflict(_))) => {
            let mut page = channel_page(&state, &user, &id, String::new(), String::new()).await?;
            page.offer_errors = if errors.is_empty() { by_line(&e.to_string(), &from_line) } else { errors };
            page.offer = OfferTyped {
                invitees: f.invitees,
                description: f.description,
                days: f.expires_in_days,
                role: if f.role == Some(Role::Root) { "root" } else { "leaf" }.into(),
                allow_reoffer: f.allow_reoffer.is_some(),
            };
            Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response())
        }
        Err(e) => Err(user.error(e)),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TerminateForm {
    /// The session's CSRF token, checked by the gate (`origin.rs`).
    #[serde(default, rename = "csrf")]
    _csrf: String,
    #[serde(default)]
    reason: Reason,
    /// `yes` once the visitor has seen what terminating ends ([`Confirm`]).
    #[serde(default)]
    confirm: Option<String>,
}

/// Terminating from a page takes a reason and a confirmation that says who loses service;
/// the form without either changes nothing.
pub(super) async fn view_terminate_post(
    State(state): State<AppState>,
    user: PageUser,
    PathId(id): PathId<ChannelId>,
    f: Result<Form<TerminateForm>, FormRejection>,
) -> Result<Response, PageError> {
    let f = form(f).map_err(|e| user.error(e))?;
    if f.reason.trim().is_empty() {
        let mut page = channel_page(&state, &user, &id, String::new(), String::new()).await?;
        page.reason_error = "Say why the channel ends: its members see the reason.".into();
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response());
    }
    if !confirmed(&f.confirm) {
        let channel = state.svc.channel(&user.authed.actor, &id).await.map_err(|e| user.error(e))?;
        let vlan = match channel.vlan {
            Some(v) => format!(", frees VLAN {v}"),
            None => String::new(),
        };
        return Ok(render(&Confirm {
            title: format!("Terminate {}?", channel.name),
            user: Some(user.header.clone()),
            heading: format!("Terminate “{}”?", channel.name),
            effect: format!(
                "Terminating takes the channel off every switch of its path{vlan} and ends it for all its members. \
                 To connect them again, create a new channel and offer it. From now on it is charged nothing \
                 more (traffic already carried on a per-GB model is still billed); what was charged in advance \
                 for the current month or hour is not refunded."
            ),
            losing: channel.live_attachments().map(|a| format!("{} ({})", a.interface, a.organization)).collect(),
            note: format!("Reason, as its members will see it: {}", f.reason.as_str()),
            action: format!("/channels/{id}/terminate"),
            csrf: user.authed.csrf.clone(),
            fields: vec![("reason".into(), f.reason.as_str().to_string())],
            button: "Terminate the channel".into(),
            back: format!("/channels/{id}"),
            cancel: "Keep it".into(),
        }));
    }
    state.svc.terminate(&user.authed.actor, &id, &f.reason).await.map_err(|e| user.error(e))?;
    Ok(Redirect::to(&format!("/channels/{id}")).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DetachForm {
    /// The session's CSRF token, checked by the gate (`origin.rs`).
    #[serde(default, rename = "csrf")]
    _csrf: String,
    #[serde(default)]
    channel: String,
    /// `yes` once the visitor has seen what unplugging ends ([`Confirm`]).
    #[serde(default)]
    confirm: Option<String>,
}

pub(super) async fn view_detach_post(
    State(state): State<AppState>,
    user: PageUser,
    PathId(id): PathId<AttachmentId>,
    f: Result<Form<DetachForm>, FormRejection>,
) -> Result<Response, PageError> {
    let f = form(f).map_err(|e| user.error(e))?;
    let back =
        if f.channel.is_empty() { "/channels".to_string() } else { format!("/channels/{}", urlencode(&f.channel)) };
    if !confirmed(&f.confirm) {
        // What is unplugged, as the channel the form came from shows it.
        let channel = match f.channel.parse::<ChannelId>() {
            Ok(c) => state.svc.channel(&user.authed.actor, &c).await.ok(),
            Err(_) => None,
        };
        let member = channel.as_ref().and_then(|c| c.live_attachments().find(|a| a.id == id));
        let (what, name) = match (&channel, member) {
            (Some(c), Some(a)) => (format!("{} ({})", a.interface, a.organization), c.name.clone()),
            _ => ("this port".to_string(), "its channel".to_string()),
        };
        return Ok(render(&Confirm {
            title: "Unplug?".into(),
            user: Some(user.header.clone()),
            heading: format!("Unplug {what} from “{name}”?"),
            effect: "Unplugging takes this member off the channel's switches. The channel goes on for \
                     the others if it can still carry traffic between them; if it cannot, it is taken down \
                     and its VLAN freed. From now on this member is charged nothing \
                     more (traffic already carried on a per-GB model is still billed); what was charged in advance \
                     for the current month or hour is not refunded."
                .into(),
            losing: vec![what],
            note: String::new(),
            action: format!("/attachments/{id}/detach"),
            csrf: user.authed.csrf.clone(),
            fields: vec![("channel".into(), f.channel.clone())],
            button: "Unplug".into(),
            back,
            cancel: "Keep it plugged in".into(),
        }));
    }
    state.svc.detach(&user.authed.actor, &id).await.map_err(|e| user.error(e))?;
    // An organization that unplugged its own port is no longer on the channel: its list.
    let still_seen = match f.channel.parse::<ChannelId>() {
        Ok(c) => state.svc.channel(&user.authed.actor, &c).await.is_ok(),
        Err(_) => false,
    };
    Ok(Redirect::to(if still_seen { &back } else { "/channels" }).into_response())
}
