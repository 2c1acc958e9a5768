//! The JSON API over real HTTP: the server on 127.0.0.1:0 with its worker, on SQLite and
//! PostgreSQL, driven by reqwest clients that keep cookies like browsers do.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use switchboard::portal::{AppState, router};
use switchboard::service::Worker;

use crate::world::{Backend, World, world};

/// A running server and the world behind it.
pub struct Portal {
    pub base: String,
    pub w: World,
    stop: tokio::sync::watch::Sender<bool>,
    /// Where mail goes, for a server started by [`Portal::start_mailing`].
    pub outbox: Option<tempfile::TempDir>,
}

impl Drop for Portal {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

impl Portal {
    pub async fn start(backend: Backend) -> Portal {
        Portal::start_with(backend, None).await
    }

    /// A server whose invitations go through `mailer`.
    pub async fn start_with(backend: Backend, mailer: Option<switchboard::mail::Mailer>) -> Portal {
        Portal::start_configured(backend, mailer, false).await
    }

    /// A server that mails as `serve` does without SMTP: to an outbox folder ([`Portal::outbox`]).
    pub async fn start_mailing(backend: Backend) -> Portal {
        let outbox = tempfile::tempdir().unwrap();
        let mailer =
            switchboard::mail::Mailer::outbox(outbox.path().to_path_buf(), "Switchboard <noreply@sb.example>").unwrap();
        let mut p = Portal::start_with(backend, Some(mailer)).await;
        p.outbox = Some(outbox);
        p
    }

    /// A server without rate limits on logins and tokens, for a test that sends more than a
    /// person could and must get the same answers from two servers that run at their own pace.
    pub async fn start_unlimited(backend: Backend) -> Portal {
        Portal::start_configured(backend, None, true).await
    }

    async fn start_configured(backend: Backend, mailer: Option<switchboard::mail::Mailer>, unlimited: bool) -> Portal {
        switchboard::tls::install_crypto();
        let mut w = world(backend).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // Invitation links point at this server.
        let config = switchboard::service::Config { base_url: format!("http://{addr}"), ..(*w.svc.config).clone() };
        w.svc = switchboard::service::Service::new(w.svc.db.clone(), config);
        if let Some(m) = mailer {
            w.svc = w.svc.clone().with_mailer(m);
        }
        let (stop, rx) = tokio::sync::watch::channel(false);
        // The worker runs as `serve` runs it.
        let worker = Worker { service: w.svc.clone(), sweep_every: Duration::from_secs(3600) };
        worker.spawn_beside_requests(rx.clone()).unwrap();
        let mut state = AppState::new(w.svc.clone());
        if unlimited {
            let none =
                || std::sync::Arc::new(switchboard::portal::auth::RateLimiter::new(u32::MAX, Duration::from_nanos(1)));
            (state.login_limit, state.token_limit) = (none(), none());
        }
        let app = router(state);
        let mut srx = rx;
        tokio::spawn(async move {
            axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
                .with_graceful_shutdown(async move {
                    let _ = srx.changed().await;
                })
                .await
                .unwrap()
        });
        Portal { base: format!("http://{addr}"), w, stop, outbox: None }
    }

    /// A client with its own cookie jar, not logged in.
    pub fn anonymous(&self) -> Client {
        Client {
            base: self.base.clone(),
            http: reqwest::Client::builder().cookie_store(true).build().unwrap(),
            csrf: String::new(),
        }
    }

    /// A client logged in as `email`.
    pub async fn login(&self, email: &str, password: &str) -> Client {
        let mut c = self.anonymous();
        let (status, body) = c.post("/api/v1/session", json!({"email": email, "password": password})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        c.csrf = body["csrf"].as_str().unwrap().to_string();
        c
    }
}

pub struct Client {
    base: String,
    http: reqwest::Client,
    pub csrf: String,
}

impl Client {
    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        let r = self.http.get(format!("{}{path}", self.base)).send().await.unwrap();
        answer(r).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(reqwest::Method::POST, path, body).await
    }

    pub async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(reqwest::Method::PUT, path, body).await
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: Value) -> (StatusCode, Value) {
        let r = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("x-csrf-token", &self.csrf)
            .json(&body)
            .send()
            .await
            .unwrap();
        answer(r).await
    }

    /// A POST with no body at all.
    pub async fn post_nothing(&self, path: &str) -> (StatusCode, Value) {
        let r = self.http.post(format!("{}{path}", self.base)).header("x-csrf-token", &self.csrf).send().await.unwrap();
        answer(r).await
    }

    pub async fn delete(&self, path: &str) -> (StatusCode, Value) {
        let r =
            self.http.delete(format!("{}{path}", self.base)).header("x-csrf-token", &self.csrf).send().await.unwrap();
        answer(r).await
    }

    pub async fn raw(&self) -> &reqwest::Client {
        &self.http
    }
}

async fn answer(r: reqwest::Response) -> (StatusCode, Value) {
    let status = r.status();
    let text = r.text().await.unwrap();
    let value = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
    };
    (status, value)
}

/// Asserts a JSON error with `status` and `code`.
#[track_caller]
fn refused(got: (StatusCode, Value), status: StatusCode, code: &str) {
    assert_eq!(got.0, status, "{}", got.1);
    assert_eq!(got.1["code"], code, "{}", got.1);
    assert!(got.1["message"].as_str().is_some_and(|m| !m.is_empty()), "{}", got.1);
}

pub async fn wait_until(what: &str, mut f: impl AsyncFnMut() -> bool) {
    let start = Instant::now();
    while !f().await {
        assert!(start.elapsed() < Duration::from_secs(30), "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub fn new_channel(p: &Portal, name: &str, kind: &str, interface: &str) -> Value {
    json!({"name": name, "kind": kind, "bandwidth_mbps": 10, "class": "standard",
           "usage_model_id": p.w.free, "interface": interface})
}

/// A live E-Line through the API: `acme`'s `name` on acme-1a, offered to globex's admin,
/// accepted with globex-8a, and waited for until active. Returns the channel's ID, the
/// invitation's token and the acceptance's answer.
pub async fn live_p2p(p: &Portal, acme: &Client, name: &str) -> (String, String, Value) {
    let (_, ch) = acme.post("/api/v1/channels", new_channel(p, name, "p2p", "acme-1a")).await;
    let id = ch["id"].as_str().unwrap().to_string();
    let (_, offer) = acme
        .post(&format!("/api/v1/channels/{id}/offers"), json!({"invitees": [{"email": "admin@globex.example"}]}))
        .await;
    let token = offer["invitations"][0]["token"].as_str().unwrap().to_string();
    let globex = p.login("admin@globex.example", "password-1").await;
    let (status, accepted) =
        globex.post(&format!("/api/v1/invitations/{token}/accept"), json!({"interface": "globex-8a"})).await;
    assert_eq!(status, StatusCode::OK, "{accepted}");
    wait_until("the channel to go live", async || {
        acme.get(&format!("/api/v1/channels/{id}")).await.1["state"] == "active"
    })
    .await;
    (id, token, accepted)
}

/// SPEC §2 through the API: create a p2mp channel, offer it to two organizations, one
/// accepts (the channel goes live with its VLANs), one declines, a stranger is refused.
async fn the_whole_story(b: Backend) {
    let p = Portal::start(b).await;
    let acme = p.login("admin@acme.example", "password-1").await;
    let (status, ch) = acme.post("/api/v1/channels", new_channel(&p, "tree", "p2mp", "acme-1a")).await;
    assert_eq!(status, StatusCode::CREATED, "{ch}");
    assert_eq!(ch["state"], "draft");
    let id = ch["id"].as_str().unwrap().to_string();

    let (status, offer) = acme
        .post(
            &format!("/api/v1/channels/{id}/offers"),
            json!({"description": "E-Tree for the branches", "invitees": [
                {"email": "admin@globex.example", "name": "Globex admin"},
                {"organization": "initech"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{offer}");
    let globex_token = offer["invitations"][0]["token"].as_str().unwrap().to_string();
    let initech_token = offer["invitations"][1]["token"].as_str().unwrap().to_string();
    assert!(offer["invitations"][0]["url"].as_str().unwrap().ends_with(&globex_token));

    // The invitee opens its link before logging in: the offer, the terms, a login prompt.
    let anon = p.anonymous();
    let (status, view) = anon.get(&format!("/api/v1/invitations/{globex_token}")).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["description"], "E-Tree for the branches");
    assert_eq!(view["has_account"], true);
    assert!(!view["terms"].as_array().unwrap().is_empty());

    // A stranger, logged in, with globex's link: access denied. A forged token too.
    let stark = p.login("admin@stark.example", "password-1").await;
    refused(stark.get(&format!("/api/v1/invitations/{globex_token}")).await, StatusCode::FORBIDDEN, "access_denied");
    refused(
        stark.get(&format!("/api/v1/invitations/{}", "0".repeat(64))).await,
        StatusCode::FORBIDDEN,
        "access_denied",
    );
    refused(
        stark.post(&format!("/api/v1/invitations/{globex_token}/accept"), json!({"interface": "stark-2c"})).await,
        StatusCode::FORBIDDEN,
        "access_denied",
    );
    // And cannot see the channel at all.
    refused(stark.get(&format!("/api/v1/channels/{id}")).await, StatusCode::NOT_FOUND, "not_found");

    // globex accepts with its own interface; the order makes the channel live.
    let globex = p.login("admin@globex.example", "password-1").await;
    let (status, outcome) =
        globex.post(&format!("/api/v1/invitations/{globex_token}/accept"), json!({"interface": "globex-8a"})).await;
    assert_eq!(status, StatusCode::OK, "{outcome}");
    assert!(outcome["order_id"].is_string(), "{outcome}");
    wait_until("the channel to go live", async || {
        acme.get(&format!("/api/v1/channels/{id}")).await.1["state"] == "active"
    })
    .await;
    let (_, ch) = acme.get(&format!("/api/v1/channels/{id}")).await;
    assert!(ch["vlan"].as_u64().is_some_and(|v| (2..=4094).contains(&v)), "{ch}");
    assert!(ch["leaf_vlan"].as_u64().is_some(), "an E-Tree has a leaf VLAN: {ch}");
    assert!(ch["path"].as_array().unwrap().len() >= 2, "{ch}");
    // The invitee now sees the channel it takes part in.
    assert_eq!(globex.get(&format!("/api/v1/channels/{id}")).await.0, StatusCode::OK);
    // initech, yet to answer, sees the offer and not the channel's members, their ports,
    // models and bandwidths, nor the switches of its path: logged out or in.
    let initech = p.login("admin@initech.example", "password-1").await;
    for (who, client) in [("anonymous", &anon), ("initech", &initech)] {
        let (status, view) = client.get(&format!("/api/v1/invitations/{initech_token}")).await;
        assert_eq!(status, StatusCode::OK, "{who}: {view}");
        assert_eq!(view["channel"]["attachments"], json!([]), "{who}: {view}");
        assert_eq!(view["channel"]["path"], json!([]), "{who}: {view}");
        let text = view.to_string();
        for member in ["acme-1a", "globex-8a", "globex"] {
            assert!(!text.contains(&format!("\"{member}\"")), "{who} is told of {member}: {text}");
        }
        assert_eq!(view["offered_by"], "acme", "who offers it is part of the offer");
    }

    // initech declines; live pages see the change (their fingerprint moves).
    let before = p.w.svc.channel_fingerprint(&p.w.acme, &id.parse().unwrap()).await.unwrap();
    assert_eq!(
        before,
        p.w.svc.channel_fingerprint(&p.w.acme, &id.parse().unwrap()).await.unwrap(),
        "stable while nothing happens"
    );
    let initech = p.login("admin@initech.example", "password-1").await;
    let (status, body) = initech.post(&format!("/api/v1/invitations/{initech_token}/decline"), json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_ne!(before, p.w.svc.channel_fingerprint(&p.w.acme, &id.parse().unwrap()).await.unwrap());

    // The creator watches its invitees' status.
    let (status, offers) = acme.get(&format!("/api/v1/channels/{id}/offers")).await;
    assert_eq!(status, StatusCode::OK, "{offers}");
    let invitees = offers[0]["invitees"].as_array().unwrap();
    assert_eq!(invitees[0]["accepted"], true);
    assert!(invitees[0]["accessed_at"].is_i64());
    assert_eq!(invitees[1]["declined"], true);
    // Only the creator sees them: the invitee sees the channel but no offers.
    assert_eq!(globex.get(&format!("/api/v1/channels/{id}/offers")).await, (StatusCode::OK, json!([])));

    // Orders: the channel's for its parties, all of them for the operator.
    let (status, orders) = acme.get(&format!("/api/v1/channels/{id}/orders")).await;
    assert_eq!(status, StatusCode::OK, "{orders}");
    assert_eq!(orders[0]["status"], "done");
    let noc = p.login("noc@operator.example", "operator-pw").await;
    let (_, all) = noc.get("/api/v1/orders").await;
    assert_eq!(all.as_array().unwrap().len(), 1);
    let (status, audit) = noc.get(&format!("/api/v1/audit?object={id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(audit.as_array().unwrap().iter().any(|e| e["action"] == "channel.create"), "{audit}");
    // An organization reads only its own part of the audit log.
    let (status, own) = acme.get("/api/v1/audit").await;
    assert_eq!(status, StatusCode::OK);
    let acme_org = acme.get("/api/v1/me").await.1["user"]["organization_id"].clone();
    assert!(!own.as_array().unwrap().is_empty());
    assert!(own.as_array().unwrap().iter().all(|e| e["organization"] == acme_org), "{own}");
    // A page at a time: the log read two records by two is the log read whole.
    let own = own.as_array().unwrap().clone();
    let mut paged = Vec::new();
    for offset in (0..own.len()).step_by(2) {
        let (status, page) = acme.get(&format!("/api/v1/audit?limit=2&offset={offset}")).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert!(page.as_array().unwrap().len() <= 2, "{page}");
        paged.extend(page.as_array().unwrap().iter().cloned());
    }
    assert_eq!(paged, own);
    refused(acme.get("/api/v1/audit?limit=0").await, StatusCode::BAD_REQUEST, "invalid_input");

    // Terminate: an order takes it down and frees the VLANs. Its body is optional.
    refused(
        globex.post(&format!("/api/v1/channels/{id}/terminate"), json!({"reason": "not mine"})).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    let (status, t) = acme.post(&format!("/api/v1/channels/{id}/terminate"), json!({"reason": 7})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a body that is there is read: {t}");
    let (status, t) = acme.post_nothing(&format!("/api/v1/channels/{id}/terminate")).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{t}");
    wait_until("the channel to end", async || {
        acme.get(&format!("/api/v1/channels/{id}")).await.1["state"] == "terminated"
    })
    .await;
    assert!(p.w.svc.allocations().await.unwrap().is_empty());
}

/// Sessions, CSRF and the error shape, endpoint by endpoint.
async fn sessions_csrf_and_errors(b: Backend) {
    let p = Portal::start(b).await;
    let anon = p.anonymous();
    // Every API endpoint but login and the invitation page needs a session.
    for path in
        ["/api/v1/me", "/api/v1/interfaces", "/api/v1/catalog", "/api/v1/channels", "/api/v1/orders", "/api/v1/audit"]
    {
        refused(anon.get(path).await, StatusCode::UNAUTHORIZED, "unauthenticated");
    }
    refused(
        anon.post("/api/v1/channels", new_channel(&p, "x", "p2p", "acme-1a")).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
    refused(
        anon.post("/api/v1/session", json!({"email": "admin@acme.example", "password": "wrong"})).await,
        StatusCode::UNAUTHORIZED,
        "bad_credentials",
    );

    let mut acme = p.login("admin@acme.example", "password-1").await;
    let (status, me) = acme.get("/api/v1/me").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["user"]["email"], "admin@acme.example");
    assert_eq!(me["csrf"], acme.csrf.as_str());
    let (_, again) =
        p.anonymous().post("/api/v1/session", json!({"email": "admin@acme.example", "password": "password-1"})).await;
    let ends = me["expires_at"].as_i64().expect("when the session ends");
    assert!(ends > 0 && (ends - again["expires_at"].as_i64().unwrap()).abs() < 60_000, "{me} {again}");

    // Writes without the CSRF token, or with another one, are refused and store nothing.
    let good = std::mem::take(&mut acme.csrf);
    refused(acme.post("/api/v1/channels", new_channel(&p, "x", "p2p", "acme-1a")).await, StatusCode::FORBIDDEN, "csrf");
    acme.csrf = "f".repeat(64);
    refused(acme.post("/api/v1/channels", new_channel(&p, "x", "p2p", "acme-1a")).await, StatusCode::FORBIDDEN, "csrf");
    acme.csrf = good;
    assert_eq!(acme.get("/api/v1/channels").await.1.as_array().unwrap().len(), 0);

    // Bad input gets our JSON errors, saying what is wrong.
    let (status, body) = acme.post("/api/v1/channels", json!({"name": "x"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["code"], "invalid_input");
    assert!(body["message"].as_str().unwrap().contains("missing field"), "{body}");
    let r = acme
        .raw()
        .await
        .post(format!("{}/api/v1/channels", p.base))
        .header("x-csrf-token", &acme.csrf)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let nothing = acme.get("/api/v1/no/such/thing").await;
    assert_eq!(nothing.1["message"], "page or API path `/api/v1/no/such/thing` not found", "{}", nothing.1);
    refused(nothing, StatusCode::NOT_FOUND, "not_found");
    refused(acme.get("/api/v1/channels/ch-nope").await, StatusCode::NOT_FOUND, "not_found");
    // A refusal by the account rules: 422 with the rule's code.
    let mut big = new_channel(&p, "big", "p2p", "acme-1a");
    big["bandwidth_mbps"] = json!(5000);
    let (status, body) = acme.post("/api/v1/channels", big).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["code"].as_str().unwrap().starts_with("over_"), "{body}");
    // Someone else's interface.
    let (status, body) = acme.post("/api/v1/channels", new_channel(&p, "theirs", "p2p", "globex-8a")).await;
    assert!(status.is_client_error(), "{status} {body}");

    // Logging out ends the session: the cookie opens nothing any more.
    let (status, _) = acme.delete("/api/v1/session").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    refused(acme.get("/api/v1/me").await, StatusCode::UNAUTHORIZED, "unauthenticated");
}

on_both!(the_whole_story);

/// A thread's nice value from its /proc stat file (field 19, counted from after the name
/// in parentheses, which may hold spaces).
fn nice_in(stat_file: &std::path::Path) -> Option<i32> {
    let stat = std::fs::read_to_string(stat_file).ok()?;
    let after_name = &stat[stat.rfind(')')? + 2..];
    after_name.split(' ').nth(16)?.parse().ok()
}

/// The nice values of this process's threads named `name` (Linux truncates a thread's name
/// to 15 bytes).
fn nice_of_threads(name: &str) -> Vec<i32> {
    let short: String = name.chars().take(15).collect();
    let mut out = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap() {
        let dir = task.unwrap().path();
        match std::fs::read_to_string(dir.join("comm")) {
            Ok(comm) if comm.trim_end() == short => out.extend(nice_in(&dir.join("stat"))),
            _ => {}
        }
    }
    out
}

/// On SQLite the worker yields the CPU to requests: it runs on a thread of its own, at a
/// lower priority than the test's (the requests'), and orders still run to the end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_runs_beside_requests_at_a_lower_priority() {
    let p = Portal::start(Backend::Sqlite).await;
    let acme = p.login("admin@acme.example", "password-1").await;
    live_p2p(&p, &acme, "line").await;

    // This thread serves requests too (the server runs on the test's runtime).
    let ours = nice_in(std::path::Path::new("/proc/thread-self/stat")).unwrap();
    let worker = nice_of_threads("switchboard-worker");
    assert!(!worker.is_empty(), "the worker has a thread of its own");
    let lowered = (ours + switchboard::service::WORKER_NICENESS).min(19);
    assert!(worker.iter().all(|n| *n == lowered), "worker threads {worker:?}, request threads {ours}");
}

on_both!(sessions_csrf_and_errors);

/// Guessing passwords or tokens runs into the rate limit: 429 with Retry-After.
async fn login_and_token_guessing_is_rate_limited(b: Backend) {
    let p = Portal::start(b).await;
    let anon = p.anonymous();
    let mut limited = None;
    for i in 0..30 {
        let r = anon
            .raw()
            .await
            .post(format!("{}/api/v1/session", p.base))
            .json(&json!({"email": "admin@acme.example", "password": format!("guess-{i}")}))
            .send()
            .await
            .unwrap();
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = Some((i, r.headers().get("retry-after").cloned()));
            break;
        }
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let (after, retry) = limited.expect("30 wrong passwords in a row were never limited");
    assert_eq!(after, 10, "the first 10 attempts pass, the 11th is limited");
    assert!(retry.is_some_and(|v| v.to_str().unwrap().parse::<u64>().unwrap() >= 1));
    // Even the right password waits now.
    refused(
        anon.post("/api/v1/session", json!({"email": "admin@acme.example", "password": "password-1"})).await,
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
    );

    let mut codes = Vec::new();
    for i in 0..70 {
        codes.push(anon.get(&format!("/api/v1/invitations/{i:064x}")).await.0);
    }
    assert!(codes[..60].iter().all(|c| *c == StatusCode::FORBIDDEN), "{codes:?}");
    assert!(codes[60..].iter().all(|c| *c == StatusCode::TOO_MANY_REQUESTS), "{codes:?}");
}

on_both!(login_and_token_guessing_is_rate_limited);

/// The OpenAPI document describes every route, health and metrics answer.
async fn openapi_health_and_metrics(b: Backend) {
    let p = Portal::start(b).await;
    let anon = p.anonymous();
    let (status, doc) = anon.get("/api/v1/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    for path in [
        "/api/v1/session",
        "/api/v1/me",
        "/api/v1/interfaces",
        "/api/v1/catalog",
        "/api/v1/channels",
        "/api/v1/channels/{id}",
        "/api/v1/channels/{id}/offers",
        "/api/v1/channels/{id}/terminate",
        "/api/v1/channels/{id}/orders",
        "/api/v1/attachments/{id}",
        "/api/v1/invitations/{token}",
        "/api/v1/invitations/{token}/register",
        "/api/v1/invitations/{token}/accept",
        "/api/v1/invitations/{token}/decline",
        "/api/v1/orders",
        "/api/v1/orders/{id}",
        "/api/v1/audit",
    ] {
        assert!(paths.contains_key(path), "{path} missing from the OpenAPI document");
    }
    for schema in ["ChannelView", "NewChannel", "ErrorBody", "InvitationView", "OrderView"] {
        assert!(doc["components"]["schemas"][schema].is_object(), "schema {schema} missing");
    }
    // What a write makes links to what can be done with it, as OpenAPI spells links (so
    // schemathesis's stateful phase follows them), each to an operation that exists.
    let created = &doc["paths"]["/api/v1/channels"]["post"]["responses"]["201"]["links"];
    assert_eq!(created["GetChannel"]["operationId"], "get_channel", "{created}");
    assert_eq!(created["GetChannel"]["parameters"]["id"], "$response.body#/id", "{created}");
    let operations: Vec<&Value> =
        paths.values().flat_map(|ops| ops.as_object().unwrap().values()).map(|op| &op["operationId"]).collect();
    let mut links = 0;
    for ops in paths.values() {
        for op in ops.as_object().unwrap().values() {
            for response in op["responses"].as_object().into_iter().flat_map(|r| r.values()) {
                for (name, link) in response["links"].as_object().into_iter().flatten() {
                    assert!(link.get("operation_id").is_none(), "{name}: {link}");
                    assert!(operations.contains(&&link["operationId"]), "{name} links to no operation: {link}");
                    links += 1;
                }
            }
        }
    }
    assert!(links >= 12, "{links} links");
    // Every request body is strict: its schema says so, as the server refuses unknown fields.
    let mut bodies = 0;
    for (path, ops) in paths {
        for (method, op) in ops.as_object().unwrap() {
            let Some(schema) = op["requestBody"]["content"]["application/json"]["schema"]["$ref"].as_str() else {
                continue;
            };
            let name = schema.rsplit('/').next().unwrap();
            let body = &doc["components"]["schemas"][name];
            assert_eq!(body["additionalProperties"], false, "{method} {path}: {name} does not refuse unknown fields");
            bodies += 1;
        }
    }
    assert!(bodies >= 8, "request bodies found: {bodies}");

    assert_eq!(anon.get("/healthz").await, (StatusCode::OK, json!({"status": "ok"})));
    let acme = p.login("admin@acme.example", "password-1").await;
    acme.post("/api/v1/channels", new_channel(&p, "m", "p2p", "acme-1a")).await;
    let text = anon.raw().await.get(format!("{}/metrics", p.base)).send().await.unwrap().text().await.unwrap();
    assert!(
        text.contains(r#"switchboard_http_requests_total{method="POST",route="/api/v1/channels",status="201"} 1"#),
        "{text}"
    );
    assert!(text.contains(r#"switchboard_channels{status="draft"} 1"#), "{text}");
    assert!(text.contains("switchboard_http_request_duration_seconds_bucket"), "{text}");
}

on_both!(openapi_health_and_metrics);

/// Authorization, endpoint by endpoint: every operation of the OpenAPI document, called by a
/// stranger organization with the IDs and tokens of another organization's objects, answers
/// with a refusal, or with data that contains none of those objects. New endpoints are
/// covered as they appear in the document; one this test does not know fails it.
async fn strangers_get_nothing_anywhere(b: Backend) {
    let p = Portal::start(b).await;
    let acme = p.login("admin@acme.example", "password-1").await;
    let (id, token, accepted) = live_p2p(&p, &acme, "private").await;
    let order_id = accepted["order_id"].as_str().unwrap().to_string();
    let (_, ch) = acme.get(&format!("/api/v1/channels/{id}")).await;
    let attachment = ch["attachments"][0]["id"].as_str().unwrap().to_string();
    let acme_user = acme.get("/api/v1/me").await.1["user"]["id"].as_str().unwrap().to_string();
    let secrets = [id.as_str(), order_id.as_str(), attachment.as_str(), token.as_str(), acme_user.as_str()];

    let stark = p.login("admin@stark.example", "password-1").await;
    let (_, doc) = stark.get("/api/v1/openapi.json").await;
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let url = path
                .replace(
                    "{id}",
                    if path.contains("attachments") {
                        &attachment
                    } else if path.contains("people") {
                        &acme_user
                    } else if path.contains("orders") {
                        &order_id
                    } else {
                        &id
                    },
                )
                .replace("{token}", &token);
            let body = match (path.as_str(), method.as_str()) {
                (p, _) if p.ends_with("/accept") => json!({"interface": "stark-2c"}),
                (p, _) if p.ends_with("/offers") => json!({"invitees": [{"email": "x@stark.example"}]}),
                (p, _) if p.ends_with("/register") => {
                    json!({"email": "x@stark.example", "name": "x", "organization": "x", "password": "long enough pw"})
                }
                ("/api/v1/channels", _) => new_channel(&p, "mine", "p2p", "stark-2c"),
                ("/api/v1/people", _) => json!({"email": "colleague@stark.example", "name": "A Colleague"}),
                ("/api/v1/policy", _) => {
                    json!({"default_offer_days": 30, "members_can_accept": true, "auto_accept": []})
                }
                ("/api/v1/operator/new-organizations", _) => {
                    json!({"status": "active", "kinds": ["p2p"], "max_bandwidth_mbps": 10, "max_channels": 1,
                           "classes": ["standard"], "balance_cents": 1_000_000, "credit_limit_cents": 1_000_000})
                }
                _ => json!({}),
            };
            let (status, answer) = match method.as_str() {
                "get" => stark.get(&url).await,
                "post" => stark.post(&url, body).await,
                "delete" => stark.delete(&url).await,
                "put" => stark.put(&url, body).await,
                other => panic!("{other} {path}: a method this test does not know"),
            };
            let text = answer.to_string();
            // Allowed successes: the stranger's own things, which must not include acme's.
            let own = matches!(
                (method.as_str(), path.as_str()),
                (
                    "get",
                    "/api/v1/me"
                        | "/api/v1/interfaces"
                        | "/api/v1/catalog"
                        | "/api/v1/account"
                        | "/api/v1/channels"
                        | "/api/v1/audit"
                        | "/api/v1/policy"
                        | "/api/v1/inbox"
                        | "/api/v1/people"
                ) | ("post", "/api/v1/channels" | "/api/v1/people")
                    | ("put", "/api/v1/policy")
            );
            if path == "/api/v1/session" {
                // Logging in (no valid credentials here) or out (the stranger's own session).
                assert!(status.is_client_error() || status == StatusCode::NO_CONTENT, "{method} {path}: {status}");
                continue;
            }
            if path == "/api/v1/orders" {
                // Every order is the operator's to list; others ask per channel.
                assert!(status.is_success() || status == StatusCode::FORBIDDEN, "{method} {path}: {status} {text}");
            } else if own {
                assert!(status.is_success(), "{method} {path}: {status} {text}");
            } else {
                assert!(
                    matches!(status, StatusCode::NOT_FOUND | StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED),
                    "{method} {url} as a stranger: {status} {text}"
                );
            }
            // A refusal may repeat what was asked for (the URL), nothing else of acme's.
            for secret in secrets.iter().filter(|s| !url.contains(**s)) {
                assert!(!text.contains(secret), "{method} {url} as a stranger shows {secret}: {text}");
            }
            if status.is_success() {
                for secret in secrets {
                    assert!(!text.contains(secret), "{method} {url} as a stranger shows {secret}: {text}");
                }
            }
            checked += 1;
        }
    }
    assert!(checked >= 18, "only {checked} operations checked");
    // Nothing changed for acme.
    let (_, after) = acme.get(&format!("/api/v1/channels/{id}")).await;
    assert_eq!(after["state"], "active");
    assert_eq!(after["attachments"].as_array().unwrap().len(), 2);
}

on_both!(strangers_get_nothing_anywhere);

/// SPEC §7 through the API: globex's admin sets its policy to auto-accept acme's offers
/// with one of its interfaces; acme's offer comes back already answered, and the channel
/// goes live. A bad rule is a 400 naming it, a PUT without the CSRF token a 403.
async fn policy_and_auto_accept(b: Backend) {
    let p = Portal::start(b).await;
    let globex = p.login("admin@globex.example", "password-1").await;
    let (status, policy) = globex.get("/api/v1/policy").await;
    assert_eq!(status, StatusCode::OK, "{policy}");
    let all_news = json!({"offer_answers": true, "channel_active": true, "channel_down": true, "recipients": []});
    assert_eq!(
        policy,
        json!({"default_offer_days": 60, "members_can_accept": true, "auto_accept": [], "notifications": all_news})
    );
    // Notifications left out: all of them, as before.
    let (status, got) = globex
        .put("/api/v1/policy", json!({"default_offer_days": 60, "members_can_accept": true, "auto_accept": []}))
        .await;
    assert_eq!((status, &got["notifications"]), (StatusCode::OK, &all_news));
    let wanted = json!({"default_offer_days": 30, "members_can_accept": false,
        "auto_accept": [{"organization": "acme", "interface": "globex-8a"}],
        "notifications": {"offer_answers": false, "channel_active": true, "channel_down": true,
            "recipients": ["noc@globex.example"]}});
    let (status, got) = globex.put("/api/v1/policy", wanted.clone()).await;
    assert_eq!((status, &got), (StatusCode::OK, &wanted));
    let mut bad_to = wanted.clone();
    bad_to["notifications"]["recipients"] = json!(["noc@globex.example", "noc at globex"]);
    let got = globex.put("/api/v1/policy", bad_to).await;
    assert_eq!((got.0, &got.1["code"]), (StatusCode::BAD_REQUEST, &json!("invalid_input")), "{}", got.1);
    // The address is refused where the body is read, naming where it is and what it should be.
    let message = got.1["message"].as_str().unwrap();
    assert!(message.starts_with("bad JSON body: notifications.recipients[1]: an email address must be"), "{message}");
    // An object's fields sent as a list are refused (serde would read `[]` as all defaults).
    let mut listed = wanted.clone();
    listed["notifications"] = json!([]);
    let got = globex.put("/api/v1/policy", listed).await;
    assert_eq!(got.0, StatusCode::BAD_REQUEST, "{}", got.1);
    assert!(
        got.1["message"].as_str().unwrap().contains("notifications: invalid type: sequence, expected an object"),
        "{}",
        got.1
    );
    // So is a whole body sent as the list of its fields.
    let got = globex.put("/api/v1/policy", json!([30, false, []])).await;
    assert_eq!(got.0, StatusCode::BAD_REQUEST, "{}", got.1);
    let message = got.1["message"].as_str().unwrap();
    assert!(message.starts_with("bad JSON body: invalid type: sequence, expected an object"), "{message}");
    let bad = json!({"default_offer_days": 30, "members_can_accept": false,
        "auto_accept": [{"organization": "acme", "interface": "acme-1a"}]});
    let got = globex.put("/api/v1/policy", bad).await;
    assert_eq!(got.0, StatusCode::BAD_REQUEST, "{}", got.1);
    assert_eq!(got.1["code"], "invalid_input");
    assert!(got.1["message"].as_str().unwrap().starts_with("auto_accept[0]: `acme-1a`"), "{}", got.1);
    let no_csrf = globex.raw().await.put(format!("{}/api/v1/policy", globex.base)).json(&wanted).send().await.unwrap();
    assert_eq!(no_csrf.status(), StatusCode::FORBIDDEN);
    assert_eq!(globex.get("/api/v1/policy").await.1, wanted, "refusals changed nothing");

    let acme = p.login("admin@acme.example", "password-1").await;
    let (_, ch) = acme.post("/api/v1/channels", new_channel(&p, "auto", "p2p", "acme-1a")).await;
    let id = ch["id"].as_str().unwrap().to_string();
    let (status, offer) =
        acme.post(&format!("/api/v1/channels/{id}/offers"), json!({"invitees": [{"organization": "globex"}]})).await;
    assert_eq!(status, StatusCode::CREATED, "{offer}");
    assert_eq!(offer["auto_accepted"][0]["accepted"], true, "{offer}");
    assert_eq!(offer["auto_accepted"][0]["interface"], "globex-8a");
    wait_until("the auto-accepted channel is active", async || {
        acme.get(&format!("/api/v1/channels/{id}")).await.1["state"] == "active"
    })
    .await;
}
on_both!(policy_and_auto_accept);
