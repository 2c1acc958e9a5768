//! Channel lists at an operator's scale (issue: a fresh machine and a real operator, item
//! 4): 10,000 channels, searched by name or ID, filtered by state, kind, organization and
//! switch, a page at a time, in the API (`limit`/`offset`, `X-Total-Count`) and on the
//! portal's channel page (a filter form, "Showing 1–100 of N", newer and older pages).

use reqwest::StatusCode;
use switchboard::model::ChannelKind;
use switchboard::service::Actor;

use crate::api::{Portal, live_p2p};
use crate::world::{Backend, metro_text};

const MANY: usize = 10_000;

async fn lists_hold_ten_thousand_channels(b: Backend) {
    let p = Portal::start(b).await;
    // acme gets a tagged 100G port that takes as many channels as it is asked for.
    let mut text = metro_text();
    text.push_str(
        "  acme-big:\n    organization: acme\n    switch: acc2\n    port: c9\n    mode: tagged\n    capacity: 100G\n    macs: [\"02:5b:00:00:02:99\"]\n",
    );
    p.w.svc.import_topology(&Actor::system("test"), &text, "metro.yaml").await.unwrap();
    p.w.set_account("acme", |a| a.max_channels = 100_000).await;
    let acme = p.login("admin@acme.example", "password-1").await;
    let (live, _, _) = live_p2p(&p, &acme, "Live line").await;
    let kinds = [ChannelKind::P2p, ChannelKind::P2mp, ChannelKind::Mp2mp];
    let mut tasks = Vec::new();
    for part in 0..4 {
        let w = (p.w.svc.clone(), p.w.acme.clone());
        let base = p.w.channel("x", ChannelKind::P2p, "acme-big");
        tasks.push(tokio::spawn(async move {
            for n in (part..MANY).step_by(4) {
                let mut new = base.clone();
                new.name = format!("bulk {n}").parse().unwrap();
                new.kind = kinds[n % 3];
                new.bandwidth_mbps = 1;
                w.0.create_channel(&w.1, &new).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let total = |h: &reqwest::header::HeaderMap| h["x-total-count"].to_str().unwrap().parse::<usize>().unwrap();
    let list = async |query: &str| {
        let r = acme.raw().await.get(format!("{}/api/v1/channels{query}", p.base)).send().await.unwrap();
        let status = r.status();
        let headers = r.headers().clone();
        let body: serde_json::Value = r.json().await.unwrap();
        (status, headers, body)
    };

    // A page at a time, newest first.
    let (status, h, body) = list("").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!((total(&h), body.as_array().unwrap().len()), (MANY + 1, 100), "100 unless asked");
    let (_, h, body) = list("?limit=1000&offset=9500").await;
    assert_eq!((total(&h), body.as_array().unwrap().len()), (MANY + 1, 501));
    assert_eq!(body.as_array().unwrap().last().unwrap()["id"], live, "the oldest last");
    // Search by name (any case) or by ID.
    let (_, h, body) = list("?q=BULK%20123").await;
    let names: Vec<&str> = body.as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(total(&h), 11, "bulk 123 and bulk 1230-1239: {names:?}");
    assert!(names.iter().all(|n| n.starts_with("bulk 123")), "{names:?}");
    let (_, h, body) = list(&format!("?q={live}")).await;
    assert_eq!((total(&h), body[0]["name"].as_str()), (1, Some("Live line")));
    // Filters, each alone and together.
    assert_eq!(total(&list("?kind=p2mp").await.1), MANY / 3);
    assert_eq!(total(&list("?state=active").await.1), 1);
    assert_eq!(total(&list("?state=draft&kind=mp2mp").await.1), MANY / 3);
    assert_eq!(total(&list("?switch=core1").await.1), 1, "only the live one has a path");
    assert_eq!(total(&list("?switch=core").await.1), 0, "a whole switch name");
    assert_eq!(total(&list("?organization=globex").await.1), 1, "globex is a member of the live one");
    assert_eq!(total(&list("?q=100%25").await.1), 0, "% is a character, not a wildcard");
    // Bad queries say what is wrong.
    for bad in ["?limit=0", "?limit=1001", "?kind=p2x", "?state=gone", "?page=2"] {
        let (status, _, body) = list(bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert!(body["message"].as_str().unwrap().starts_with("the query:"), "{bad}: {body}");
    }
    // Another organization sees only what it may.
    let globex = p.login("admin@globex.example", "password-1").await;
    let r = globex.raw().await.get(format!("{}/api/v1/channels", p.base)).send().await.unwrap();
    assert_eq!(total(r.headers()), 1);

    // The portal's page: a filter form, a page of 100, the way to the next.
    let page = async |query: &str| {
        let r = acme.raw().await.get(format!("{}/channels{query}", p.base)).send().await.unwrap();
        (r.status(), r.text().await.unwrap())
    };
    let (status, html) = page("").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(&format!("Showing 1–100 of {}", MANY + 1)), "{html:.2000}");
    assert_eq!(html.matches("<tr><td><a href=\"/channels/").count(), 100);
    assert!(html.contains(r#"<a href="/channels?offset=100" id="older">"#) && !html.contains(r#"id="newer""#));
    let (_, html) = page("?q=bulk+123&kind=&state=&organization=&switch=").await;
    assert!(html.contains("Showing 1–11 of 11") && !html.contains(r#"id="older""#), "{html:.3000}");
    assert!(html.contains(r#"name="q" value="bulk 123""#), "the search stays in its box");
    let (_, html) = page("?kind=p2mp&offset=3300").await;
    assert!(html.contains(&format!("Showing 3301–{} of {}", MANY / 3, MANY / 3)), "{html:.3000}");
    let newer = html.split(r#"id="newer""#).next().unwrap().rsplit("<a href=\"").next().unwrap();
    assert!(
        newer.starts_with("/channels?kind=p2mp&") && newer.ends_with("offset=3200\" "),
        "the filters go along: {newer}"
    );
    assert!(html.contains(r#"<option value="p2mp" selected>E-Tree</option>"#));
    let (_, html) = page("?organization=nobody").await;
    assert!(html.contains("No channel matches these filters"), "{html:.3000}");
    assert_eq!(page("?kind=p2x").await.0, StatusCode::BAD_REQUEST);
}

on_both!(lists_hold_ten_thousand_channels, worker_threads = 4);
