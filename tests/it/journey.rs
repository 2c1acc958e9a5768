//! A new organization's first try (SPEC §2, the portal journey's accounts and money): what a
//! new organization starts with is the operator's policy, the invitation proposes a usage
//! model the organization can use and says why each other one is not open to it, and an
//! organization that registers from its invitation accepts a paid E-Line and a paid E-Tree
//! leaf on its first submit, on SQLite and PostgreSQL.

use reqwest::StatusCode;
use serde_json::{Value, json};
use switchboard::model::ChannelKind;
use switchboard::orchestrator::policy::PriceType;
use switchboard::service::{Actor, DefinitionSpec, UsageModelSpec, UserRole};

use crate::api::{Client, Portal};
use crate::world::{Backend, metro_text};

/// The metro topology plus two organizations that own ports and have no users yet, each
/// with its domain as its contacts (hooli's is the metro topology's).
pub fn with_newcomers() -> String {
    let mut text = metro_text().replace(
        "  hooli: {contacts: [\"@hooli.example\"]}\n",
        "  hooli: {contacts: [\"@hooli.example\"]}\n  newco: {contacts: [\"@newco.example\"]}\n  poorco: {contacts: [\"@poorco.example\"]}\n",
    );
    assert!(text.contains("newco: {contacts"), "the metro topology lists hooli's contacts");
    for (name, org, port, mac) in [
        ("newco-9x", "newco", "c7", "02:5b:00:00:09:71"),
        ("newco-9z", "newco", "c9", "02:5b:00:00:09:91"),
        ("poorco-9y", "poorco", "c8", "02:5b:00:00:09:81"),
    ] {
        text.push_str(&format!(
            "  {name}:\n    organization: {org}\n    switch: acc9\n    port: {port}\n    mode: port\n    capacity: 1G\n    macs: [\"{mac}\"]\n"
        ));
    }
    text
}

/// The operator's catalogue for these tests: a free trial up to 10 Mbps listed first (what
/// the accept form used to pre-select), then a monthly price the test sets.
pub async fn paid_catalogue(p: &Portal, monthly_cents: i64) -> (String, String) {
    // acme, the creator, is charged in advance for each paid channel it makes (its own
    // plug-in): it has credit enough for every channel of these tests.
    p.w.set_account("acme", |a| a.credit_limit_cents = 1_000_000).await;
    let (svc, op) = (&p.w.svc, &p.w.op);
    let spec = DefinitionSpec {
        name: "Metro paid".into(),
        kinds: vec![ChannelKind::P2p, ChannelKind::P2mp, ChannelKind::Mp2mp],
        min_bandwidth_mbps: 1,
        max_bandwidth_mbps: 1000,
        classes: vec!["standard".into()],
        drivers: vec!["dry-run".into(), "linux".into()],
        relations: Default::default(),
    };
    let (definition, _) = svc.create_definition(op, &spec).await.unwrap();
    let trial = UsageModelSpec { name: "Trial".into(), max_bandwidth_mbps: Some(10), ..Default::default() };
    let monthly = UsageModelSpec {
        name: "Monthly".into(),
        price_type: Some(PriceType::FlatMonthly),
        price_cents: monthly_cents,
        ..Default::default()
    };
    let trial = svc.create_usage_model(op, &definition, &trial).await.unwrap();
    let monthly = svc.create_usage_model(op, &definition, &monthly).await.unwrap();
    (trial.to_string(), monthly.to_string())
}

/// acme's 100 Mbps channel of `kind` on the monthly model, offered by email to the person
/// of organization `org`. Returns the channel's ID and the invitation's token.
pub async fn offer_paid(
    acme: &Client,
    kind: &str,
    iface: &str,
    monthly: &str,
    email: &str,
    org: &str,
) -> (String, String) {
    let (status, ch) = acme
        .post(
            "/api/v1/channels",
            json!({"name": format!("{kind} for {org}"), "kind": kind, "bandwidth_mbps": 100, "class": "standard",
                   "usage_model_id": monthly, "interface": iface}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{ch}");
    let id = ch["id"].as_str().unwrap().to_string();
    let (status, offer) = acme
        .post(
            &format!("/api/v1/channels/{id}/offers"),
            json!({"invitees": [{"email": email, "name": "Ops", "org_name": org}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{offer}");
    (id, offer["invitations"][0]["token"].as_str().unwrap().to_string())
}

/// Registers the invited person of `org` from its invitation, as the API's client does.
async fn register(p: &Portal, token: &str, email: &str, org: &str) -> Client {
    let mut c = p.anonymous();
    let (status, body) = c
        .post(
            &format!("/api/v1/invitations/{token}/register"),
            json!({"email": email, "name": "Ops", "organization": org, "password": "a long enough password"}),
        )
        .await;
    if status == StatusCode::ACCEPTED {
        // An organization the operator imported: its first admin confirms the address.
        assert_eq!((body["email"].as_str(), body["organization"].as_str()), (Some(email), Some(org)), "{body}");
        return crate::people::confirm_by_mail(p, email, "a long enough password").await;
    }
    assert_eq!(status, StatusCode::CREATED, "{body}");
    c.csrf = body["csrf"].as_str().unwrap().to_string();
    c
}

fn codes(refused: &Value) -> Vec<String> {
    refused.as_array().map_or(Vec::new(), |a| a.iter().map(|r| r["code"].as_str().unwrap().to_string()).collect())
}

async fn a_new_organization_accepts_paid_offers_on_its_first_try(b: Backend) {
    let p = Portal::start_mailing(b).await;
    let system = Actor::system("test");
    p.w.svc.import_topology(&system, &with_newcomers(), "metro.yaml").await.unwrap();
    let (trial, monthly) = paid_catalogue(&p, 4_900).await;
    let acme = p.login("admin@acme.example", "password-1").await;

    // hooli (imported with the world) and newco (imported just now): each registers from its
    // invitation and accepts without choosing a model.
    let newcomers = [
        ("hooli", "hooli-2b", "hooli-4c", "acme-1a", "acme-3a"),
        ("newco", "newco-9x", "newco-9z", "acme-5b", "acme-7c"),
    ];
    for (org, line_iface, leaf_iface, acme_line, acme_root) in newcomers {
        let email = format!("ops@{org}.example");
        let (line, token) = offer_paid(&acme, "p2p", acme_line, &monthly, &email, org).await;
        let person = register(&p, &token, &email, org).await;
        let (status, inv) = person.get(&format!("/api/v1/invitations/{token}")).await;
        assert_eq!(status, StatusCode::OK, "{inv}");
        // Told before submitting: the trial is too narrow for 100 Mbps; monthly is open.
        assert_eq!(inv["proposed_usage_model_id"], monthly.as_str(), "{inv}");
        let terms = inv["terms"].as_array().unwrap();
        let of = |id: &str| terms.iter().find(|t| t["usage_model_id"] == id).unwrap().clone();
        assert_eq!(codes(&of(&trial)["refused"]), ["usage_bandwidth"], "{inv}");
        assert_eq!(codes(&of(&monthly)["refused"]), Vec::<String>::new(), "{inv}");
        assert_eq!(inv["account_refused"], json!([]), "{inv}");
        let (status, accepted) =
            person.post(&format!("/api/v1/invitations/{token}/accept"), json!({"interface": line_iface})).await;
        assert_eq!(status, StatusCode::OK, "{org}: {accepted}");
        // The link, answered, as others see it: anyone holding it is told it was accepted,
        // not "you accepted"; its sender is pointed at the channel's page.
        let url = format!("{}/invitations/{token}", p.base);
        let html = async |c: Client| c.raw().await.get(&url).send().await.unwrap().text().await.unwrap();
        let seen = html(p.anonymous()).await;
        assert!(seen.contains("This invitation was accepted.") && !seen.contains("You accepted"), "{seen}");
        let seen = html(p.login("admin@acme.example", "password-1").await).await;
        assert!(
            seen.contains("You sent this invitation") && seen.contains(&format!("href=\"/channels/{line}\"")),
            "{seen}"
        );

        // A paid E-Tree: acme is the root, the newcomer a leaf, its first submit again.
        let (tree, token) = offer_paid(&acme, "p2mp", acme_root, &monthly, &email, org).await;
        let (status, accepted) =
            person.post(&format!("/api/v1/invitations/{token}/accept"), json!({"interface": leaf_iface})).await;
        assert_eq!(status, StatusCode::OK, "{org}: {accepted}");
        for id in [&line, &tree] {
            let (_, ch) = person.get(&format!("/api/v1/channels/{id}")).await;
            let mine = ch["attachments"].as_array().unwrap().iter().find(|a| a["organization"] == org).unwrap().clone();
            assert_eq!(mine["usage_model_id"], monthly.as_str(), "{ch}");
        }
    }
}

on_both!(a_new_organization_accepts_paid_offers_on_its_first_try);

/// What new organizations start with is the operator's to set; one whose credit is below
/// what a model charges in advance is told before it submits, and still refused if it does.
async fn the_operator_sets_what_new_organizations_start_with(b: Backend) {
    let p = Portal::start_mailing(b).await;
    let noc = p.login("noc@operator.example", "operator-pw").await;
    let (status, start) = noc.get("/api/v1/operator/new-organizations").await;
    assert_eq!(status, StatusCode::OK, "{start}");
    assert_eq!(start["status"], "active");
    assert!(start["credit_limit_cents"].as_i64().unwrap() > 0, "a new organization can pay something: {start}");

    // Subscribers may neither read nor change it; nonsense is refused, naming each problem.
    let acme = p.login("admin@acme.example", "password-1").await;
    assert_eq!(acme.get("/api/v1/operator/new-organizations").await.0, StatusCode::FORBIDDEN);
    let mut poor = start.clone();
    poor["credit_limit_cents"] = json!(1_000);
    assert_eq!(acme.put("/api/v1/operator/new-organizations", poor.clone()).await.0, StatusCode::FORBIDDEN);
    let mut bad = start.clone();
    bad["kinds"] = json!([]);
    bad["credit_limit_cents"] = json!(-5);
    let (status, body) = noc.put("/api/v1/operator/new-organizations", bad).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("kinds") && message.contains("credit_limit_cents"), "{message}");
    // A class the topology does not have, or a start in debt, is a typing error.
    let mut unknown = start.clone();
    unknown["classes"] = json!(["nope", "gold"]);
    let (status, body) = noc.put("/api/v1/operator/new-organizations", unknown).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("class of service `nope` not in the topology's `classes`"), "{message}");
    assert!(message.contains("standard"), "the classes it has: {message}");
    let mut debt = start.clone();
    debt["balance_cents"] = json!(-500);
    let (status, body) = noc.put("/api/v1/operator/new-organizations", debt).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["message"].as_str().unwrap().contains("cannot start in debt"), "{body}");
    let mut typo = start.clone();
    typo["credit_limit"] = json!(1);
    assert_eq!(noc.put("/api/v1/operator/new-organizations", typo).await.0, StatusCode::BAD_REQUEST);
    assert_eq!(noc.get("/api/v1/operator/new-organizations").await.1, start, "nothing stored");

    // The operator gives new organizations 10.00 of credit; poorco is imported after that.
    let (status, body) = noc.put("/api/v1/operator/new-organizations", poor.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(noc.get("/api/v1/operator/new-organizations").await.1, poor);
    let system = Actor::system("test");
    p.w.svc.import_topology(&system, &with_newcomers(), "metro.yaml").await.unwrap();
    let poorco = p.w.svc.organization_id("poorco").await.unwrap();
    assert_eq!(p.w.svc.account(&poorco).await.unwrap().credit_limit_cents, 1_000);

    // Its invitation says, before it submits, that neither model is open to it, and why.
    let (trial, monthly) = paid_catalogue(&p, 4_900).await;
    let (_, token) = offer_paid(&acme, "p2p", "acme-1a", &monthly, "ops@poorco.example", "poorco").await;
    let person = register(&p, &token, "ops@poorco.example", "poorco").await;
    let (_, inv) = person.get(&format!("/api/v1/invitations/{token}")).await;
    assert_eq!(inv["proposed_usage_model_id"], Value::Null, "{inv}");
    let terms = inv["terms"].as_array().unwrap();
    let of = |id: &str| terms.iter().find(|t| t["usage_model_id"] == id).unwrap()["refused"].clone();
    assert_eq!(codes(&of(&trial)), ["usage_bandwidth"], "{inv}");
    let credit = of(&monthly);
    assert_eq!(codes(&credit), ["over_credit"], "{inv}");
    assert_eq!((credit[0]["need_cents"].as_i64(), credit[0]["available_cents"].as_i64()), (Some(4_900), Some(1_000)));

    // Submitting anyway is refused by the account check (SPEC §2.2), with or without a model.
    for body in [json!({"interface": "poorco-9y"}), json!({"interface": "poorco-9y", "usage_model_id": monthly})] {
        let (status, refused) = person.post(&format!("/api/v1/invitations/{token}/accept"), body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
        assert_eq!(refused["code"], "over_credit", "{refused}");
        assert!(refused["message"].as_str().unwrap().contains("49.00"), "{refused}");
    }
    // A 5 Mbps channel offered on the monthly model: the trial fits it, so that is what
    // poorco is proposed, and what it joins under when it names no model.
    let (status, ch) = acme
        .post(
            "/api/v1/channels",
            json!({"name": "narrow", "kind": "p2p", "bandwidth_mbps": 5, "class": "standard",
                   "usage_model_id": monthly, "interface": "acme-3a"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{ch}");
    let id = ch["id"].as_str().unwrap();
    let (_, offer) =
        acme.post(&format!("/api/v1/channels/{id}/offers"), json!({"invitees": [{"organization": "poorco"}]})).await;
    let token = offer["invitations"][0]["token"].as_str().unwrap();
    let (_, inv) = person.get(&format!("/api/v1/invitations/{token}")).await;
    assert_eq!(inv["proposed_usage_model_id"], trial.as_str(), "{inv}");
    let (status, accepted) =
        person.post(&format!("/api/v1/invitations/{token}/accept"), json!({"interface": "poorco-9y"})).await;
    assert_eq!(status, StatusCode::OK, "{accepted}");
    assert_eq!(accepted["usage_model_id"], trial.as_str(), "the answer says which model: {accepted}");
    let (_, ch) = person.get(&format!("/api/v1/channels/{id}")).await;
    let joined = ch["attachments"].as_array().unwrap().iter().find(|a| a["organization"] == "poorco").unwrap().clone();
    assert_eq!(joined["usage_model_id"], trial.as_str(), "{ch}");

    // Another model is only tried when the offer's is refused for reasons of the model
    // alone: poorco's port is busy now, and it is told so beside the credit it lacks.
    let (_, ch) = acme
        .post(
            "/api/v1/channels",
            json!({"name": "busy", "kind": "p2p", "bandwidth_mbps": 5, "class": "standard",
                   "usage_model_id": monthly, "interface": "acme-5b"}),
        )
        .await;
    let id = ch["id"].as_str().unwrap();
    let (_, offer) =
        acme.post(&format!("/api/v1/channels/{id}/offers"), json!({"invitees": [{"organization": "poorco"}]})).await;
    let token = offer["invitations"][0]["token"].as_str().unwrap();
    let (status, refused) =
        person.post(&format!("/api/v1/invitations/{token}/accept"), json!({"interface": "poorco-9y"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(refused["code"], "over_credit", "{refused}");
    assert!(refused["message"].as_str().unwrap().contains("already carries a channel"), "{refused}");

    // Organizations that existed keep their accounts.
    let acme_id = p.w.svc.organization_id("acme").await.unwrap();
    assert_ne!(p.w.svc.account(&acme_id).await.unwrap().credit_limit_cents, 1_000);

    // A stored setting this version cannot read is an error, never the built-in default.
    // An organization the operator makes by hand: not another spelling of one that exists,
    // and with classes the topology has.
    let e = p.w.svc.create_organization(&p.w.op, "ACME", None).await.unwrap_err();
    assert_eq!(e.code(), "conflict", "{e}");
    let mut odd = p.w.svc.account(&p.w.svc.organization_id("acme").await.unwrap()).await.unwrap();
    odd.classes = vec!["platinum".into()];
    let e = p.w.svc.create_organization(&p.w.op, "oddco", Some(odd)).await.unwrap_err();
    assert!(e.to_string().contains("platinum"), "{e}");
    switchboard::store::query("UPDATE operator_settings SET value = '{\"status\": 7}' WHERE name = 'new_organization'")
        .execute(&p.w.svc.db)
        .await
        .unwrap();
    let (status, body) = noc.get("/api/v1/operator/new-organizations").await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    let e = p.w.svc.create_organization(&p.w.op, "lateco", None).await.unwrap_err();
    assert_eq!(e.code(), "internal", "{e}");
    assert!(p.w.svc.organization_id("lateco").await.is_err(), "nothing stored");
}

on_both!(the_operator_sets_what_new_organizations_start_with);

/// A standing auto-accept rule takes the offer's own terms or nothing: it never joins under
/// another usage model that nobody in the organization chose.
async fn a_standing_rule_takes_only_the_offers_terms(b: Backend) {
    let p = Portal::start(b).await;
    let system = Actor::system("test");
    p.w.svc.import_topology(&system, &with_newcomers(), "metro.yaml").await.unwrap();
    // 200.00 a month: over the 100.00 a new organization may owe; the trial fits 5 Mbps.
    let (trial, monthly) = paid_catalogue(&p, 20_000).await;
    let poorco = p.w.svc.organization_id("poorco").await.unwrap();
    let admin = UserRole::Admin;
    p.w.svc.create_user(&p.w.op, &poorco, "admin@poorco.example", "admin", admin, "password-1").await.unwrap();
    let person = p.login("admin@poorco.example", "password-1").await;
    let rule = json!({"default_offer_days": 30, "members_can_accept": true,
                      "auto_accept": [{"organization": "acme", "interface": "poorco-9y"}]});
    let (status, body) = person.put("/api/v1/policy", rule).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    p.w.set_account("acme", |a| a.credit_limit_cents = 1_000_000).await;
    let acme = p.login("admin@acme.example", "password-1").await;
    let (status, ch) = acme
        .post(
            "/api/v1/channels",
            json!({"name": "narrow", "kind": "p2p", "bandwidth_mbps": 5, "class": "standard",
                   "usage_model_id": monthly, "interface": "acme-1a"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{ch}");
    let id = ch["id"].as_str().unwrap();
    let (status, offer) =
        acme.post(&format!("/api/v1/channels/{id}/offers"), json!({"invitees": [{"organization": "poorco"}]})).await;
    assert_eq!(status, StatusCode::CREATED, "{offer}");
    let answered = &offer["auto_accepted"][0];
    assert_eq!(answered["accepted"], false, "{offer}");
    assert!(answered["reason"].as_str().unwrap().contains("in advance"), "{offer}");
    let (_, ch) = acme.get(&format!("/api/v1/channels/{id}")).await;
    assert_eq!(ch["attachments"].as_array().unwrap().len(), 1, "not joined under the trial: {ch}");

    // A person of poorco answering the same invitation is proposed the trial.
    let token = offer["invitations"][0]["token"].as_str().unwrap();
    let (_, inv) = person.get(&format!("/api/v1/invitations/{token}")).await;
    assert_eq!(inv["proposed_usage_model_id"], trial.as_str(), "{inv}");
}

on_both!(a_standing_rule_takes_only_the_offers_terms);

/// An invitation made for an organization whose ports wait for their first admin claims it:
/// the registration form does not let its name be changed, and the service refuses another
/// name (a new-user review: one edit made an empty organization and left hooli waiting).
async fn registering_for_an_unclaimed_organization_keeps_its_name(b: Backend) {
    let p = Portal::start_mailing(b).await;
    let (_, monthly) = paid_catalogue(&p, 4_900).await;
    let acme = p.login("admin@acme.example", "password-1").await;
    let (_, token) = offer_paid(&acme, "p2p", "acme-1a", &monthly, "ops@hooli.example", "hooli").await;
    let anon = p.anonymous();
    let r = anon.raw().await.get(format!("{}/invitations/{token}", p.base)).send().await.unwrap();
    let html = r.text().await.unwrap();
    assert!(html.contains(r#"id="organization" name="organization" value="hooli" required readonly"#), "{html}");
    assert!(html.contains("id=\"claims-note\""), "{html}");
    let (status, body) = anon
        .post(
            &format!("/api/v1/invitations/{token}/register"),
            json!({"email": "ops@hooli.example", "name": "Ops", "organization": "Hooli Inc", "password": "long enough 1"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["message"].as_str().unwrap().contains("this invitation is for `hooli`"), "{body}");
    // Under its own name, the person becomes hooli's first admin, with hooli's ports.
    let hooli = register(&p, &token, "ops@hooli.example", "hooli").await;
    let (_, ports) = hooli.get("/api/v1/interfaces").await;
    assert!(ports.to_string().contains("hooli-2b"), "{ports}");
}

on_both!(registering_for_an_unclaimed_organization_keeps_its_name);

/// What a member paid in advance for a channel that ends without ever carrying traffic (a
/// draft, an offer nobody completed) comes back, as a refund beside the charge in the
/// ledger; a channel that went live keeps what was paid for it.
async fn money_paid_for_a_channel_that_never_carried_traffic_comes_back(b: Backend) {
    let p = Portal::start(b).await;
    let (_, monthly) = paid_catalogue(&p, 4_900).await;
    p.w.set_account("globex", |a| a.credit_limit_cents = 1_000_000).await;
    let acme = p.login("admin@acme.example", "password-1").await;
    let globex = p.login("admin@globex.example", "password-1").await;
    let balance = async |c: &Client| c.get("/api/v1/account").await.1["balance_cents"].as_i64().unwrap();
    let start = balance(&acme).await;

    let (unused, _) = offer_paid(&acme, "p2p", "acme-1a", &monthly, "admin@globex.example", "globex").await;
    assert_eq!(balance(&acme).await, start - 4_900, "charged in advance when made");
    let (status, body) = acme.post_nothing(&format!("/api/v1/channels/{unused}/terminate")).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let (_, account) = acme.get("/api/v1/account").await;
    assert_eq!(account["balance_cents"].as_i64(), Some(start), "{account}");
    let last = &account["charges"][0];
    assert_eq!(last["amount_cents"].as_i64(), Some(-4_900), "{account}");
    assert!(last["what"].as_str().unwrap().contains("refund"), "{account}");

    // Live, then ended: nothing comes back.
    let (line, token) = offer_paid(&acme, "p2p", "acme-3a", &monthly, "admin@globex.example", "globex").await;
    let (status, body) =
        globex.post(&format!("/api/v1/invitations/{token}/accept"), json!({"interface": "globex-1b"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    crate::api::wait_until("the channel to go live", async || {
        acme.get(&format!("/api/v1/channels/{line}")).await.1["state"] == "active"
    })
    .await;
    let globex_paid = balance(&globex).await;
    acme.post_nothing(&format!("/api/v1/channels/{line}/terminate")).await;
    crate::api::wait_until("the channel to end", async || {
        acme.get(&format!("/api/v1/channels/{line}")).await.1["state"] == "terminated"
    })
    .await;
    assert_eq!(balance(&acme).await, start - 4_900);
    assert_eq!(balance(&globex).await, globex_paid);
}

on_both!(money_paid_for_a_channel_that_never_carried_traffic_comes_back);
