//! The invitation's pages (SPEC §2 steps 4-5): what an invitee sees behind its link, and
//! its forms to register, accept (with the usage model its organization can use) or
//! decline.

use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::extract::rejection::FormRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::orchestrator::policy::money;
use crate::service::{Acceptance, Registration, ServiceError, Terms};

use super::AppState;
use super::auth::{ClientIp, FormToken};
use super::error::AppError;
use super::page::{Confirm, HeaderUser, PageError, PageUser, SocketOption, confirmed, form, render, socket_options};
use super::param::PathId;
use super::words::{kind_label, limits, price, urlencode};
use crate::model::id::InvitationToken;
use crate::model::utc_minute as when;

// ---- invitations ----

/// What the invitee can do on its invitation page.
pub enum InvitationMode {
    /// Not logged in, no account for the invited email: register (pre-filled).
    Register,
    /// Not logged in, has an account: log in and come back.
    Login,
    /// Logged in as the invitee: plug a socket in, or decline.
    Answer,
    /// Accepted, declined.
    Answered,
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
    token: String,
    error: String,
    offered_by: String,
    channel_name: String,
    description: String,
    kind_label: &'static str,
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
    csrf: String,
    sockets: Vec<SocketOption>,
}

fn term_rows(terms: &[Terms], bandwidth_mbps: u64, proposed: Option<&str>, currency: &str) -> Vec<TermRow> {
    terms
        .iter()
        .map(|t| TermRow {
            id: t.usage_model_id.clone(),
            name: t.model.name.clone(),
            price: price(&t.model, currency),
            limits: limits(&t.model),
            advance: match crate::orchestrator::policy::upfront_cents(&t.model, bandwidth_mbps) {
                0 => String::new(),
                c => format!("{} charged when you join", money(c)),
            },
            unavailable: t.refused.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "),
            selected: proposed == Some(t.usage_model_id.as_str()),
        })
        .collect()
}

/// The invitation page; `form` is the registration form's pre-session token, shown when
/// nobody is logged in.
async fn invitation_page(
    state: &AppState,
    user: Option<&PageUser>,
    form: &FormToken,
    ip: std::net::IpAddr,
    token: &InvitationToken,
    error: String,
) -> Result<InvitationPage, PageError> {
    let header = user.map(|u| u.header.clone());
    let fail = |e: AppError| PageError { user: header.clone().map(Box::new), error: e, back: None };
    let actor = user.map(|u| &u.authed.actor);
    let view = state.svc.open_invitation(token, actor, &ip.to_string()).await.map_err(|e| fail(e.into()))?;
    let (mode, answered) = if view.invitee.accepted {
        (InvitationMode::Answered, "You accepted: your socket is plugged in.".to_string())
    } else if view.invitee.declined {
        (InvitationMode::Answered, "You declined this offer.".to_string())
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
    Ok(InvitationPage {
        title: format!("Invitation to {}", view.channel.name),
        user: header.clone(),
        token: token.to_string(),
        error,
        offered_by: view.offered_by.clone(),
        channel_name: view.channel.name.clone(),
        description: view.description.clone(),
        kind_label: kind_label(view.channel.kind),
        bandwidth: view.channel.bandwidth_mbps,
        class: view.channel.class.clone(),
        expires: when(view.expires_at),
        terms: term_rows(
            &view.terms,
            view.channel.bandwidth_mbps,
            view.proposed_usage_model_id.as_deref(),
            &state.svc.config.currency,
        ),
        account_refused: view.account_refused.iter().map(ToString::to_string).collect(),
        no_model: view.proposed_usage_model_id.is_none() && !view.terms.iter().all(|t| t.refused.is_empty()),
        mode,
        answered,
        prefill_email: view.prefill_email.clone().unwrap_or_default(),
        prefill_name: view.prefill_name.clone(),
        prefill_organization: view.prefill_organization.clone(),
        csrf: user.map_or_else(|| form.value().to_string(), |u| u.authed.csrf.clone()),
        sockets,
    })
}

/// The page behind the invitation URL (SPEC §2 step 4).
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
    let mut response = render(&invitation_page(&state, user.as_ref(), &form, ip, &token, String::new()).await?);
    form.set_cookie(&mut response);
    Ok(response)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RegisterForm {
    email: String,
    name: String,
    organization: String,
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
    if form_token.check(&f.csrf).is_err() {
        let error = "This form had expired or was sent from another site. Please register again.";
        let page = invitation_page(&state, None, &form_token, ip, &token, error.into()).await?;
        let mut response = (StatusCode::FORBIDDEN, render(&page)).into_response();
        form_token.set_cookie(&mut response);
        return Ok(response);
    }
    let registered = async {
        let (name, organization) = (f.name.parse()?, f.organization.parse()?);
        let reg = Registration { email: f.email.trim().parse()?, name, organization, password: f.password };
        state.svc.register(&token, &reg, &ip.to_string()).await
    };
    match registered.await {
        Ok(actor) => {
            let s = state.svc.session_for(actor, state.session_ttl_ms()).await.map_err(AppError::from)?;
            let mut response = Redirect::to(&format!("/invitations/{}", urlencode(&token))).into_response();
            state.set_session_cookie(&mut response, Some(&s));
            Ok(response)
        }
        Err(e @ (ServiceError::Invalid(_) | ServiceError::Conflict(_))) => {
            let page = invitation_page(&state, None, &form_token, ip, &token, e.to_string()).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response())
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
    interface: String,
    #[serde(default)]
    usage_model_id: String,
    #[serde(default)]
    customer_vlan: String,
}

pub(super) async fn view_accept_post(
    State(state): State<AppState>,
    user: PageUser,
    PathId(token): PathId<InvitationToken>,
    f: Result<Form<AcceptForm>, FormRejection>,
) -> Result<Response, PageError> {
    let f = form(f).map_err(|e| user.error(e))?;
    state.token_limit.check("token", user.authed.ip).map_err(|e| user.error(e))?;
    let customer_vlan = match f.customer_vlan.trim() {
        "" => None,
        t => Some(
            t.parse::<u16>()
                .map_err(|_| user.error(AppError::BadRequest(format!("`{t}` is not a VLAN tag (1-4094)"))))?,
        ),
    };
    let usage_model_id = match f.usage_model_id.as_str() {
        "" => None,
        m => Some(m.parse().map_err(|e| user.error(AppError::BadRequest(format!("usage_model_id: {e}"))))?),
    };
    let accepted = match f.interface.trim().parse() {
        Ok(interface) => {
            let acc = Acceptance { interface, usage_model_id, customer_vlan };
            state.svc.accept(&user.authed.actor, &token, &acc).await
        }
        Err(e) => Err(ServiceError::from(e)),
    };
    match accepted {
        Ok(outcome) => Ok(Redirect::to(&format!("/channels/{}", outcome.channel_id)).into_response()),
        Err(e @ (ServiceError::Refused(_) | ServiceError::Invalid(_) | ServiceError::Conflict(_))) => {
            let page =
                invitation_page(&state, Some(&user), &FormToken::default(), user.authed.ip, &token, e.to_string())
                    .await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response())
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
    let f = form(f).map_err(|e| user.error(e))?;
    let back = format!("/invitations/{}", urlencode(token.as_str()));
    if !confirmed(&f.confirm) {
        return Ok(render(&Confirm {
            title: "Decline?".into(),
            user: Some(user.header.clone()),
            heading: "Decline this offer?".into(),
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
    state.token_limit.check("token", user.authed.ip).map_err(|e| user.error(e))?;
    state.svc.decline(&user.authed.actor, &token).await.map_err(|e| user.error(e))?;
    Ok(Redirect::to(&back).into_response())
}
