//! An organization the operator imported, whose ports wait for their first admin, is claimed
//! only by a contact the operator listed for it (the topology's `organizations:`), and only
//! once they confirm the address from a link mailed to it: the invitation's link is shown to
//! its creator too, so holding it proves nothing. Before this, any customer could invite an
//! address of its own naming such an organization and make itself its admin.

use reqwest::StatusCode;
use serde_json::{Value, json};
use switchboard::service::Actor;

use crate::api::{Client, Portal};
use crate::journey::{offer_paid, paid_catalogue};
use crate::people::{choose, form_token, mails_to, page, post_form};
use crate::world::{Backend, metro_text};

/// Registers from invitation `token` as `email` of `org` through the API.
async fn register(c: &Client, token: &str, email: &str, org: &str) -> (StatusCode, Value) {
    let body = json!({"email": email, "name": "Ops", "organization": org, "password": "a long enough password"});
    c.post(&format!("/api/v1/invitations/{token}/register"), body).await
}

async fn only_a_listed_contact_who_confirms_claims_an_imported_organization(b: Backend) {
    let p = Portal::start_mailing(b).await;
    let (_, monthly) = paid_catalogue(&p, 4_900).await;
    let acme = p.login("admin@acme.example", "password-1").await;

    // acme invites an address of its own for hooli, whose ports wait for their first admin.
    let (_, token) = offer_paid(&acme, "mp2mp", "acme-1a", &monthly, "eve@acme-friends.example", "hooli").await;
    let (status, body) = register(&p.anonymous(), &token, "eve@acme-friends.example", "hooli").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("someone the operator listed") && message.contains("`hooli`'s contacts"), "{body}");
    let (status, _) = p
        .anonymous()
        .post("/api/v1/session", json!({"email": "eve@acme-friends.example", "password": "a long enough password"}))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "no account was made");

    // Nor does a person invited for another organization, naming hooli.
    let (_, token) = offer_paid(&acme, "p2p", "acme-5b", &monthly, "ops@hooli.example", "other").await;
    let (status, body) = register(&p.anonymous(), &token, "ops@hooli.example", "hooli").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    // An address of hooli's domain, which the topology lists: the creator holds its link as
    // well, so registering neither logs in nor gives the link back; the link goes by mail.
    let (_, token) = offer_paid(&acme, "p2p", "acme-3a", &monthly, "ops@hooli.example", "hooli").await;
    let (_, html) = page(&p, &p.anonymous(), &format!("/invitations/{token}")).await;
    assert!(html.contains("id=\"claims-note\"") && !html.contains("id=\"password\""), "{html}");
    let anon = p.anonymous();
    let (status, body) = register(&anon, &token, "OPS@hooli.example", "hooli").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!((body["email"].as_str(), body["organization"].as_str()), (Some("ops@hooli.example"), Some("hooli")));
    assert!(!body.to_string().contains("/welcome/"), "the link is not in the answer: {body}");
    assert_eq!(anon.get("/api/v1/me").await.0, StatusCode::UNAUTHORIZED, "no session yet");
    // No password until the address is confirmed: none logs in, not even what the service
    // once compared unknown users' passwords with.
    for password in ["a long enough password", "no such user, no such password", ""] {
        let (status, _) =
            p.anonymous().post("/api/v1/session", json!({"email": "ops@hooli.example", "password": password})).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{password:?}");
    }

    // Registering again mails another link and leaves the first open (whoever holds the
    // invitation cannot spoil the person's links); three at once at most.
    let (status, _) = register(&p.anonymous(), &token, "ops@hooli.example", "hooli").await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let first = links_to(&p, "ops@hooli.example").await;
    assert_eq!(first.len(), 2, "{first:?}");
    assert_eq!(register(&p.anonymous(), &token, "ops@hooli.example", "hooli").await.0, StatusCode::ACCEPTED);
    let (status, body) = register(&p.anonymous(), &token, "ops@hooli.example", "hooli").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body["message"].as_str().unwrap().contains("use one of them"), "{body}");
    let mails = mails_to(p.outbox.as_ref().unwrap().path(), "ops@hooli.example");
    assert!(mails.iter().any(|m| m.contains("first admin") && m.contains("hooli")), "{mails:?}");

    // Another contact registers too; the first to confirm is the first admin, and the
    // other's link stops working.
    let (_, dev_token) = offer_paid(&acme, "p2mp", "acme-7c", &monthly, "dev@hooli.example", "hooli").await;
    assert_eq!(register(&p.anonymous(), &dev_token, "dev@hooli.example", "hooli").await.0, StatusCode::ACCEPTED);
    let dev_link = links_to(&p, "dev@hooli.example").await.remove(0);
    // The name is whatever the link's holder typed until the person writes their own.
    let (c, path) = (p.anonymous(), first[0].strip_prefix(&p.base).unwrap().to_string());
    let (_, html) = page(&p, &c, &path).await;
    assert!(html.contains(r#"id="name" name="name" value="Ops""#), "{html}");
    let csrf = form_token(&html);
    let pw = "a long enough password";
    let fields = [("csrf", csrf.as_str()), ("name", "Olivia Ops"), ("password", pw), ("again", pw)];
    let (status, landed, _) = post_form(&p, &c, &path, &fields).await;
    assert_eq!((status, landed.as_str()), (StatusCode::OK, "/channels"));
    let hooli = p.login("ops@hooli.example", "a long enough password").await;
    let (_, people) = hooli.get("/api/v1/people").await;
    let ops = &people[0];
    assert_eq!((ops["role"].as_str(), ops["name"].as_str()), (Some("admin"), Some("Olivia Ops")), "{people}");
    // The audit log does not put the claim in the person's name: nobody knew who asked.
    let (_, log) = p.login("noc@operator.example", "operator-pw").await.get("/api/v1/audit").await;
    let claims: Vec<&Value> = log.as_array().unwrap().iter().filter(|e| e["action"] == "organization.claim").collect();
    assert!(
        !claims.is_empty() && claims.iter().all(|e| e["actor"].as_str().unwrap().starts_with("anonymous")),
        "{claims:?}"
    );
    let (_, ports) = hooli.get("/api/v1/interfaces").await;
    assert!(ports.to_string().contains("hooli-2b"), "{ports}");
    let (_, inbox) = hooli.get("/api/v1/inbox").await;
    assert!(inbox.to_string().contains("p2p for hooli"), "{inbox}");
    let (_, audit) = hooli.get("/api/v1/audit").await;
    assert!(audit.to_string().contains("organization.claimed"), "{audit}");
    assert_eq!(
        page(&p, &p.anonymous(), dev_link.strip_prefix(&p.base).unwrap()).await.0,
        StatusCode::NOT_FOUND,
        "the other claim ended"
    );
    let (_, people) = hooli.get("/api/v1/people").await;
    assert_eq!(people.as_array().unwrap().len(), 1, "only the first admin: {people}");

    // Claimed now: another address of the domain registers nothing under hooli's name.
    let (status, body) = register(&p.anonymous(), &dev_token, "dev@hooli.example", "hooli").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body["message"].as_str().unwrap().contains("on Switchboard already"), "{body}");
}

/// The links mailed to `to` that confirm a claim, oldest first.
async fn links_to(p: &Portal, to: &str) -> Vec<String> {
    p.w.svc.mail_settled().await;
    mails_to(p.outbox.as_ref().unwrap().path(), to)
        .iter()
        .filter_map(|m| {
            let at = m.find(&format!("{}/welcome/", p.base))?;
            Some(m[at..].chars().take_while(|c| !c.is_whitespace()).collect())
        })
        .collect()
}

on_both!(only_a_listed_contact_who_confirms_claims_an_imported_organization);

/// Without contacts in the topology nobody claims an organization from an invitation, and a
/// Switchboard that sends no mail confirms no address.
async fn no_contacts_or_no_mail_no_claim(b: Backend) {
    let p = Portal::start(b).await;
    let (_, monthly) = paid_catalogue(&p, 4_900).await;
    let acme = p.login("admin@acme.example", "password-1").await;
    let (_, token) = offer_paid(&acme, "p2p", "acme-1a", &monthly, "ops@hooli.example", "hooli").await;
    let (status, body) = register(&p.anonymous(), &token, "ops@hooli.example", "hooli").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body["message"].as_str().unwrap().contains("sends no mail"), "{body}");

    let without = metro_text().replace("  hooli: {contacts: [\"@hooli.example\"]}\n", "");
    assert_ne!(without, metro_text());
    p.w.svc.import_topology(&Actor::system("test"), &without, "metro.yaml").await.unwrap();
    let (status, body) = register(&p.anonymous(), &token, "ops@hooli.example", "hooli").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body["message"].as_str().unwrap().contains("it lists nobody"), "{body}");
}

on_both!(no_contacts_or_no_mail_no_claim);

/// A link mailed before the operator withdrew the address from the organization's contacts
/// confirms nothing: the person is told so and removed.
async fn a_withdrawn_contact_confirms_nothing(b: Backend) {
    let p = Portal::start_mailing(b).await;
    let (_, monthly) = paid_catalogue(&p, 4_900).await;
    let acme = p.login("admin@acme.example", "password-1").await;
    let (_, token) = offer_paid(&acme, "p2p", "acme-1a", &monthly, "ops@hooli.example", "hooli").await;
    assert_eq!(register(&p.anonymous(), &token, "ops@hooli.example", "hooli").await.0, StatusCode::ACCEPTED);
    let link = links_to(&p, "ops@hooli.example").await.remove(0);
    let without = metro_text().replace("  hooli: {contacts: [\"@hooli.example\"]}\n", "");
    p.w.svc.import_topology(&Actor::system("test"), &without, "metro.yaml").await.unwrap();

    let c = p.anonymous();
    let path = link.strip_prefix(&p.base).unwrap().to_string();
    let (status, html) = page(&p, &c, &path).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    let csrf = form_token(&html);
    let fields = [("csrf", csrf.as_str()), ("password", "a long enough password"), ("again", "a long enough password")];
    let (status, _, html) = post_form(&p, &c, &path, &fields).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{html}");
    assert!(html.contains("no longer lists ops@hooli.example"), "{html}");
    assert_eq!(page(&p, &p.anonymous(), &path).await.0, StatusCode::NOT_FOUND);
    let (status, _) = p
        .anonymous()
        .post("/api/v1/session", json!({"email": "ops@hooli.example", "password": "a long enough password"}))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

on_both!(a_withdrawn_contact_confirms_nothing);

/// An import that spells an organization otherwise than the database does is refused: it
/// would make a second organization reading as the first, and move the ports to it.
async fn an_organization_keeps_its_spelling_across_imports(b: Backend) {
    let p = Portal::start(b).await;
    let respelled = metro_text()
        .replace("organization: hooli\n", "organization: Hooli\n")
        .replace("  hooli: {contacts", "  Hooli: {contacts");
    assert_ne!(respelled, metro_text());
    let err = p.w.svc.import_topology(&Actor::system("test"), &respelled, "metro.yaml").await.unwrap_err();
    assert!(err.to_string().contains("organization `Hooli` is `hooli` here already"), "{err}");
    let (_, ports) = p.login("admin@acme.example", "password-1").await.get("/api/v1/interfaces").await;
    assert!(ports.to_string().contains("acme-1a"), "nothing changed: {ports}");
}

on_both!(an_organization_keeps_its_spelling_across_imports);

/// The operator adds an organization's first admin itself (one without contacts, or whose
/// contact cannot register): the person chooses a password from the mailed link, as a
/// colleague added by an admin does. Only the operator's staff reach another organization.
async fn the_operator_adds_an_organizations_first_admin(b: Backend) {
    let p = Portal::start_mailing(b).await;
    let noc = p.login("noc@operator.example", "operator-pw").await;
    let acme = p.login("admin@acme.example", "password-1").await;
    let boss = json!({"email": "boss@hooli.example", "name": "Boss", "organization": "hooli"});
    let (status, body) = acme.post("/api/v1/people", boss.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let staff = json!({"email": "boss@hooli.example", "name": "Boss", "organization": "hooli", "role": "operator"});
    let (status, body) = noc.post("/api/v1/people", staff).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_input")), "{body}");
    let (status, body) =
        noc.post("/api/v1/people", json!({"email": "x@y.example", "name": "X", "organization": "nobody"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["message"].as_str().unwrap().contains("no organization `nobody`"), "{body}");

    // The NOC's home lists hooli as waiting, with who may claim it, and links its people
    // page, where the first admin is added (an admin unless said otherwise).
    let (_, home) = page(&p, &noc, "/operator").await;
    let row = home.split("data-organization=\"hooli\"").nth(1).expect("hooli waits").split("</tr>").next().unwrap();
    assert!(row.contains("@hooli.example") && row.contains("href=\"/people?organization=hooli\""), "{row}");
    let (status, html) = page(&p, &noc, "/people?organization=hooli").await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("id=\"for-org\"") && html.contains(r#"<option value="admin" selected>"#), "{html}");
    let csrf = form_token(&html);
    let fields = [
        ("csrf", csrf.as_str()),
        ("organization", "hooli"),
        ("email", "boss@hooli.example"),
        ("name", "Boss"),
        ("role", "admin"),
    ];
    let (status, _, html) = post_form(&p, &noc, "/people", &fields).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("We emailed boss@hooli.example") && html.contains("hooli: people"), "{html}");
    let (status, body) = noc.post("/api/v1/people", boss).await;
    assert_eq!(status, StatusCode::CONFLICT, "added once: {body}");
    assert!(body["message"].as_str().unwrap().contains("one of hooli's people already"), "{body}");
    let (_, people) = noc.get("/api/v1/people?organization=hooli").await;
    let listed = people.as_array().unwrap();
    assert_eq!(listed.len(), 1, "{people}");
    assert_eq!((listed[0]["role"].as_str(), listed[0]["active"].as_bool()), (Some("admin"), Some(false)));
    let (status, _) = acme.get("/api/v1/people?organization=hooli").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a customer reaches its own people only");
    let (status, _) = acme.get("/api/v1/people?organization=nosuchorg").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "the same answer, whether or not it exists");
    let (status, _) = acme.get("/api/v1/people?organization=ACME").await;
    assert_eq!(status, StatusCode::OK, "its own, in any case");
    let (_, again) = noc.get("/api/v1/people?organization=HOOLI").await;
    assert!(again.to_string().contains("boss@hooli.example"), "names in any case: {again}");
    // A new link from the operator; the person chooses a password from it.
    let id = listed[0]["id"].as_str().unwrap();
    let (status, body) = noc.post(&format!("/api/v1/people/{id}/welcome"), json!({})).await;
    assert!(status.is_success(), "{body}");
    p.w.svc.mail_settled().await;
    let mails = mails_to(p.outbox.as_ref().unwrap().path(), "boss@hooli.example");
    assert!(mails.len() == 2 && mails[1].contains("noc@operator.example added you to hooli"), "{mails:?}");
    let link = links_to(&p, "boss@hooli.example").await.pop().unwrap();
    let (_, status, landed) = choose(&p, &link, "a long enough password").await;
    assert_eq!((status, landed.as_str()), (StatusCode::OK, "/channels"));
    let hooli = p.login("boss@hooli.example", "a long enough password").await;
    let (_, ports) = hooli.get("/api/v1/interfaces").await;
    assert!(ports.to_string().contains("hooli-2b"), "{ports}");
    let (_, home) = page(&p, &noc, "/operator").await;
    assert!(!home.contains("data-organization=\"hooli\""), "hooli no longer waits");
}

on_both!(the_operator_adds_an_organizations_first_admin);
