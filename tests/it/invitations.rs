//! An invitation's life after it is sent (issue 24, item 5), over real HTTP on both
//! databases: every link that cannot be answered lands on a page that says what happened
//! and what to do; its creator withdraws it or sends it again, through the API and the
//! portal; "opened" waits for a person to act; an organization's inbox lists the offers
//! waiting for it; the email says what is offered.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::api::{Client, Portal, new_channel};
use crate::world::Backend;

/// A page fetched by `c`: its status and text.
async fn page(p: &Portal, c: &Client, path: &str) -> (StatusCode, String) {
    let r = c.raw().await.get(format!("{}{path}", p.base)).send().await.unwrap();
    let status = r.status();
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/html"), "{path} is a page");
    (status, r.text().await.unwrap())
}

/// A form posted by `c` (redirects followed): its status and text.
async fn post_form(p: &Portal, c: &Client, path: &str, fields: &[(&str, &str)]) -> (StatusCode, String) {
    let r = c.raw().await.post(format!("{}{path}", p.base)).form(fields).send().await.unwrap();
    (r.status(), r.text().await.unwrap())
}

/// The value of the hidden `csrf` field in a page.
fn form_token(html: &str) -> String {
    let at = html.find(r#"name="csrf" value=""#).unwrap_or_else(|| panic!("no csrf field in {html}"));
    let rest = &html[at + r#"name="csrf" value=""#.len()..];
    rest[..rest.find('"').unwrap()].to_string()
}

/// A channel of `acme` on `interface`, offered to `invitees`: its id, and each invitation's
/// token and id.
async fn offered(
    p: &Portal,
    acme: &Client,
    (name, interface): (&str, &str),
    invitees: Value,
) -> (String, Vec<(String, String)>) {
    let (status, ch) = acme.post("/api/v1/channels", new_channel(p, name, "p2p", interface)).await;
    assert_eq!(status, StatusCode::CREATED, "{ch}");
    let id = ch["id"].as_str().unwrap().to_string();
    let (status, offer) = acme.post(&format!("/api/v1/channels/{id}/offers"), json!({ "invitees": invitees })).await;
    assert_eq!(status, StatusCode::CREATED, "{offer}");
    let invitations = offer["invitations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["token"].as_str().unwrap().to_string(), i["invitee_id"].as_str().unwrap().to_string()))
        .collect();
    (id, invitations)
}

/// The creator's view of invitee `n` of the channel's first offer.
async fn invitee(acme: &Client, channel: &str, n: usize) -> Value {
    let (status, offers) = acme.get(&format!("/api/v1/channels/{channel}/offers")).await;
    assert_eq!(status, StatusCode::OK, "{offers}");
    offers[0]["invitees"][n].clone()
}

/// Complete, terminated, withdrawn, expired, wrong email, another organization logged
/// in, unknown token: each lands on a page that says what happened and what to do, never
/// on a form that will be refused nor on a bare "Access denied".
async fn every_dead_end_says_what_happened_and_what_to_do(b: Backend) {
    let p = Portal::start(b).await;
    let acme = p.login("admin@acme.example", "password-1").await;
    let globex = p.login("admin@globex.example", "password-1").await;
    let initech = p.login("admin@initech.example", "password-1").await;
    let anon = p.anonymous();

    // Complete: globex takes the E-Line's second end, so initech's invitation closes.
    let (_, inv) = offered(
        &p,
        &acme,
        ("full", "acme-1a"),
        json!([{"email": "admin@globex.example"}, {"organization": "initech"}]),
    )
    .await;
    let (globex_token, initech_token) = (&inv[0].0, &inv[1].0);
    let (before, html) = page(&p, &initech, &format!("/invitations/{initech_token}")).await;
    assert_eq!(before, StatusCode::OK);
    assert!(html.contains(r#"id="accept""#), "open: the accept form is there");
    let (status, body) =
        globex.post(&format!("/api/v1/invitations/{globex_token}/accept"), json!({"interface": "globex-8a"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, html) = page(&p, &initech, &format!("/invitations/{initech_token}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(r#"id="closed""#) && html.contains("all the members it can have"), "{html}");
    assert!(html.contains("Ask acme for a new channel"), "what to do: {html}");
    assert!(!html.contains(r#"id="accept""#) && !html.contains(r#"id="decline""#), "no form to be refused: {html}");
    let (_, view) = initech.get(&format!("/api/v1/invitations/{initech_token}")).await;
    assert_eq!(view["closed"], "channel_full", "{view}");
    assert_eq!(invitee(&acme, view["channel"]["id"].as_str().unwrap(), 1).await["open"], false);

    // Terminated: the channel ended before globex answered.
    let (ch, inv) = offered(&p, &acme, ("ended", "acme-3a"), json!([{"email": "admin@globex.example"}])).await;
    let (status, body) =
        acme.post(&format!("/api/v1/channels/{ch}/terminate"), json!({"reason": "plans changed"})).await;
    assert!(status.is_success(), "{body}");
    let (status, html) = page(&p, &globex, &format!("/invitations/{}", inv[0].0)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(r#"id="closed""#) && html.contains("the channel has ended"), "{html}");
    assert!(!html.contains(r#"id="accept""#), "{html}");
    assert_eq!(invitee(&acme, &ch, 0).await["open"], false);

    // Withdrawn: the same page as a link that never existed, word for word, so the answer
    // tells nobody which tokens exist.
    let (_, inv) = offered(&p, &acme, ("withdrawn", "acme-5b"), json!([{"email": "admin@globex.example"}])).await;
    let (status, body) = acme.post(&format!("/api/v1/invitees/{}/withdraw", inv[0].1), json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, withdrawn) = page(&p, &anon, &format!("/invitations/{}", inv[0].0)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, unknown) = page(&p, &anon, &format!("/invitations/{}", "0".repeat(64))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(withdrawn, unknown, "a withdrawn link reads like an unknown one");
    assert!(unknown.contains("This invitation link is not valid"), "{unknown}");
    assert!(unknown.contains("ask whoever sent it for a new invitation"), "what to do: {unknown}");
    assert!(!unknown.contains("Access denied"), "{unknown}");
    let (_, logged_in) = page(&p, &globex, &format!("/invitations/{}", inv[0].0)).await;
    assert!(logged_in.contains("This invitation link is not valid"), "the invitee too: {logged_in}");

    // Wrong email on the pre-filled registration: the form again, as typed, with the field's error.
    let (_, inv) =
        offered(&p, &acme, ("newco", "acme-7c"), json!([{"email": "jane@newco.example", "name": "Jane"}])).await;
    let link = format!("/invitations/{}", inv[0].0);
    let (_, html) = page(&p, &anon, &link).await;
    assert!(html.contains(r#"id="register""#), "a new person registers: {html}");
    let csrf = form_token(&html);
    let fields = [
        ("email", "jnae@newco.example"),
        ("name", "Jane Doe"),
        ("organization", "NewCo"),
        ("password", "a long enough password"),
        ("csrf", csrf.as_str()),
    ];
    let (status, html) = post_form(&p, &anon, &format!("{link}/register"), &fields).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
    assert!(html.contains(r#"id="email-error""#) && html.contains("sent to another address"), "{html}");
    for typed in [r#"value="jnae@newco.example""#, r#"value="Jane Doe""#, r#"value="NewCo""#] {
        assert!(html.contains(typed), "keeps {typed}: {html}");
    }
    assert!(!html.contains("Access denied"), "{html}");
    assert!(p.w.svc.login("jnae@newco.example", "a long enough password", "test").await.is_err(), "no account");

    // Another organization logged in: who they are, and how to switch.
    let (_, inv) = offered(&p, &acme, ("someone else's", "acme-3a"), json!([{"email": "admin@globex.example"}])).await;
    let link = format!("/invitations/{}", inv[0].0);
    let (status, html) = page(&p, &initech, &link).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(html.contains("You are logged in as admin@initech.example of initech"), "{html}");
    assert!(html.contains("It was sent to admin@globex.example"), "{html}");
    assert!(html.contains(r#"id="logout-and-return""#) && html.contains(&format!(r#"value="{link}""#)), "{html}");
    assert!(!html.contains(r#"id="accept""#), "{html}");
    // Logging out from there comes back to the invitation, which now asks for a login.
    let (status, html) =
        post_form(&p, &initech, "/logout", &[("csrf", initech.csrf.as_str()), ("next", link.as_str())]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(r#"id="login-link""#), "back on the invitation, logged out: {html}");
    assert_eq!(initech.get("/api/v1/me").await.0, StatusCode::UNAUTHORIZED);

    // Expired (last: the clock moves on for every link): globex never answered its invitation.
    p.w.svc.clock.advance(std::time::Duration::from_secs(61 * 86_400));
    let (status, html) = page(&p, &anon, &format!("/invitations/{}", inv[0].0)).await;
    assert_eq!(status, StatusCode::GONE);
    assert!(html.contains("This offer has expired") && html.contains("Ask whoever sent it"), "{html}");
}

on_both!(every_dead_end_says_what_happened_and_what_to_do);

/// Through the API: resend gives a fresh link (mailed, the old one refused), withdraw
/// closes it for good; only the creator's admins may, and each write carries CSRF. The
/// email names the kind, bandwidth, role, price and sender.
async fn withdraw_and_resend_through_the_api(b: Backend) {
    let outbox = tempfile::tempdir().unwrap();
    let mailer =
        switchboard::mail::Mailer::outbox(outbox.path().to_path_buf(), "Switchboard <noreply@sb.example>").unwrap();
    let p = Portal::start_with(b, Some(mailer)).await;
    let acme = p.login("admin@acme.example", "password-1").await;
    let globex = p.login("admin@globex.example", "password-1").await;
    let (ch, inv) = offered(&p, &acme, ("resent", "acme-1a"), json!([{"email": "admin@globex.example"}])).await;
    let (old_token, id) = inv[0].clone();

    // Without the CSRF header: refused, nothing changed.
    let http = acme.raw().await;
    for action in ["resend", "withdraw"] {
        let r = http.post(format!("{}/api/v1/invitees/{id}/{action}", p.base)).json(&json!({})).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{action}");
        assert_eq!(r.json::<Value>().await.unwrap()["code"], "csrf");
    }
    // Not the creator: as if it did not exist.
    let (status, body) = globex.post(&format!("/api/v1/invitees/{id}/withdraw"), json!({})).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")), "{body}");

    let (status, again) = acme.post(&format!("/api/v1/invitees/{id}/resend"), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    let new_token = again["token"].as_str().unwrap().to_string();
    assert_ne!(new_token, old_token, "a fresh link");
    assert!(again["url"].as_str().unwrap().ends_with(&new_token));
    let (status, body) = globex.get(&format!("/api/v1/invitations/{old_token}")).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::FORBIDDEN, Some("access_denied")), "the old link");
    assert_eq!(globex.get(&format!("/api/v1/invitations/{new_token}")).await.0, StatusCode::OK);

    // Both emails went to the invitee; the second carries the new link and says what is offered.
    p.w.svc.mail_settled().await;
    let mails: Vec<String> = std::fs::read_dir(outbox.path())
        .unwrap()
        .flatten()
        .map(|f| switchboard::mail::unfold(&std::fs::read_to_string(f.path()).unwrap()))
        .filter(|m| m.contains("To: admin@globex.example"))
        .collect();
    assert_eq!(mails.len(), 2, "{mails:?}");
    let resent = mails.iter().find(|m| m.contains(&new_token)).expect("the new link is mailed");
    for words in ["admin@acme.example of acme invites you", "E-Line at 10 Mbps", "one of its two ends", "free"] {
        assert!(resent.contains(words), "says {words}: {resent}");
    }

    let (status, body) = acme.post(&format!("/api/v1/invitees/{id}/withdraw"), json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, withdrawn) = globex.get(&format!("/api/v1/invitations/{new_token}")).await;
    let (_, unknown) = globex.get(&format!("/api/v1/invitations/{}", "0".repeat(64))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(withdrawn, unknown, "refused like an unknown token");
    let (status, body) =
        globex.post(&format!("/api/v1/invitations/{new_token}/accept"), json!({"interface": "globex-8a"})).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::FORBIDDEN, Some("access_denied")));
    let status = invitee(&acme, &ch, 0).await;
    assert_eq!((status["withdrawn"].as_bool(), status["open"].as_bool()), (Some(true), Some(false)), "{status}");
    // Irreversible: neither withdrawn again nor sent again.
    for action in ["withdraw", "resend"] {
        let (status, body) = acme.post(&format!("/api/v1/invitees/{id}/{action}"), json!({})).await;
        assert_eq!(status, StatusCode::CONFLICT, "{action}: {body}");
    }
    // Documented.
    let (_, doc) = acme.get("/api/v1/openapi.json").await;
    for path in ["/api/v1/invitees/{id}/withdraw", "/api/v1/invitees/{id}/resend", "/api/v1/inbox"] {
        assert!(doc["paths"][path].is_object(), "{path} in the OpenAPI document");
    }
}

on_both!(withdraw_and_resend_through_the_api);

/// Through the portal: the channel page's invitee rows send again (the new link shown) and
/// withdraw, the latter only through the confirmation page.
async fn withdraw_and_resend_through_the_portal(b: Backend) {
    let p = Portal::start(b).await;
    let acme = p.login("admin@acme.example", "password-1").await;
    let globex = p.login("admin@globex.example", "password-1").await;
    let (ch, inv) = offered(&p, &acme, ("rows", "acme-1a"), json!([{"email": "admin@globex.example"}])).await;
    let (old_token, id) = inv[0].clone();
    let (_, html) = page(&p, &acme, &format!("/channels/{ch}")).await;
    assert!(html.contains(&format!(r#"action="/invitees/{id}/resend""#)), "{html}");
    assert!(html.contains(&format!(r#"action="/invitees/{id}/withdraw""#)), "{html}");
    // The invitee's own view of the channel has no such buttons.
    let (_, html) = page(&p, &globex, &format!("/channels/{ch}")).await;
    assert!(!html.contains("/invitees/"), "{html}");

    let form = [("csrf", acme.csrf.as_str()), ("channel", ch.as_str()), ("who", "admin@globex.example")];
    let (status, html) = post_form(&p, &acme, &format!("/invitees/{id}/resend"), &form).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    let at = html.find("/invitations/").expect("the new link is shown");
    let new_token = &html[at + "/invitations/".len()..at + "/invitations/".len() + 64];
    assert_ne!(new_token, old_token);
    assert_eq!(page(&p, &globex, &format!("/invitations/{old_token}")).await.0, StatusCode::FORBIDDEN);
    assert_eq!(page(&p, &globex, &format!("/invitations/{new_token}")).await.0, StatusCode::OK);

    // Withdraw: first the confirmation, which changes nothing.
    let (status, html) = post_form(&p, &acme, &format!("/invitees/{id}/withdraw"), &form).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(r#"id="confirm""#) && html.contains("Withdraw the invitation to admin@globex.example"));
    assert!(html.contains("cannot be undone"), "{html}");
    assert_eq!(invitee(&acme, &ch, 0).await["withdrawn"], false, "nothing happened yet");
    let fingerprint = async || p.w.svc.channel_fingerprint(&p.w.acme, &ch.parse().unwrap()).await.unwrap();
    let before = fingerprint().await;
    let mut confirmed = form.to_vec();
    confirmed.push(("confirm", "yes"));
    let (status, html) = post_form(&p, &acme, &format!("/invitees/{id}/withdraw"), &confirmed).await;
    assert_ne!(before, fingerprint().await, "open channel pages see the withdrawal");
    assert_eq!(status, StatusCode::OK, "back on the channel: {html}");
    assert!(html.contains("invitee-withdrawn"), "the row says so: {html}");
    assert!(!html.contains(&format!("/invitees/{id}/withdraw")), "nothing left to withdraw: {html}");
    assert_eq!(invitee(&acme, &ch, 0).await["withdrawn"], true);
    let (status, html) = page(&p, &globex, &format!("/invitations/{new_token}")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(html.contains("This invitation link is not valid"), "{html}");
}

on_both!(withdraw_and_resend_through_the_portal);

/// Fetching the link (a mail scanner, a preview, the invitee reading it) records nothing;
/// logging in from its page, or declining, records "opened".
async fn opened_means_someone_acted(b: Backend) {
    let p = Portal::start(b).await;
    let acme = p.login("admin@acme.example", "password-1").await;
    let (ch, inv) = offered(
        &p,
        &acme,
        ("looked at", "acme-1a"),
        json!([{"email": "admin@globex.example"}, {"organization": "initech"}]),
    )
    .await;
    let (globex_token, initech_token) = (inv[0].0.clone(), inv[1].0.clone());
    let scanner = p.anonymous();
    let globex_link = format!("/invitations/{globex_token}");
    assert_eq!(page(&p, &scanner, &globex_link).await.0, StatusCode::OK);
    assert_eq!(scanner.get(&format!("/api/v1/invitations/{globex_token}")).await.0, StatusCode::OK);
    let initech = p.login("admin@initech.example", "password-1").await;
    assert_eq!(page(&p, &initech, &format!("/invitations/{initech_token}")).await.0, StatusCode::OK);
    assert!(invitee(&acme, &ch, 0).await["accessed_at"].is_null(), "a GET is not a person acting");
    assert!(invitee(&acme, &ch, 1).await["accessed_at"].is_null(), "not even a logged-in one");

    // Logging in from the invitation's page.
    let person = p.anonymous();
    let (_, html) = page(&p, &person, &globex_link).await;
    assert!(html.contains(r#"id="login-link""#), "{html}");
    let (_, login) = page(&p, &person, &format!("/login?next={globex_link}")).await;
    let csrf = form_token(&login);
    let fields = [
        ("email", "admin@globex.example"),
        ("password", "password-1"),
        ("next", globex_link.as_str()),
        ("csrf", csrf.as_str()),
    ];
    let (status, html) = post_form(&p, &person, "/login", &fields).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(r#"id="accept""#), "back on the invitation, logged in: {html}");
    assert!(invitee(&acme, &ch, 0).await["accessed_at"].is_i64(), "opened by logging in from it");

    // Declining.
    let decline = [("csrf", initech.csrf.as_str()), ("confirm", "yes")];
    let (status, _) = post_form(&p, &initech, &format!("/invitations/{initech_token}/decline"), &decline).await;
    assert_eq!(status, StatusCode::OK);
    let status = invitee(&acme, &ch, 1).await;
    assert!(status["declined"] == true && status["accessed_at"].is_i64(), "{status}");
}

on_both!(opened_means_someone_acted);

/// An invitation to an organization that has people, or to a person who has an account,
/// asks them to log in (and come back), not to register.
async fn an_existing_organization_logs_in_first(b: Backend) {
    let p = Portal::start(b).await;
    let acme = p.login("admin@acme.example", "password-1").await;
    let (_, inv) = offered(
        &p,
        &acme,
        ("known", "acme-1a"),
        json!([{"organization": "initech"}, {"email": "admin@globex.example"}, {"email": "new@newco.example"}]),
    )
    .await;
    let anon = p.anonymous();
    for (token, _) in &inv[..2] {
        let (_, html) = page(&p, &anon, &format!("/invitations/{token}")).await;
        assert!(html.contains(r#"id="login-link""#), "{html}");
        assert!(html.contains(&format!("/login?next=/invitations/{token}")), "returns to the invitation: {html}");
        assert!(!html.contains(r#"id="register""#), "{html}");
    }
    let (_, html) = page(&p, &anon, &format!("/invitations/{}", inv[2].0)).await;
    assert!(html.contains(r#"id="register""#), "a new person registers: {html}");
}

on_both!(an_existing_organization_logs_in_first);

/// An organization's inbox lists the offers waiting for it (to it, or to one of its
/// people's emails), each opening its invitation, which can be answered from there; an
/// answered, withdrawn or closed one leaves it, and nobody else sees it.
async fn the_inbox_lists_waiting_offers(b: Backend) {
    let p = Portal::start(b).await;
    let acme = p.login("admin@acme.example", "password-1").await;
    let initech = p.login("admin@initech.example", "password-1").await;
    let stark = p.login("admin@stark.example", "password-1").await;
    let (_, by_org) = offered(&p, &acme, ("to the org", "acme-1a"), json!([{"organization": "initech"}])).await;
    let (_, by_email) =
        offered(&p, &acme, ("to a person", "acme-3a"), json!([{"email": "ADMIN@initech.example"}])).await;
    let (_, gone) = offered(&p, &acme, ("withdrawn", "acme-5b"), json!([{"organization": "initech"}])).await;
    acme.post(&format!("/api/v1/invitees/{}/withdraw", gone[0].1), json!({})).await;

    let (status, inbox) = initech.get("/api/v1/inbox").await;
    assert_eq!(status, StatusCode::OK, "{inbox}");
    let ids: Vec<&str> = inbox.as_array().unwrap().iter().map(|o| o["invitee_id"].as_str().unwrap()).collect();
    assert_eq!(ids, [by_email[0].1.as_str(), by_org[0].1.as_str()], "newest first, not the withdrawn one");
    assert_eq!(stark.get("/api/v1/inbox").await.1, json!([]), "nobody else's");

    let (_, html) = page(&p, &initech, "/inbox").await;
    for (name, id) in [("to the org", &by_org[0].1), ("to a person", &by_email[0].1)] {
        assert!(html.contains(name) && html.contains(&format!(r#"href="/inbox/{id}""#)), "{html}");
    }
    assert!(html.contains("E-Line · 10 Mbps") && html.contains("acme"), "{html}");
    assert!(!html.contains(&gone[0].1), "{html}");

    // Opened from the inbox: the invitation, answered there.
    let id = &by_org[0].1;
    let (status, html) = page(&p, &initech, &format!("/inbox/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(&format!(r#"action="/inbox/{id}/accept""#)), "{html}");
    assert_eq!(page(&p, &stark, &format!("/inbox/{id}")).await.0, StatusCode::NOT_FOUND, "not stark's");
    let fields = [("csrf", initech.csrf.as_str()), ("interface", "initech-8b")];
    let (status, html) = post_form(&p, &initech, &format!("/inbox/{id}/accept"), &fields).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("to the org"), "on the channel's page: {html}");
    let (_, inbox) = initech.get("/api/v1/inbox").await;
    assert_eq!(inbox.as_array().unwrap().len(), 1, "the answered one left: {inbox}");
    let (_, html) = page(&p, &initech, "/inbox").await;
    assert!(!html.contains(&format!("/inbox/{id}")), "{html}");
}

on_both!(the_inbox_lists_waiting_offers);
