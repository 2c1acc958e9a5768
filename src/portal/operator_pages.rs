//! The NOC's pages (issue: the portal journey, item 9): its home lists what needs
//! attention first (failed orders, orders stuck in flight), then every switch with its
//! drift, then the latest orders; an order's page shows what went to which switch, its
//! timings, attempts and error; a switch's page what it lacks or holds too much and the
//! commands that would repair it; the audit page filters and pages the log. Channels are
//! named by name everywhere, with their ID beside it.

use std::collections::HashMap;

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::get;

use crate::model::id::OrderId;
use crate::service::{AuditQuery, OrderView};

use super::AppState;
use super::page::{HeaderUser, PageError, PageUser, render};
use super::param::PathId;
use super::words::{urlencode, when_opt};
use crate::model::utc_minute as when;

/// The NOC's routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/operator", get(view_operator_get))
        .route("/operator/orders/{id}", get(view_order_get))
        .route("/operator/switches/{name}", get(view_switch_get))
        .route("/operator/audit", get(view_audit_get))
}

/// An order in flight for longer than this is stuck (a worker should have finished it).
const STUCK_AFTER_MS: i64 = 5 * 60 * 1000;
/// How many of the latest orders the home page lists.
const LATEST_ORDERS: usize = 200;
/// Audit records per page.
const AUDIT_PAGE: i64 = 100;

struct SwitchRow {
    name: String,
    driver: String,
    vlans: usize,
    items: usize,
    /// `ok`, `drift` or `unchecked`: the row's colour.
    class: &'static str,
    drift: String,
}

struct OrderRow {
    id: String,
    channel_id: String,
    channel: String,
    action: String,
    status: String,
    created: String,
    finished: String,
    attempts: i64,
    instance: String,
    reason: String,
}

/// A remote switch's agent, as the home and switch pages show it.
struct AgentRow {
    switch: String,
    address: String,
    /// `ok`, `warn` (a transaction open) or `bad` (no answer): the row's colour.
    class: &'static str,
    /// What it said, in words.
    said: String,
}

fn agent_row(a: crate::service::AgentView) -> AgentRow {
    let (class, said) = match (a.reachable, &a.open) {
        (false, _) => ("bad", format!("not answering: {}", a.error.unwrap_or_default())),
        (true, Some(o)) => (
            "warn",
            format!(
                "version {}, bridge {}; transaction {} open ({} change{}, held by {}, {}), rolled back in {} s unless committed",
                a.version.unwrap_or_default(),
                a.bridge.unwrap_or_default(),
                o.transaction,
                o.changes,
                if o.changes == 1 { "" } else { "s" },
                o.holder,
                o.client,
                o.expires_in_ms.div_ceil(1000)
            ),
        ),
        (true, None) => (
            "ok",
            format!(
                "version {}, bridge {}; no transaction open",
                a.version.unwrap_or_default(),
                a.bridge.unwrap_or_default()
            ),
        ),
    };
    AgentRow { switch: a.switch, address: a.address, class, said }
}

/// An organization nobody can log in for yet.
struct WaitingRow {
    name: String,
    ports: i64,
    /// Who may claim it ("" for nobody).
    contacts: String,
    pending: i64,
    /// Its people page, where the operator adds its first admin.
    people: String,
}

#[derive(Template)]
#[template(path = "operator.html")]
struct OperatorPage {
    title: String,
    user: Option<HeaderUser>,
    attention: Vec<OrderRow>,
    waiting: Vec<WaitingRow>,
    switches: Vec<SwitchRow>,
    /// The remote switches' agents (none when the topology has no remote switch).
    agents: Vec<AgentRow>,
    orders: Vec<OrderRow>,
    more_orders: usize,
}

/// Whether order `o` is stuck at `now`: still in flight long after it was opened.
fn stuck(o: &OrderView, now: i64) -> bool {
    matches!(o.status.as_str(), "pending" | "planning" | "applying") && now - o.created_at > STUCK_AFTER_MS
}

fn order_row(o: &OrderView, names: &HashMap<String, String>) -> OrderRow {
    OrderRow {
        id: o.id.to_string(),
        channel_id: o.channel_id.to_string(),
        channel: names.get(o.channel_id.as_str()).cloned().unwrap_or_else(|| o.channel_id.to_string()),
        action: o.action.clone(),
        status: o.status.clone(),
        created: when(o.created_at),
        finished: when_opt(o.finished_at),
        attempts: o.attempts,
        instance: o.claimed_by.clone().unwrap_or_default(),
        reason: o.reason.clone(),
    }
}

/// Channel names by ID, for the orders' rows.
async fn channel_names(
    state: &AppState,
    user: &PageUser,
    orders: &[&OrderView],
) -> Result<HashMap<String, String>, PageError> {
    let ids: Vec<&str> = orders.iter().map(|o| o.channel_id.as_str()).collect();
    state.svc.object_names(&user.authed.actor, &ids).await.map_err(|e| user.error(e))
}

async fn view_operator_get(State(state): State<AppState>, user: PageUser) -> Result<Response, PageError> {
    let actor = &user.authed.actor;
    let drift = state.svc.drift(actor).await.map_err(|e| user.error(e))?;
    let agents = state.svc.agents(actor).await.map_err(|e| user.error(e))?;
    let orders = state.svc.orders(actor, None).await.map_err(|e| user.error(e))?;
    let waiting = state.svc.waiting_organizations(actor).await.map_err(|e| user.error(e))?;
    let now = state.svc.clock.now();
    let mut attention: Vec<&OrderView> = orders.iter().filter(|o| o.status == "failed" || stuck(o, now)).collect();
    let shown: Vec<&OrderView> = attention.iter().copied().chain(orders.iter().take(LATEST_ORDERS)).collect();
    let names = channel_names(&state, &user, &shown).await?;
    attention.sort_by_key(|o| (o.status != "failed", std::cmp::Reverse(o.created_at)));
    let latest: Vec<OrderRow> = orders.iter().take(LATEST_ORDERS).map(|o| order_row(o, &names)).collect();
    Ok(render(&OperatorPage {
        title: "Operator".into(),
        user: Some(user.header.clone()),
        attention: attention.into_iter().map(|o| order_row(o, &names)).collect(),
        waiting: waiting
            .into_iter()
            .map(|w| WaitingRow {
                people: format!(
                    "/people?organization={}",
                    form_urlencoded::byte_serialize(w.name.as_bytes()).collect::<String>()
                ),
                name: w.name,
                ports: w.ports,
                contacts: w.contacts.join(", "),
                pending: w.pending,
            })
            .collect(),
        agents: agents.into_iter().map(agent_row).collect(),
        switches: drift
            .into_iter()
            .map(|d| SwitchRow {
                class: match d.status.as_str() {
                    "in sync" => "ok",
                    "drift" => "drift",
                    _ => "unchecked",
                },
                drift: match d.status.as_str() {
                    "drift" => format!("drift: {} missing, {} unexpected", d.missing, d.unexpected),
                    "not checked here" => "read by the switchboard drift command".into(),
                    _ => d.status,
                },
                name: d.switch,
                driver: d.driver,
                vlans: d.vlans,
                items: d.items,
            })
            .collect(),
        more_orders: orders.len().saturating_sub(LATEST_ORDERS),
        orders: latest,
    }))
}

#[derive(Template)]
#[template(path = "operator_order.html")]
struct OrderPage {
    title: String,
    user: Option<HeaderUser>,
    order: OrderRow,
    planning: String,
    applying: String,
    /// The switches the order was applied to.
    switches: Vec<String>,
    /// The switch that failed, when one did.
    failed_switch: String,
    changes: String,
    /// What each switch took.
    took: Vec<SwitchTook>,
    batch: String,
    /// The detail as stored, when it is not what this page reads.
    raw: String,
}

/// What one switch took of an order.
struct SwitchTook {
    switch: String,
    changes: u64,
    /// How long the switch's apply took ("" when not recorded).
    time: String,
    commands: Vec<String>,
}

/// A duration in microseconds, for people.
fn took_time(micros: u64) -> String {
    match micros {
        0..1_000 => format!("{micros} µs"),
        1_000..10_000_000 => format!("{:.1} ms", micros as f64 / 1_000.0),
        _ => format!("{:.1} s", micros as f64 / 1_000_000.0),
    }
}

/// What each switch took, from an order's detail (older orders kept one list of commands).
fn switches_took(detail: &serde_json::Value) -> Vec<SwitchTook> {
    let strings = |v: &serde_json::Value| -> Vec<String> {
        v.as_array().into_iter().flatten().filter_map(|c| c.as_str().map(String::from)).collect()
    };
    if let Some(list) = detail["per_switch"].as_array() {
        return list
            .iter()
            .map(|t| SwitchTook {
                switch: t["switch"].as_str().unwrap_or_default().to_string(),
                changes: t["changes"].as_u64().unwrap_or(0),
                time: t["micros"].as_u64().map(took_time).unwrap_or_default(),
                commands: strings(&t["commands"]),
            })
            .collect();
    }
    let commands = strings(&detail["commands"]);
    if commands.is_empty() {
        return Vec::new();
    }
    let changes = detail["changes"].as_u64().unwrap_or(0);
    vec![SwitchTook { switch: String::new(), changes, time: String::new(), commands }]
}

async fn view_order_get(
    State(state): State<AppState>,
    user: PageUser,
    PathId(id): PathId<OrderId>,
) -> Result<Response, PageError> {
    if !user.authed.actor.is_operator() {
        let no = crate::service::ServiceError::Forbidden(
            "order pages are the operator's staff's: your channel's page lists its orders".into(),
        );
        return Err(user.error(no));
    }
    let o = state.svc.order(&user.authed.actor, &id).await.map_err(|e| user.error(e))?;
    let names = channel_names(&state, &user, &[&o]).await?;
    let detail: serde_json::Value = serde_json::from_str(&o.detail).unwrap_or(serde_json::Value::Null);
    let batch = match &detail["batch"] {
        serde_json::Value::Object(b) => format!(
            "applied in one batch of {} orders and {} changes",
            b.get("orders").and_then(|v| v.as_u64()).unwrap_or(0),
            b.get("changes").and_then(|v| v.as_u64()).unwrap_or(0)
        ),
        _ => String::new(),
    };
    let readable =
        detail.is_object() && (["per_switch", "commands", "switches"].iter().any(|k| detail.get(k).is_some()));
    Ok(render(&OrderPage {
        title: format!("Order {}", o.id),
        user: Some(user.header.clone()),
        planning: when_opt(o.planning_at),
        applying: when_opt(o.applying_at),
        switches: detail["switches"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(String::from))
            .collect(),
        failed_switch: detail["failed_switch"].as_str().unwrap_or_default().to_string(),
        changes: detail["changes"].as_u64().map(|n| n.to_string()).unwrap_or_default(),
        took: switches_took(&detail),
        batch,
        raw: if readable || o.detail.trim().is_empty() { String::new() } else { o.detail.clone() },
        order: order_row(&o, &names),
    }))
}

#[derive(Template)]
#[template(path = "operator_switch.html")]
struct SwitchPage {
    title: String,
    user: Option<HeaderUser>,
    repair: crate::service::SwitchRepair,
    view: crate::service::SwitchView,
    /// Its agent, when it is a remote switch.
    agent: Option<AgentRow>,
}

async fn view_switch_get(
    State(state): State<AppState>,
    user: PageUser,
    Path(name): Path<String>,
) -> Result<Response, PageError> {
    let repair = state.svc.switch_repair(&user.authed.actor, &name).await.map_err(|e| user.error(e))?;
    let view = state.svc.switch_view(&user.authed.actor, &name).await.map_err(|e| user.error(e))?;
    let agent = if repair.driver == "remote" {
        let agents = state.svc.agents(&user.authed.actor).await.map_err(|e| user.error(e))?;
        agents.into_iter().find(|a| a.switch == name).map(agent_row)
    } else {
        None
    };
    Ok(render(&SwitchPage {
        title: format!("Switch {}", repair.switch),
        user: Some(user.header.clone()),
        repair,
        view,
        agent,
    }))
}

struct AuditRow {
    at: String,
    actor: String,
    source: String,
    action: String,
    /// The object, and where its page is ("" for none).
    object: String,
    object_link: String,
    /// The detail as labelled values; `raw` when it is not a JSON object.
    detail: Vec<(String, String)>,
    raw: String,
}

/// Where the page of an object named in the audit log is, and its name for people
/// (`names`: names by ID).
fn object_shown(object: &str, names: &HashMap<String, String>) -> (String, String) {
    let link = if object.starts_with("ch-") {
        format!("/channels/{object}")
    } else if object.starts_with("ord-") {
        format!("/operator/orders/{object}")
    } else {
        String::new()
    };
    match names.get(object) {
        Some(name) => (format!("{name} ({object})"), link),
        None => (object.to_string(), link),
    }
}

/// An audit record's detail as labelled values in words: keys as labels ("vlan_freed":
/// "VLAN freed"), objects by name, amounts of money in `currency`, times as dates, kinds and
/// price types in words, yes/no for booleans, lists joined.
fn detail_words(detail: &str, names: &HashMap<String, String>, currency: &str) -> Result<Vec<(String, String)>, ()> {
    let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(detail) else { return Err(()) };
    Ok(map.iter().map(|(k, v)| labelled(k, v, names, currency)).collect())
}

/// One detail `key: v` as a label and a value in words ([`detail_words`]).
fn labelled(key: &str, v: &serde_json::Value, names: &HashMap<String, String>, currency: &str) -> (String, String) {
    use serde_json::Value;
    fn label(key: &str) -> String {
        let words = format!(" {} ", key.replace('_', " "));
        let words = [(" vlan", " VLAN"), (" ids ", " IDs "), (" mbps ", " Mbps "), (" gb ", " GB "), (" mb ", " MB ")]
            .iter()
            .fold(words, |w, (from, to)| w.replace(from, to));
        super::words::capitalized(words.trim())
    }
    let words = |s: &str| -> String {
        if let Some(name) = names.get(s) {
            return format!("{name} ({s})");
        }
        if let Ok(kind) = s.parse::<crate::model::ChannelKind>() {
            return kind.label().to_string();
        }
        s.to_string()
    };
    // Amounts of money are kept in cents, times as milliseconds since the epoch.
    if let (Some(stem), Some(n)) = (key.strip_suffix("_cents"), v.as_i64()) {
        return (label(stem), crate::orchestrator::policy::amount(n, currency));
    }
    if let Some(stem) = key.strip_suffix("_at").or_else(|| key.strip_suffix("_ms")) {
        match v {
            Value::Number(n) => return (label(stem), n.as_i64().map(when).unwrap_or_else(|| n.to_string())),
            Value::Null => return (label(stem), "none".into()),
            _ => {}
        }
    }
    if key == "price_type" {
        let price = match v.as_str() {
            Some("flat_monthly") => "per month",
            Some("per_hour") => "per hour",
            Some("per_gb") => "per GB",
            Some("per_mbps") => "per Mbps per month",
            _ => "free",
        };
        return ("Priced".into(), price.into());
    }
    let value = match v {
        Value::String(s) => words(s),
        Value::Bool(b) => if *b { "yes" } else { "no" }.into(),
        Value::Null => "none".into(),
        Value::Array(a) if a.is_empty() => "none".into(),
        Value::Array(a) => a.iter().map(|x| labelled("", x, names, currency).1).collect::<Vec<_>>().join(", "),
        Value::Object(o) => o
            .iter()
            .map(|(k, x)| {
                let (l, x) = labelled(k, x, names, currency);
                format!("{} {x}", l.to_lowercase())
            })
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    };
    (label(key), value)
}

/// The IDs an audit record names that have names (its object, string values of its
/// detail): channels, organizations, users, usage models.
fn named_ids_in(object: &str, detail: &str) -> Vec<String> {
    let mut ids = vec![object.to_string()];
    if let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(detail) {
        ids.extend(map.values().filter_map(|v| v.as_str().map(String::from)));
    }
    ids.retain(|i| ["ch-", "org-", "usr-", "um-"].iter().any(|p| i.starts_with(p)));
    ids
}

#[derive(Template)]
#[template(path = "operator_audit.html")]
struct AuditPage {
    title: String,
    user: Option<HeaderUser>,
    q: AuditQuery,
    rows: Vec<AuditRow>,
    /// The query strings of the previous and next pages, when there are such pages.
    previous: String,
    next: String,
}

/// `q` on page `page`, as a query string.
fn audit_link(q: &AuditQuery, page: u32) -> String {
    let enc = urlencode;
    format!("?action={}&actor={}&text={}&page={page}", enc(&q.action), enc(&q.actor), enc(&q.text))
}

async fn view_audit_get(
    State(state): State<AppState>,
    user: PageUser,
    q: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, PageError> {
    if !user.authed.actor.is_operator() {
        let no = crate::service::ServiceError::Forbidden("the audit page is the operator's staff's".into());
        return Err(user.error(no));
    }
    let Query(q) = q.map_err(|e| user.error(super::error::AppError::BadRequest(format!("the filter: {e}"))))?;
    let (entries, more) =
        state.svc.audit_search(&user.authed.actor, &q, AUDIT_PAGE).await.map_err(|e| user.error(e))?;
    let ids: Vec<String> = entries.iter().flat_map(|e| named_ids_in(&e.object, &e.detail)).collect();
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    let names = state.svc.object_names(&user.authed.actor, &ids).await.map_err(|e| user.error(e))?;
    Ok(render(&AuditPage {
        title: "Audit log".into(),
        user: Some(user.header.clone()),
        rows: entries
            .into_iter()
            .map(|e| {
                let (object, object_link) = object_shown(&e.object, &names);
                let (detail, raw) = match detail_words(&e.detail, &names, &state.svc.config.currency) {
                    Ok(d) => (d, String::new()),
                    Err(()) => (Vec::new(), e.detail.clone()),
                };
                AuditRow {
                    at: when(e.at),
                    actor: e.actor,
                    source: e.source,
                    action: e.action,
                    object,
                    object_link,
                    detail,
                    raw,
                }
            })
            .collect(),
        previous: if q.page > 0 { audit_link(&q, q.page - 1) } else { String::new() },
        next: if more { audit_link(&q, q.page + 1) } else { String::new() },
        q,
    }))
}
