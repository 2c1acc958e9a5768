//! The JSON API, `/api/v1`: everything the portal does (SPEC §6), for scripts and other
//! systems. Each handler names the SPEC section it serves, authenticates, and calls the
//! service; authorization of every object is the service's (an organization sees only its
//! own and what it was invited to; others get `not_found`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::service::{
    AcceptOutcome, Acceptance, AccountView, Actor, AuditEntry, CatalogEntry, ChannelView, ClaimPending, InterfaceView,
    Invitation, InvitationView, NewChannel, NewOffer, OfferCreated, OfferView, OrderView, Policy, Registered,
    Registration, UserRole, WaitingOffer,
};

use crate::model::ChannelKind;
use crate::model::id::{AttachmentId, ChannelId, InvitationToken, InviteeId, OrderId};
use crate::model::text::{OrgName, Reason};
use crate::orchestrator::policy::Account;
use crate::orchestrator::policy::ChannelState;
use crate::service::ChannelFilter;

use super::AppState;
use super::auth::{Authed, ClientIp};
use super::error::{AppError, AppJson, AppQuery, ErrorBody, JsonOrNothing};
use super::param::PathId;

/// The OpenAPI document's frame; paths and schemas are collected from the handlers.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Switchboard API",
        description = "Metro Ethernet VLAN channels: create, offer, accept, provision. \
            Log in with POST /api/v1/session; the answer sets an HttpOnly session cookie and gives \
            a CSRF token that every POST and DELETE must carry in X-CSRF-Token. \
            Errors are JSON {code, message} with stable codes."
    ),
    components(schemas(ErrorBody)),
    tags(
        (name = "session", description = "Log in and out"),
        (name = "catalog", description = "Service interfaces (ports) and service definitions"),
        (name = "channels", description = "Channels, offers and their invitees"),
        (name = "invitations", description = "What an invitee does behind its invitation URL"),
        (name = "orders", description = "Provisioning work and the audit log"),
        (name = "policy", description = "My organization's policy: offer expiry, who accepts, auto-accept"),
        (name = "people", description = "My organization's people: its admins add and remove them")
    )
)]
pub struct ApiDoc;

/// The OpenAPI document as served. utoipa 5 writes a response link's fields in snake case
/// (`operation_id`), which OpenAPI readers do not know; they are renamed as the
/// specification spells them, so clients (schemathesis's stateful phase) can follow them.
pub fn document_json(doc: &utoipa::openapi::OpenApi) -> String {
    let mut value = serde_json::to_value(doc).unwrap_or_default();
    if let Some(paths) = value.get_mut("paths").and_then(|p| p.as_object_mut()) {
        let operations = paths.values_mut().filter_map(|p| p.as_object_mut()).flat_map(|p| p.values_mut());
        let responses = operations.filter_map(|o| o.get_mut("responses")?.as_object_mut()).flat_map(|r| r.values_mut());
        let links = responses.filter_map(|r| r.get_mut("links")?.as_object_mut()).flat_map(|l| l.values_mut());
        for link in links.filter_map(|l| l.as_object_mut()) {
            for (snake, camel) in
                [("operation_id", "operationId"), ("operation_ref", "operationRef"), ("request_body", "requestBody")]
            {
                if let Some(v) = link.remove(snake) {
                    link.insert(camel.into(), v);
                }
            }
        }
    }
    serde_json::to_string_pretty(&value).unwrap_or_default()
}

/// The API's routes with their OpenAPI description, under `/api/v1`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi()).nest("/api/v1", routes())
}

fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login, logout))
        .routes(routes!(me))
        .routes(routes!(interfaces))
        .routes(routes!(account))
        .routes(routes!(catalog))
        .routes(routes!(list_channels, create_channel))
        .routes(routes!(get_channel))
        .routes(routes!(terminate_channel))
        .routes(routes!(list_offers, create_offer))
        .routes(routes!(channel_orders))
        .routes(routes!(detach))
        .routes(routes!(open_invitation))
        .routes(routes!(register))
        .routes(routes!(accept))
        .routes(routes!(decline))
        .routes(routes!(withdraw_invitation))
        .routes(routes!(resend_invitation))
        .routes(routes!(inbox))
        .routes(routes!(list_orders))
        .routes(routes!(get_order))
        .routes(routes!(audit_log))
        .routes(routes!(get_policy, put_policy))
        .routes(routes!(list_people, add_person))
        .routes(routes!(remove_person))
        .routes(routes!(resend_welcome))
        .routes(routes!(get_new_organizations, put_new_organizations))
        .routes(routes!(agents))
}

/// Who is logged in.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserView {
    pub id: String,
    pub email: String,
    pub organization_id: String,
    pub role: UserRole,
}

impl From<&Actor> for UserView {
    fn from(a: &Actor) -> Self {
        UserView { id: a.user_id.clone(), email: a.email.clone(), organization_id: a.org_id.clone(), role: a.role }
    }
}

/// A session: the user, and the CSRF token writes must carry.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SessionView {
    pub user: UserView,
    /// Send it back in the X-CSRF-Token header of every POST, PUT and DELETE.
    pub csrf: String,
    /// When the session ends, in Unix ms.
    pub expires_at: i64,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Termination {
    /// Why, for the audit log and the other parties.
    #[serde(default)]
    pub reason: Reason,
}

/// What a write that may open an order returns.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrderRef {
    /// The order that carries the change out, when one was needed.
    pub order_id: Option<OrderId>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct OrderFilter {
    /// Only this channel's orders.
    pub channel: Option<ChannelId>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditFilter {
    /// Only records about this object (channel, order, offer, user ID).
    pub object: Option<String>,
    /// At most this many records (1-1000); without it, every one.
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// Skip this many first (with `limit`: the next page).
    pub offset: Option<u64>,
}

fn session_response(state: &AppState, status: StatusCode, s: crate::service::NewSession) -> Response {
    let body = SessionView { user: UserView::from(&s.actor), csrf: s.csrf.clone(), expires_at: s.expires_at };
    let mut response = (status, AppJson(body)).into_response();
    state.set_session_cookie(&mut response, Some(&s));
    response
}

/// Log in (SPEC §6). Sets the session cookie; rate-limited per client address.
#[utoipa::path(post, path = "/session", tag = "session", request_body = Credentials,
    responses((status = 200, body = SessionView), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    AppJson(c): AppJson<Credentials>,
) -> Result<Response, AppError> {
    state.login_limit.check("login", ip)?;
    let s = state.svc.open_session(&c.email, &c.password, &ip.to_string(), state.session_ttl_ms()).await?;
    Ok(session_response(&state, StatusCode::OK, s))
}

/// Log out: ends the session and clears the cookie.
#[utoipa::path(delete, path = "/session", tag = "session",
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn logout(State(state): State<AppState>, user: Authed) -> Result<Response, AppError> {
    state.svc.close_session(&user.token, &user.actor).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    state.set_session_cookie(&mut response, None);
    Ok(response)
}

/// The logged-in user and the session's CSRF token.
#[utoipa::path(get, path = "/me", tag = "session",
    responses((status = 200, body = SessionView), (status = 401, body = ErrorBody)))]
async fn me(user: Authed) -> AppJson<SessionView> {
    AppJson(SessionView { user: UserView::from(&user.actor), csrf: user.csrf, expires_at: user.expires_at })
}

/// My organization's account: status, balance, credit limit, what can still be charged in
/// advance, limits and their use, and the latest charges (newest first), in the operator's
/// currency.
#[utoipa::path(get, path = "/account", tag = "catalog",
    responses((status = 200, body = AccountView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn account(State(state): State<AppState>, user: Authed) -> Result<AppJson<AccountView>, AppError> {
    Ok(AppJson(state.svc.my_account(&user.actor).await?))
}

/// My organization's service interfaces: the ports channels plug into.
#[utoipa::path(get, path = "/interfaces", tag = "catalog",
    responses((status = 200, body = Vec<InterfaceView>), (status = 401, body = ErrorBody)))]
async fn interfaces(State(state): State<AppState>, user: Authed) -> Result<AppJson<Vec<InterfaceView>>, AppError> {
    Ok(AppJson(state.svc.interfaces(&user.actor).await?))
}

/// Service definitions (every version) with their usage models (SPEC §7).
#[utoipa::path(get, path = "/catalog", tag = "catalog",
    responses((status = 200, body = Vec<CatalogEntry>), (status = 401, body = ErrorBody)))]
async fn catalog(State(state): State<AppState>, _user: Authed) -> Result<AppJson<Vec<CatalogEntry>>, AppError> {
    Ok(AppJson(state.svc.catalog().await?))
}

/// What a channel list may ask: filters (all that are given must hold) and a page.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ChannelQuery {
    /// Only channels in this state.
    pub state: Option<ChannelState>,
    /// Only channels of this kind.
    pub kind: Option<ChannelKind>,
    /// Only channels of this organization, or with it as a live member.
    pub organization: Option<OrgName>,
    /// Only channels whose path crosses this switch.
    #[param(max_length = 100)]
    pub switch: Option<String>,
    /// Only channels with this text in their name (any case), or with this ID.
    #[param(max_length = 100)]
    pub q: Option<String>,
    /// How many channels to return, newest first (1-1000; default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u64>,
    /// How many to skip: the next page starts at `offset + limit`.
    pub offset: Option<u64>,
}

/// The most channels one page of a list holds, and how many it holds unless asked.
pub const MAX_PAGE: u64 = 1000;
pub const DEFAULT_PAGE: u64 = 100;

/// A list's `limit` (1-[`MAX_PAGE`] when given) and `offset` (at most `i64::MAX`, what the
/// databases take), or what is wrong with them.
fn page_of(limit: Option<u64>, offset: Option<u64>) -> Result<(Option<u64>, u64), AppError> {
    if let Some(limit) = limit.filter(|l| !(1..=MAX_PAGE).contains(l)) {
        return Err(AppError::BadRequest(format!("the query: limit is 1-{MAX_PAGE}, not {limit}")));
    }
    let offset = offset.unwrap_or(0);
    if offset > i64::MAX as u64 {
        return Err(AppError::BadRequest("the query: offset is too large".into()));
    }
    Ok((limit, offset))
}

impl ChannelQuery {
    /// The store's filter, or what is wrong with the query.
    pub fn filter(&self) -> Result<ChannelFilter, AppError> {
        let (limit, offset) = page_of(self.limit, self.offset)?;
        let limit = limit.unwrap_or(DEFAULT_PAGE);
        for (name, v) in [("switch", &self.switch), ("q", &self.q)] {
            if v.as_ref().is_some_and(|v| v.chars().count() > 100) {
                return Err(AppError::BadRequest(format!("the query: {name} is at most 100 characters")));
            }
        }
        let given = |v: &Option<String>| v.as_ref().map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        Ok(ChannelFilter {
            state: self.state.map(|s| s.as_str().to_string()),
            kind: self.kind.map(|k| k.as_str().to_string()),
            organization: self.organization.as_ref().map(ToString::to_string),
            switch: given(&self.switch),
            text: given(&self.q),
            offset,
            limit,
        })
    }
}

/// The channels I see (my organization's, and those it takes part in or was invited to;
/// every channel for the operator's staff), newest first, a page at a time: `X-Total-Count`
/// says how many pass the filters in all.
#[utoipa::path(get, path = "/channels", tag = "channels", params(ChannelQuery),
    responses((status = 200, body = Vec<ChannelView>,
            headers(("X-Total-Count" = u64, description = "How many channels pass the filters, over all pages"))),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn list_channels(
    State(state): State<AppState>,
    user: Authed,
    AppQuery(q): AppQuery<ChannelQuery>,
) -> Result<Response, AppError> {
    let (channels, total) = state.svc.channel_list(&user.actor, &q.filter()?).await?;
    let mut response = AppJson(channels).into_response();
    response.headers_mut().insert("x-total-count", axum::http::HeaderValue::from(total));
    Ok(response)
}

/// Create a channel and plug one of my interfaces into it (SPEC §2 steps 1-2). The account
/// is verified at once; a refusal says why (422) and stores nothing.
#[utoipa::path(post, path = "/channels", tag = "channels", request_body = NewChannel,
    responses((status = 201, body = ChannelView, links(
            ("GetChannel" = (operation_id = "get_channel", parameters(("id" = "$response.body#/id")))),
            ("ListOffers" = (operation_id = "list_offers", parameters(("id" = "$response.body#/id")))),
            ("CreateOffer" = (operation_id = "create_offer", parameters(("id" = "$response.body#/id")))),
            ("ChannelOrders" = (operation_id = "channel_orders", parameters(("id" = "$response.body#/id")))),
            ("Terminate" = (operation_id = "terminate_channel", parameters(("id" = "$response.body#/id")))),
            ("Detach" = (operation_id = "detach", parameters(("id" = "$response.body#/attachments/0/id"))))
        )), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_channel(
    State(state): State<AppState>,
    user: Authed,
    AppJson(new): AppJson<NewChannel>,
) -> Result<(StatusCode, AppJson<ChannelView>), AppError> {
    let id = state.svc.create_channel(&user.actor, &new).await?;
    Ok((StatusCode::CREATED, AppJson(state.svc.channel(&user.actor, &id).await?)))
}

/// One channel: state, VLAN, path, attachments.
#[utoipa::path(get, path = "/channels/{id}", tag = "channels", params(("id" = ChannelId, Path)),
    responses((status = 200, body = ChannelView), (status = 404, body = ErrorBody)))]
async fn get_channel(
    State(state): State<AppState>,
    user: Authed,
    PathId(id): PathId<ChannelId>,
) -> Result<AppJson<ChannelView>, AppError> {
    Ok(AppJson(state.svc.channel(&user.actor, &id).await?))
}

/// Terminate a channel (its creator or the operator): an order removes its configuration
/// and frees its VLAN (SPEC §2 step 6). The body is optional (no body: no reason).
#[utoipa::path(post, path = "/channels/{id}/terminate", tag = "channels", params(("id" = ChannelId, Path)),
    request_body = Termination,
    responses((status = 202, body = OrderRef, links(
            ("GetOrder" = (operation_id = "get_order", parameters(("id" = "$response.body#/order_id"))))
        )), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
async fn terminate_channel(
    State(state): State<AppState>,
    user: Authed,
    PathId(id): PathId<ChannelId>,
    JsonOrNothing(t): JsonOrNothing<Termination>,
) -> Result<(StatusCode, AppJson<OrderRef>), AppError> {
    let order_id = state.svc.terminate(&user.actor, &id, &t.reason).await?;
    Ok((StatusCode::ACCEPTED, AppJson(OrderRef { order_id })))
}

/// The channel's offers with each invitee's status (only for the organization that made them).
#[utoipa::path(get, path = "/channels/{id}/offers", tag = "channels", params(("id" = ChannelId, Path)),
    responses((status = 200, body = Vec<OfferView>), (status = 404, body = ErrorBody)))]
async fn list_offers(
    State(state): State<AppState>,
    user: Authed,
    PathId(id): PathId<ChannelId>,
) -> Result<AppJson<Vec<OfferView>>, AppError> {
    // A channel the caller cannot see is not found, like everywhere else.
    state.svc.channel(&user.actor, &id).await?;
    Ok(AppJson(state.svc.offers(&user.actor, &id).await?))
}

/// Offer the channel to invitees, by email or organization (SPEC §2 step 3). Each gets an
/// invitation URL with an unguessable token; the answer is the only time the tokens are shown.
#[utoipa::path(post, path = "/channels/{id}/offers", tag = "channels", params(("id" = ChannelId, Path)),
    request_body = NewOffer,
    responses((status = 201, body = OfferCreated, links(
            ("OpenInvitation" = (operation_id = "open_invitation",
                parameters(("token" = "$response.body#/invitations/0/token")))),
            ("Accept" = (operation_id = "accept", parameters(("token" = "$response.body#/invitations/0/token")))),
            ("Decline" = (operation_id = "decline", parameters(("token" = "$response.body#/invitations/0/token")))),
            ("Register" = (operation_id = "register", parameters(("token" = "$response.body#/invitations/0/token"))))
        )), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn create_offer(
    State(state): State<AppState>,
    user: Authed,
    PathId(id): PathId<ChannelId>,
    AppJson(offer): AppJson<NewOffer>,
) -> Result<(StatusCode, AppJson<OfferCreated>), AppError> {
    Ok((StatusCode::CREATED, AppJson(state.svc.offer(&user.actor, &id, &offer).await?)))
}

/// The channel's orders, oldest first.
#[utoipa::path(get, path = "/channels/{id}/orders", tag = "orders", params(("id" = ChannelId, Path)),
    responses((status = 200, body = Vec<OrderView>), (status = 404, body = ErrorBody)))]
async fn channel_orders(
    State(state): State<AppState>,
    user: Authed,
    PathId(id): PathId<ChannelId>,
) -> Result<AppJson<Vec<OrderView>>, AppError> {
    state.svc.channel(&user.actor, &id).await?;
    Ok(AppJson(state.svc.orders(&user.actor, Some(&id)).await?))
}

/// Unplug an interface from a channel (either side; SPEC §2 step 6).
#[utoipa::path(delete, path = "/attachments/{id}", tag = "channels", params(("id" = AttachmentId, Path)),
    responses((status = 202, body = OrderRef, links(
            ("GetOrder" = (operation_id = "get_order", parameters(("id" = "$response.body#/order_id"))))
        )), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
async fn detach(
    State(state): State<AppState>,
    user: Authed,
    PathId(id): PathId<AttachmentId>,
) -> Result<(StatusCode, AppJson<OrderRef>), AppError> {
    let order_id = state.svc.detach(&user.actor, &id).await?;
    Ok((StatusCode::ACCEPTED, AppJson(OrderRef { order_id })))
}

/// Open an invitation (SPEC §2 step 4): the offer, its terms, and a pre-filled registration.
/// Works logged out (the invitee may be new); a logged-in user it was not sent to gets
/// `access_denied`, an expired offer `offer_expired` (410), an unknown or withdrawn token
/// `access_denied`. `closed` says why nobody can accept it any more (its channel ended or is
/// full). Looking records nothing ("opened" is recorded when someone registers, logs in
/// from the page, accepts or declines). Rate-limited per address.
#[utoipa::path(get, path = "/invitations/{token}", tag = "invitations", params(("token" = InvitationToken, Path)),
    responses((status = 200, body = InvitationView), (status = 403, body = ErrorBody), (status = 410, body = ErrorBody),
        (status = 429, body = ErrorBody)))]
async fn open_invitation(
    State(state): State<AppState>,
    user: Option<Authed>,
    ClientIp(ip): ClientIp,
    PathId(token): PathId<InvitationToken>,
) -> Result<AppJson<InvitationView>, AppError> {
    state.token_limit.check("token", ip)?;
    let view = state.svc.open_invitation(&token, user.as_ref().map(|u| &u.actor), &ip.to_string()).await?;
    Ok(AppJson(view))
}

/// Register as the invited person (new users): the email must be the invited one. Opens a
/// session, like logging in (201). For an organization the operator imported that nobody
/// can log in for yet (the invitation's `claims_organization`), only one of the contacts the
/// operator listed for it may register, and must confirm the address first: 202 says a link
/// was mailed to it, where they choose their password (no `password` needed here).
#[utoipa::path(post, path = "/invitations/{token}/register", tag = "invitations", params(("token" = InvitationToken, Path)),
    request_body = Registration,
    responses((status = 201, body = SessionView), (status = 202, body = ClaimPending), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 410, body = ErrorBody)))]
async fn register(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    PathId(token): PathId<InvitationToken>,
    AppJson(reg): AppJson<Registration>,
) -> Result<Response, AppError> {
    state.token_limit.check("token", ip)?;
    match state.svc.register(&token, &reg, &ip.to_string()).await? {
        Registered::In(actor) => {
            let s = state.svc.session_for(actor, state.session_ttl_ms()).await?;
            Ok(session_response(&state, StatusCode::CREATED, s))
        }
        Registered::Confirm(pending) => Ok((StatusCode::ACCEPTED, AppJson(pending)).into_response()),
    }
}

/// Accept by plugging one of my interfaces in, under one of the definition's usage models
/// (verified like creation). When the channel can carry traffic an order provisions it.
#[utoipa::path(post, path = "/invitations/{token}/accept", tag = "invitations", params(("token" = InvitationToken, Path)),
    request_body = Acceptance,
    responses((status = 200, body = AcceptOutcome), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 410, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn accept(
    State(state): State<AppState>,
    user: Authed,
    PathId(token): PathId<InvitationToken>,
    AppJson(acc): AppJson<Acceptance>,
) -> Result<AppJson<AcceptOutcome>, AppError> {
    state.token_limit.check("token", user.ip)?;
    Ok(AppJson(state.svc.accept(&user.actor, &token, &acc).await?))
}

/// Decline the invitation.
#[utoipa::path(post, path = "/invitations/{token}/decline", tag = "invitations", params(("token" = InvitationToken, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 410, body = ErrorBody)))]
async fn decline(
    State(state): State<AppState>,
    user: Authed,
    PathId(token): PathId<InvitationToken>,
) -> Result<StatusCode, AppError> {
    state.token_limit.check("token", user.ip)?;
    state.svc.decline(&user.actor, &token).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Whose people to list.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
struct PeopleQuery {
    /// The operator's staff only: another organization's, by name.
    organization: Option<String>,
}

/// My organization's people (another's, by name, for the operator's staff): who can log in
/// for it (`active`), and who has yet to choose a password from their welcome link.
#[utoipa::path(get, path = "/people", tag = "people", params(PeopleQuery),
    responses((status = 200, body = Vec<crate::service::PersonView>), (status = 401, body = ErrorBody),
        (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn list_people(
    State(state): State<AppState>,
    user: Authed,
    AppQuery(q): AppQuery<PeopleQuery>,
) -> Result<AppJson<Vec<crate::service::PersonView>>, AppError> {
    let org = match q.organization.as_deref().map(str::trim).filter(|o| !o.is_empty()) {
        Some(name) => Some(state.svc.organization_of_people(&user.actor, name).await?),
        None => None,
    };
    Ok(AppJson(state.svc.people(&user.actor, org.as_deref()).await?))
}

/// A person to add.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct NewPerson {
    email: String,
    name: String,
    /// `member` (default) or `admin`; the operator's staff add `operator` staff, or, naming
    /// an `organization`, its people (`admin` by default).
    #[serde(default)]
    role: Option<UserRole>,
    /// The operator's staff only: the organization to add the person to, by name (such as
    /// the first admin of an organization imported with the topology). Default: my own.
    #[serde(default)]
    organization: Option<String>,
}

/// Add a person to my organization (its admins), or to any organization (the operator's
/// staff). They get a link to choose their password, mailed when Switchboard has a mail
/// server and in the answer either way; it works once, for seven days. A person removed
/// before comes back.
#[utoipa::path(post, path = "/people", tag = "people", request_body = NewPerson,
    responses((status = 201, body = crate::service::Welcomed), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn add_person(
    State(state): State<AppState>,
    user: Authed,
    AppJson(p): AppJson<NewPerson>,
) -> Result<(StatusCode, AppJson<crate::service::Welcomed>), AppError> {
    let other = p.organization.as_deref().is_some_and(|o| !o.trim().is_empty());
    let default = match (user.actor.is_operator(), other) {
        (true, true) => UserRole::Admin,
        (true, false) => UserRole::Operator,
        (false, _) => UserRole::Member,
    };
    let w = state
        .svc
        .add_person(&user.actor, p.organization.as_deref(), &p.email, &p.name, p.role.unwrap_or(default))
        .await?;
    Ok((StatusCode::CREATED, AppJson(w)))
}

/// Remove a person from my organization (its admins; not oneself): they can no longer log
/// in, and their sessions end.
#[utoipa::path(delete, path = "/people/{id}", tag = "people", params(("id" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
async fn remove_person(
    State(state): State<AppState>,
    user: Authed,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Result<StatusCode, AppError> {
    state.svc.remove_person(&user.actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Send a person who has not chosen a password yet a new welcome link (the old one stops
/// working).
#[utoipa::path(post, path = "/people/{id}/welcome", tag = "people", params(("id" = String, Path)),
    responses((status = 200, body = crate::service::Welcomed), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn resend_welcome(
    State(state): State<AppState>,
    user: Authed,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Result<AppJson<crate::service::Welcomed>, AppError> {
    Ok(AppJson(state.svc.resend_welcome(&user.actor, &id).await?))
}

/// Withdraw an invitation my organization sent (its admins): its link is refused from then
/// on, as an unknown one is. Irreversible; an answered invitation cannot be withdrawn.
#[utoipa::path(post, path = "/invitees/{id}/withdraw", tag = "channels", params(("id" = InviteeId, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
async fn withdraw_invitation(
    State(state): State<AppState>,
    user: Authed,
    PathId(id): PathId<InviteeId>,
) -> Result<StatusCode, AppError> {
    state.svc.withdraw_invitation(&user.actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Send an invitation my organization sent again, with a fresh link (mailed like the first;
/// the old link is refused from then on). Only while it can still be accepted.
#[utoipa::path(post, path = "/invitees/{id}/resend", tag = "channels", params(("id" = InviteeId, Path)),
    responses((status = 200, body = Invitation), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 410, body = ErrorBody)))]
async fn resend_invitation(
    State(state): State<AppState>,
    user: Authed,
    PathId(id): PathId<InviteeId>,
) -> Result<AppJson<Invitation>, AppError> {
    Ok(AppJson(state.svc.resend_invitation(&user.actor, &id).await?))
}

/// My organization's inbox: the invitations waiting for its answer (sent to it or to one of
/// its users' emails), newest first. Each opens at `/inbox/{invitee_id}` in the portal.
#[utoipa::path(get, path = "/inbox", tag = "invitations",
    responses((status = 200, body = Vec<WaitingOffer>), (status = 401, body = ErrorBody)))]
async fn inbox(State(state): State<AppState>, user: Authed) -> Result<AppJson<Vec<WaitingOffer>>, AppError> {
    Ok(AppJson(state.svc.inbox(&user.actor).await?))
}

/// Orders: without `channel`, every order (the operator's staff only; others get 403);
/// with `channel`, that channel's, for whoever may see the channel.
#[utoipa::path(get, path = "/orders", tag = "orders", params(OrderFilter),
    responses((status = 200, body = Vec<OrderView>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn list_orders(
    State(state): State<AppState>,
    user: Authed,
    AppQuery(filter): AppQuery<OrderFilter>,
) -> Result<AppJson<Vec<OrderView>>, AppError> {
    Ok(AppJson(state.svc.orders(&user.actor, filter.channel.as_ref()).await?))
}

/// One order with its time-stamped steps.
#[utoipa::path(get, path = "/orders/{id}", tag = "orders", params(("id" = OrderId, Path)),
    responses((status = 200, body = OrderView), (status = 404, body = ErrorBody)))]
async fn get_order(
    State(state): State<AppState>,
    user: Authed,
    PathId(id): PathId<OrderId>,
) -> Result<AppJson<OrderView>, AppError> {
    Ok(AppJson(state.svc.order(&user.actor, &id).await?))
}

/// The audit log, oldest first: who, when, what, from where. The operator's staff see
/// every record; an organization's admins their organization's own. `limit` and `offset`
/// give it a page at a time.
#[utoipa::path(get, path = "/audit", tag = "orders", params(AuditFilter),
    responses((status = 200, body = Vec<AuditEntry>), (status = 403, body = ErrorBody)))]
async fn audit_log(
    State(state): State<AppState>,
    user: Authed,
    AppQuery(filter): AppQuery<AuditFilter>,
) -> Result<AppJson<Vec<AuditEntry>>, AppError> {
    let (limit, offset) = page_of(filter.limit.map(u64::from), filter.offset)?;
    let page =
        (limit.is_some() || filter.offset.is_some()).then(|| (limit.map_or(i64::MAX, |l| l as i64), offset as i64));
    Ok(AppJson(state.svc.audit_log_page(&user.actor, filter.object.as_deref(), page).await?))
}

/// My organization's policy and preferences (SPEC §7).
#[utoipa::path(get, path = "/policy", tag = "policy",
    responses((status = 200, body = Policy), (status = 401, body = ErrorBody)))]
async fn get_policy(State(state): State<AppState>, user: Authed) -> Result<AppJson<Policy>, AppError> {
    Ok(AppJson(state.svc.policy(&user.actor).await?))
}

/// Replace my organization's policy (its admins): default offer expiry, whether members may
/// accept, and the organizations whose offers are accepted at once with one of our
/// interfaces. A bad rule is refused (400, naming it) and nothing is stored.
#[utoipa::path(put, path = "/policy", tag = "policy", request_body = Policy,
    responses((status = 200, body = Policy), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody)))]
async fn put_policy(
    State(state): State<AppState>,
    user: Authed,
    AppJson(policy): AppJson<Policy>,
) -> Result<AppJson<Policy>, AppError> {
    Ok(AppJson(state.svc.update_policy(&user.actor, &policy).await?))
}

/// What a newly registered or imported organization starts with (the operator's staff):
/// status, kinds, limits, balance and credit limit.
#[utoipa::path(get, path = "/operator/new-organizations", tag = "operator",
    responses((status = 200, body = Account), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn get_new_organizations(State(state): State<AppState>, user: Authed) -> Result<AppJson<Account>, AppError> {
    Ok(AppJson(state.svc.new_organization_account(&user.actor).await?))
}

/// Set what a new organization starts with (the operator's staff). Organizations that
/// exist keep their accounts. Nonsense (no kinds, zero limits, negative credit) is refused
/// with 400, naming each problem, and nothing is stored.
#[utoipa::path(put, path = "/operator/new-organizations", tag = "operator", request_body = Account,
    responses((status = 200, body = Account), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody)))]
async fn put_new_organizations(
    State(state): State<AppState>,
    user: Authed,
    AppJson(account): AppJson<Account>,
) -> Result<AppJson<Account>, AppError> {
    state.svc.set_new_organization_account(&user.actor, &account).await?;
    Ok(AppJson(account))
}

/// The agents of the topology's remote switches (the operator's staff): whether each
/// answers (and why not), its version and bridge, and the transaction it holds open.
/// Empty when no switch is remote or the server drives every switch dry.
#[utoipa::path(get, path = "/operator/agents", tag = "operator",
    responses((status = 200, body = Vec<crate::service::AgentView>), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody)))]
async fn agents(
    State(state): State<AppState>,
    user: Authed,
) -> Result<AppJson<Vec<crate::service::AgentView>>, AppError> {
    Ok(AppJson(state.svc.agents(&user.actor).await?))
}
