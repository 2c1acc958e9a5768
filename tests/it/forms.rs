//! Forms keep what was typed (issue: the portal journey, item 3): a refused offer shows
//! the channel page again with every line of its invitee list, its description and
//! expiry as sent, and every bad line reported at once, inside the form. And what the
//! browser keeps of signed-in pages: nothing.

use reqwest::StatusCode;

use crate::api::{Portal, new_channel};
use crate::world::Backend;

async fn a_refused_offer_keeps_every_line(b: Backend) {
    let p = Portal::start(b).await;
    let acme = p.login("admin@acme.example", "password-1").await;
    let (_, ch) = acme.post("/api/v1/channels", new_channel(&p, "kept", "p2p", "acme-1a")).await;
    let id = ch["id"].as_str().unwrap().to_string();
    let send = async |invitees: &str, days: &str| {
        let body = [
            ("csrf", acme.csrf.as_str()),
            ("invitees", invitees),
            ("description", "keep me"),
            ("expires_in_days", days),
        ];
        let r = acme.raw().await.post(format!("{}/channels/{id}/offers", p.base)).form(&body).send().await.unwrap();
        (r.status(), r.text().await.unwrap())
    };

    let typed = "not-an-email\nops@globex.example, Globex Ops\n\nalso wrong, Someone";
    let (status, page) = send(typed, "soon").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
    for said in ["Line 1 (“not-an-email”)", "Line 4 (“also wrong, Someone”)", "“soon” is not a number of days"]
    {
        assert!(page.contains(said), "{said} is reported: {page}");
    }
    assert!(!page.contains("Line 2"), "a good line is not reported: {page}");
    assert!(page.contains("id=\"offer-error\""), "the errors are inside the offer form");
    assert!(page.contains(">not-an-email\nops@globex.example, Globex Ops\n\nalso wrong, Someone</textarea>"), "{page}");
    assert!(page.contains(r#"value="keep me""#) && page.contains(r#"value="soon""#), "{page}");
    assert_eq!(acme.get(&format!("/api/v1/channels/{id}/offers")).await.1.as_array().map(Vec::len), Some(0));

    // Refusals by the service (no such organization, our own) come back the same way, every
    // one at once, each naming its line.
    let (status, page) = send("org:no-such-organization\n\norg:acme", "").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
    assert!(
        page.contains("id=\"offer-error\"") && page.contains(">org:no-such-organization\n\norg:acme</textarea>"),
        "{page}"
    );
    for said in [
        "Line 1 (“org:no-such-organization”): no organization named “no-such-organization”",
        "Line 3 (“org:acme”): your own organization cannot be invited",
    ] {
        assert!(page.contains(said), "{said}: {page}");
    }
    assert_eq!(acme.get(&format!("/api/v1/channels/{id}/offers")).await.1.as_array().map(Vec::len), Some(0));

    // A line that does not read and a line the service refuses: both in one round, in the
    // order of the lines, and nothing is offered.
    let (status, page) = send(
        "org:acme
not-an-email
ops@globex.example",
        "",
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
    let own = page.find("Line 1 (“org:acme”): your own organization cannot be invited").expect(&page);
    let bad = page.find("Line 2 (“not-an-email”)").expect(&page);
    assert!(own < bad, "in the order of the lines: {page}");
    assert!(!page.contains("Line 3"), "a good line is not reported: {page}");
    assert_eq!(acme.get(&format!("/api/v1/channels/{id}/offers")).await.1.as_array().map(Vec::len), Some(0));
}

on_both!(a_refused_offer_keeps_every_line);

/// Signed-in pages and API answers say `Cache-Control: no-store` (issue: the portal
/// journey, item 7): a shared computer's browser keeps no copy of them after logout. The
/// static files keep their own caching.
async fn signed_in_pages_are_not_stored(b: Backend) {
    let p = Portal::start(b).await;
    let acme = p.login("admin@acme.example", "password-1").await;
    let http = acme.raw().await;
    for path in ["/channels", "/settings", "/api/v1/channels", "/api/v1/me"] {
        let r = http.get(format!("{}{path}", p.base)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        assert_eq!(r.headers()["cache-control"], "no-store", "{path}");
    }
    let r = http.get(format!("{}/static/portal.css", p.base)).send().await.unwrap();
    assert_eq!(r.headers()["cache-control"], "max-age=300");
}

on_both!(signed_in_pages_are_not_stored);

/// The account an organization sees (issue: the portal journey, item 1), over the API and
/// as its page: status, balance, credit, what can still be charged, limits and their use,
/// and each charge with its channel, in the operator's currency.
async fn the_account_page_shows_money_and_limits(b: Backend) {
    let p = Portal::start(b).await;
    let acme = p.login("admin@acme.example", "password-1").await;
    let (_, before) = acme.get("/api/v1/account").await;
    assert_eq!((before["currency"].as_str(), before["status"].as_str()), (Some("EUR"), Some("active")), "{before}");
    let start = before["balance_cents"].as_i64().unwrap();
    let mut paid = new_channel(&p, "Paid line", "p2p", "acme-1a");
    paid["usage_model_id"] = serde_json::json!(p.w.paid);
    let (status, ch) = acme.post("/api/v1/channels", paid).await;
    assert_eq!(status, StatusCode::CREATED, "{ch}");
    let (_, after) = acme.get("/api/v1/account").await;
    assert_eq!(after["balance_cents"].as_i64(), Some(start - 5000), "{after}");
    assert_eq!(
        after["available_cents"].as_i64(),
        Some(start - 5000 + after["credit_limit_cents"].as_i64().unwrap()),
        "{after}"
    );
    assert_eq!(after["charges"][0]["channel"], "Paid line");
    assert_eq!(after["charges"][0]["amount_cents"], 5000);

    let page = acme.raw().await.get(format!("{}/account", p.base)).send().await.unwrap().text().await.unwrap();
    let money = |cents: i64| format!("{}.{:02} EUR", cents / 100, cents.rem_euclid(100));
    assert!(page.contains(&format!("id=\"balance\">{}", money(start - 5000))), "{page}");
    assert!(page.contains(">Paid line</a>") && page.contains("50.00 EUR"), "{page}");
    assert!(page.contains("id=\"channels-held\">1 of"), "{page}");
    assert!(page.contains("E-Line") && !page.contains("p2p"), "kinds in words: {page}");
    // The NOC has no account.
    let noc = p.login("noc@operator.example", "operator-pw").await;
    assert_eq!(noc.get("/api/v1/account").await.0, StatusCode::NOT_FOUND);
}

on_both!(the_account_page_shows_money_and_limits);

/// The header's "API" leads to a page for people (issue: the portal journey, item 7):
/// every operation of the served OpenAPI document by tag, with what it does and takes,
/// and a link to the document for programs.
async fn the_api_page_is_for_people(b: Backend) {
    let p = Portal::start(b).await;
    let acme = p.login("admin@acme.example", "password-1").await;
    let channels = acme.raw().await.get(format!("{}/channels", p.base)).send().await.unwrap().text().await.unwrap();
    assert!(channels.contains(r#"<a href="/api">API</a>"#), "the header links the page");
    let r = acme.raw().await.get(format!("{}/api", p.base)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let page = r.text().await.unwrap();
    let doc: serde_json::Value =
        reqwest::get(format!("{}/api/v1/openapi.json", p.base)).await.unwrap().json().await.unwrap();
    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let row = format!(r#"<td class="mono">{}</td><td class="mono">{path}</td>"#, method.to_uppercase());
            assert!(page.contains(&row), "{method} {path} is listed");
            operations += 1;
        }
    }
    assert!(operations > 20, "{operations}");
    assert!(page.contains("a JSON NewChannel") && page.contains("href=\"/api/v1/openapi.json\""), "{page}");
    // Nobody needs to log in to read it.
    let anonymous = reqwest::get(format!("{}/api", p.base)).await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::OK);
}

on_both!(the_api_page_is_for_people);

/// The create form tells before submitting which usage models this account cannot use, and
/// why (issue: the portal journey, item 1): a model that charges more in advance than the
/// account can pay is marked and cannot be chosen, and one that fits is chosen.
async fn the_create_form_marks_models_the_account_cannot_use(b: Backend) {
    let p = Portal::start(b).await;
    p.w.set_account("acme", |a| {
        a.balance_cents = 0;
        a.credit_limit_cents = 1_000;
    })
    .await;
    let acme = p.login("admin@acme.example", "password-1").await;
    let page = acme.raw().await.get(format!("{}/channels", p.base)).send().await.unwrap().text().await.unwrap();
    let option = |id: &str| {
        let start = page.find(&format!(r#"<option value="{id}""#)).unwrap_or_else(|| panic!("{id} is offered"));
        page[start..start + page[start..].find("</option>").unwrap()].to_string()
    };
    let paid = option(&p.w.paid);
    assert!(paid.contains(" disabled") && paid.contains("not available to you"), "{paid}");
    assert!(paid.contains("50.00") && paid.contains("10.00"), "says what it charges and what can be paid: {paid}");
    let free = option(&p.w.free);
    assert!(!free.contains("disabled") && free.contains(" selected"), "the model that fits is chosen: {free}");
    // With credit enough, nothing is marked.
    p.w.set_account("acme", |a| a.credit_limit_cents = 100_000).await;
    let page = acme.raw().await.get(format!("{}/channels", p.base)).send().await.unwrap().text().await.unwrap();
    assert!(!page.contains("not available to you"), "{page}");
}

on_both!(the_create_form_marks_models_the_account_cannot_use);

/// A refused acceptance keeps the accept form as it was sent (issue: the portal journey,
/// item 3): the socket, the usage model and the customer tag chosen, with the error inside
/// the form (brought into view) and beside the field it concerns.
async fn a_refused_acceptance_keeps_the_form(b: Backend) {
    let p = Portal::start(b).await;
    let acme = p.login("admin@acme.example", "password-1").await;
    let (_, ch) = acme.post("/api/v1/channels", new_channel(&p, "kept", "p2p", "acme-1a")).await;
    let id = ch["id"].as_str().unwrap();
    let body = serde_json::json!({"invitees": [{"email": "admin@globex.example"}]});
    let (_, offer) = acme.post(&format!("/api/v1/channels/{id}/offers"), body).await;
    let token = offer["invitations"][0]["token"].as_str().unwrap().to_string();
    let globex = p.login("admin@globex.example", "password-1").await;
    let send = async |interface: &str, model: &str, tag: &str| {
        let fields = [
            ("csrf", globex.csrf.as_str()),
            ("interface", interface),
            ("usage_model_id", model),
            ("customer_vlan", tag),
        ];
        let r = globex.raw().await.post(format!("{}/invitations/{token}/accept", p.base)).form(&fields).send().await;
        let r = r.unwrap();
        (r.status(), r.text().await.unwrap())
    };
    let kept = |page: &str, interface: &str, model: &str, tag: &str| {
        assert!(page.contains(&format!(r#"value="{interface}" checked"#)), "{interface} stays chosen: {page}");
        assert!(page.contains(&format!(r#"<option value="{model}" selected"#)), "{model} stays chosen: {page}");
        assert!(page.contains(&format!(r#"name="customer_vlan" type="number" min="1" max="4094" value="{tag}""#)));
        assert!(page.contains(r#"id="error" data-scroll-here"#), "the error is inside the form, in view: {page}");
    };

    // A customer tag on a port-mode socket: beside the tag.
    let (status, page) = send("globex-3b", &p.w.paid, "700").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
    kept(&page, "globex-3b", &p.w.paid, "700");
    assert!(page.contains(r#"id="customer-vlan-error""#) && page.contains("port mode"), "{page}");
    // A tag that is not a number: beside the tag too.
    let (status, page) = send("globex-5c", &p.w.free, "7x").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{page}");
    kept(&page, "globex-5c", &p.w.free, "7x");
    assert!(page.contains(r#"id="customer-vlan-error""#) && page.contains("“7x” is not a VLAN tag"), "{page}");
    // A model the account cannot pay for (told on the page before, refused on submit):
    // beside the model, with the socket kept.
    p.w.set_account("globex", |a| (a.balance_cents, a.credit_limit_cents) = (0, 0)).await;
    let (status, page) = send("globex-3b", &p.w.paid, "").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
    assert!(page.contains(r#"value="globex-3b" checked"#), "{page}");
    assert!(page.contains(r#"id="usage-model-error""#) && page.contains("50.00"), "{page}");
    assert_eq!(acme.get(&format!("/api/v1/channels/{id}")).await.1["attachments"].as_array().map(Vec::len), Some(1));
}

on_both!(a_refused_acceptance_keeps_the_form);

/// The create form's marks follow the bandwidth being typed (issue: the portal journey,
/// item 1): what `portal.js` fetches marks a per-Mbps model the account cannot pay for at
/// the new bandwidth, with the price for it, and keeps the visitor's choice while usable.
async fn the_create_form_marks_follow_the_bandwidth(b: Backend) {
    let p = Portal::start(b).await;
    let per_mbps = p.w.per_mbps_model_acme_pays_at_10_not_20().await;
    let acme = p.login("admin@acme.example", "password-1").await;
    let marks = async |mbps: &str, selected: &str| {
        let url = format!("{}/channels/models?bandwidth_mbps={mbps}&selected={selected}", p.base);
        let r = acme.raw().await.get(url).send().await.unwrap();
        (r.status(), r.text().await.unwrap())
    };
    let option = |page: &str, id: &str| {
        let start = page.find(&format!(r#"<option value="{id}""#)).unwrap_or_else(|| panic!("{id} in {page}"));
        page[start..start + page[start..].find("</option>").unwrap()].to_string()
    };
    let (status, page) = marks("10", &per_mbps).await;
    assert_eq!(status, StatusCode::OK);
    let at_10 = option(&page, &per_mbps);
    assert!(!at_10.contains("disabled") && at_10.contains(" selected") && at_10.contains("10.00 EUR"), "{at_10}");
    let (_, page) = marks("20", &per_mbps).await;
    let at_20 = option(&page, &per_mbps);
    assert!(at_20.contains(" disabled") && at_20.contains("20.00") && at_20.contains("15.00"), "{at_20}");
    assert!(option(&page, &p.w.free).contains(" selected"), "the first usable one is chosen instead: {page}");
    assert_eq!(marks("lots", "").await.0, StatusCode::BAD_REQUEST);
    let page = acme.raw().await.get(format!("{}/channels", p.base)).send().await.unwrap().text().await.unwrap();
    assert!(page.contains(r#"data-marks="/channels/models""#), "the form asks again as the bandwidth changes");
}

on_both!(the_create_form_marks_follow_the_bandwidth);

/// What a first try met (issue: the portal journey, reviewed as a new user): an E-Line with
/// both ends shows no offer form and refuses an offer (an invitation nobody could accept);
/// the create form chooses a class of service the account has and marks the others; an
/// accept form sent without a port says so beside the ports.
async fn no_dead_ends_on_a_first_try(b: Backend) {
    let p = Portal::start(b).await;
    let acme = p.login("admin@acme.example", "password-1").await;
    let (id, _, _) = crate::api::live_p2p(&p, &acme, "Both ends").await;
    let html = acme.raw().await.get(format!("{}/channels/{id}", p.base)).send().await.unwrap().text().await.unwrap();
    assert!(html.contains(r#"id="full""#) && !html.contains(r#"id="offer""#), "{html:.3000}");
    let body = serde_json::json!({"invitees": [{"organization": "initech"}]});
    let (status, refused) = acme.post(&format!("/api/v1/channels/{id}/offers"), body).await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    assert!(refused["message"].as_str().unwrap().contains("cannot be offered to anyone else"), "{refused}");

    // A class the account lacks is marked, and one it has is chosen.
    let spec = switchboard::service::DefinitionSpec {
        name: "Gold line".into(),
        kinds: vec![switchboard::model::ChannelKind::P2p],
        min_bandwidth_mbps: 1,
        max_bandwidth_mbps: 1000,
        classes: vec!["gold".into(), "standard".into()],
        drivers: vec!["dry-run".into()],
        relations: Default::default(),
    };
    p.w.svc.create_definition(&p.w.op, &spec).await.unwrap();
    let page = acme.raw().await.get(format!("{}/channels", p.base)).send().await.unwrap().text().await.unwrap();
    assert!(page.contains(r#"<option value="gold" disabled>gold (not in your account)</option>"#), "{page:.4000}");
    assert!(page.contains(r#"<option value="standard" selected>standard</option>"#), "{page:.4000}");

    // A member is told who makes channels instead of meeting no form.
    let uid =
        p.w.svc
            .create_user(
                &p.w.acme,
                &p.w.svc.organization_id("acme").await.unwrap(),
                "member@acme.example",
                "Mem",
                switchboard::service::UserRole::Member,
                "password-12",
            )
            .await
            .unwrap();
    let _ = uid;
    let member = p.login("member@acme.example", "password-12").await;
    let page = member.raw().await.get(format!("{}/channels", p.base)).send().await.unwrap().text().await.unwrap();
    assert!(page.contains(r#"id="why-no-create""#) && page.contains("admins"), "{page:.4000}");

    // An accept form without a port.
    let (_, ch) = acme.post("/api/v1/channels", new_channel(&p, "no port", "p2p", "acme-3a")).await;
    let body = serde_json::json!({"invitees": [{"email": "admin@globex.example"}]});
    let (_, offer) = acme.post(&format!("/api/v1/channels/{}/offers", ch["id"].as_str().unwrap()), body).await;
    let token = offer["invitations"][0]["token"].as_str().unwrap().to_string();
    let globex = p.login("admin@globex.example", "password-1").await;
    let r = globex
        .raw()
        .await
        .post(format!("{}/invitations/{token}/accept", p.base))
        .form(&[("csrf", globex.csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = r.text().await.unwrap();
    assert!(page.contains(r#"id="interface-error""#) && page.contains("Choose one of your ports"), "{page:.4000}");
}

on_both!(no_dead_ends_on_a_first_try);

/// The create form chooses a class of service that a newly registered organization also
/// has, so what a creator offers with the defaults can be accepted by a newcomer (a
/// new-user review: "premium", first in the alphabet, was chosen, and every newcomer was
/// refused).
async fn the_create_form_chooses_a_class_newcomers_have(b: Backend) {
    let p = Portal::start(b).await;
    let w = &p.w;
    let spec = switchboard::service::DefinitionSpec {
        name: "Metro Ethernet".into(),
        kinds: vec![switchboard::model::ChannelKind::P2p],
        min_bandwidth_mbps: 1,
        max_bandwidth_mbps: 10_000,
        classes: vec!["premium".into(), "standard".into()],
        drivers: vec!["dry-run".into(), "linux".into()],
        relations: Default::default(),
    };
    w.svc.create_definition(&w.op, &spec).await.unwrap();
    w.set_account("acme", |a| a.classes = vec!["premium".into(), "standard".into()]).await;
    let acme = p.login("admin@acme.example", "password-1").await;
    let r = acme.raw().await.get(format!("{}/channels", p.base)).send().await.unwrap();
    let html = r.text().await.unwrap();
    let select = &html[html.find(r#"<select id="class""#).expect("the class choice")..];
    let select = &select[..select.find("</select>").unwrap()];
    assert!(select.contains(r#"<option value="standard" selected>"#), "{select}");
    assert!(select.contains(r#"<option value="premium">"#), "premium stays a choice: {select}");
}

on_both!(the_create_form_chooses_a_class_newcomers_have);

/// An offer sent again (a reloaded page, a list pasted twice) invites nobody twice: a
/// person or organization whose invitation to the channel waits is refused, naming the
/// line, and nothing is written (a new-user review found two identical invitations).
async fn nobody_is_invited_twice_to_one_channel(b: Backend) {
    let p = Portal::start(b).await;
    let acme = p.login("admin@acme.example", "password-1").await;
    let (_, ch) = acme.post("/api/v1/channels", new_channel(&p, "once", "mp2mp", "acme-1a")).await;
    let id = ch["id"].as_str().unwrap().to_string();
    let offer = |invitees: serde_json::Value| {
        let acme = &acme;
        let id = id.clone();
        async move { acme.post(&format!("/api/v1/channels/{id}/offers"), serde_json::json!({"invitees": invitees})).await }
    };
    let (status, _) = offer(serde_json::json!([{"email": "ops@globex.example"}, {"organization": "umbrella"}])).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = offer(serde_json::json!([{"email": "OPS@globex.example"}])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["message"].as_str().unwrap().contains("invitees[0]: invited to this channel already"), "{body}");
    let (status, body) = offer(
        serde_json::json!([{"organization": "initech"}, {"organization": "umbrella"}, {"organization": "initech"}]),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("invitees[1]: invited") && message.contains("invitees[2]: invited"), "{message}");
    assert!(!message.contains("invitees[0]"), "{message}");
    let (_, offers) = acme.get(&format!("/api/v1/channels/{id}/offers")).await;
    let invitees: usize = offers.as_array().unwrap().iter().map(|o| o["invitees"].as_array().unwrap().len()).sum();
    assert_eq!(invitees, 2, "nothing more was written: {offers}");
}

on_both!(nobody_is_invited_twice_to_one_channel);

/// The address a form was sent to, opened again (a reload, history, a reopened tab), leads to
/// the page the form is on, not to a refusal about methods; a cut-short invitation link
/// says the link is not valid.
async fn a_form_address_opened_again_leads_to_its_page(b: Backend) {
    let p = Portal::start(b).await;
    let acme = p.login("admin@acme.example", "password-1").await;
    let (_, ch) = acme.post("/api/v1/channels", new_channel(&p, "again", "p2p", "acme-1a")).await;
    let id = ch["id"].as_str().unwrap().to_string();
    let att = ch["attachments"][0]["id"].as_str().unwrap().to_string();
    for (path, lands) in [
        (format!("/channels/{id}/terminate"), format!("/channels/{id}")),
        (format!("/channels/{id}/offers"), format!("/channels/{id}")),
        (format!("/attachments/{att}/detach"), "/channels".to_string()),
        ("/people/usr-1/remove".to_string(), "/people".to_string()),
    ] {
        let r = acme.raw().await.get(format!("{}{path}", p.base)).send().await.unwrap();
        assert_eq!((r.status(), r.url().path()), (StatusCode::OK, lands.as_str()), "{path}");
    }
    let r = p.anonymous().raw().await.get(format!("{}/invitations/{}", p.base, "ab".repeat(30))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let html = r.text().await.unwrap();
    assert!(html.contains("<h1>This invitation link is not valid</h1>"), "{html}");
    assert!(!html.contains("Access denied"), "{html}");
}

on_both!(a_form_address_opened_again_leads_to_its_page);

/// The policy page reports every problem of a save at once, each in words, and keeps what
/// was typed (a review found one error per save, and a number of days that did not read
/// lost the rest of the form).
async fn the_policy_page_reports_every_problem_at_once(b: Backend) {
    let p = Portal::start(b).await;
    let acme = p.login("admin@acme.example", "password-1").await;
    let (_, before) = acme.get("/api/v1/policy").await;
    let r = acme
        .raw()
        .await
        .post(format!("{}/settings", p.base))
        .form(&[
            ("csrf", acme.csrf.as_str()),
            ("default_offer_days", "a fortnight"),
            ("rule_org", "nobody-here"),
            ("rule_iface", "acme-1a"),
            ("rule_org", "acme"),
            ("rule_iface", "acme-3a"),
            ("notify_to", "noc@acme.example\nnot an address"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let page = r.text().await.unwrap();
    let error = &page[page.find("id=\"error\"").expect("the errors are shown")..];
    let error = &error[..error.find("</div>").unwrap()];
    for said in [
        "“a fortnight” is not a number of days",
        "Recipient 2: “not an address” is not an email address",
        "Rule 1: there is no organization “nobody-here”",
        "Rule 2: an organization does not offer channels to itself",
    ] {
        assert!(error.contains(said), "{said}: {error}");
    }
    assert!(!error.contains('`') && !error.contains("auto_accept["), "{error}");
    assert!(page.contains(r#"value="a fortnight""#) && page.contains("nobody-here"), "what was typed is kept: {page}");
    assert!(page.contains("noc@acme.example\nnot an address"), "{page}");
    assert_eq!(acme.get("/api/v1/policy").await.1, before, "nothing stored");
}

on_both!(the_policy_page_reports_every_problem_at_once);
