//! Irreversible controls confirm first (issue: the portal journey, item 2): terminate,
//! unplug and decline sent from a page change nothing until the visitor has seen what
//! they end and confirmed; terminating takes a reason; Enter in the reason box (the form
//! sent as it is) lands on the confirmation, never on the effect.

use reqwest::StatusCode;
use serde_json::json;

use crate::api::{Client, Portal, live_p2p, wait_until};
use crate::world::Backend;

/// Sends a portal form as `who` and returns the status and the page.
async fn send(p: &Portal, who: &Client, path: &str, fields: &[(&str, &str)]) -> (StatusCode, String) {
    let mut body = vec![("csrf", who.csrf.as_str())];
    body.extend_from_slice(fields);
    let r = who.raw().await.post(format!("{}{path}", p.base)).form(&body).send().await.unwrap();
    (r.status(), r.text().await.unwrap())
}

async fn irreversible_controls_confirm_first(b: Backend) {
    let p = Portal::start(b).await;
    let acme = p.login("admin@acme.example", "password-1").await;
    let (id, _, _) = live_p2p(&p, &acme, "confirm-me").await;
    let channel = format!("/api/v1/channels/{id}");
    let terminate = format!("/channels/{id}/terminate");

    // No reason: refused beside the field, the channel untouched.
    let (status, page) = send(&p, &acme, &terminate, &[("reason", "  ")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
    assert!(page.contains("id=\"reason-error\""), "the error is beside the reason: {page}");
    // A reason but no confirmation (what Enter in the box sends): the confirmation page,
    // naming every member that loses service and carrying the reason; nothing changes.
    let (status, page) = send(&p, &acme, &terminate, &[("reason", "moving to fibre")]).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("Terminate “confirm-me”?"), "{page}");
    for member in ["acme-1a", "globex-8a"] {
        assert!(page.contains(member), "{member} is named as losing service: {page}");
    }
    assert!(page.contains(r#"name="confirm" value="yes""#) && page.contains("moving to fibre"), "{page}");
    assert_eq!(acme.get(&channel).await.1["state"], "active", "nothing happened before the confirmation");
    // Confirmed: it ends, with the reason.
    let (status, _) = send(&p, &acme, &terminate, &[("reason", "moving to fibre"), ("confirm", "yes")]).await;
    assert!(status.is_success() || status.is_redirection(), "{status}");
    wait_until("the channel to end", async || acme.get(&channel).await.1["state"] == "terminated").await;
    assert_eq!(acme.get(&channel).await.1["reason"], "moving to fibre");

    // Unplug: a second channel on the same ports; and an E-LAN offered to initech.
    let (id, _, accepted) = live_p2p(&p, &acme, "confirm-two").await;
    let channel = format!("/api/v1/channels/{id}");
    let (_, lan) = acme.post("/api/v1/channels", crate::api::new_channel(&p, "confirm-lan", "mp2mp", "acme-3a")).await;
    let lan = lan["id"].as_str().unwrap();
    let body = json!({"invitees": [{"organization": "initech"}]});
    let (_, offer) = acme.post(&format!("/api/v1/channels/{lan}/offers"), body).await;
    let token = offer["invitations"][0]["token"].as_str().unwrap().to_string();
    let globex = p.login("admin@globex.example", "password-1").await;
    let member = accepted["attachment_id"].as_str().unwrap();
    let unplug = format!("/attachments/{member}/detach");
    let (status, page) = send(&p, &globex, &unplug, &[("channel", &id)]).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("Unplug globex-8a") && page.contains("confirm-two"), "{page}");
    let state_of = async |id: &str| {
        let (_, ch) = acme.get(&channel).await;
        ch["attachments"].as_array().unwrap().iter().find(|a| a["id"] == id).unwrap()["state"].clone()
    };
    assert_eq!(state_of(member).await, "attached", "nothing unplugged before the confirmation");
    let (status, _) = send(&p, &globex, &unplug, &[("channel", &id), ("confirm", "yes")]).await;
    assert!(status.is_success() || status.is_redirection(), "{status}");
    assert_eq!(state_of(member).await, "detached", "unplugged once confirmed");

    // Decline: the invitation stays open until confirmed.
    let initech = p.login("admin@initech.example", "password-1").await;
    let decline = format!("/invitations/{token}/decline");
    let (status, page) = send(&p, &initech, &decline, &[]).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("Decline the E-LAN “confirm-lan” from acme?"), "the channel and who offered it: {page}");
    let declined = async || initech.get(&format!("/api/v1/invitations/{token}")).await.1["invitee"]["declined"].clone();
    assert_eq!(declined().await, false, "nothing declined before the confirmation");
    let (status, _) = send(&p, &initech, &decline, &[("confirm", "yes")]).await;
    assert!(status.is_success() || status.is_redirection(), "{status}");
    assert_eq!(declined().await, true, "declined once confirmed");
}

on_both!(irreversible_controls_confirm_first);
