//! What a subscriber's pages show of other customers (issue: the portal journey, item 8):
//! its own sites, the members of its channels, and the switches between them; no other
//! customer's site is named anywhere. Checked on every page the subscriber can open, as
//! rendered (the HTML, the SVG trees in it, the live fragment), against every site of the
//! metro topology that is neither its own nor a member of one of its channels.

use reqwest::StatusCode;

use crate::api::{Portal, live_p2p};
use crate::world::Backend;

async fn other_customers_sites_are_not_named(b: Backend) {
    let p = Portal::start(b).await;
    let acme = p.login("admin@acme.example", "password-1").await;
    let (id, _, _) = live_p2p(&p, &acme, "private").await;
    let topo = switchboard::topology::parse(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/topologies/metro.yaml")).unwrap(),
    )
    .unwrap();
    // acme's partner on this channel is globex (globex-8a); initech's site hangs off the
    // same switch, acc8, which the channel's path uses.
    let strangers: Vec<&str> = topo
        .interfaces
        .iter()
        .filter(|i| i.organization != "acme" && i.name != "globex-8a")
        .map(|i| i.name.as_str())
        .collect();
    assert!(strangers.contains(&"initech-8b"), "the test needs a stranger on the channel's path: {strangers:?}");
    let http = acme.raw().await;
    let mut pages = 0;
    for path in
        ["/channels".to_string(), format!("/channels/{id}"), format!("/channels/{id}/live"), "/settings".to_string()]
    {
        let r = http.get(format!("{}{path}", p.base)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        let page = r.text().await.unwrap();
        for s in &strangers {
            assert!(!page.contains(s), "{path} names {s}, another customer's site");
        }
        pages += 1;
        if path.ends_with(&id) {
            assert!(page.contains("acme-1a") && page.contains("globex-8a"), "the channel's own members are drawn");
            assert!(page.contains(">acc8<"), "and the switches of its path");
        }
    }
    assert_eq!(pages, 4);

    // The operator sees the whole tree.
    let noc = p.login("noc@operator.example", "operator-pw").await;
    let page = noc.raw().await.get(format!("{}/channels/{id}", p.base)).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("initech-8b"), "the NOC's picture names every site");
}

on_both!(other_customers_sites_are_not_named);
