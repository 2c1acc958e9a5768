//! The NOC's pages (issue: the portal journey, item 9): its home is the operator page, with
//! failed orders first (by channel name, with the reason), every switch's drift, and the
//! latest orders; an order's page shows its timings, attempts, error and the commands that
//! went to the switches; the audit page filters and pages the log. Subscribers get none of it.

use reqwest::StatusCode;
use serde_json::json;

use crate::api::{Portal, live_p2p, new_channel, wait_until};
use crate::world::Backend;

async fn the_nocs_home_puts_failures_first(b: Backend) {
    let p = Portal::start(b).await;
    let acme = p.login("admin@acme.example", "password-1").await;
    let (live, _, _) = live_p2p(&p, &acme, "steady").await;
    // A second channel whose activation fails on core1.
    let (_, ch) = acme.post("/api/v1/channels", new_channel(&p, "doomed", "p2p", "acme-3a")).await;
    let doomed = ch["id"].as_str().unwrap().to_string();
    let (_, offer) = acme
        .post(
            &format!("/api/v1/channels/{doomed}/offers"),
            json!({"invitees": [{"email": "admin@stark.example"}, {"email": "admin@initech.example"}]}),
        )
        .await;
    let token = offer["invitations"][0]["token"].as_str().unwrap().to_string();
    let initech = p.login("admin@initech.example", "password-1").await;
    let declined = offer["invitations"][1]["token"].as_str().unwrap();
    let (status, _) = initech.post(&format!("/api/v1/invitations/{declined}/decline"), json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let stark = p.login("admin@stark.example", "password-1").await;
    p.w.svc.inject_lasting_fault("core1", 0);
    let (status, _) =
        stark.post(&format!("/api/v1/invitations/{token}/accept"), json!({"interface": "stark-9b"})).await;
    assert_eq!(status, StatusCode::OK);
    wait_until("the channel to fail", async || {
        acme.get(&format!("/api/v1/channels/{doomed}")).await.1["state"] == "failed"
    })
    .await;
    p.w.svc.clear_faults();

    let noc = p.login("noc@operator.example", "operator-pw").await;
    let http = noc.raw().await;
    let base = p.base.clone();
    let page = async |path: String| {
        let r = http.get(format!("{base}{path}")).send().await.unwrap();
        (r.status(), r.url().path().to_string(), r.text().await.unwrap())
    };
    // Home is the operator page.
    let (status, landed, home) = page("/".into()).await;
    assert_eq!((status, landed.as_str()), (StatusCode::OK, "/operator"));
    let attention = &home[home.find("id=\"attention\"").unwrap()..home.find("<h2>Switches").unwrap()];
    assert!(
        attention.contains(">doomed</a>") && attention.contains("failed") && attention.contains("core1"),
        "{attention}"
    );
    assert!(!attention.contains(">steady</a>"), "a done order needs no attention: {attention}");
    assert!(home.contains(">steady</a>"), "the latest orders name their channels: {home}");
    // The latest orders, newest first: the first row is the newest order.
    let (_, all_orders) = noc.get("/api/v1/orders").await;
    let newest = all_orders[0]["id"].as_str().unwrap();
    let latest = &home[home.find("<h2>Orders").expect("the orders section")..];
    let first = latest.split("href=\"/operator/orders/").nth(1).unwrap();
    assert!(first.starts_with(newest), "newest first: {newest} vs {first:.80}");
    assert!(!home.contains(&format!(">{live}</a>")), "by name, not by ID");
    assert!(home.contains("drift-ok"), "switches in sync are marked so");

    // The failed order's page: its error and attempts; the done one's: what went where.
    let orders = async |id: &str| noc.get(&format!("/api/v1/orders?channel={id}")).await.1;
    let failed = orders(&doomed).await;
    let failed = failed.as_array().unwrap().iter().find(|o| o["status"] == "failed").unwrap()["id"].clone();
    let (status, _, order) = page(format!("/operator/orders/{}", failed.as_str().unwrap())).await;
    assert_eq!(status, StatusCode::OK);
    assert!(order.contains("id=\"order-error\"") && order.contains("core1") && order.contains("Attempts"), "{order}");
    let failed_on = &order[order.find("id=\"order-failed-switch\"").expect("the failed switch is named")..];
    assert!(
        failed_on.starts_with("id=\"order-failed-switch\"><a href=\"/operator/switches/core1\">"),
        "{failed_on:.200}"
    );
    let done = orders(&live).await;
    let done = done.as_array().unwrap().iter().find(|o| o["status"] == "done").unwrap()["id"].clone();
    let (_, _, order) = page(format!("/operator/orders/{}", done.as_str().unwrap())).await;
    // Switch by switch: its changes, how long its apply took and its commands.
    let table = &order[order.find("id=\"order-switches\"").expect("what each switch took")..];
    let table = &table[..table.find("</table>").unwrap()];
    let rows: Vec<&str> = table.split("<tr>").skip(2).collect();
    assert!(rows.len() >= 3, "a p2p across the metro touches several switches: {table}");
    for row in &rows {
        assert!(row.contains("href=\"/operator/switches/"), "{row}");
        assert!(row.contains(" µs<") || row.contains(" ms<") || row.contains(" s<"), "a time: {row}");
        assert!(row.contains("bridge") && row.contains("vlan add"), "{row}");
    }
    assert!(!order.contains("not recorded"), "{table}");
    assert!(order.contains("href=\"/operator/switches/core1\""), "the order links its switches");
    let (_, _, switch) = page("/operator/switches/core1".into()).await;
    assert!(switch.contains("in sync"), "{switch}");
    // Its place in the tree, and the VLAN the live channel holds there, by name.
    assert!(switch.contains("this is the root") && switch.contains("href=\"/operator/switches/agg1\""), "{switch}");
    let vlans = &switch[switch.find("id=\"switch-vlans\"").expect("the VLANs in use")..];
    assert!(vlans.contains(&format!("href=\"/channels/{live}\">steady</a>")), "{vlans}");
    let (_, _, access) = page("/operator/switches/acc1".into()).await;
    let ports = &access[access.find("id=\"switch-ports\"").expect("the customers' ports")..];
    assert!(ports.contains("acme-1a") && ports.contains("Mbps"), "{ports}");
    assert!(
        access.contains("href=\"/operator/switches/agg1\">agg1</a> <span class=\"muted\">through port"),
        "{access}"
    );

    // The audit page: filtered by action, by who, by text; paged.
    let (_, _, audit) = page("/operator/audit?action=order.failed".into()).await;
    let rows = audit.matches("<tr><td>").count();
    assert!(rows >= 1 && audit.matches(">order.failed<").count() == rows, "only failed orders: {audit}");
    // In words: the detail as labelled values, the channel by name, the order linked.
    let row = &audit[audit.find(">order.failed<").unwrap()..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(row.contains("href=\"/operator/orders/ord-"), "the order is linked: {row}");
    assert!(row.contains("Reason:</span>") && row.contains("core1"), "{row}");
    assert!(row.contains(&format!("Channel:</span> doomed ({doomed})")), "the channel by name: {row}");
    assert!(row.contains("VLAN freed:</span> yes") && !row.contains("{\""), "no JSON: {row}");
    let (_, _, audit) = page(format!("/operator/audit?text={doomed}")).await;
    assert!(audit.contains(">channel.create<") && !audit.contains(&live), "records about the doomed channel only");
    let (_, _, audit) = page("/operator/audit?actor=nobody-at-all".into()).await;
    assert!(audit.contains("No record matches"), "{audit}");
    // Who by email or organization, shown by email; the text also finds a channel's name.
    for who in ["admin%40stark.example", "stark"] {
        let (_, _, audit) = page(format!("/operator/audit?actor={who}")).await;
        assert!(audit.contains(">invitation.accept<") && audit.contains("admin@stark.example"), "{who}: {audit}");
        assert!(!audit.contains("admin@acme.example"), "{who}: only stark's: {audit}");
    }
    let (_, _, audit) = page("/operator/audit?text=DOOMED".into()).await;
    assert!(audit.contains(">channel.create<"), "the channel's name finds its records: {audit}");
    assert!(audit.contains(">order.failed<"), "and the records that name the channel by ID: {audit}");
    assert!(audit.contains(">invitation.decline<"), "an invitation's answer names its channel: {audit}");
    // Money, kinds, price types and organizations in words, not in cents, codes or IDs.
    p.w.set_account("acme", |a| a.balance_cents = 12_345).await;
    let (_, _, audit) = page("/operator/audit?action=account.update".into()).await;
    let row = &audit[audit.find(">account.update<").expect("the accounts were set up")..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(row.contains("Balance:</span> 123.45 ") && row.contains("E-Line") && !row.contains("p2p"), "{row}");
    assert!(row.contains("acme (org-"), "the organization by name: {row}");
    let (_, _, audit) = page("/operator/audit?action=usage_model.create".into()).await;
    let models = &audit[audit.find(">usage_model.create<").expect("the models were set up")..];
    assert!(models.contains("Priced:</span>"), "{models}");
    for code in ["cents", "per_gb", "flat_monthly", "per_mbps", "_ms", "Term end ms"] {
        assert!(!models.contains(code), "{code} in {models}");
    }
    let (all, more) = p.w.svc.audit_search(&p.w.op, &switchboard::service::AuditQuery::default(), 2).await.unwrap();
    assert_eq!((all.len(), more), (2, true));
    assert!(all[0].at >= all[1].at, "newest first");
    let second = switchboard::service::AuditQuery { page: 1, ..Default::default() };
    let (next, _) = p.w.svc.audit_search(&p.w.op, &second, 2).await.unwrap();
    assert!(next.iter().all(|e| !all.iter().any(|a| a.at == e.at && a.object == e.object && a.action == e.action)));

    // Subscribers see none of it.
    for path in ["/operator", "/operator/audit", "/operator/switches/core1"] {
        let r = acme.raw().await.get(format!("{}{path}", p.base)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path}");
    }
}

on_both!(the_nocs_home_puts_failures_first);
