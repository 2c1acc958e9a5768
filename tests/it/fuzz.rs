//! Bad input never panics: the topology and channels parsers (and the planner behind them)
//! on arbitrary text, and on random mutations of the shipped files.

use std::path::Path;

use proptest::prelude::*;
use switchboard::orchestrator::{parse_channels, plan};

fn shipped(name: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("topologies").join(name)).unwrap()
}

/// Applies byte-level mutations: replace, delete, insert, duplicate a line.
fn mutate(text: &str, ops: &[(usize, u8, u8)]) -> String {
    let mut bytes = text.as_bytes().to_vec();
    for &(at, op, b) in ops {
        if bytes.is_empty() {
            break;
        }
        let i = at % bytes.len();
        match op % 4 {
            0 => bytes[i] = b,
            1 => {
                bytes.remove(i);
            }
            2 => bytes.insert(i, b),
            _ => {
                let start = bytes[..i].iter().rposition(|c| *c == b'\n').map_or(0, |p| p + 1);
                let end = bytes[i..].iter().position(|c| *c == b'\n').map_or(bytes.len(), |p| i + p + 1);
                let line = bytes[start..end].to_vec();
                bytes.splice(start..start, line);
            }
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

const YAMLISH: &str = "[a-z0-9:{}\\[\\], \\-\\n\"'#&*!|>.]{0,300}";

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn topology_parser_survives_any_text(text in any::<String>()) {
        let _ = switchboard::topology::parse(&text);
    }

    #[test]
    fn topology_parser_survives_yamlish_text(text in YAMLISH) {
        let _ = switchboard::topology::parse(&text);
    }

    #[test]
    fn channels_parser_survives_any_text(text in any::<String>(), yamlish in YAMLISH) {
        let _ = parse_channels(&text);
        let _ = parse_channels(&yamlish);
    }

    #[test]
    fn mutated_shipped_files_never_panic(ops in proptest::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..8)) {
        let topo_text = mutate(&shipped("metro.yaml"), &ops);
        let chan_text = mutate(&shipped("metro.channels.yaml"), &ops);
        let topo = switchboard::topology::parse(&topo_text);
        let clean = switchboard::topology::parse(&shipped("metro.yaml")).unwrap();
        let (specs, _) = parse_channels(&chan_text);
        let _ = plan(&clean, &specs);
        if let Ok(topo) = topo {
            let (specs, _) = parse_channels(&shipped("metro.channels.yaml"));
            let _ = plan(&topo, &specs);
        }
    }
}

#[test]
fn deeply_nested_yaml_is_refused_not_overflowed() {
    let text = "[".repeat(10_000) + &"]".repeat(10_000);
    assert!(switchboard::topology::parse(&text).is_err());
    let text = "a:\n".to_string() + &(1..200).map(|i| format!("{}b:\n", " ".repeat(i))).collect::<String>();
    assert!(switchboard::topology::parse(&text).is_err());
}

/// Requests made of arbitrary bytes (methods, paths, queries, content types, bodies, valid
/// bodies mutated) through the whole application in process, logged in with the session's
/// token: never a panic, never a server error, and always the documented shape (JSON under
/// `/api/`, a page elsewhere). On each database.
#[test]
fn requests_of_any_bytes_get_the_documented_shape_sqlite() {
    requests_of_any_bytes_get_the_documented_shape(crate::world::Backend::Sqlite);
}

#[test]
fn requests_of_any_bytes_get_the_documented_shape_postgres() {
    requests_of_any_bytes_get_the_documented_shape(crate::world::Backend::Postgres);
}

fn requests_of_any_bytes_get_the_documented_shape(b: crate::world::Backend) {
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let (w, session) = rt.block_on(async {
        let w = crate::world::world(b).await;
        let s = w.svc.open_session("admin@acme.example", "password-1", "fuzz", 3_600_000).await.unwrap();
        (w, s)
    });
    let app = switchboard::portal::router(switchboard::portal::AppState::new(w.svc.clone()));
    let valid = serde_json::json!({"name": "n", "kind": "p2p", "bandwidth_mbps": 10, "class": "standard",
        "usage_model_id": w.free, "interface": "acme-1a", "invitees": [{"email": "admin@globex.example"}],
        "description": "d", "reason": "r"})
    .to_string();
    let paths = [
        "/api/v1/channels",
        "/api/v1/channels/X/offers",
        "/api/v1/channels/X/terminate",
        "/api/v1/attachments/X",
        "/api/v1/invitations/X/accept",
        "/api/v1/policy",
        "/api/v1/session",
        "/api/v1/orders?channel=X",
        "/channels",
        "/channels/X/offers",
        "/invitations/X/decline",
        "/settings",
        "/login?next=X",
        "/X",
    ];
    let kinds =
        ["application/json", "application/x-www-form-urlencoded", "text/plain", "", "application/json; charset=utf-8"];
    let methods = ["GET", "POST", "PUT", "DELETE", "PATCH"];
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig { cases: 300, ..ProptestConfig::default() });
    let strategy = (
        0..methods.len(),
        0..paths.len(),
        proptest::collection::vec(any::<u8>(), 0..12),
        0..kinds.len(),
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..200),
            proptest::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 0..8)
                .prop_map(move |ops| mutate(&valid, &ops).into_bytes()),
        ],
        any::<bool>(),
    );
    let tally = std::cell::RefCell::new(std::collections::BTreeMap::<u16, usize>::new());
    runner
        .run(&strategy, |(m, p, segment, k, body, with_token)| {
            // The segment percent-encoded, whatever its bytes (the path must stay a URI).
            let segment = percent_encoding::percent_encode(&segment, percent_encoding::NON_ALPHANUMERIC).to_string();
            let path = paths[p].replace('X', &segment);
            let mut req = Request::builder()
                .method(methods[m])
                .uri(&path)
                .header("cookie", format!("sb_session={}", session.token));
            if !kinds[k].is_empty() {
                req = req.header("content-type", kinds[k]);
            }
            if with_token {
                req = req.header("x-csrf-token", &session.csrf);
            }
            let req = req.body(Body::from(body)).unwrap();
            let response = rt.block_on(app.clone().oneshot(req)).unwrap();
            let status = response.status();
            *tally.borrow_mut().entry(status.as_u16()).or_default() += 1;
            prop_assert!(!status.is_server_error(), "{} {path}: {status}", methods[m]);
            if status.is_client_error() {
                let kind = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
                let want = if path.starts_with("/api/") { "application/json" } else { "text/html" };
                prop_assert!(kind.starts_with(want), "{} {path}: {status} as {kind:?}", methods[m]);
            }
            Ok(())
        })
        .unwrap();
    let tally = tally.into_inner();
    eprintln!("answers by status on {b:?}: {tally:?}");
    let (ok, refused): (usize, usize) = tally.iter().fold((0, 0), |(ok, no), (s, n)| match s {
        200..=399 => (ok + n, no),
        _ => (ok, no + n),
    });
    assert!(ok > 0 && refused > 0, "the requests reach handlers and get refused too: {tally:?}");
}
