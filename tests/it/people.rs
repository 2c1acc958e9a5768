//! An organization's people (issue: the portal journey): an admin adds a colleague, who
//! chooses their own password from the emailed link and is logged in; the link works once;
//! an admin sends a new one or removes a person, whose sessions end; members may do none of
//! it, and nobody reaches another organization's people.

use reqwest::StatusCode;
use serde_json::json;

use crate::api::{Client, Portal};
use crate::world::Backend;

/// A page fetched by `c`: its status and text.
pub(crate) async fn page(p: &Portal, c: &Client, path: &str) -> (StatusCode, String) {
    let r = c.raw().await.get(format!("{}{path}", p.base)).send().await.unwrap();
    (r.status(), r.text().await.unwrap())
}

/// A form posted by `c` (redirects followed): its status, final path and text.
pub(crate) async fn post_form(
    p: &Portal,
    c: &Client,
    path: &str,
    fields: &[(&str, &str)],
) -> (StatusCode, String, String) {
    let r = c.raw().await.post(format!("{}{path}", p.base)).form(fields).send().await.unwrap();
    (r.status(), r.url().path().to_string(), r.text().await.unwrap())
}

/// The value of the hidden `csrf` field in a page.
pub(crate) fn form_token(html: &str) -> String {
    let at = html.find(r#"name="csrf" value=""#).unwrap_or_else(|| panic!("no csrf field in {html}"));
    let rest = &html[at + r#"name="csrf" value=""#.len()..];
    rest[..rest.find('"').unwrap()].to_string()
}

/// The mails in `outbox` to `to`, unfolded, oldest first.
pub(crate) fn mails_to(outbox: &std::path::Path, to: &str) -> Vec<String> {
    let mut files: Vec<_> = std::fs::read_dir(outbox)
        .unwrap()
        .flatten()
        .map(|f| (f.metadata().unwrap().modified().unwrap(), f.path()))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|(_, path)| switchboard::mail::unfold(&std::fs::read_to_string(path).unwrap()))
        .filter(|m| m.contains(&format!("To: {to}")))
        .collect()
}

/// Confirms `email`'s claim from the link mailed to it (to `p`'s outbox), choosing
/// `password`: a client logged in through the API, as [`Portal::login`] makes one.
pub(crate) async fn confirm_by_mail(p: &Portal, email: &str, password: &str) -> Client {
    p.w.svc.mail_settled().await;
    let mails = mails_to(p.outbox.as_ref().expect("a portal that mails").path(), email);
    let mail = mails.iter().rfind(|m| m.contains("/welcome/")).unwrap_or_else(|| panic!("no link to {email}"));
    let at = mail.find(&format!("{}/welcome/", p.base)).unwrap_or_else(|| panic!("no link in {mail}"));
    let url: String = mail[at..].chars().take_while(|c| !c.is_whitespace()).collect();
    let (_, status, landed) = choose(p, &url, password).await;
    assert_eq!((status, landed.as_str()), (StatusCode::OK, "/channels"));
    p.login(email, password).await
}

pub(crate) async fn choose(p: &Portal, url: &str, password: &str) -> (Client, StatusCode, String) {
    let c = p.anonymous();
    let path = url.strip_prefix(&p.base).unwrap().to_string();
    let (status, html) = page(p, &c, &path).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    let csrf = form_token(&html);
    let (status, landed, _) =
        post_form(p, &c, &path, &[("csrf", &csrf), ("password", password), ("again", password)]).await;
    (c, status, landed)
}

async fn an_admin_adds_a_colleague_who_chooses_a_password(b: Backend) {
    let outbox = tempfile::tempdir().unwrap();
    let mailer =
        switchboard::mail::Mailer::outbox(outbox.path().to_path_buf(), "Switchboard <noreply@sb.example>").unwrap();
    let p = Portal::start_with(b, Some(mailer)).await;
    let acme = p.login("admin@acme.example", "password-1").await;

    let (status, added) =
        acme.post("/api/v1/people", json!({"email": "Ana@Acme.example", "name": "Ana Ng", "role": "member"})).await;
    assert_eq!(status, StatusCode::CREATED, "{added}");
    assert_eq!(added["mailed"], true);
    let url = added["url"].as_str().unwrap().to_string();
    p.w.svc.mail_settled().await;
    let mails = mails_to(outbox.path(), "ana@acme.example");
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert!(mails[0].contains(&url) && mails[0].contains("admin@acme.example added you to acme"), "{}", mails[0]);

    // Listed, not yet able to log in: no password was set for them.
    let (_, people) = acme.get("/api/v1/people").await;
    let ana = people.as_array().unwrap().iter().find(|x| x["email"] == "ana@acme.example").unwrap().clone();
    assert_eq!((ana["role"].as_str(), ana["active"].as_bool()), (Some("member"), Some(false)), "{ana}");
    let (status, _) = p.anonymous().post("/api/v1/session", json!({"email": "ana@acme.example", "password": ""})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (_, html) = page(&p, &acme, "/people").await;
    assert!(html.contains("ana@acme.example") && html.contains("not yet"), "{html}");

    // The link: two different passwords are refused with the form kept; then chosen, and in.
    let path = url.strip_prefix(&p.base).unwrap().to_string();
    let anon = p.anonymous();
    let (_, html) = page(&p, &anon, &path).await;
    assert!(html.contains("Welcome, Ana Ng") && html.contains("acme"), "{html}");
    let csrf = form_token(&html);
    let (status, _, html) =
        post_form(&p, &anon, &path, &[("csrf", &csrf), ("password", "long-enough-1"), ("again", "long-enough-2")])
            .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("The two passwords differ") && html.contains("id=\"welcome\""), "{html}");
    let (status, _, html) =
        post_form(&p, &anon, &path, &[("csrf", &csrf), ("password", "short"), ("again", "short")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("at least 8 characters"), "{html}");
    // Another site's post (no pre-session cookie) is refused.
    let (status, _, _) =
        post_form(&p, &p.anonymous(), &path, &[("password", "long-enough-1"), ("again", "long-enough-1")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, landed, home) =
        post_form(&p, &anon, &path, &[("csrf", &csrf), ("password", "long-enough-1"), ("again", "long-enough-1")])
            .await;
    assert_eq!((status, landed.as_str()), (StatusCode::OK, "/channels"), "{home}");
    let (_, me) = anon.get("/api/v1/me").await;
    assert_eq!((me["user"]["email"].as_str(), me["user"]["role"].as_str()), (Some("ana@acme.example"), Some("member")));
    let ana_client = p.login("ana@acme.example", "long-enough-1").await;
    // Used once.
    let (status, html) = page(&p, &p.anonymous(), &path).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(html.contains("This link does not work") && html.contains("href=\"/login\""), "{html}");
    let (status, html) = page(&p, &p.anonymous(), &format!("/welcome/{}", "0".repeat(64))).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a forged link: {html}");

    // A member manages no one; the people page tells them who does.
    let (status, body) = ana_client.post("/api/v1/people", json!({"email": "x@acme.example", "name": "X"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (_, html) = page(&p, &ana_client, "/people").await;
    assert!(!html.contains("id=\"add-person\"") && html.contains("admins add and remove people"), "{html}");
    let ana_id = ana["id"].as_str().unwrap();
    assert_eq!(ana_client.delete(&format!("/api/v1/people/{ana_id}")).await.0, StatusCode::FORBIDDEN);

    // An active person gets no new link; nobody removes themselves; another organization's
    // people are out of reach.
    let (status, _) = acme.post(&format!("/api/v1/people/{ana_id}/welcome"), json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (_, me) = acme.get("/api/v1/me").await;
    assert_eq!(
        acme.delete(&format!("/api/v1/people/{}", me["user"]["id"].as_str().unwrap())).await.0,
        StatusCode::CONFLICT
    );
    let globex = p.login("admin@globex.example", "password-1").await;
    let (_, theirs) = globex.get("/api/v1/people").await;
    assert!(!theirs.to_string().contains("acme.example"), "{theirs}");
    assert_eq!(globex.delete(&format!("/api/v1/people/{ana_id}")).await.0, StatusCode::NOT_FOUND);

    // Removed: the session ends at once, the login no longer works; added again, a new link.
    assert_eq!(acme.delete(&format!("/api/v1/people/{ana_id}")).await.0, StatusCode::NO_CONTENT);
    assert_eq!(ana_client.get("/api/v1/me").await.0, StatusCode::UNAUTHORIZED);
    let (status, _) =
        p.anonymous().post("/api/v1/session", json!({"email": "ana@acme.example", "password": "long-enough-1"})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (_, people) = acme.get("/api/v1/people").await;
    assert!(!people.to_string().contains("ana@acme.example"), "{people}");
    let (status, back) =
        acme.post("/api/v1/people", json!({"email": "ana@acme.example", "name": "Ana Ng", "role": "admin"})).await;
    assert_eq!(status, StatusCode::CREATED, "{back}");
    assert_eq!(back["user_id"], ana["id"], "the same person comes back");
    let (_, status, _) = choose(&p, back["url"].as_str().unwrap(), "another-pass-1").await;
    assert_eq!(status, StatusCode::OK);
    let (_, me) = p.login("ana@acme.example", "another-pass-1").await.get("/api/v1/me").await;
    assert_eq!(me["user"]["role"], "admin", "{me}");

    // The audit log has each step.
    let op = p.login("noc@operator.example", "operator-pw").await;
    let (_, log) = op.get("/api/v1/audit").await;
    let actions: Vec<&str> = log.as_array().unwrap().iter().filter_map(|e| e["action"].as_str()).collect();
    for a in ["user.create", "user.mailed", "user.password", "user.remove"] {
        assert!(actions.contains(&a), "{a} in {actions:?}");
    }
}

on_both!(an_admin_adds_a_colleague_who_chooses_a_password);

/// The people page's add form: a refusal keeps what was typed, beside the field; without a
/// mail server the admin is given the link to pass on; removing asks first.
async fn the_people_page_keeps_what_was_typed_and_confirms_removal(b: Backend) {
    let p = Portal::start(b).await;
    let acme = p.login("admin@acme.example", "password-1").await;
    let (_, html) = page(&p, &acme, "/people").await;
    let csrf = form_token(&html);
    let add = async |email: &str, name: &str| {
        post_form(&p, &acme, "/people", &[("csrf", &csrf), ("email", email), ("name", name), ("role", "admin")]).await
    };
    // A login of another organization's.
    let (status, _, html) = add("admin@globex.example", "Someone Else").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
    assert!(html.contains("id=\"email-error\"") && html.contains("has a Switchboard login already"), "{html}");
    assert!(html.contains(r#"value="admin@globex.example""#) && html.contains(r#"value="Someone Else""#), "{html}");
    assert!(html.contains(r#"<option value="admin" selected>"#), "the role is kept: {html}");
    let (status, _, html) = add("not-an-email", "Bo").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("id=\"email-error\"") && html.contains(r#"value="Bo""#), "{html}");
    let error = html.split("id=\"email-error\"").nth(1).unwrap();
    assert!(!error[..error.find("</div>").unwrap()].contains('`'), "words for people: {error:.200}");
    let (_, _, html) = add("admin@acme.example", "Me Again").await;
    assert!(html.contains("This address is one of your people already"), "{html}");

    // No mail server: the link is the admin's to pass on.
    let (status, _, html) = add("bo@acme.example", "Bo Li").await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("Switchboard sends no email here") && html.contains("id=\"welcome-link\""), "{html}");
    let link = html.split("id=\"welcome-link\">").nth(1).unwrap();
    let link = &link[..link.find('<').unwrap()];
    assert!(link.starts_with(&format!("{}/welcome/", p.base)), "{link}");
    // A new link replaces it.
    let (_, people) = acme.get("/api/v1/people").await;
    let bo = people.as_array().unwrap().iter().find(|x| x["email"] == "bo@acme.example").unwrap()["id"].clone();
    let bo = bo.as_str().unwrap();
    let (status, _, html) = post_form(&p, &acme, &format!("/people/{bo}/welcome"), &[("csrf", &csrf)]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("A new link replaces the old one"), "{html}");
    let (status, _) = page(&p, &p.anonymous(), link.strip_prefix(&p.base).unwrap()).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "the old link stopped working");

    // Removing asks first, and without the confirmation changes nothing.
    let (status, _, html) = post_form(&p, &acme, &format!("/people/{bo}/remove"), &[("csrf", &csrf)]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Remove Bo Li (bo@acme.example)?") && html.contains("id=\"confirm\""), "{html}");
    let listed = async || acme.get("/api/v1/people").await.1.to_string().contains("bo@acme.example");
    assert!(listed().await, "not removed before the confirmation");
    let (status, landed, html) =
        post_form(&p, &acme, &format!("/people/{bo}/remove"), &[("csrf", &csrf), ("confirm", "yes")]).await;
    assert_eq!((status, landed.as_str()), (StatusCode::OK, "/people"));
    assert!(html.contains("Removed: they can no longer log in"), "{html}");
    assert!(!listed().await, "removed");
}

on_both!(the_people_page_keeps_what_was_typed_and_confirms_removal);
