//! The invitation's pages (SPEC §2 steps 4-5): what an invitee sees behind its link (or
//! from its organization's inbox), and its forms to register, accept (with the usage model
//! its organization can use) or decline. A link that cannot be answered says why and what
//! to do instead of showing a form that will be refused: unknown or withdrawn, expired,
//! for someone else than who is logged in, or closed because its channel ended or is full.

use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::extract::rejection::FormRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::words::amount;
use crate::service::{Acceptance, Closed, Registered, Registration, ServiceError, Terms, Via};

use super::AppState;
use super::auth::{ClientIp, FormToken};
use super::error::AppError;
use super::page::{Confirm, HeaderUser, PageError, PageUser, SocketOption, confirmed, form, render, socket_options};
use super::param::PathId;
use super::words::{capitalized, field_of, for_people, limits, price, urlencode};
use crate::model::id::{InvitationToken, InviteeId};
use crate::model::utc_minute as when;

// ---- invitations ----

/// What the invitee can do on its invitation page.
#[derive(PartialEq, Eq)]
pub enum InvitationMode {
    /// Not logged in, no account for the invited email: register (pre-filled).
    Register,
    /// Not logged in, has an account: log in and come back.
    Login,
    /// Logged in as the invitee: plug a socket in, or decline.
    Answer,
    /// Accepted, declined.
    Answered,
    /// Nobody answered, but its channel can no longer take it (`answered` says why).
    Closed,
}

/// How the visitor reached an invitation: its link, or its organization's inbox.
pub(super) enum Link {
    Token(InvitationToken),
    Inbox(InviteeId),
}

impl Link {
    fn via(&self) -> Via<'_> {
        match self {
            Link::Token(t) => Via::Token(t),
            Link::Inbox(id) => Via::Inbox(id),
        }
    }

    /// The invitation page's path, which its forms post below.
    fn base(&self) -> String {
        match self {
            Link::Token(t) => format!("/invitations/{}", urlencode(t.as_str())),
            Link::Inbox(id) => format!("/inbox/{id}"),
        }
    }
}

/// What a form shows again after a refusal: the values as typed, and which field the error
/// concerns. The registration form's, with the email field's own error; the accept form's,
/// with the socket, usage model and customer VLAN tag as chosen.
#[derive(Default)]
struct Typed {
    email: String,
    name: String,
    organization: String,
    email_error: String,
    interface: String,
    model: String,
    vlan: String,
    /// The member's own bandwidth, as typed.
    bandwidth: String,
    /// The accept form's field the error is beside ("" for the form as a whole); `None`
    /// when the accept form was not sent.
    accept_field: Option<&'static str>,
}

/// A link that cannot be answered: what happened, and what to do.
#[derive(Template)]
#[template(path = "invitation_notice.html")]
struct NoticePage {
    title: String,
    user: Option<HeaderUser>,
    heading: String,
    happened: String,
    todo: String,
    /// Where logging out leads back to ("" when there is no reason to log out).
    logout_next: String,
    csrf: String,
    /// A page to go to instead, and its link's words ("" for none).
    go: (String, String),
}

/// The answer to a visit: the invitation, or why it cannot be answered.
enum Shown {
    Page(Box<InvitationPage>),
    Notice(StatusCode, Box<NoticePage>),
}

impl Shown {
    /// The response; `status` for the invitation page itself.
    fn respond(self, status: StatusCode) -> Response {
        match self {
            Shown::Page(p) => (status, render(&*p)).into_response(),
            Shown::Notice(status, n) => (status, render(&*n)).into_response(),
        }
    }
}

struct TermRow {
    id: String,
    name: String,
    price: String,
    limits: String,
    /// What joining charges now, for this channel's bandwidth ("" when nothing).
    advance: String,
    /// Why the viewer's organization cannot use it ("" when it can, or nobody is logged in).
    unavailable: String,
    /// Pre-selected on the accept form.
    selected: bool,
}

#[derive(Template)]
#[template(path = "invitation.html")]
struct InvitationPage {
    title: String,
    user: Option<HeaderUser>,
    /// The page's path, which its forms post below.
    base: String,
    error: String,
    email_error: String,
    offered_by: String,
    channel_name: String,
    description: String,
    kind_label: &'static str,
    /// The part the invitee takes, in words ("" for an E-Line's other end).
    joins_as: &'static str,
    bandwidth: u64,
    class: String,
    expires: String,
    terms: Vec<TermRow>,
    /// Why the viewer's account cannot join this channel whatever the model.
    account_refused: Vec<String>,
    /// The viewer's organization can use none of the offer's models.
    no_model: bool,
    mode: InvitationMode,
    answered: String,
    prefill_email: String,
    prefill_name: String,
    prefill_organization: String,
    /// Registering claims the organization named: its name is not for changing.
    claims_organization: bool,
    /// The accept form as sent, when it was refused: kept, with the error inside the form
    /// and beside the field it concerns.
    typed_interface: String,
    typed_model: String,
    typed_vlan: String,
    typed_bandwidth: String,
    accept_error: bool,
    error_field: &'static str,
    csrf: String,
    sockets: Vec<SocketOption>,
}

fn term_rows(terms: &[Terms], bandwidth_mbps: u64, proposed: Option<&str>, currency: &str) -> Vec<TermRow> {
    terms
        .iter()
        .map(|t| TermRow {
            id: t.usage_model_id.clone(),
            name: t.model.name.clone(),
            price: price(&t.model, currency, Some(bandwidth_mbps)),
            limits: limits(&t.model),
            advance: match crate::orchestrator::policy::upfront_cents(&t.model, bandwidth_mbps) {
                0 => String::new(),
                c => format!("{} charged when you join", amount(c, currency)),
            },
            unavailable: t.refused.iter().map(|r| for_people(&r.to_string())).collect::<Vec<_>>().join("; "),
            selected: proposed == Some(t.usage_model_id.as_str()),
        })
        .collect()
}

/// The invitation page, or the notice that says why it cannot be answered; `form` is the
/// registration form's pre-session token, shown when nobody is logged in.
async fn invitation_page(
    state: &AppState,
    user: Option<&PageUser>,
    form: &FormToken,
    link: &Link,
    error: String,
    typed: Option<Typed>,
) -> Result<Shown, PageError> {
    let header = user.map(|u| u.header.clone());
    let fail = |e: AppError| PageError { user: header.clone().map(Box::new), error: e, back: None };
    let actor = user.map(|u| &u.authed.actor);
    let page = |heading: &str, happened: String, todo: String, logout_next: String| NoticePage {
        title: heading.into(),
        user: header.clone(),
        heading: heading.into(),
        happened,
        todo,
        logout_next,
        csrf: user.map(|u| u.authed.csrf.clone()).unwrap_or_default(),
        go: Default::default(),
    };
    let notice = |status, heading: &str, happened: String, todo: String, logout_next: String| {
        Ok(Shown::Notice(status, Box::new(page(heading, happened, todo, logout_next))))
    };
    let view = match state.svc.open_invitation_via(link.via(), actor).await {
        Ok(view) => view,
        Err(ServiceError::OfferExpired) => {
            return notice(
                StatusCode::GONE,
                "This offer has expired",
                "The invitation behind this link was not answered before its offer's date.".into(),
                "Ask whoever sent it for a new invitation if you still want to join.".into(),
                String::new(),
            );
        }
        // Logged in as someone it is not for: is the link good for someone else? (Anyone
        // holding the link sees as much without logging in.)
        Err(ServiceError::AccessDenied) if actor.is_some() => {
            match state.svc.open_invitation_via(link.via(), None).await {
                // Its sender: what became of it is on the channel's page.
                Ok(view) if user.is_some_and(|u| u.header.organization == view.offered_by) => {
                    let to = view.prefill_email.clone().unwrap_or_else(|| view.prefill_organization.clone());
                    let sent = NoticePage {
                        go: (format!("/channels/{}", view.channel.id), "The channel's page".into()),
                        ..page(
                            "You sent this invitation",
                            format!("{} invited {to} to “{}”.", view.offered_by, view.channel.name),
                            "Whether it was opened, accepted or declined is on the channel's page, where it can \
                             also be withdrawn or sent again."
                                .into(),
                            String::new(),
                        )
                    };
                    return Ok(Shown::Notice(StatusCode::OK, Box::new(sent)));
                }
                Ok(view) => {
                    let who = match (&view.prefill_email, view.prefill_organization.as_str()) {
                        (Some(email), _) => format!("It was sent to {email}."),
                        (None, org) if !org.is_empty() => format!("It is for the organization {org}."),
                        _ => "It is for someone else.".into(),
                    };
                    let me =
                        user.map(|u| format!("{} of {}", u.header.email, u.header.organization)).unwrap_or_default();
                    return notice(
                        StatusCode::FORBIDDEN,
                        "This invitation is for someone else",
                        format!("You are logged in as {me}. {who}"),
                        "To answer it, log out, open this link again and log in as the one it is for (or register). \
                     If it should be yours, ask whoever sent it to invite you."
                            .into(),
                        link.base(),
                    );
                }
                Err(_) => return invalid(&notice),
            }
        }
        Err(ServiceError::AccessDenied) => return invalid(&notice),
        Err(e) => return Err(fail(e.into())),
    };
    let (mode, answered) = if view.invitee.accepted {
        let said =
            if user.is_some() { "You accepted: your port is plugged in." } else { "This invitation was accepted." };
        (InvitationMode::Answered, said.to_string())
    } else if view.invitee.declined {
        let said = if user.is_some() { "You declined this offer." } else { "This invitation was declined." };
        (InvitationMode::Answered, said.to_string())
    } else if let Some(closed) = view.closed {
        let why = match closed {
            Closed::ChannelEnded => "This invitation is closed: the channel has ended, so it can no longer be joined.",
            Closed::ChannelFull => {
                "This invitation is closed: the channel already has all the members it can have, so it cannot be joined."
            }
        };
        (
            InvitationMode::Closed,
            format!("{why} Ask {} for a new channel if you still want to connect.", view.offered_by),
        )
    } else if user.is_some() {
        (InvitationMode::Answer, String::new())
    } else if view.has_account {
        (InvitationMode::Login, String::new())
    } else {
        (InvitationMode::Register, String::new())
    };
    let sockets = match (actor, &mode) {
        (Some(a), InvitationMode::Answer) => {
            socket_options(&state.svc.interfaces(a).await.map_err(|e| fail(e.into()))?, true)
        }
        _ => Vec::new(),
    };
    let from_view = typed.as_ref().is_none_or(|t| t.accept_field.is_some());
    let mut typed = typed.unwrap_or_default();
    if from_view {
        typed.email = view.prefill_email.clone().unwrap_or_default();
        typed.name = view.prefill_name.clone();
        typed.organization = view.prefill_organization.clone();
    }
    let accept_error = typed.accept_field.is_some() && mode == InvitationMode::Answer && !error.is_empty();
    Ok(Shown::Page(Box::new(InvitationPage {
        title: format!("Invitation to {}", view.channel.name),
        user: header.clone(),
        base: link.base(),
        error,
        email_error: typed.email_error,
        offered_by: view.offered_by.clone(),
        channel_name: view.channel.name.clone(),
        description: view.description.clone(),
        kind_label: view.channel.kind.label(),
        joins_as: match (view.channel.kind, view.invitee.role) {
            (crate::model::ChannelKind::P2mp, Some(crate::model::Role::Root)) => {
                "You join as a root: you reach every member."
            }
            (crate::model::ChannelKind::P2mp, _) => "You join as a leaf: you reach its roots, not the other leaves.",
            (crate::model::ChannelKind::Mp2mp, _) => "You join as a member: you reach every other member.",
            _ => "You join as its other end.",
        },
        bandwidth: view.channel.bandwidth_mbps,
        class: view.channel.class.clone(),
        expires: when(view.expires_at),
        terms: term_rows(
            &view.terms,
            view.channel.bandwidth_mbps,
            view.proposed_usage_model_id.as_deref(),
            &state.svc.config.currency,
        ),
        account_refused: view.account_refused.iter().map(|r| for_people(&r.to_string())).collect(),
        no_model: view.proposed_usage_model_id.is_none() && !view.terms.iter().all(|t| t.refused.is_empty()),
        mode,
        answered,
        prefill_email: typed.email,
        prefill_name: typed.name,
        prefill_organization: if view.claims_organization {
            view.prefill_organization.clone()
        } else {
            typed.organization
        },
        claims_organization: view.claims_organization,
        typed_interface: typed.interface,
        typed_model: typed.model,
        typed_vlan: typed.vlan,
        typed_bandwidth: typed.bandwidth,
        accept_error,
        error_field: typed.accept_field.unwrap_or(""),
        csrf: user.map_or_else(|| form.value().to_string(), |u| u.authed.csrf.clone()),
        sockets,
    })))
}

/// The notice for a link that names no invitation: mistyped, cut short, or withdrawn (the
/// same words for each, so the answer tells nothing about which tokens exist).
fn invalid(
    notice: &impl Fn(StatusCode, &str, String, String, String) -> Result<Shown, PageError>,
) -> Result<Shown, PageError> {
    notice(
        StatusCode::FORBIDDEN,
        "This invitation link is not valid",
        "No invitation answers to this link. It may have been mistyped or cut short, or whoever sent it \
         withdrew it or sent a newer one."
            .into(),
        "Open the whole link from the most recent email you were sent. If it still does not work, ask whoever \
         sent it for a new invitation. Offers waiting for your organization are also listed in its inbox once \
         you log in."
            .into(),
        String::new(),
    )
}

/// The page behind the invitation URL (SPEC §2 step 4). Looking records nothing: a mail
/// scanner fetches links too.
pub(super) async fn view_invitation_get(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    form: FormToken,
    user: Result<PageUser, Response>,
    PathId(token): PathId<InvitationToken>,
) -> Result<Response, PageError> {
    let user = user.ok();
    // Each request is counted once: the register, accept and decline handlers count theirs,
    // and a form shown again after a refusal is part of that request.
    state.token_limit.check("token", ip).map_err(|e| PageError {
        user: user.as_ref().map(|u| Box::new(u.header.clone())),
        error: e,
        back: None,
    })?;
    let link = Link::Token(token);
    let mut response =
        invitation_page(&state, user.as_ref(), &form, &link, String::new(), None).await?.respond(StatusCode::OK);
    form.set_cookie(&mut response);
    Ok(response)
}

/// An invitation opened from the organization's inbox (logged in).
pub(super) async fn view_inbox_invitation_get(
    State(state): State<AppState>,
    user: PageUser,
    PathId(id): PathId<InviteeId>,
) -> Result<Response, PageError> {
    let (form, link) = (FormToken::default(), Link::Inbox(id));
    Ok(invitation_page(&state, Some(&user), &form, &link, String::new(), None).await?.respond(StatusCode::OK))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RegisterForm {
    email: String,
    name: String,
    organization: String,
    /// Not on the form when registering claims an organization the operator set up (the
    /// password is chosen from the link mailed to confirm the address).
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
}

pub(super) async fn view_register_post(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    form_token: FormToken,
    PathId(token): PathId<InvitationToken>,
    f: Result<Form<RegisterForm>, FormRejection>,
) -> Result<Response, PageError> {
    let f = form(f)?;
    state.token_limit.check("token", ip)?;
    let link = Link::Token(token.clone());
    let typed = |email_error: String| Typed {
        email: f.email.clone(),
        name: f.name.clone(),
        organization: f.organization.clone(),
        email_error,
        ..Typed::default()
    };
    if form_token.check(&f.csrf).is_err() {
        let error = "This form had expired or was sent from another site. Please register again.";
        let page = invitation_page(&state, None, &form_token, &link, error.into(), Some(typed(String::new()))).await?;
        let mut response = page.respond(StatusCode::FORBIDDEN);
        form_token.set_cookie(&mut response);
        return Ok(response);
    }
    let registered = async {
        let (name, organization) = (f.name.parse()?, f.organization.parse()?);
        let reg = Registration { email: f.email.trim().parse()?, name, organization, password: f.password.clone() };
        state.svc.register(&token, &reg, &ip.to_string()).await
    };
    match registered.await {
        Ok(Registered::In(actor)) => {
            let s = state.svc.session_for(actor, state.session_ttl_ms()).await.map_err(AppError::from)?;
            let mut response = Redirect::to(&link.base()).into_response();
            state.set_session_cookie(&mut response, Some(&s));
            Ok(response)
        }
        Ok(Registered::Confirm(pending)) => {
            let page = NoticePage {
                title: "Check your mail".into(),
                user: None,
                heading: "Check your mail".into(),
                happened: pending.message,
                todo: format!(
                    "No mail from Switchboard at {}? Look in its spam folder, or register from this invitation \
                     again for a new link.",
                    pending.email
                ),
                logout_next: String::new(),
                csrf: String::new(),
                go: Default::default(),
            };
            Ok((StatusCode::ACCEPTED, render(&page)).into_response())
        }
        Err(e @ (ServiceError::Invalid(_) | ServiceError::Conflict(_) | ServiceError::Forbidden(_))) => {
            // A message about the email field goes beside it; the rest above the form.
            let message = e.to_string();
            let (error, email_error) = match message.strip_prefix("email: ") {
                Some(m) => (String::new(), capitalized(m)),
                None => {
                    let m = message.strip_prefix("organization: ").unwrap_or(&message);
                    (capitalized(&for_people(m)), String::new())
                }
            };
            let page = invitation_page(&state, None, &form_token, &link, error, Some(typed(email_error))).await?;
            Ok(page.respond(StatusCode::UNPROCESSABLE_ENTITY))
        }
        // The link is no longer good (withdrawn, expired): the page says why.
        Err(ServiceError::AccessDenied | ServiceError::OfferExpired) => {
            Ok(invitation_page(&state, None, &form_token, &link, String::new(), None).await?.respond(StatusCode::OK))
        }
        Err(e) => Err(AppError::from(e).into()),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AcceptForm {
    /// The session's CSRF token, checked by the gate (`origin.rs`).
    #[serde(default, rename = "csrf")]
    _csrf: String,
    /// Empty when the page offered no port to choose: refused beside the ports.
    #[serde(default)]
    interface: String,
    #[serde(default)]
    usage_model_id: String,
    #[serde(default)]
    customer_vlan: String,
    /// The member's own bandwidth in Mbps; empty: the channel's.
    #[serde(default)]
    bandwidth_mbps: String,
}

pub(super) async fn view_accept_post(
    State(state): State<AppState>,
    user: PageUser,
    PathId(token): PathId<InvitationToken>,
    f: Result<Form<AcceptForm>, FormRejection>,
) -> Result<Response, PageError> {
    state.token_limit.check("token", user.authed.ip).map_err(|e| user.error(e))?;
    accept(&state, &user, &Link::Token(token), f).await
}

pub(super) async fn view_inbox_accept_post(
    State(state): State<AppState>,
    user: PageUser,
    PathId(id): PathId<InviteeId>,
    f: Result<Form<AcceptForm>, FormRejection>,
) -> Result<Response, PageError> {
    accept(&state, &user, &Link::Inbox(id), f).await
}

async fn accept(
    state: &AppState,
    user: &PageUser,
    link: &Link,
    f: Result<Form<AcceptForm>, FormRejection>,
) -> Result<Response, PageError> {
    let f = form(f).map_err(|e| user.error(e))?;
    let kept = |field: &'static str| Typed {
        interface: f.interface.clone(),
        model: f.usage_model_id.clone(),
        vlan: f.customer_vlan.clone(),
        bandwidth: f.bandwidth_mbps.clone(),
        accept_field: Some(field),
        ..Typed::default()
    };
    let refused = async |message: String, field: &'static str, status: StatusCode| {
        let page = invitation_page(
            state,
            Some(user),
            &FormToken::default(),
            link,
            capitalized(&for_people(&message)),
            Some(kept(field)),
        )
        .await?;
        Ok::<_, PageError>(page.respond(status))
    };
    let customer_vlan = match f.customer_vlan.trim() {
        "" => None,
        t => match t.parse::<u16>() {
            Ok(v) => Some(v),
            Err(_) => {
                let message = format!("“{t}” is not a VLAN tag: use a number from 1 to 4094, or leave it empty");
                return refused(message, "customer_vlan", StatusCode::BAD_REQUEST).await;
            }
        },
    };
    let bandwidth_mbps = match f.bandwidth_mbps.trim() {
        "" => None,
        t => match t.parse::<u64>() {
            Ok(b) => Some(b),
            Err(_) => {
                let message =
                    format!("“{t}” is not a whole number of Mbps: give one, or leave it empty for the channel's");
                return refused(message, "bandwidth", StatusCode::BAD_REQUEST).await;
            }
        },
    };
    let usage_model_id = match f.usage_model_id.as_str() {
        "" => None,
        m => match m.parse() {
            Ok(id) => Some(id),
            Err(e) => return refused(format!("usage model: {e}"), "usage_model", StatusCode::BAD_REQUEST).await,
        },
    };
    if f.interface.trim().is_empty() {
        let message = "choose one of your ports to plug in".to_string();
        return refused(message, "interface", StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    let accepted = match f.interface.trim().parse() {
        Ok(interface) => {
            let acc = Acceptance { interface, usage_model_id, customer_vlan, bandwidth_mbps };
            state.svc.accept_via(&user.authed.actor, link.via(), &acc).await
        }
        Err(e) => Err(ServiceError::from(e)),
    };
    match accepted {
        Ok(outcome) => Ok(Redirect::to(&format!("/channels/{}", outcome.channel_id)).into_response()),
        Err(e @ (ServiceError::Refused(_) | ServiceError::Invalid(_) | ServiceError::Conflict(_))) => {
            refused(e.to_string(), field_of(&e), StatusCode::UNPROCESSABLE_ENTITY).await
        }
        // Withdrawn, expired, or not for this user: the page says why and what to do.
        Err(ServiceError::AccessDenied | ServiceError::OfferExpired) => {
            let page = invitation_page(state, Some(user), &FormToken::default(), link, String::new(), None).await?;
            Ok(page.respond(StatusCode::OK))
        }
        Err(e) => Err(user.error(e)),
    }
}

/// The decline form: its CSRF field, and `confirm` once the visitor has seen what
/// declining means ([`Confirm`]).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DeclineForm {
    /// The session's CSRF token, checked by the gate (`origin.rs`).
    #[serde(default, rename = "csrf")]
    _csrf: String,
    #[serde(default)]
    confirm: Option<String>,
}

pub(super) async fn view_decline_post(
    State(state): State<AppState>,
    user: PageUser,
    PathId(token): PathId<InvitationToken>,
    f: Result<Form<DeclineForm>, FormRejection>,
) -> Result<Response, PageError> {
    decline(&state, &user, &Link::Token(token), f).await
}

pub(super) async fn view_inbox_decline_post(
    State(state): State<AppState>,
    user: PageUser,
    PathId(id): PathId<InviteeId>,
    f: Result<Form<DeclineForm>, FormRejection>,
) -> Result<Response, PageError> {
    decline(&state, &user, &Link::Inbox(id), f).await
}

async fn decline(
    state: &AppState,
    user: &PageUser,
    link: &Link,
    f: Result<Form<DeclineForm>, FormRejection>,
) -> Result<Response, PageError> {
    let f = form(f).map_err(|e| user.error(e))?;
    let back = link.base();
    if !confirmed(&f.confirm) {
        // The channel and who offered it, when the invitation can still be read (else the
        // decline below says why it cannot be answered).
        let offer = match state.svc.open_invitation_via(link.via(), Some(&user.authed.actor)).await {
            Ok(v) => {
                format!(" the {} \u{201c}{}\u{201d} from {}", v.channel.kind.label(), v.channel.name, v.offered_by)
            }
            Err(_) => " this offer".into(),
        };
        return Ok(render(&Confirm {
            title: "Decline?".into(),
            user: Some(user.header.clone()),
            heading: format!("Decline{offer}?"),
            effect: "Declining closes this invitation for your organization: it cannot be accepted afterwards. \
                     To join later, ask whoever sent it for a new one."
                .into(),
            losing: Vec::new(),
            note: String::new(),
            action: format!("{back}/decline"),
            csrf: user.authed.csrf.clone(),
            fields: Vec::new(),
            button: "Decline the offer".into(),
            back,
            cancel: "Keep the invitation".into(),
        }));
    }
    if let Link::Token(_) = link {
        state.token_limit.check("token", user.authed.ip).map_err(|e| user.error(e))?;
    }
    match state.svc.decline_via(&user.authed.actor, link.via()).await {
        Ok(()) => Ok(Redirect::to(&back).into_response()),
        Err(ServiceError::AccessDenied | ServiceError::OfferExpired) => {
            let page = invitation_page(state, Some(user), &FormToken::default(), link, String::new(), None).await?;
            Ok(page.respond(StatusCode::OK))
        }
        Err(e) => Err(user.error(e)),
    }
}
