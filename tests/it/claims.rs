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
use crate::people::{confirm_by_mail, mails_to, page};
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
    let (status, _) = p
        .anonymous()
        .post("/api/v1/session", json!({"email": "ops@hooli.example", "password": "a long enough password"}))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "no password until the address is confirmed");

    // Registering again sends a new link; the first stops working.
    p.w.svc.mail_settled().await;
    let mut first = mails_to(p.outbox.as_ref().unwrap().path(), "ops@hooli.example");
    first.retain(|m| m.contains("/welcome/"));
    assert_eq!(first.len(), 1, "{first:?}");
    assert!(first[0].contains("first admin") && first[0].contains("hooli"), "{}", first[0]);
    let (status, _) = register(&p.anonymous(), &token, "ops@hooli.example", "hooli").await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let link = |mail: &str| {
        let at = mail.find("/welcome/").unwrap();
        mail[at..].chars().take_while(|c| !c.is_whitespace()).collect::<String>()
    };
    let (status, _) = page(&p, &p.anonymous(), &link(&first[0])).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "the first link was replaced");

    // Confirmed: hooli's first admin, with hooli's ports, and the offer waiting in its inbox.
    let hooli = confirm_by_mail(&p, "ops@hooli.example", "a long enough password").await;
    let (_, me) = hooli.get("/api/v1/me").await;
    assert_eq!(me["user"]["role"], "admin", "{me}");
    let (_, ports) = hooli.get("/api/v1/interfaces").await;
    assert!(ports.to_string().contains("hooli-2b"), "{ports}");
    let (_, inbox) = hooli.get("/api/v1/inbox").await;
    assert!(inbox.to_string().contains("p2p for hooli"), "{inbox}");
    let (_, audit) = hooli.get("/api/v1/audit").await;
    assert!(audit.to_string().contains("organization.claim"), "{audit}");

    // Claimed now: another address of the domain registers nothing under hooli's name.
    let (_, token) = offer_paid(&acme, "p2mp", "acme-7c", &monthly, "dev@hooli.example", "hooli").await;
    let (status, body) = register(&p.anonymous(), &token, "dev@hooli.example", "hooli").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body["message"].as_str().unwrap().contains("registered already"), "{body}");
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
