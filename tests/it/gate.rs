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
    assert!(r.text().await.unwrap().contains("default_offer_day`"), "names the field");
    assert_eq!(acme.get("/api/v1/policy").await.1, policy, "the policy is unchanged");
}

on_both!(unknown_fields_are_refused_by_name);
