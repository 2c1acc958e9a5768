//! Another site acting through a visitor's browser (issue: login CSRF): cross-site writes
//! are refused on the API and the forms, and the forms that open a session (login,
//! registration) need their pre-session token, on SQLite and PostgreSQL.

use reqwest::StatusCode;
use reqwest::header::{LOCATION, SET_COOKIE};
use serde_json::{Value, json};

use crate::api::{Portal, new_channel};
use crate::world::Backend;

/// A browser-like client that keeps cookies and does not follow redirects.
fn browser() -> reqwest::Client {
    reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// The value of the hidden `csrf` field in a page.
fn form_token(html: &str) -> String {
    let at = html.find(r#"name="csrf" value=""#).unwrap_or_else(|| panic!("no csrf field in {html}"));
    let rest = &html[at + r#"name="csrf" value=""#.len()..];
    rest[..rest.find('"').unwrap()].to_string()
}

/// Whether the answer opens a session.
fn opens_session(r: &reqwest::Response) -> bool {
    r.headers()
        .get_all(SET_COOKIE)
        .iter()
        .any(|c| c.to_str().unwrap().starts_with("sb_session=") && !c.to_str().unwrap().starts_with("sb_session=;"))
}

async fn login_refusals_and_cross_site_writes(b: Backend) {
    let p = Portal::start(b).await;
    let creds = [("email", "admin@acme.example"), ("password", "password-1")];

    // A form posted from another site's page, with no token: no session.
    let attacker = browser();
    let r = attacker.post(format!("{}/login", p.base)).form(&creds).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(!opens_session(&r));
    // The refusal shows the form again, with a token, so a person logs in with one more click.
    let again = r.text().await.unwrap();
    assert!(again.contains("expired or was sent from another site"), "{again}");

    // The browser that loaded the form has the cookie that matches its token.
    let person = browser();
    let page = person.get(format!("{}/login", p.base)).send().await.unwrap().text().await.unwrap();
    let token = form_token(&page);
    assert_eq!(token.len(), 64);
    // Another browser's token (the attacker's own, fetched from the login page) is no good
    // with this browser's cookie, nor this browser's token without its cookie.
    let theirs = form_token(&attacker.get(format!("{}/login", p.base)).send().await.unwrap().text().await.unwrap());
    let with = |t: &str| [creds[0], creds[1], ("csrf", t)].map(|(k, v)| (k.to_string(), v.to_string()));
    let r = person.post(format!("{}/login", p.base)).form(&with(&theirs)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(!opens_session(&r));
    let r = browser().post(format!("{}/login", p.base)).form(&with(&token)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(!opens_session(&r));

    // With its token and cookie, but the browser says another site sent it: refused.
    for (header, value) in [("origin", "http://evil.example"), ("sec-fetch-site", "cross-site"), ("origin", "null")] {
        let r =
            person.post(format!("{}/login", p.base)).header(header, value).form(&with(&token)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{header}: {value}");
        assert!(!opens_session(&r), "{header}: {value}");
        let text = r.text().await.unwrap();
        assert!(text.contains("another site"), "{header}: {value}: {text}");
    }
    // Sent from the site's own page (as a browser says it): logged in.
    let r = person
        .post(format!("{}/login", p.base))
        .header("origin", &p.base)
        .header("sec-fetch-site", "same-origin")
        .form(&with(&token))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(opens_session(&r));
    // Home, which sends a subscriber to its channels and the NOC to the operator page.
    assert_eq!(r.headers()[LOCATION], "/");

    // The API: a login from another site's script is refused, with the JSON error.
    let api = |c: &reqwest::Client, method: reqwest::Method, path: &str| c.request(method, format!("{}{path}", p.base));
    let r = api(&browser(), reqwest::Method::POST, "/api/v1/session")
        .header("origin", "http://evil.example")
        .json(&json!({"email": "admin@acme.example", "password": "password-1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(!opens_session(&r));
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], "cross_origin", "{body}");
    // A client that is not a browser (no Origin, no Sec-Fetch-Site) and this site's own
    // pages log in.
    let acme = p.login("admin@acme.example", "password-1").await;
    let r = api(&browser(), reqwest::Method::POST, "/api/v1/session")
        .header("origin", &p.base)
        .json(&json!({"email": "admin@acme.example", "password": "password-1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    // A write with the session and its CSRF token that the browser says another site made
    // (a page that somehow learnt the token): refused, nothing stored.
    let http = acme.raw().await;
    for (header, value) in
        [("sec-fetch-site", "cross-site"), ("sec-fetch-site", "same-site"), ("origin", "http://evil.example")]
    {
        let r = http
            .post(format!("{}/api/v1/channels", p.base))
            .header("x-csrf-token", &acme.csrf)
            .header(header, value)
            .json(&new_channel(&p, "forged", "p2p", "acme-1a"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{header}: {value}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["code"], "cross_origin", "{body}");
    }
    assert_eq!(acme.get("/api/v1/channels").await.1.as_array().unwrap().len(), 0, "nothing stored");
    // Reads from anywhere still answer (they change nothing).
    let r =
        http.get(format!("{}/api/v1/channels", p.base)).header("sec-fetch-site", "cross-site").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // The same write from this site's page goes through.
    let r = http
        .post(format!("{}/api/v1/channels", p.base))
        .header("x-csrf-token", &acme.csrf)
        .header("sec-fetch-site", "same-origin")
        .json(&new_channel(&p, "ours", "p2p", "acme-1a"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
}

on_both!(login_refusals_and_cross_site_writes);

/// The registration form of an invitation opens a session too: it needs its token.
async fn registration_needs_its_form_token(b: Backend) {
    let p = Portal::start(b).await;
    let acme = p.login("admin@acme.example", "password-1").await;
    let (_, ch) = acme.post("/api/v1/channels", new_channel(&p, "line", "p2p", "acme-1a")).await;
    let id = ch["id"].as_str().unwrap();
    let (status, offer) = acme
        .post(&format!("/api/v1/channels/{id}/offers"), json!({"invitees": [{"email": "ops@newco.example"}]}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{offer}");
    let url = offer["invitations"][0]["url"].as_str().unwrap().to_string();
    let fields = |csrf: &str| {
        let csrf = csrf.to_string();
        [
            ("email", "ops@newco.example"),
            ("name", "Ops"),
            ("organization", "NewCo"),
            ("password", "a long enough password"),
            ("csrf", csrf.as_str()),
        ]
        .map(|(k, v)| (k, v.to_string()))
    };

    // Posted from elsewhere without the token: no account, no session.
    let attacker = browser();
    let r = attacker.post(format!("{url}/register")).form(&fields("")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(!opens_session(&r));
    assert!(p.w.svc.login("ops@newco.example", "a long enough password", "test").await.is_err(), "no account was made");

    // From the invitation page, with its token: registered and logged in.
    let person = browser();
    let page = person.get(&url).send().await.unwrap().text().await.unwrap();
    let r = person.post(format!("{url}/register")).form(&fields(&form_token(&page))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", r.text().await.unwrap());
    assert!(opens_session(&r));
}

on_both!(registration_needs_its_form_token);

/// Every write made with a session carries the session's CSRF token, whatever its content
/// type and whether it has a body (issue: the input gate, item 4): a same-site page's plain
/// form could otherwise decline an invitation, unplug a member or log a visitor out.
async fn every_write_needs_the_sessions_token(b: Backend) {
    let p = Portal::start(b).await;
    let acme = p.login("admin@acme.example", "password-1").await;
    let (_, ch) = acme.post("/api/v1/channels", new_channel(&p, "line", "p2p", "acme-1a")).await;
    let id = ch["id"].as_str().unwrap().to_string();
    let (_, offer) = acme
        .post(&format!("/api/v1/channels/{id}/offers"), json!({"invitees": [{"email": "admin@globex.example"}]}))
        .await;
    let token = offer["invitations"][0]["token"].as_str().unwrap().to_string();
    let globex = p.login("admin@globex.example", "password-1").await;
    let http = globex.raw().await;
    let form = "application/x-www-form-urlencoded";
    // Bodiless API writes sent as forms, from this site (a same-site page), no token.
    let writes = [
        (reqwest::Method::POST, format!("/api/v1/invitations/{token}/decline")),
        (reqwest::Method::DELETE, "/api/v1/session".to_string()),
        (reqwest::Method::POST, format!("/api/v1/channels/{id}/terminate")),
    ];
    for (method, path) in &writes {
        for body in ["", "csrf=", "csrf=0123"] {
            let r = http
                .request(method.clone(), format!("{}{path}", p.base))
                .header("content-type", form)
                .header("sec-fetch-site", "same-origin")
                .body(body)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::FORBIDDEN, "{method} {path} with {body:?}");
            let answer: Value = r.json().await.unwrap();
            assert_eq!(answer["code"], "csrf", "{method} {path}: {answer}");
        }
    }
    // Nothing happened: the invitation is open and globex still logged in.
    let (status, seen) = globex.get(&format!("/api/v1/invitations/{token}")).await;
    assert_eq!(status, StatusCode::OK, "{seen}");
    assert_eq!(seen["invitee"]["declined"], false, "{seen}");
    assert_eq!(globex.get("/api/v1/me").await.0, StatusCode::OK);

    // A portal form carries the token as its `csrf` field: without it, or with another
    // one, refused as a page; with it, done.
    let decline = format!("{}/invitations/{token}/decline", p.base);
    for body in ["".to_string(), "csrf=".to_string(), format!("csrf={}", "f".repeat(64))] {
        let r = http.post(&decline).header("content-type", form).body(body.clone()).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{body}");
        assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/html"), "a page");
    }
    let r = http
        .post(&decline)
        .header("content-type", form)
        .body(format!("csrf={}&confirm=yes", globex.csrf))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_redirection() || r.status().is_success(), "{}", r.status());
    let (_, seen) = globex.get(&format!("/api/v1/invitations/{token}")).await;
    assert_eq!(seen["invitee"]["declined"], true, "declined with the token: {seen}");

    // The API with the token in its header, whatever the content type: done.
    let r = http
        .delete(format!("{}/api/v1/session", p.base))
        .header("content-type", form)
        .header("x-csrf-token", &globex.csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(globex.get("/api/v1/me").await.0, StatusCode::UNAUTHORIZED, "logged out");
}

on_both!(every_write_needs_the_sessions_token);
