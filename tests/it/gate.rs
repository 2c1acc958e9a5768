//! The input gate (issue: every input through one gate): what a client sends that the
//! server would otherwise misread is refused with the field named and nothing stored, on
//! SQLite and PostgreSQL alike.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::api::{Portal, new_channel};
use crate::world::Backend;

/// Unknown fields are refused, never ignored: a typo must not make an offer that expires
/// in 60 days instead of 1, nor a policy or form that silently drops what was meant.
async fn unknown_fields_are_refused_by_name(b: Backend) {
    let p = Portal::start(b).await;
    let acme = p.login("admin@acme.example", "password-1").await;
    let (_, ch) = acme.post("/api/v1/channels", new_channel(&p, "line", "p2p", "acme-1a")).await;
    let id = ch["id"].as_str().unwrap().to_string();
    let offers = format!("/api/v1/channels/{id}/offers");

    let refused = |(status, body): (StatusCode, Value), field: &str| {
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["code"], "invalid_input", "{body}");
        assert!(body["message"].as_str().unwrap().contains(field), "names `{field}`: {body}");
    };
    let invitee = json!({"email": "admin@globex.example"});
    refused(acme.post(&offers, json!({"invitees": [invitee], "expires_in_day": 1})).await, "expires_in_day");
    refused(acme.post(&offers, json!({"invitees": [{"emial": "admin@globex.example"}]})).await, "emial");
    assert_eq!(acme.get(&offers).await.1, json!([]), "no offer was made");

    let mut channel = new_channel(&p, "other", "p2p", "acme-2a");
    channel["bandwidth"] = json!(100);
    refused(acme.post("/api/v1/channels", channel).await, "bandwidth");
    let (_, policy) = acme.get("/api/v1/policy").await;
    let mut typo = policy.clone();
    typo["default_offer_day"] = json!(3);
    refused(acme.put("/api/v1/policy", typo).await, "default_offer_day");
    assert_eq!(acme.get("/api/v1/policy").await.1, policy, "the policy is unchanged");
    refused(p.anonymous().post("/api/v1/session", json!({"email": "a@b.example", "pasword": "x"})).await, "pasword");

    // A portal form with a field it does not have: refused as a page, nothing made.
    let r = acme
        .raw()
        .await
        .post(format!("{}/channels", p.base))
        .form(&[
            ("csrf", acme.csrf.as_str()),
            ("name", "painted"),
            ("kind", "p2p"),
            ("interface", "acme-3a"),
            ("bandwidth_mbps", "10"),
            ("colour", "red"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let page = r.text().await.unwrap();
    assert!(page.contains("colour"), "names the field: {page}");
    let (_, list) = acme.get("/api/v1/channels").await;
    assert!(list.as_array().unwrap().iter().all(|c| c["name"] != "painted"), "{list}");
    // The policy form likewise.
    let r = acme
        .raw()
        .await
        .post(format!("{}/settings", p.base))
        .form(&[("csrf", acme.csrf.as_str()), ("default_offer_days", "5"), ("default_offer_day", "7")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // Named for a person: in quotes, without the API's backticks.
    let page = r.text().await.unwrap();
    assert!(page.contains("“default_offer_day”") && !page.contains("default_offer_day`"), "names the field: {page}");
    assert_eq!(acme.get("/api/v1/policy").await.1, policy, "the policy is unchanged");
}

on_both!(unknown_fields_are_refused_by_name);

/// A control character anywhere (a NUL byte: PostgreSQL cannot store one) is a 400 naming
/// where, before any database sees it, so both databases answer alike; text over a
/// field's limit is refused, never cut.
async fn control_characters_and_long_text_are_refused_alike(b: Backend) {
    let p = Portal::start(b).await;
    let anon = p.anonymous();
    let bad = |(status, body): (StatusCode, Value), place: &str| {
        assert_eq!(status, StatusCode::BAD_REQUEST, "{place}: {body}");
        assert_eq!(body["code"], "invalid_input", "{place}: {body}");
        assert!(body["message"].as_str().unwrap().contains(place), "names `{place}`: {body}");
    };
    bad(anon.post("/api/v1/session", json!({"email": "a\u{0}b@x.example", "password": "x"})).await, "email");
    let acme = p.login("admin@acme.example", "password-1").await;
    let (_, ch) = acme.post("/api/v1/channels", new_channel(&p, "line", "p2p", "acme-1a")).await;
    let id = ch["id"].as_str().unwrap().to_string();
    for path in ["/api/v1/attachments/%00", "/api/v1/attachments/a%1Bb"] {
        bad(acme.delete(path).await, "path");
    }
    bad(acme.post("/api/v1/channels/%00/offers", json!({"invitees": []})).await, "path");
    bad(acme.get("/api/v1/orders?channel=%00").await, "channel");
    bad(acme.get("/api/v1/channels/%FF%FE").await, "UTF-8");
    let offers = format!("/api/v1/channels/{id}/offers");
    let invitee = |k: &str, v: &str| json!({"invitees": [{"email": "admin@globex.example", k: v}]});
    bad(acme.post(&offers, invitee("name", "Ops\u{0}")).await, "invitees[0].name");
    bad(acme.post(&offers, invitee("org_name", "Globex\u{7}")).await, "invitees[0].org_name");
    // Too long: refused whole, with the limit, where it used to be cut to 100 characters.
    bad(acme.post(&offers, invitee("org_name", &"G".repeat(10_000))).await, "organization name");
    assert_eq!(acme.get(&offers).await.1, json!([]), "no offer was made");
    let terminate = format!("/api/v1/channels/{id}/terminate");
    bad(acme.post(&terminate, json!({"reason": "done\u{0}"})).await, "reason");
    bad(acme.post(&terminate, json!({"reason": "x".repeat(501)})).await, "reason");
    assert_eq!(acme.get(&format!("/api/v1/channels/{id}")).await.1["state"], "draft", "not terminated");
    // Any script, and emoji, are text like any other.
    let (status, body) = acme.post(&offers, invitee("name", "أحمد 👋")).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

on_both!(control_characters_and_long_text_are_refused_alike);

/// Text is checked by its field's type where the body is read: the JSON error says where
/// (`name`, `invitees[0].org_name`) and what the field takes; a portal form shows the page
/// again saying which field; nothing is stored.
async fn typed_text_names_its_field(b: Backend) {
    let p = Portal::start(b).await;
    let acme = p.login("admin@acme.example", "password-1").await;
    let bad = |(status, body): (StatusCode, Value), place: &str, rule: &str| {
        assert_eq!(status, StatusCode::BAD_REQUEST, "{place}: {body}");
        assert_eq!(body["code"], "invalid_input", "{place}: {body}");
        let message = body["message"].as_str().unwrap();
        assert!(message.contains(&format!("{place}: {rule}")), "names `{place}` and its rule: {body}");
    };
    for name in ["x".repeat(65), "  ".into(), String::new()] {
        let mut channel = new_channel(&p, "x", "p2p", "acme-1a");
        channel["name"] = json!(name);
        bad(acme.post("/api/v1/channels", channel).await, "name", "a channel name must be 1-64 printable characters");
    }
    let (_, ch) = acme.post("/api/v1/channels", new_channel(&p, "line", "p2p", "acme-1a")).await;
    let id = ch["id"].as_str().unwrap().to_string();
    let offers = format!("/api/v1/channels/{id}/offers");
    let offer = json!({"description": "d".repeat(2001), "invitees": [{"email": "admin@globex.example"}]});
    bad(acme.post(&offers, offer).await, "description", "a description must be at most 2000");
    let offer = json!({"invitees": [{"email": "admin@globex.example", "org_name": "o".repeat(101)}]});
    bad(acme.post(&offers, offer).await, "invitees[0].org_name", "an invitee's organization name must be");
    assert_eq!(acme.get(&offers).await.1, json!([]), "no offer was made");
    let (_, list) = acme.get("/api/v1/channels").await;
    assert_eq!(list.as_array().unwrap().len(), 1, "only the good channel: {list}");

    // The portal's forms: the page again (or the error page), naming the field.
    let http = acme.raw().await;
    let form = |path: String, fields: Vec<(&'static str, String)>| {
        let mut fields = fields;
        fields.push(("csrf", acme.csrf.clone()));
        http.post(format!("{}{path}", p.base)).form(&fields).send()
    };
    let r = form(
        "/channels".into(),
        vec![
            ("name", "n".repeat(65)),
            ("kind", "p2p".into()),
            ("interface", "acme-2a".into()),
            ("bandwidth_mbps", "10".into()),
            ("class", "standard".into()),
            ("usage_model_id", p.w.free.clone()),
        ],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("channel name must be 1-64"), "says which field");
    let r = form(format!("/channels/{id}/terminate"), vec![("reason", "r".repeat(501))]).await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("reason must be at most 500"), "says which field");
    let r = form(format!("/channels/{id}/offers"), vec![("invitees", format!("a@b.example, {}", "n".repeat(101)))])
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("s name must be at most 100 printable"), "says which field");
    assert_eq!(acme.get(&format!("/api/v1/channels/{id}")).await.1["state"], "draft", "not terminated");
    assert_eq!(acme.get(&offers).await.1, json!([]), "no offer was made");
    let (_, list) = acme.get("/api/v1/channels").await;
    assert_eq!(list.as_array().unwrap().len(), 1, "no channel was made: {list}");
}

on_both!(typed_text_names_its_field);

/// An id that cannot exist (wrong prefix, length or characters) is answered before any
/// handler, naming the parameter: 404 for a channel, attachment or order (it names
/// nothing), 403 for an invitation token (as a wrong one is); a JSON error under `/api/`,
/// the error page elsewhere. Nothing was asked of the database, and nothing changes.
async fn malformed_ids_are_refused_at_the_edge(b: Backend) {
    let p = Portal::start(b).await;
    let acme = p.login("admin@acme.example", "password-1").await;
    let (_, ch) = acme.post("/api/v1/channels", new_channel(&p, "line", "p2p", "acme-1a")).await;
    let id = ch["id"].as_str().unwrap().to_string();
    let refused = |(status, body): (StatusCode, Value), want: StatusCode, code: &str, what: &str| {
        assert_eq!(status, want, "{what}: {body}");
        assert_eq!(body["code"], code, "{what}: {body}");
        let message = body["message"].as_str().unwrap();
        assert!(message.contains(what), "names {what}: {body}");
    };
    let upper = id.to_uppercase().replacen("CH-", "ch-", 1);
    let long = format!("{id}{}", "0".repeat(5000));
    for bad in ["ch-nope", upper.as_str(), &id[..id.len() - 1], long.as_str(), "%E2%80%AE", "att-1", "ch-%20"] {
        let not_found = |r: (StatusCode, Value)| {
            let what = "path parameter `id` is not a channel id";
            assert!(r.1["message"].as_str().is_some_and(|m| m.contains(what)), "{bad:.40}: {}", r.1);
            refused(r, StatusCode::NOT_FOUND, "not_found", what)
        };
        not_found(acme.get(&format!("/api/v1/channels/{bad}")).await);
        not_found(acme.get(&format!("/api/v1/channels/{bad}/orders")).await);
        not_found(acme.post(&format!("/api/v1/channels/{bad}/offers"), json!({"invitees": []})).await);
        not_found(acme.post(&format!("/api/v1/channels/{bad}/terminate"), json!({})).await);
    }
    refused(
        acme.delete(&format!("/api/v1/attachments/{id}")).await,
        StatusCode::NOT_FOUND,
        "not_found",
        "path parameter `id` is not an attachment id",
    );
    refused(acme.get("/api/v1/orders/ord-1").await, StatusCode::NOT_FOUND, "not_found", "not an order id");
    refused(
        acme.get("/api/v1/orders?channel=ch-nope").await,
        StatusCode::BAD_REQUEST,
        "invalid_input",
        "channel: not a channel id",
    );
    // An id in a body: 400 naming the field, nothing made.
    let mut channel = new_channel(&p, "other", "p2p", "acme-2a");
    channel["usage_model_id"] = json!("um-nope");
    refused(
        acme.post("/api/v1/channels", channel).await,
        StatusCode::BAD_REQUEST,
        "invalid_input",
        "usage_model_id: not a usage model id (`um-` and 32 hex digits)",
    );
    assert_eq!(acme.get("/api/v1/channels").await.1.as_array().unwrap().len(), 1, "no channel was made");
    let token = "f".repeat(63);
    for path in [format!("/api/v1/invitations/{token}"), format!("/api/v1/invitations/{token}G")] {
        let denied =
            |r| refused(r, StatusCode::FORBIDDEN, "access_denied", "path parameter `token` is not an invitation token");
        denied(acme.get(&path).await);
        denied(acme.post(&format!("{path}/decline"), json!({})).await);
        denied(acme.post(&format!("{path}/accept"), json!({"interface": "acme-2a"})).await);
    }
    assert_eq!(acme.get(&format!("/api/v1/channels/{id}")).await.1["state"], "draft", "nothing changed");

    // Pages: the error page, the same answer in people's words (no parameter, no id shape).
    let http = acme.raw().await;
    for (path, status, words) in [
        ("/channels/ch-nope".to_string(), StatusCode::NOT_FOUND, "nothing at this address"),
        ("/channels/ch-nope/live".to_string(), StatusCode::NOT_FOUND, "nothing at this address"),
        (format!("/invitations/{token}"), StatusCode::FORBIDDEN, "This invitation link is not valid"),
    ] {
        let r = http.get(format!("{}{path}", p.base)).send().await.unwrap();
        assert_eq!(r.status(), status, "{path}");
        assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/html"), "{path}");
        assert!(r.text().await.unwrap().contains(words), "{path}: says {words}");
    }
    let r = http
        .post(format!("{}/channels/{upper}/terminate", p.base))
        .form(&[("csrf", acme.csrf.as_str()), ("reason", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let page = r.text().await.unwrap();
    assert!(page.contains("nothing at this address") && !page.contains("parameter"), "in words: {page}");
    assert_eq!(acme.get(&format!("/api/v1/channels/{id}")).await.1["state"], "draft", "nothing changed");
}

on_both!(malformed_ids_are_refused_at_the_edge);

/// What the framework refuses before any handler comes in the documented shape: JSON under
/// `/api/`, a page with a way back elsewhere; no framework text.
async fn every_refusal_has_the_documented_shape(b: Backend) {
    let p = Portal::start(b).await;
    let acme = p.login("admin@acme.example", "password-1").await;
    let http = acme.raw().await;
    let json_error = async |r: reqwest::Response, status: StatusCode, code: &str| {
        assert_eq!(r.status(), status);
        assert!(r.headers()["content-type"].to_str().unwrap().starts_with("application/json"), "{code}: JSON");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["code"], code, "{body}");
        assert!(!body["message"].as_str().unwrap().is_empty(), "{body}");
        body
    };
    // A body over the limit, said by its Content-Length: 413 before it is read (sent by
    // hand: the server answers and closes before a client could send 10 MB).
    let head = format!(
        "POST /api/v1/channels HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{{",
        p.base.trim_start_matches("http://"),
        10 * 1024 * 1024
    );
    let answer = raw_http(&p.base, head.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.to_ascii_lowercase().contains("content-type: application/json"), "{answer}");
    assert!(answer.contains(r#""code":"too_large""#), "{answer}");
    // A method the path does not take: 405, with the methods it takes.
    let r = http.patch(format!("{}/api/v1/channels", p.base)).header("x-csrf-token", &acme.csrf).send().await.unwrap();
    let allow = r.headers().get("allow").map(|v| v.to_str().unwrap().to_string());
    json_error(r, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
    assert!(allow.is_some_and(|a| a.contains("GET") && a.contains("POST")), "Allow says what it takes");
    // A body that is not JSON: 415.
    let r = http
        .post(format!("{}/api/v1/channels", p.base))
        .header("x-csrf-token", &acme.csrf)
        .header("content-type", "text/plain")
        .body("name=x")
        .send()
        .await
        .unwrap();
    json_error(r, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type").await;
    // An API path that does not exist: 404 JSON.
    let r = http.get(format!("{}/api/v1/nothing", p.base)).send().await.unwrap();
    json_error(r, StatusCode::NOT_FOUND, "not_found").await;
    // A page that does not exist: a page, with a link back to where the visitor was.
    let r =
        http.get(format!("{}/nowhere", p.base)).header("referer", format!("{}/channels", p.base)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let page = r.text().await.unwrap();
    assert!(page.contains(r#"href="/channels" id="back""#), "{page}");
    // A page's form posted too large, or with a control character: a page too.
    let r = http
        .post(format!("{}/channels", p.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf={}&name=a%00b", acme.csrf))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    assert!(r.text().await.unwrap().contains("name"), "names the field");
}

on_both!(every_refusal_has_the_documented_shape);

/// Sends `bytes` on a new connection to `base` and reads the answer until the server
/// closes it.
async fn raw_http(base: &str, bytes: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(base.trim_start_matches("http://")).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), stream.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

/// Generated text (control characters, NUL, lone surrogates escaped in JSON, very long,
/// right-to-left, emoji, anything) sent to the writes that take text, on SQLite and on
/// PostgreSQL side by side: never a server error, and the same answer (status and code)
/// from both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_text_gets_the_same_answer_on_both_databases() {
    let portals = [Portal::start(Backend::Sqlite).await, Portal::start(Backend::Postgres).await];
    let mut sides = Vec::new();
    for p in &portals {
        let acme = p.login("admin@acme.example", "password-1").await;
        let (_, ch) = acme.post("/api/v1/channels", new_channel(p, "kept", "p2p", "acme-1a")).await;
        sides.push((p, acme, ch["id"].as_str().unwrap().to_string()));
    }
    let samples = generated_texts();

    let mut answers = 0;
    for (n, s) in samples.iter().enumerate() {
        let mut seen: Vec<Vec<(u16, String)>> = Vec::new();
        for (p, acme, id) in &sides {
            let mut got = Vec::new();
            let mut record = |(status, body): (StatusCode, Value), what: &str| {
                assert!(!status.is_server_error(), "{what} with {s:?}: {status} {body}");
                got.push((status.as_u16(), body["code"].as_str().unwrap_or("").to_string()));
            };
            let mut channel = new_channel(p, &format!("c{n}"), "p2p", "acme-2a");
            channel["name"] = json!(format!("{s}{n}"));
            record(acme.post("/api/v1/channels", channel).await, "a channel name");
            let offer =
                json!({"description": s, "invitees": [{"email": "admin@globex.example", "name": s, "org_name": s}]});
            record(acme.post(&format!("/api/v1/channels/{id}/offers"), offer).await, "an offer's texts");
            let policy = json!({"default_offer_days": 30, "members_can_accept": false,
                                "notifications": {"recipients": [s]}});
            record(acme.put("/api/v1/policy", policy).await, "a recipient");
            let encoded = percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string();
            record(acme.delete(&format!("/api/v1/attachments/{encoded}")).await, "a path id");
            record(acme.get(&format!("/api/v1/orders?channel={encoded}")).await, "a query");
            seen.push(got);
        }
        assert_eq!(seen[0], seen[1], "SQLite and PostgreSQL answer {s:?} alike");
        answers += seen[0].len();
    }
    // A lone surrogate escaped in JSON is not text: refused as bad JSON by both.
    for (p, acme, id) in &sides {
        let r = acme
            .raw()
            .await
            .post(format!("{}/api/v1/channels/{id}/terminate", p.base))
            .header("x-csrf-token", &acme.csrf)
            .header("content-type", "application/json")
            .body(r#"{"reason": "\ud800"}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    }
    assert!(answers >= 250, "{answers} answers compared");
}

/// The texts the property tests send: fixed cases first (NUL and other control characters,
/// C1, right-to-left override, Arabic, Hebrew, emoji, blanks, 10,000 characters), then 40
/// generated from a fixed seed, the same every run.
pub fn generated_texts() -> Vec<String> {
    use proptest::strategy::{Strategy, ValueTree};
    use proptest::test_runner::{Config, TestRng, TestRunner};

    let mut samples: Vec<String> = [
        "\u{0}",
        "a\u{0}b",
        "\u{1b}[2J",
        "\u{7f}",
        "\u{85}",
        "\u{202e}evil",
        "مرحبا",
        "שלום",
        "👋🏽🇮🇪",
        "\t",
        " ",
        "",
        "\r\n",
        "x",
    ]
    .map(String::from)
    .to_vec();
    samples.push("y".repeat(10_000));
    let strategy = proptest::prop_oneof![
        proptest::string::string_regex("\\PC{0,40}").unwrap(),
        proptest::string::string_regex("[\\x00-\\x1f\\x7f]{1,4}[a-z]{0,4}").unwrap(),
        proptest::string::string_regex("[\\p{Arabic}\\p{Hebrew} ]{1,30}").unwrap(),
        proptest::string::string_regex(".{90,130}").unwrap(),
    ];
    let mut runner =
        TestRunner::new_with_rng(Config::default(), TestRng::deterministic_rng(Config::default().rng_algorithm));
    for _ in 0..40 {
        samples.push(strategy.new_tree(&mut runner).unwrap().current());
    }
    samples
}
