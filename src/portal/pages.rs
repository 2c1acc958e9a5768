//! The browser portal (SPEC §6): server-rendered HTML (askama templates in `templates/`),
//! plain forms, a little JavaScript for live updates. Every page calls the same service
//! methods as the API; forms carry the session's CSRF token in a `csrf` field (the login
//! and registration forms, before there is a session, a [`FormToken`]).
//!
//! Handlers are named `view_<page>_<method>`.

use std::collections::{BTreeMap, BTreeSet};

use askama::Template;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;

use crate::model::text::{Email, InterfaceName, OrgName};
use crate::model::{ChannelKind, Role};
use crate::orchestrator::policy::ChannelState;
use crate::service::{
    AutoAccept, CatalogEntry, ChannelFilter, NewChannel, Notifications, Policy, ServiceError, UserRole,
};

use super::AppState;
use super::auth::{Authed, ClientIp, FormToken};
use super::error::AppError;
use super::page::{HeaderUser, PageError, PageUser, SocketOption, form, render, socket_options};
use super::svg;
use super::words::{capitalized, field_of, for_people, price, safe_next, urlencode, vlan_text};

/// The portal's routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(view_home_get))
        .route("/login", get(view_login_get).post(view_login_post))
        .route("/logout", post(view_logout_post))
        .route("/channels", get(view_channels_get).post(view_channels_post))
        .route("/channels/models", get(view_channel_models_get))
        .route("/channels/{id}", get(super::channel_pages::view_channel_get))
        .route("/channels/{id}/live", get(super::channel_pages::view_channel_live_get))
        .route("/channels/{id}/events", get(super::channel_pages::view_channel_events_get))
        .route("/channels/{id}/offers", post(super::channel_pages::view_offer_post))
        .route("/channels/{id}/terminate", post(super::channel_pages::view_terminate_post))
        .route("/attachments/{id}/detach", post(super::channel_pages::view_detach_post))
        .route("/invitations/{token}", get(super::invitation_pages::view_invitation_get))
        .route("/invitations/{token}/register", post(super::invitation_pages::view_register_post))
        .route("/invitations/{token}/accept", post(super::invitation_pages::view_accept_post))
        .route("/invitations/{token}/decline", post(super::invitation_pages::view_decline_post))
        .route("/inbox", get(super::inbox_pages::view_inbox_get))
        .route("/inbox/{id}", get(super::invitation_pages::view_inbox_invitation_get))
        .route("/inbox/{id}/accept", post(super::invitation_pages::view_inbox_accept_post))
        .route("/inbox/{id}/decline", post(super::invitation_pages::view_inbox_decline_post))
        .route("/invitees/{id}/withdraw", post(super::inbox_pages::view_withdraw_post))
        .route("/invitees/{id}/resend", post(super::inbox_pages::view_resend_post))
        .route("/settings", get(view_settings_get).post(view_settings_post))
        .route("/static/portal.css", get(|| static_file("text/css; charset=utf-8", include_str!("static/portal.css"))))
        .route(
            "/static/portal.js",
            get(|| static_file("text/javascript; charset=utf-8", include_str!("static/portal.js"))),
        )
}

async fn static_file(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "max-age=300")], body).into_response()
}

// ---- home, login, logout ----

/// Home: the NOC's is the operator page (what needs attention), a subscriber's its channels.
async fn view_home_get(user: Option<Authed>) -> Redirect {
    Redirect::to(match user {
        Some(u) if u.actor.is_operator() => "/operator",
        Some(_) => "/channels",
        None => "/login",
    })
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    title: String,
    user: Option<HeaderUser>,
    error: String,
    email: String,
    next: String,
    /// The pre-session token ([`FormToken`]).
    csrf: String,
}

#[derive(Debug, Default, Deserialize)]
struct NextQuery {
    #[serde(default)]
    next: String,
}

async fn view_login_get(token: FormToken, Query(q): Query<NextQuery>) -> Response {
    let page = LoginPage {
        title: "Log in".into(),
        user: None,
        error: String::new(),
        email: String::new(),
        next: q.next,
        csrf: token.value().into(),
    };
    let mut response = render(&page);
    token.set_cookie(&mut response);
    response
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginForm {
    email: String,
    password: String,
    #[serde(default)]
    next: String,
    #[serde(default)]
    csrf: String,
}

async fn view_login_post(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    token: FormToken,
    f: Result<Form<LoginForm>, FormRejection>,
) -> Result<Response, PageError> {
    let f = form(f)?;
    let again = |status: StatusCode, error: String| {
        let page = LoginPage {
            title: "Log in".into(),
            user: None,
            error,
            email: f.email.clone(),
            next: f.next.clone(),
            csrf: token.value().into(),
        };
        let mut response = (status, render(&page)).into_response();
        token.set_cookie(&mut response);
        response
    };
    if token.check(&f.csrf).is_err() {
        // The form came from elsewhere, or from before this browser had the cookie: show
        // it again with the token, so a person logs in with one more click.
        return Ok(again(
            StatusCode::FORBIDDEN,
            "This login form had expired or was sent from another site. Please log in again.".into(),
        ));
    }
    if let Err(e) = state.login_limit.check("login", ip) {
        return Ok(again(e.status(), e.to_string()));
    }
    match state.svc.open_session(&f.email, &f.password, &ip.to_string(), state.session_ttl_ms()).await {
        Ok(s) => {
            // Logging in from an invitation's page is acting on it: "opened" (issue 24 item 5).
            if let Some(token) = f.next.strip_prefix("/invitations/").and_then(|t| t.parse().ok())
                && let Err(e) = state.svc.note_opened(&token, &s.actor).await
            {
                tracing::debug!(error = %e, "login from an invitation that cannot be answered");
            }
            let mut response = Redirect::to(safe_next(&f.next)).into_response();
            state.set_session_cookie(&mut response, Some(&s));
            Ok(response)
        }
        Err(ServiceError::BadCredentials) => Ok(again(StatusCode::UNAUTHORIZED, "wrong email or password".into())),
        Err(e) => Err(AppError::from(e).into()),
    }
}

/// The logout form: its CSRF field (checked by the gate), and where to go afterwards (an
/// invitation for someone else sends its visitor back to it).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LogoutForm {
    #[serde(default, rename = "csrf")]
    _csrf: String,
    #[serde(default)]
    next: String,
}

async fn view_logout_post(
    State(state): State<AppState>,
    user: PageUser,
    f: Result<Form<LogoutForm>, FormRejection>,
) -> Result<Response, PageError> {
    let f = form(f).map_err(|e| user.error(e))?;
    state.svc.close_session(&user.authed.token, &user.authed.actor).await.map_err(|e| user.error(e))?;
    let next = if f.next.is_empty() { "/login" } else { safe_next(&f.next) };
    let mut response = Redirect::to(next).into_response();
    state.set_session_cookie(&mut response, None);
    Ok(response)
}

// ---- my channels: sockets and wires ----

struct ChannelRow {
    id: String,
    name: String,
    kind: &'static str,
    state: String,
    vlan: String,
    members: usize,
    organization: String,
}

struct ModelOption {
    id: String,
    label: String,
    /// Why this account cannot use it for the channel as typed ("" when it can).
    refused: String,
    selected: bool,
}

/// The create form's usage model choices, marked for a channel of `bandwidth_mbps`: what
/// the page draws, and what the form fetches again as the visitor types the bandwidth.
#[derive(Template)]
#[template(path = "model_options.html")]
struct ModelOptions {
    models: Vec<ModelOption>,
}

/// The catalogue's usage models as the create form offers them, for `bandwidth_mbps`, with
/// `selected` chosen when this account can use it, else the first it can use.
fn model_options(catalog: &[CatalogEntry], currency: &str, bandwidth_mbps: u64, selected: &str) -> Vec<ModelOption> {
    let mut models = Vec::new();
    for d in catalog {
        for t in &d.usage_models {
            models.push(ModelOption {
                id: t.usage_model_id.clone(),
                label: format!(
                    "{} v{}: {} ({})",
                    d.name,
                    d.version,
                    t.model.name,
                    price(&t.model, currency, Some(bandwidth_mbps))
                ),
                refused: t.refused.iter().map(|r| for_people(&r.to_string())).collect::<Vec<_>>().join("; "),
                selected: false,
            });
        }
    }
    let usable = |m: &ModelOption| m.refused.is_empty();
    let chosen = models.iter().position(|m| m.id == selected && usable(m)).or_else(|| models.iter().position(usable));
    if let Some(i) = chosen {
        models[i].selected = true;
    }
    models
}

#[derive(Template)]
#[template(path = "channels.html")]
struct ChannelsPage {
    title: String,
    user: Option<HeaderUser>,
    organization: String,
    error: String,
    board: String,
    channels: Vec<ChannelRow>,
    can_create: bool,
    /// The organization has no port to plug into a new channel.
    no_ports: bool,
    csrf: String,
    sockets: Vec<SocketOption>,
    /// Each class of service of the catalogue, and whether this account has it.
    classes: Vec<(String, bool)>,
    models: ModelOptions,
    /// What the create form holds: what was typed, after a refusal.
    typed: Typed,
    /// The error is the create form's, shown inside it.
    form_error: bool,
    /// The create form's field the error is beside, as `words::field_of` names it.
    error_field: &'static str,
    list: ListView,
}

/// The create form's fields as the visitor typed them (as text), so a refusal shows the
/// form again as it was sent.
struct Typed {
    name: String,
    kind: String,
    bandwidth: String,
    class: String,
    interface: String,
    tag: String,
    /// The creator's member's own bandwidth ("": the channel's).
    member_bandwidth: String,
    role: String,
}

impl Default for Typed {
    fn default() -> Self {
        Typed {
            name: String::new(),
            kind: "p2p".into(),
            bandwidth: "10".into(),
            class: String::new(),
            interface: String::new(),
            tag: String::new(),
            member_bandwidth: String::new(),
            role: "root".into(),
        }
    }
}

/// The channels page; the create form's models are marked for a channel of
/// `bandwidth_mbps` (what was typed, else the form's default), `selected` chosen if usable.
async fn channels_page(
    state: &AppState,
    user: &PageUser,
    error: String,
    bandwidth_mbps: u64,
    selected: &str,
    list: &ListQuery,
) -> Result<ChannelsPage, PageError> {
    let actor = &user.authed.actor;
    let filter = list.filter().map_err(|e| user.error(e))?;
    let (listed, total) = state.svc.channel_list(actor, &filter).await.map_err(|e| user.error(e))?;
    // The picture draws my ports and what is plugged into them: the operator's staff have none.
    let channels =
        if actor.is_operator() { Vec::new() } else { state.svc.channels(actor).await.map_err(|e| user.error(e))? };
    let sockets = state.svc.interfaces(actor).await.map_err(|e| user.error(e))?;
    let catalog = state.svc.catalog_for(actor, bandwidth_mbps).await.map_err(|e| user.error(e))?;
    let wires: Vec<svg::Wire> = channels
        .iter()
        .filter(|c| c.state.as_str() != "terminated")
        .map(|c| svg::Wire {
            channel_id: c.id.to_string(),
            name: c.name.clone(),
            state: c.state.as_str().into(),
            vlan: c.vlan,
        })
        .collect();
    let plugged: BTreeMap<String, Vec<String>> = sockets.iter().map(|s| (s.name.clone(), s.channels.clone())).collect();
    let board = svg::sockets_and_wires(
        &sockets.iter().map(|s| (s.name.clone(), format!("{}:{} · {}", s.switch, s.port, s.mode))).collect::<Vec<_>>(),
        &wires,
        &plugged,
    );
    let classes: BTreeSet<String> = catalog.iter().flat_map(|d| d.classes.iter().cloned()).collect();
    // The classes this account has are offered first, and the first of them chosen: one a
    // new organization also has when there is one, so a newcomer invited can join.
    let has: Option<Vec<String>> =
        if actor.is_operator() { None } else { state.svc.my_account(actor).await.ok().map(|a| a.classes) };
    let common = state.svc.new_organization_classes().await.unwrap_or_default();
    let mut classes: Vec<(String, bool)> = classes
        .into_iter()
        .map(|c| {
            let ok = has.as_ref().is_none_or(|h| h.contains(&c));
            (c, ok)
        })
        .collect();
    classes.sort_by_key(|(c, ok)| (!ok, !common.contains(c)));
    let models = model_options(&catalog, &state.svc.config.currency, bandwidth_mbps, selected);
    Ok(ChannelsPage {
        title: if actor.is_operator() { "Every channel" } else { "My channels" }.into(),
        organization: user.header.organization.clone(),
        user: Some(user.header.clone()),
        error,
        board,
        list: list.view(&filter, total, listed.len(), actor.is_operator()),
        channels: listed
            .iter()
            .map(|c| ChannelRow {
                id: c.id.to_string(),
                name: c.name.clone(),
                kind: c.kind.label(),
                state: c.state.as_str().into(),
                vlan: vlan_text(c),
                members: c.live_attachments().count(),
                organization: c.organization.clone(),
            })
            .collect(),
        can_create: actor.role == UserRole::Admin && !sockets.is_empty(),
        no_ports: sockets.is_empty(),
        csrf: user.authed.csrf.clone(),
        sockets: socket_options(&sockets, true),
        typed: Typed { class: classes.first().map(|(c, _)| c.clone()).unwrap_or_default(), ..Typed::default() },
        classes,
        models: ModelOptions { models },
        form_error: false,
        error_field: "",
    })
}

async fn view_channels_get(
    State(state): State<AppState>,
    user: PageUser,
    list: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let Query(list) = list.map_err(|e| user.error(AppError::from(e)))?;
    let bandwidth = Typed::default().bandwidth.parse().unwrap_or(10);
    Ok(render(&channels_page(&state, &user, String::new(), bandwidth, "", &list).await?))
}

/// The channel list's search, filters and page, as the page's filter form sends them (an
/// empty field: not asked).
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct ListQuery {
    q: String,
    state: String,
    kind: String,
    organization: String,
    switch: String,
    offset: u64,
}

/// A page of the channel list holds this many.
const LIST_PAGE: u64 = 100;

/// What the list says of itself: the filters as asked, how much it shows, and the links to
/// the pages before and after.
struct ListView {
    q: String,
    kind: String,
    organization: String,
    switch: String,
    /// The filter form's state choices, the one asked chosen.
    states: Vec<(&'static str, bool)>,
    /// The operator's staff: every channel, not "mine".
    operator: bool,
    filtered: bool,
    showing: String,
    newer: String,
    older: String,
}

impl ListQuery {
    fn filter(&self) -> Result<ChannelFilter, AppError> {
        let given = |v: &str| Some(v.trim().to_string()).filter(|v| !v.is_empty());
        let state = match given(&self.state) {
            Some(s) => Some(
                ChannelState::parse(&s)
                    .map(|_| s)
                    .ok_or_else(|| AppError::BadRequest(format!("“{}” is not a channel state", self.state)))?,
            ),
            None => None,
        };
        let kind = match given(&self.kind) {
            Some(k) => Some(
                k.parse::<ChannelKind>()
                    .map(|k| k.as_str().to_string())
                    .map_err(|_| AppError::BadRequest(format!("“{}” is not a kind of channel", self.kind)))?,
            ),
            None => None,
        };
        Ok(ChannelFilter {
            state,
            kind,
            organization: given(&self.organization),
            switch: given(&self.switch),
            text: given(&self.q),
            offset: self.offset.min(i64::MAX as u64),
            limit: LIST_PAGE,
        })
    }

    fn view(&self, f: &ChannelFilter, total: u64, shown: usize, operator: bool) -> ListView {
        let link = |offset: u64| {
            let mut q = vec![];
            for (k, v) in [
                ("q", &self.q),
                ("state", &self.state),
                ("kind", &self.kind),
                ("organization", &self.organization),
                ("switch", &self.switch),
            ] {
                if !v.trim().is_empty() {
                    q.push(format!("{k}={}", urlencode(v.trim())));
                }
            }
            if offset > 0 {
                q.push(format!("offset={offset}"));
            }
            if q.is_empty() { "/channels".to_string() } else { format!("/channels?{}", q.join("&")) }
        };
        let shown = shown as u64;
        ListView {
            q: self.q.clone(),
            kind: self.kind.clone(),
            organization: self.organization.clone(),
            switch: self.switch.clone(),
            states: ChannelState::ALL.iter().map(|s| (s.as_str(), f.state.as_deref() == Some(s.as_str()))).collect(),
            operator,
            filtered: f.state.is_some()
                || f.kind.is_some()
                || f.organization.is_some()
                || f.switch.is_some()
                || f.text.is_some(),
            showing: match shown {
                0 => format!("none of {total}"),
                _ => format!("{}–{} of {total}", f.offset + 1, f.offset + shown),
            },
            newer: if f.offset > 0 { link(f.offset.saturating_sub(LIST_PAGE)) } else { String::new() },
            older: if f.offset + shown < total { link(f.offset + LIST_PAGE) } else { String::new() },
        }
    }
}

/// What the create form asks as the visitor types the bandwidth.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelsQuery {
    bandwidth_mbps: u64,
    #[serde(default)]
    selected: String,
}

/// The create form's usage model choices marked again for the bandwidth being typed
/// (`portal.js` swaps them in), so a model this account cannot use is marked before it
/// submits, whatever bandwidth it types.
async fn view_channel_models_get(
    State(state): State<AppState>,
    user: PageUser,
    q: Result<Query<ModelsQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let Ok(Query(q)) = q else { return Ok(StatusCode::BAD_REQUEST.into_response()) };
    let catalog = state.svc.catalog_for(&user.authed.actor, q.bandwidth_mbps).await.map_err(|e| user.error(e))?;
    let models = model_options(&catalog, &state.svc.config.currency, q.bandwidth_mbps, &q.selected);
    Ok(render(&ModelOptions { models }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateForm {
    /// The session's CSRF token, checked by the gate (`origin.rs`).
    #[serde(default, rename = "csrf")]
    _csrf: String,
    name: String,
    kind: ChannelKind,
    /// Text, read here, so that a bad number is shown in the form as typed.
    bandwidth_mbps: String,
    class: String,
    usage_model_id: String,
    interface: String,
    #[serde(default)]
    customer_vlan: String,
    /// The creator's member's own bandwidth in Mbps; empty: the channel's.
    #[serde(default)]
    member_bandwidth_mbps: String,
    #[serde(default)]
    role: Option<Role>,
}

/// SPEC §2 steps 1-2: a refusal shows the page again with the reason inside the form,
/// every field as it was typed; nothing stored.
async fn view_channels_post(
    State(state): State<AppState>,
    user: PageUser,
    f: Result<Form<CreateForm>, FormRejection>,
) -> Result<Response, PageError> {
    let f = form(f).map_err(|e| user.error(e))?;
    let created = async {
        let customer_vlan = match f.customer_vlan.trim() {
            "" => None,
            t => Some(t.parse::<u16>().map_err(|_| {
                ServiceError::Invalid(format!("the customer VLAN tag “{t}” is not a number from 1 to 4094"))
            })?),
        };
        let bandwidth_mbps = f.bandwidth_mbps.trim().parse::<u64>().map_err(|_| {
            ServiceError::Invalid(format!("the bandwidth “{}” is not a whole number of Mbps", f.bandwidth_mbps.trim()))
        })?;
        let member_bandwidth_mbps = match f.member_bandwidth_mbps.trim() {
            "" => None,
            t => Some(t.parse::<u64>().map_err(|_| {
                ServiceError::Invalid(format!("`member_bandwidth_mbps`: “{t}” is not a whole number of Mbps"))
            })?),
        };
        let new = NewChannel {
            name: f.name.parse()?,
            kind: f.kind,
            bandwidth_mbps,
            class: f.class.parse()?,
            usage_model_id: f
                .usage_model_id
                .parse()
                .map_err(|e| ServiceError::Invalid(format!("usage_model_id: {e}")))?,
            interface: f.interface.parse()?,
            role: if f.kind == ChannelKind::P2mp { f.role } else { None },
            customer_vlan,
            member_bandwidth_mbps,
        };
        state.svc.create_channel(&user.authed.actor, &new).await
    };
    match created.await {
        Ok(id) => Ok(Redirect::to(&format!("/channels/{id}")).into_response()),
        Err(e @ (ServiceError::Refused(_) | ServiceError::Invalid(_) | ServiceError::NotFound(_))) => {
            // A refusal by the rules is 422; a form that names something wrong is 400.
            let status = if matches!(e, ServiceError::Refused(_)) {
                StatusCode::UNPROCESSABLE_ENTITY
            } else {
                StatusCode::BAD_REQUEST
            };
            let typed_bandwidth = f.bandwidth_mbps.trim().parse().unwrap_or(10);
            let mut page = channels_page(
                &state,
                &user,
                capitalized(&for_people(&e.to_string())),
                typed_bandwidth,
                &f.usage_model_id,
                &ListQuery::default(),
            )
            .await?;
            page.form_error = true;
            page.error_field = field_of(&e);
            page.typed = Typed {
                name: f.name,
                kind: f.kind.as_str().into(),
                bandwidth: f.bandwidth_mbps,
                class: f.class,
                interface: f.interface,
                tag: f.customer_vlan,
                member_bandwidth: f.member_bandwidth_mbps,
                role: f.role.map_or("root", |r| if r == Role::Leaf { "leaf" } else { "root" }).into(),
            };
            Ok((status, render(&page)).into_response())
        }
        Err(e) => Err(user.error(e)),
    }
}

// ---- the organization's policy (SPEC §7) ----

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    title: String,
    user: Option<HeaderUser>,
    organization: String,
    csrf: String,
    /// What was refused, one problem per line of the form.
    errors: Vec<String>,
    saved: bool,
    can_edit: bool,
    /// The default offer expiry in days, as typed.
    days: String,
    members_can_accept: bool,
    rules: Vec<AutoAccept>,
    sockets: Vec<String>,
    notify: Notifications,
    /// The recipients, one per line.
    recipients: String,
}

async fn settings_page(
    state: &AppState,
    user: &PageUser,
    shown: Option<Policy>,
    errors: Vec<String>,
    saved: bool,
) -> Result<SettingsPage, PageError> {
    let actor = &user.authed.actor;
    let policy = match shown {
        Some(p) => p,
        None => state.svc.policy(actor).await.map_err(|e| user.error(e))?,
    };
    let sockets = state.svc.interfaces(actor).await.map_err(|e| user.error(e))?;
    Ok(SettingsPage {
        title: "Policy".into(),
        user: Some(user.header.clone()),
        organization: user.header.organization.clone(),
        csrf: user.authed.csrf.clone(),
        errors,
        saved,
        can_edit: actor.role == UserRole::Admin,
        days: policy.default_offer_days.to_string(),
        members_can_accept: policy.members_can_accept,
        rules: policy.auto_accept,
        sockets: sockets.into_iter().map(|s| s.name).collect(),
        recipients: policy.notifications.recipients.iter().map(|r| r.as_str()).collect::<Vec<_>>().join("\n"),
        notify: policy.notifications,
    })
}

#[derive(Debug, Deserialize)]
struct SavedQuery {
    #[serde(default)]
    saved: Option<String>,
}

async fn view_settings_get(
    State(state): State<AppState>,
    user: PageUser,
    Query(q): Query<SavedQuery>,
) -> Result<Response, PageError> {
    Ok(render(&settings_page(&state, &user, None, Vec::new(), q.saved.is_some()).await?))
}

/// Rules come as repeated `rule_org` / `rule_iface` fields, in order; a rule whose
/// organization is left empty is removed.
async fn view_settings_post(
    State(state): State<AppState>,
    user: PageUser,
    f: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Result<Response, PageError> {
    let fields = form(f).map_err(|e| user.error(e))?;
    const KNOWN: [&str; 9] = [
        "csrf",
        "default_offer_days",
        "members_can_accept",
        "notify_active",
        "notify_answers",
        "notify_down",
        "notify_to",
        "rule_org",
        "rule_iface",
    ];
    if let Some((unknown, _)) = fields.iter().find(|(k, _)| !KNOWN.contains(&k.as_str())) {
        let known = KNOWN.join(", ");
        return Err(
            user.error(AppError::BadRequest(format!("bad form: unknown field `{unknown}`, expected one of {known}")))
        );
    }
    let field = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let days_typed = field("default_offer_days").unwrap_or_default().trim().to_string();
    // A number of days that does not read goes to the service as 0, which it refuses with
    // every other problem of the form, all at once; the page shows what was typed.
    let days: u32 = days_typed.parse().unwrap_or(0);
    let orgs = fields.iter().filter(|(k, _)| k == "rule_org").map(|(_, v)| v.trim());
    let ifaces = fields.iter().filter(|(k, _)| k == "rule_iface").map(|(_, v)| v.trim());
    // The policy holds the text as typed, so that a refusal shows it again; the service
    // checks every name and address.
    let auto_accept = orgs
        .zip(ifaces)
        .filter(|(org, _)| !org.is_empty())
        .map(|(org, iface)| AutoAccept { organization: OrgName::stored(org), interface: InterfaceName::stored(iface) })
        .collect();
    let recipients = field("notify_to")
        .unwrap_or_default()
        .split(['\n', ',', ';'])
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(Email::stored)
        .collect();
    let policy = Policy {
        default_offer_days: days,
        members_can_accept: field("members_can_accept").is_some(),
        auto_accept,
        notifications: Notifications {
            offer_answers: field("notify_answers").is_some(),
            channel_active: field("notify_active").is_some(),
            channel_down: field("notify_down").is_some(),
            recipients,
        },
    };
    match state.svc.update_policy(&user.authed.actor, &policy).await {
        Ok(_) => Ok(Redirect::to("/settings?saved=1").into_response()),
        Err(ServiceError::Invalid(e)) => {
            let mut errors: Vec<String> = e.lines().map(|l| capitalized(&for_people(l))).collect();
            if days == 0 && !days_typed.is_empty() && days_typed != "0" {
                let said = errors.iter().position(|e| e.starts_with("Default offer days"));
                let number = format!("Default offer days: “{days_typed}” is not a number of days: use 1-3650");
                match said {
                    Some(i) => errors[i] = number,
                    None => errors.insert(0, number),
                }
            }
            let mut page = settings_page(&state, &user, Some(policy), errors, false).await?;
            page.days = days_typed;
            Ok((StatusCode::BAD_REQUEST, render(&page)).into_response())
        }
        Err(e) => Err(user.error(e)),
    }
}
