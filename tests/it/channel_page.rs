//! Issue 24, item 4: the channel page tells the truth. Over real HTTP, on SQLite and
//! PostgreSQL, the rendered HTML of a channel's page: its path in the order frames cross the
//! switches, each member's own usage model and price, what ended a terminated channel
//! instead of a freed VLAN, a declined offer gone from the decliner's channels, and a
//! member under a per-GB model on dry-run switches shown, deterministically, as not
//! metered (or its counters as unreadable, since when and why).

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use switchboard::orchestrator::policy::PriceType;
use switchboard::service::{Config, Service, UsageModelSpec};

use crate::api::{Client, Portal, new_channel, wait_until};
use crate::world::Backend;

/// The page at `path` as `who` gets it: its status and HTML.
async fn page(p: &Portal, who: &Client, path: &str) -> (StatusCode, String) {
    let r = who.raw().await.get(format!("{}{path}", p.base)).send().await.unwrap();
    (r.status(), r.text().await.unwrap())
}

/// The text of the element with id `id` in `html` (its first tag's contents up to the
/// element's closing tag), tags and surrounding space removed.
fn text_of(html: &str, id: &str) -> String {
    let start = html.find(&format!("id=\"{id}\"")).unwrap_or_else(|| panic!("no #{id} in {html}"));
    let open_end = start + html[start..].find('>').unwrap() + 1;
    let tag = html[..start].rfind('<').map(|i| &html[i + 1..start]).unwrap().split_whitespace().next().unwrap();
    let close = open_end + html[open_end..].find(&format!("</{tag}>")).unwrap();
    strip_tags(&html[open_end..close])
}

/// The text of the member row of `interface`.
fn member_row(html: &str, interface: &str) -> String {
    let start =
        html.find(&format!("data-member=\"{interface}\"")).unwrap_or_else(|| panic!("no {interface} in {html}"));
    let end = start + html[start..].find("</tr>").unwrap();
    strip_tags(&html[start..end])
}

fn strip_tags(s: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for c in s.chars() {
        match c {
            '<' => inside = true,
            '>' => {
                inside = false;
                out.push(' ');
            }
            c if !inside => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// An active channel of `kind`: `acme` creates it on acme-1a under `model`, offers it to
/// initech's admin, who accepts with initech-4a under `their_model`. Returns its ID.
async fn live(p: &Portal, acme: &Client, kind: &str, model: &str, their_model: &str) -> String {
    let mut body = new_channel(p, "branches", kind, "acme-1a");
    body["usage_model_id"] = json!(model);
    let (status, ch) = acme.post("/api/v1/channels", body).await;
    assert_eq!(status, StatusCode::CREATED, "{ch}");
    let id = ch["id"].as_str().unwrap().to_string();
    let (_, offer) = acme
        .post(&format!("/api/v1/channels/{id}/offers"), json!({"invitees": [{"email": "admin@initech.example"}]}))
        .await;
    let token = offer["invitations"][0]["token"].as_str().unwrap().to_string();
    let initech = p.login("admin@initech.example", "password-1").await;
    let (status, accepted) = initech
        .post(
            &format!("/api/v1/invitations/{token}/accept"),
            json!({"interface": "initech-4a", "usage_model_id": their_model}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{accepted}");
    wait_until("the channel to go live", async || {
        acme.get(&format!("/api/v1/channels/{id}")).await.1["state"] == "active"
    })
    .await;
    id
}

/// The demo's E-Tree, acc1 → agg1 → core1 → agg2 → acc4, read in that order (not
/// alphabetically), its root first; each member with its own usage model and price.
async fn issue_24_e_tree_path_reads_in_path_order(b: Backend) {
    let p = Portal::start(b).await;
    let acme = p.login("admin@acme.example", "password-1").await;
    let id = live(&p, &acme, "p2mp", &p.w.free, &p.w.paid).await;
    let (status, html) = page(&p, &acme, &format!("/channels/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(text_of(&html, "path"), "Path: acc1 (acme-1a) → agg1 → core1 → agg2 → acc4 (initech-4a)");
    let (creator, invitee) = (member_row(&html, "acme-1a"), member_row(&html, "initech-4a"));
    assert!(creator.contains("trial free"), "{creator}");
    assert!(invitee.contains("monthly 50.00 EUR per month"), "{invitee}");
    assert!(invitee.contains("not metered: its usage model does not count traffic"), "{invitee}");

    // A second leaf, umbrella-8c on acc8: the path becomes a tree from the root.
    let (_, offer) = acme
        .post(&format!("/api/v1/channels/{id}/offers"), json!({"invitees": [{"email": "admin@umbrella.example"}]}))
        .await;
    let token = offer["invitations"][0]["token"].as_str().unwrap().to_string();
    let umbrella = p.login("admin@umbrella.example", "password-1").await;
    let (status, body) =
        umbrella.post(&format!("/api/v1/invitations/{token}/accept"), json!({"interface": "umbrella-8c"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    wait_until("the second leaf to go live", async || {
        let (_, ch) = acme.get(&format!("/api/v1/channels/{id}")).await;
        ch["state"] == "active" && ch["path"].as_array().unwrap().iter().any(|s| s == "acc8")
    })
    .await;
    let (_, html) = page(&p, &acme, &format!("/channels/{id}")).await;
    assert!(html.contains("<p>From the root acme-1a on acc1:</p>"), "{html}");
    assert_eq!(
        text_of(&html, "path"),
        "acc1 (acme-1a) acc1 → agg1 → core1 → agg2 → acc4 (initech-4a) acc1 → agg1 → core1 → agg3 → acc8 (umbrella-8c)"
    );
}
on_both!(issue_24_e_tree_path_reads_in_path_order);

/// A terminated channel says when, by whom and why it ended, and shows no VLAN and no
/// "no path yet"; a declined offer is not the decliner's channel.
async fn issue_24_terminated_and_declined_channels_render_as_such(b: Backend) {
    let p = Portal::start(b).await;
    let acme = p.login("admin@acme.example", "password-1").await;
    let id = live(&p, &acme, "p2p", &p.w.free, &p.w.free).await;
    let vlan = acme.get(&format!("/api/v1/channels/{id}")).await.1["vlan"].as_u64().unwrap();
    let (status, body) =
        acme.post(&format!("/api/v1/channels/{id}/terminate"), json!({"reason": "the branch office closed"})).await;
    assert!(status.is_success(), "{body}");
    wait_until("the channel to end", async || {
        acme.get(&format!("/api/v1/channels/{id}")).await.1["state"] == "terminated"
    })
    .await;
    let (_, html) = page(&p, &acme, &format!("/channels/{id}")).await;
    let ended = text_of(&html, "ended");
    assert!(ended.starts_with("Ended 20"), "{ended}");
    assert!(ended.ends_with("by admin@acme.example (acme): the branch office closed"), "{ended}");
    assert_eq!(text_of(&html, "vlan"), "none: the channel ended", "VLAN {vlan} is no longer shown");
    assert_eq!(text_of(&html, "path"), "Not on any switch: the channel ended and its configuration was removed.");
    // initech, the other party, reads the same.
    let initech = p.login("admin@initech.example", "password-1").await;
    let (_, theirs) = page(&p, &initech, &format!("/channels/{id}")).await;
    assert_eq!(text_of(&theirs, "ended"), ended);

    // acme offers another channel to initech by organization: initech's inbox has the offer
    // (its channel list does not: an invitee sees the offer, not the channel and its
    // members, until it accepts); after it declines, neither has it.
    let (_, ch) = acme.post("/api/v1/channels", new_channel(&p, "declined-one", "p2p", "acme-3a")).await;
    let declined = ch["id"].as_str().unwrap().to_string();
    let (_, offer) = acme
        .post(&format!("/api/v1/channels/{declined}/offers"), json!({"invitees": [{"organization": "initech"}]}))
        .await;
    let token = offer["invitations"][0]["token"].as_str().unwrap().to_string();
    let listed = async || {
        let (_, list) = initech.get("/api/v1/channels").await;
        let in_api = list.as_array().unwrap().iter().any(|c| c["id"] == Value::String(declined.clone()));
        let (_, html) = page(&p, &initech, "/channels").await;
        assert_eq!(in_api, html.contains(&declined), "the list page and the API agree");
        in_api
    };
    let in_inbox = async || {
        let (_, inbox) = initech.get("/api/v1/inbox").await;
        inbox.as_array().unwrap().iter().any(|o| o["channel_name"] == "declined-one")
    };
    assert!(!listed().await && in_inbox().await, "an open offer is in the invitee's inbox, not its channels");
    assert_eq!(page(&p, &initech, &format!("/channels/{declined}")).await.0, StatusCode::NOT_FOUND);
    let (status, body) = initech.post(&format!("/api/v1/invitations/{token}/decline"), json!({})).await;
    assert!(status.is_success(), "{body}");
    assert!(!listed().await && !in_inbox().await, "a declined offer is neither");
    assert_eq!(page(&p, &initech, &format!("/channels/{declined}")).await.0, StatusCode::NOT_FOUND);
    // The creator still sees its invitee's answer.
    let (_, html) = page(&p, &acme, &format!("/channels/{declined}")).await;
    assert!(text_of(&html, "invitees-status").contains("declined"));
}
on_both!(issue_24_terminated_and_declined_channels_render_as_such);

/// As under `serve --demo` (every switch driven dry, whatever the topology says): a member
/// under a per-GB model is not metered, the meter reads no counter and says so, and the page
/// says why. A service that drives the topology's own (linux) switches, whose namespaces do
/// not exist here, cannot read them: the member shows its usage unknown, since when and why.
async fn issue_24_dry_run_switches_are_not_metered(b: Backend) {
    let p = Portal::start(b).await;
    assert!(p.w.svc.config.dry_run, "the portal runs as `serve --demo` does");
    let per_gb = UsageModelSpec {
        name: "per GB".into(),
        price_type: Some(PriceType::PerGb),
        price_cents: 2,
        ..Default::default()
    };
    let per_gb = p.w.svc.create_usage_model(&p.w.op, &p.w.definition, &per_gb).await.unwrap();
    let acme = p.login("admin@acme.example", "password-1").await;
    let id = live(&p, &acme, "p2p", &per_gb, &p.w.free).await;

    let report = p.w.svc.meter().await.unwrap();
    assert_eq!((report.read, report.unread), (0, 0), "no counter read or missed on dry-run switches");
    let (_, html) = page(&p, &acme, &format!("/channels/{id}")).await;
    let row = member_row(&html, "acme-1a");
    assert!(row.contains("per GB 0.02 EUR per GB"), "{row}");
    assert!(row.contains("not metered: its switch runs the dry-run driver, which has no counters"), "{row}");
    let (_, view) = acme.get(&format!("/api/v1/channels/{id}")).await;
    assert_eq!(view["attachments"][0]["metering"]["metering"], "no_counters", "{view}");

    let linux = Service::new(p.w.svc.db.clone(), Config { dry_run: false, ..(*p.w.svc.config).clone() });
    let channel_id = id.parse().unwrap();
    let before = linux.channel_fingerprint(&p.w.acme, &channel_id).await.unwrap();
    let report = linux.meter().await.unwrap();
    assert_eq!((report.read, report.unread), (0, 1), "acc1's counters cannot be read here");
    let report = linux.meter().await.unwrap();
    assert_eq!(report.unread, 1);
    let after = linux.channel_fingerprint(&p.w.acme, &channel_id).await.unwrap();
    assert_ne!(before, after, "an open page fetches the member's row again");
    let view = linux.channel(&p.w.acme, &channel_id).await.unwrap();
    let metering = serde_json::to_value(&view.attachments[0].metering).unwrap();
    assert_eq!(metering["metering"], "unknown", "{metering}");
    let reason = metering["reason"].as_str().unwrap();
    assert!(reason.starts_with("its counters could not be read: ") && reason.contains("acc1"), "{metering}");
    // A portal on that service shows it to the operator's staff on the channel's page.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = switchboard::portal::router(switchboard::portal::AppState::new(linux));
    let server = tokio::spawn(async move {
        axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>()).await.unwrap()
    });
    let noc = reqwest::Client::builder().cookie_store(true).timeout(Duration::from_secs(30)).build().unwrap();
    let r = noc
        .post(format!("{base}/api/v1/session"))
        .json(&json!({"email": "noc@operator.example", "password": "operator-pw"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let html = noc.get(format!("{base}/channels/{id}")).send().await.unwrap().text().await.unwrap();
    let row = member_row(&html, "acme-1a");
    assert!(row.contains("usage unknown since 20"), "{row}");
    assert!(row.contains(": its counters could not be read: switch “acc1”"), "{row}");
    assert!(!row.contains('`'), "{row}");
    server.abort();
    // The dry-run portal says what it knows of its own switches: no counters.
    let (_, html) = page(&p, &acme, &format!("/channels/{id}")).await;
    assert!(member_row(&html, "acme-1a").contains("not metered: its switch runs the dry-run driver"), "{html}");
}
on_both!(issue_24_dry_run_switches_are_not_metered);
