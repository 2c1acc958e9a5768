//! An organization's people (`/people`, issue 24): who can log in for it, and for its
//! admins a form to add a colleague, a new link for someone whose link was lost, and
//! removal (confirmed first). `/welcome/{token}` is where an added person chooses their
//! password, and is logged in.

use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;

use crate::model::utc_minute as when;
use crate::service::{ServiceError, UserRole, Welcomed};

use super::AppState;
use super::auth::{ClientIp, FormToken};
use super::error::AppError;
use super::page::{Confirm, HeaderUser, PageError, PageUser, confirmed, form, render};
use super::words::{capitalized, for_people};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/people", get(view_people_get).post(view_add_post))
        .route("/people/{id}/welcome", post(view_resend_post))
        .route("/people/{id}/remove", post(view_remove_post))
        .route("/welcome/{token}", get(view_welcome_get).post(view_welcome_post))
}

struct PersonRow {
    id: String,
    email: String,
    name: String,
    role: String,
    added: String,
    active: bool,
    me: bool,
}

/// What the add form was given, and what was wrong with it.
#[derive(Default)]
struct Typed {
    email: String,
    name: String,
    role: String,
    email_error: String,
    name_error: String,
    role_error: String,
}

#[derive(Template)]
#[template(path = "people.html")]
struct PeoplePage {
    title: String,
    user: Option<HeaderUser>,
    organization: String,
    /// Another organization's name, when the operator's staff manage its people ("" for
    /// the visitor's own).
    for_org: String,
    people: Vec<PersonRow>,
    /// The visitor may add and remove people.
    admin: bool,
    operator: bool,
    csrf: String,
    /// What just happened ("" for nothing), and the link to pass on when it was not mailed.
    notice: String,
    link: String,
    error: String,
    typed: Typed,
}

async fn people_page(
    state: &AppState,
    user: &PageUser,
    org: Option<&str>,
    notice: String,
    link: String,
    error: String,
    typed: Typed,
) -> Result<PeoplePage, PageError> {
    let actor = &user.authed.actor;
    let org = org.map(str::trim).filter(|o| !o.is_empty());
    let org_id = match org {
        Some(name) => Some(state.svc.organization_of_people(actor, name).await.map_err(|e| user.error(e))?),
        None => None,
    };
    let list = state.svc.people(actor, org_id.as_deref()).await.map_err(|e| user.error(e))?;
    Ok(PeoplePage {
        title: "People".into(),
        user: Some(user.header.clone()),
        organization: org.map_or_else(|| user.header.organization.clone(), str::to_string),
        for_org: org.unwrap_or_default().to_string(),
        people: list
            .into_iter()
            .map(|p| PersonRow {
                me: p.id == actor.user_id,
                id: p.id,
                email: p.email,
                name: p.name,
                role: role_word(p.role).into(),
                added: when(p.added_at),
                active: p.active,
            })
            .collect(),
        admin: actor.role == UserRole::Admin || actor.is_operator(),
        operator: actor.is_operator(),
        csrf: user.authed.csrf.clone(),
        notice,
        link,
        error,
        typed,
    })
}

fn role_word(role: UserRole) -> &'static str {
    match role {
        UserRole::Admin => "admin",
        UserRole::Member => "member",
        UserRole::Operator => "operator staff",
    }
}

#[derive(Debug, Default, Deserialize)]
struct Done {
    /// What the last form did (`removed`), for the notice.
    #[serde(default)]
    done: String,
    /// Another organization's people (the operator's staff).
    #[serde(default)]
    organization: String,
}

async fn view_people_get(
    State(state): State<AppState>,
    user: PageUser,
    q: Result<axum::extract::Query<Done>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, PageError> {
    let q = q.map(|q| q.0).unwrap_or_default();
    let notice = match q.done.as_str() {
        "removed" => "Removed: they can no longer log in, and their sessions ended.".to_string(),
        _ => String::new(),
    };
    let typed = Typed { role: if q.organization.is_empty() { "" } else { "admin" }.into(), ..Typed::default() };
    let page = people_page(&state, &user, Some(&q.organization), notice, String::new(), String::new(), typed).await?;
    Ok(render(&page))
}

/// What was done with a welcome link, in words, and the link when it is the admin's to pass on.
fn welcomed_notice(who: &str, w: &Welcomed) -> (String, String) {
    let until = when(w.expires_at);
    if w.mailed {
        (format!("We emailed {who} a link to choose a password. It works once, until {until}."), String::new())
    } else {
        (
            format!(
                "Switchboard sends no email here: pass {who} this link to choose a password. It works once, until {until}."
            ),
            w.url.clone(),
        )
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AddForm {
    /// The session's CSRF token, checked by the gate (`origin.rs`).
    #[serde(default, rename = "csrf")]
    _csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
    /// Another organization to add to (the operator's staff).
    #[serde(default)]
    organization: String,
}

async fn view_add_post(
    State(state): State<AppState>,
    user: PageUser,
    f: Result<Form<AddForm>, FormRejection>,
) -> Result<Response, PageError> {
    let f = form(f).map_err(|e| user.error(e))?;
    let actor = &user.authed.actor;
    let mut typed = Typed { email: f.email.clone(), name: f.name.clone(), role: f.role.clone(), ..Typed::default() };
    let other = actor.is_operator() && !f.organization.trim().is_empty();
    let role = match f.role.as_str() {
        "admin" => Ok(UserRole::Admin),
        "" if other => Ok(UserRole::Admin),
        "member" | "" if !actor.is_operator() || other => Ok(UserRole::Member),
        _ if actor.is_operator() => Ok(UserRole::Operator),
        _ => Err(ServiceError::Invalid("role: choose member or admin".into())),
    };
    let added = match role {
        Ok(role) => state.svc.add_person(actor, Some(&f.organization), &f.email, &f.name, role).await,
        Err(e) => Err(e),
    };
    match added {
        Ok(w) => {
            let (notice, link) = welcomed_notice(f.email.trim(), &w);
            let typed = Typed { role: if other { "admin" } else { "" }.into(), ..Typed::default() };
            let page = people_page(&state, &user, Some(&f.organization), notice, link, String::new(), typed).await?;
            Ok(render(&page))
        }
        Err(e @ (ServiceError::Invalid(_) | ServiceError::Conflict(_))) => {
            let message = e.to_string();
            let mut error = String::new();
            let said = |m: &str| capitalized(&for_people(m));
            match message.split_once(": ") {
                Some(("email", m)) => typed.email_error = said(m),
                Some(("name", m)) => typed.name_error = said(m),
                Some(("role", m)) => typed.role_error = said(m),
                _ => error = said(&message),
            }
            let page =
                people_page(&state, &user, Some(&f.organization), String::new(), String::new(), error, typed).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response())
        }
        Err(e) => Err(user.error(e)),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PersonForm {
    #[serde(default, rename = "csrf")]
    _csrf: String,
    /// `yes` once the visitor has seen what removing does ([`Confirm`]).
    #[serde(default)]
    confirm: Option<String>,
    /// Another organization's person (the operator's staff sending a new link).
    #[serde(default)]
    organization: String,
}

async fn view_resend_post(
    State(state): State<AppState>,
    user: PageUser,
    Path(id): Path<String>,
    f: Result<Form<PersonForm>, FormRejection>,
) -> Result<Response, PageError> {
    let f = form(f).map_err(|e| user.error(e))?;
    let w = state.svc.resend_welcome(&user.authed.actor, &id).await.map_err(|e| user.error(e))?;
    let page = people_page(
        &state,
        &user,
        Some(&f.organization),
        String::new(),
        String::new(),
        String::new(),
        Typed::default(),
    )
    .await?;
    let who = page.people.iter().find(|p| p.id == w.user_id).map(|p| p.email.clone());
    let (notice, link) = welcomed_notice(who.as_deref().unwrap_or("them"), &w);
    let page = PeoplePage { notice: format!("A new link replaces the old one. {notice}"), link, ..page };
    Ok(render(&page))
}

async fn view_remove_post(
    State(state): State<AppState>,
    user: PageUser,
    Path(id): Path<String>,
    f: Result<Form<PersonForm>, FormRejection>,
) -> Result<Response, PageError> {
    let f = form(f).map_err(|e| user.error(e))?;
    let actor = &user.authed.actor;
    if !confirmed(&f.confirm) {
        let all = state.svc.people(actor, None).await.map_err(|e| user.error(e))?;
        let Some(p) = all.into_iter().find(|p| p.id == id) else {
            return Err(user.error(ServiceError::NotFound(format!("person `{id}` of your organization"))));
        };
        return Ok(render(&Confirm {
            title: "Remove?".into(),
            user: Some(user.header.clone()),
            heading: format!("Remove {} ({})?", p.name, p.email),
            effect: format!(
                "{} can no longer log in for {}: their sessions end now, and their password is \
                 forgotten. The channels, offers and policy they made stay, and the audit log keeps \
                 what they did. An admin can add them again later; they then choose a new password.",
                p.email, user.header.organization
            ),
            losing: Vec::new(),
            note: String::new(),
            action: format!("/people/{id}/remove"),
            csrf: user.authed.csrf.clone(),
            fields: Vec::new(),
            button: "Remove".into(),
            back: "/people".into(),
            cancel: "Keep them".into(),
        }));
    }
    state.svc.remove_person(actor, &id).await.map_err(|e| user.error(e))?;
    Ok(Redirect::to("/people?done=removed").into_response())
}

#[derive(Template)]
#[template(path = "welcome.html")]
struct WelcomePage {
    title: String,
    user: Option<HeaderUser>,
    /// Who the link is for; `None`: the link does not work.
    person: Option<crate::service::WelcomeView>,
    error: String,
    csrf: String,
    token: String,
}

async fn welcome_page(
    state: &AppState,
    token: &str,
    error: String,
    form_token: &FormToken,
) -> (StatusCode, WelcomePage) {
    let person = state.svc.welcome(token).await.ok();
    let status = if person.is_some() { StatusCode::OK } else { StatusCode::NOT_FOUND };
    let page = WelcomePage {
        title: "Welcome".into(),
        user: None,
        person,
        error,
        csrf: form_token.value().into(),
        token: token.into(),
    };
    (status, page)
}

async fn view_welcome_get(State(state): State<AppState>, form_token: FormToken, Path(token): Path<String>) -> Response {
    let (status, page) = welcome_page(&state, &token, String::new(), &form_token).await;
    let mut response = (status, render(&page)).into_response();
    form_token.set_cookie(&mut response);
    response
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PasswordForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    again: String,
    /// Their name as they write it (what whoever added them typed, until they change it).
    #[serde(default)]
    name: String,
}

async fn view_welcome_post(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    form_token: FormToken,
    Path(token): Path<String>,
    f: Result<Form<PasswordForm>, FormRejection>,
) -> Result<Response, PageError> {
    let f = form(f)?;
    state.token_limit.check("token", ip)?;
    let again = async |status: StatusCode, error: String| {
        let (found, page) = welcome_page(&state, &token, error, &form_token).await;
        let mut response = (if found == StatusCode::OK { status } else { found }, render(&page)).into_response();
        form_token.set_cookie(&mut response);
        response
    };
    if form_token.check(&f.csrf).is_err() {
        let error = "This form had expired or was sent from another site. Please choose your password again.";
        return Ok(again(StatusCode::FORBIDDEN, error.into()).await);
    }
    if f.password != f.again {
        return Ok(again(
            StatusCode::UNPROCESSABLE_ENTITY,
            "The two passwords differ: type the same one twice.".into(),
        )
        .await);
    }
    match state.svc.choose_password(&token, &f.password, &f.name, &ip.to_string()).await {
        Ok(actor) => {
            let s = state.svc.session_for(actor, state.session_ttl_ms()).await.map_err(AppError::from)?;
            let mut response = Redirect::to("/").into_response();
            state.set_session_cookie(&mut response, Some(&s));
            Ok(response)
        }
        Err(ServiceError::Invalid(m)) => {
            let m = m.strip_prefix("password: ").or_else(|| m.strip_prefix("name: ")).unwrap_or(&m);
            Ok(again(StatusCode::UNPROCESSABLE_ENTITY, capitalized(m)).await)
        }
        Err(ServiceError::NotFound(_)) => Ok(again(StatusCode::NOT_FOUND, String::new()).await),
        Err(e) => Err(AppError::from(e).into()),
    }
}
