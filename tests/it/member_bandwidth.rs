//! Issue 18 item 1: a member's own bandwidth. The creator gives its member one, an invitee
//! gives the member it plugs in another, and each member's ingress policer on the
//! (dry-run) switches runs at its own figure; a figure over the usage model's maximum is
//! refused, naming the field and the limit, and changes nothing. Through the service and
//! through the JSON API, on both databases.

use reqwest::StatusCode;
use serde_json::json;
use switchboard::model::ChannelKind;
use switchboard::orchestrator::Item;
use switchboard::service::{Acceptance, ServiceError, UsageModelSpec};

use crate::api::{Portal, wait_until};
use crate::service::assert_switches_match;
use crate::world::{Backend, World, world};

/// A free usage model of the world's definition that allows at most 50 Mbps. Its ID.
async fn capped_at_50(w: &World) -> String {
    let spec = UsageModelSpec { name: "capped".into(), max_bandwidth_mbps: Some(50), ..Default::default() };
    w.svc.create_usage_model(&w.op, &w.definition, &spec).await.unwrap().to_string()
}

/// The rate (Mbps) of every policer on the switches, by bridge port.
async fn policers(w: &World) -> Vec<(String, u64)> {
    let topo = w.svc.topology().await.unwrap();
    let mut out = Vec::new();
    for sw in &topo.switches {
        for text in w.svc.switch_items(&sw.name).await.unwrap() {
            if let Item::Police { port, rate_bps, .. } = serde_json::from_str(&text).unwrap() {
                out.push((port, rate_bps / 1_000_000));
            }
        }
    }
    out.sort();
    out
}

/// The bridge port of service interface `name` in a channel (both are port-mode in metro).
async fn port_of(w: &World, name: &str) -> String {
    w.svc.topology().await.unwrap().interface(name).unwrap().port.clone()
}

async fn each_member_is_policed_at_its_own_bandwidth(b: Backend) {
    let w = world(b).await;
    let capped = capped_at_50(&w).await;
    // A 100 Mbps channel whose creator polices its own member at 40.
    let new = switchboard::service::NewChannel {
        bandwidth_mbps: 100,
        member_bandwidth_mbps: Some(40),
        ..w.channel("own-figures", ChannelKind::P2p, "acme-1a")
    };
    let ch = w.svc.create_channel(&w.acme, &new).await.unwrap();
    let offer = w.offer_to(&w.acme, &ch, &[&w.globex]).await;
    let token = &offer.invitations[0].token;
    let acceptance = |mbps: u64| Acceptance {
        interface: "globex-8a".parse().unwrap(),
        usage_model_id: Some(capped.parse().unwrap()),
        customer_vlan: None,
        bandwidth_mbps: Some(mbps),
    };

    // Over the model's 50 Mbps: refused, naming the field and the limit; nothing changes.
    let before = w.svc.channel(&w.acme, &ch).await.unwrap();
    let refused = w.svc.accept(&w.globex, token, &acceptance(80)).await.unwrap_err();
    assert_eq!(refused.code(), "member_bandwidth", "{refused}");
    let ServiceError::Refused(ref why) = refused else { panic!("{refused:?}") };
    assert_eq!(why.len(), 1, "{why:?}");
    let said = refused.to_string();
    assert!(said.contains("`bandwidth_mbps` of 80 Mbps") && said.contains("`capped`'s maximum of 50 Mbps"), "{said}");
    let after = w.svc.channel(&w.acme, &ch).await.unwrap();
    assert_eq!((after.state, after.attachments.len()), (before.state, before.attachments.len()));
    assert!(policers(&w).await.is_empty(), "nothing was planned");
    // Without a figure of its own the member would be the channel's 100 Mbps: the model's
    // maximum refuses that too.
    let plain = Acceptance { bandwidth_mbps: None, ..acceptance(0) };
    let refused = w.svc.accept(&w.globex, token, &plain).await.unwrap_err();
    assert!(refused.to_string().contains("allows at most 50 Mbps, the channel has 100"), "{refused}");
    // 0 is no bandwidth at all.
    let zero = w.svc.accept(&w.globex, token, &acceptance(0)).await.unwrap_err();
    assert_eq!(zero.code(), "invalid_input", "{zero}");

    // Within it: accepted, and each member's policer runs at its own figure.
    w.svc.accept(&w.globex, token, &acceptance(30)).await.unwrap();
    w.svc.run_pending().await.unwrap();
    let view = w.svc.channel(&w.acme, &ch).await.unwrap();
    assert_eq!(view.bandwidth_mbps, 100);
    let members: Vec<(&str, u64)> = view.attachments.iter().map(|a| (a.interface.as_str(), a.bandwidth_mbps)).collect();
    assert_eq!(members, [("acme-1a", 40), ("globex-8a", 30)]);
    let mut want = vec![(port_of(&w, "acme-1a").await, 40), (port_of(&w, "globex-8a").await, 30)];
    want.sort();
    assert_eq!(policers(&w).await, want);
    assert_switches_match(&w).await;

    // Ending the channel takes its policers away.
    w.svc.terminate(&w.acme, &ch, &"done".parse().unwrap()).await.unwrap();
    w.svc.run_pending().await.unwrap();
    assert!(policers(&w).await.is_empty());
}

on_both!(each_member_is_policed_at_its_own_bandwidth);

async fn the_api_takes_a_member_s_own_bandwidth(b: Backend) {
    let p = Portal::start(b).await;
    let capped = capped_at_50(&p.w).await;
    let acme = p.login("admin@acme.example", "password-1").await;
    let mut body = crate::api::new_channel(&p, "api-figures", "p2p", "acme-1a");
    body["bandwidth_mbps"] = json!(100);
    body["member_bandwidth_mbps"] = json!(40);
    let (status, ch) = acme.post("/api/v1/channels", body).await;
    assert_eq!(status, StatusCode::CREATED, "{ch}");
    let id = ch["id"].as_str().unwrap().to_string();
    let (_, offer) = acme
        .post(&format!("/api/v1/channels/{id}/offers"), json!({"invitees": [{"email": "admin@globex.example"}]}))
        .await;
    let token = offer["invitations"][0]["token"].as_str().unwrap().to_string();
    let globex = p.login("admin@globex.example", "password-1").await;
    let accept = format!("/api/v1/invitations/{token}/accept");

    let (status, refused) =
        globex.post(&accept, json!({"interface": "globex-8a", "usage_model_id": capped, "bandwidth_mbps": 80})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    let message = refused["message"].as_str().unwrap();
    assert!(message.contains("`bandwidth_mbps`") && message.contains("maximum of 50 Mbps"), "{refused}");
    let (_, channel) = acme.get(&format!("/api/v1/channels/{id}")).await;
    assert_eq!(channel["attachments"].as_array().unwrap().len(), 1, "{channel}");

    let (status, accepted) =
        globex.post(&accept, json!({"interface": "globex-8a", "usage_model_id": capped, "bandwidth_mbps": 30})).await;
    assert_eq!(status, StatusCode::OK, "{accepted}");
    wait_until("the channel to go live", async || {
        acme.get(&format!("/api/v1/channels/{id}")).await.1["state"] == "active"
    })
    .await;
    let (_, channel) = acme.get(&format!("/api/v1/channels/{id}")).await;
    let figures: Vec<(String, u64)> = channel["attachments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["interface"].as_str().unwrap().to_string(), a["bandwidth_mbps"].as_u64().unwrap()))
        .collect();
    assert_eq!(figures, [("acme-1a".to_string(), 40), ("globex-8a".to_string(), 30)], "{channel}");
    let mut want = vec![(port_of(&p.w, "acme-1a").await, 40), (port_of(&p.w, "globex-8a").await, 30)];
    want.sort();
    assert_eq!(policers(&p.w).await, want);
    // The API documents both fields.
    let (_, openapi) = acme.get("/api/v1/openapi.json").await;
    let schemas = &openapi["components"]["schemas"];
    assert!(schemas["Acceptance"]["properties"]["bandwidth_mbps"].is_object(), "{}", schemas["Acceptance"]);
    assert!(schemas["NewChannel"]["properties"]["member_bandwidth_mbps"].is_object(), "{}", schemas["NewChannel"]);
    assert!(schemas["AttachmentView"]["properties"]["bandwidth_mbps"].is_object(), "{}", schemas["AttachmentView"]);
}

on_both!(the_api_takes_a_member_s_own_bandwidth);

/// A member's own figure over the offer's usage model's maximum, from a person who named no
/// model, is taken on the model the invitation page proposes (the first of the definition
/// that allows it), as the channel's own bandwidth would be.
async fn a_member_s_own_figure_over_the_model_s_maximum_takes_a_model_that_allows_it(b: Backend) {
    let w = world(b).await;
    let capped = capped_at_50(&w).await;
    let new = switchboard::service::NewChannel {
        bandwidth_mbps: 100,
        member_bandwidth_mbps: Some(40),
        usage_model_id: capped.parse().unwrap(),
        ..w.channel("capped-offer", ChannelKind::P2p, "acme-1a")
    };
    let ch = w.svc.create_channel(&w.acme, &new).await.unwrap();
    let offer = w.offer_to(&w.acme, &ch, &[&w.globex]).await;
    let over = Acceptance {
        interface: "globex-8a".parse().unwrap(),
        usage_model_id: None,
        customer_vlan: None,
        bandwidth_mbps: Some(80),
    };
    w.svc.accept(&w.globex, &offer.invitations[0].token, &over).await.unwrap();
    w.svc.run_pending().await.unwrap();
    let view = w.svc.channel(&w.acme, &ch).await.unwrap();
    let members: Vec<(&str, u64)> = view.attachments.iter().map(|a| (a.interface.as_str(), a.bandwidth_mbps)).collect();
    assert_eq!(members, [("acme-1a", 40), ("globex-8a", 80)]);
    let mut want = vec![(port_of(&w, "acme-1a").await, 40), (port_of(&w, "globex-8a").await, 80)];
    want.sort();
    assert_eq!(policers(&w).await, want);
}

on_both!(a_member_s_own_figure_over_the_model_s_maximum_takes_a_model_that_allows_it);
