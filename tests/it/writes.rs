//! Every write, API and portal forms, with generated text in each of its text fields and
//! path parameters, on SQLite and PostgreSQL side by side (issue 23 item 5): never a server
//! error; a 400 says which field; and both databases give every request the same answer
//! (status and code).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::api::{Client, Portal, new_channel};
use crate::gate::generated_texts;
use crate::world::Backend;

/// Stands for a lone surrogate: in a JSON body it is sent as the escape `\ud800`, which is
/// not text (JSON allows the escape, Unicode has no such character).
const SURROGATE: char = '\u{e000}';

/// A well-formed channel id that no channel has.
const NO_CHANNEL: &str = "ch-00000000000000000000000000000000";

/// One server with the people and objects the writes need.
struct Side {
    p: Portal,
    acme: Client,
    globex: Client,
    op: Client,
    /// acme's draft channel, offered to globex.
    channel: String,
    /// globex's invitation to it.
    token: String,
    /// An invitation for someone who has no account (registration).
    newcomer: String,
}

async fn side(b: Backend) -> Side {
    let p = Portal::start_unlimited(b).await;
    let acme = p.login("admin@acme.example", "password-1").await;
    let globex = p.login("admin@globex.example", "password-1").await;
    let op = p.login("noc@operator.example", "operator-pw").await;
    let (_, ch) = acme.post("/api/v1/channels", new_channel(&p, "kept", "p2p", "acme-1a")).await;
    let channel = ch["id"].as_str().unwrap().to_string();
    let offer = json!({"invitees": [{"email": "admin@globex.example"}, {"email": "new@newco.example"}]});
    let (status, made) = acme.post(&format!("/api/v1/channels/{channel}/offers"), offer).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let token = made["invitations"][0]["token"].as_str().unwrap().to_string();
    let newcomer = made["invitations"][1]["token"].as_str().unwrap().to_string();
    Side { p, acme, globex, op, channel, token, newcomer }
}

enum Who {
    Acme,
    Globex,
    Operator,
    Nobody,
}

enum Body {
    None,
    Json(Value),
    Form(Vec<(&'static str, String)>),
}

/// One request, and the words one of which a 400 must say (the field's name).
struct Write {
    who: Who,
    method: Method,
    path: String,
    body: Body,
    field: &'static [&'static str],
}

fn writes(side: &Side, s: &str, n: usize) -> Vec<Write> {
    let (ch, token, newcomer) = (&side.channel, &side.token, &side.newcomer);
    let enc = percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string();
    let post = |who, path: String, body: Value, field| Write {
        who,
        method: Method::POST,
        path,
        body: Body::Json(body),
        field,
    };
    let form = |who, path: String, fields: Vec<(&'static str, String)>, field| Write {
        who,
        method: Method::POST,
        path,
        body: Body::Form(fields),
        field,
    };
    let channel = |key: &str, value: String| {
        let mut c = new_channel(&side.p, &format!("c{n}"), "p2p", "acme-2a");
        c[key] = json!(value);
        c
    };
    // A new address each time: an address whose invitation to the channel waits is not
    // invited again, whatever the rest of the offer says.
    let invitee = |key: &str| json!({"invitees": [{"email": format!("{key}{n}@globex.example"), key: s}]});
    let account = json!({"status": "active", "kinds": ["p2p"], "max_bandwidth_mbps": 100, "max_channels": 10,
        "classes": [s], "balance_cents": 0, "credit_limit_cents": 0});
    vec![
        post(Who::Nobody, "/api/v1/session".into(), json!({"email": s, "password": "x"}), &["email"]),
        post(Who::Nobody, "/api/v1/session".into(), json!({"email": "a@b.example", "password": s}), &["password"]),
        post(Who::Acme, "/api/v1/channels".into(), channel("name", format!("{s}{n}")), &["name"]),
        post(Who::Acme, "/api/v1/channels".into(), channel("class", s.into()), &["class"]),
        post(Who::Acme, "/api/v1/channels".into(), channel("interface", s.into()), &["interface"]),
        post(
            Who::Acme,
            "/api/v1/channels".into(),
            channel("usage_model_id", s.into()),
            &["usage_model_id", "usage model"],
        ),
        post(
            Who::Acme,
            format!("/api/v1/channels/{ch}/offers"),
            json!({"description": s, "invitees": [{"email": format!("description{n}@globex.example")}]}),
            &["description"],
        ),
        post(Who::Acme, format!("/api/v1/channels/{ch}/offers"), invitee("name"), &["invitees[0].name"]),
        post(Who::Acme, format!("/api/v1/channels/{ch}/offers"), invitee("org_name"), &["invitees[0].org_name"]),
        post(
            Who::Acme,
            format!("/api/v1/channels/{ch}/offers"),
            json!({"invitees": [{"email": s}]}),
            &["email", "invitees[0]"],
        ),
        post(
            Who::Acme,
            format!("/api/v1/channels/{ch}/offers"),
            json!({"invitees": [{"organization": s}]}),
            &["organization", "invitees[0]"],
        ),
        post(Who::Acme, format!("/api/v1/channels/{NO_CHANNEL}/terminate"), json!({"reason": s}), &["reason"]),
        post(Who::Acme, format!("/api/v1/channels/{enc}/terminate"), json!({}), &["path"]),
        Write {
            who: Who::Acme,
            method: Method::PUT,
            path: "/api/v1/policy".into(),
            body: Body::Json(json!({"default_offer_days": 30, "members_can_accept": false,
                                    "notifications": {"recipients": [s]}})),
            field: &["recipients", "recipient"],
        },
        Write {
            who: Who::Acme,
            method: Method::PUT,
            path: "/api/v1/policy".into(),
            body: Body::Json(json!({"default_offer_days": 30, "members_can_accept": false,
                                    "auto_accept": [{"organization": s, "interface": "acme-2a"}]})),
            field: &["auto_accept[0]"],
        },
        Write {
            who: Who::Acme,
            method: Method::DELETE,
            path: format!("/api/v1/attachments/{enc}"),
            body: Body::None,
            field: &["path"],
        },
        post(Who::Globex, format!("/api/v1/invitations/{token}/accept"), json!({"interface": s}), &["interface"]),
        post(
            Who::Globex,
            format!("/api/v1/invitations/{token}/accept"),
            json!({"interface": "globex-8a", "usage_model_id": s}),
            &["usage_model_id", "usage model"],
        ),
        post(Who::Globex, format!("/api/v1/invitations/{enc}/decline"), json!({}), &["path"]),
        post(
            Who::Nobody,
            format!("/api/v1/invitations/{newcomer}/register"),
            json!({"email": "new@newco.example", "name": s, "organization": "NewCo", "password": "password-123"}),
            &["name"],
        ),
        post(
            Who::Nobody,
            format!("/api/v1/invitations/{newcomer}/register"),
            json!({"email": s, "name": "New", "organization": "NewCo", "password": "password-123"}),
            &["email"],
        ),
        Write {
            who: Who::Operator,
            method: Method::PUT,
            path: "/api/v1/operator/new-organizations".into(),
            body: Body::Json(account),
            field: &["classes", "class"],
        },
        // The portal's forms.
        form(
            Who::Acme,
            "/channels".into(),
            vec![
                ("name", format!("{s}{n}")),
                ("kind", "p2p".into()),
                ("interface", "acme-2a".into()),
                ("bandwidth_mbps", "10".into()),
                ("class", "standard".into()),
                ("usage_model_id", side.p.w.free.clone()),
            ],
            &["name"],
        ),
        form(Who::Acme, format!("/channels/{ch}/offers"), vec![("invitees", s.into())], &["invitee", "email"]),
        form(
            Who::Acme,
            format!("/channels/{ch}/offers"),
            vec![("invitees", "admin@globex.example".into()), ("description", s.into())],
            &["description"],
        ),
        form(Who::Acme, format!("/channels/{NO_CHANNEL}/terminate"), vec![("reason", s.into())], &["reason"]),
        form(
            Who::Acme,
            "/settings".into(),
            vec![("default_offer_days", "30".into()), ("notify_to", s.into())],
            &["recipient", "notify_to"],
        ),
        // A page names the field in the words people read it by: the port.
        form(
            Who::Globex,
            format!("/invitations/{token}/accept"),
            vec![("interface", s.into())],
            &["interface", "port", "Port"],
        ),
    ]
}

/// Sends `w`; the answer's status, its code (JSON) and its words (a JSON error's message,
/// or a page's text).
async fn send(side: &Side, w: &Write) -> (StatusCode, String, String) {
    let anonymous = side.p.anonymous();
    let client = match w.who {
        Who::Acme => &side.acme,
        Who::Globex => &side.globex,
        Who::Operator => &side.op,
        Who::Nobody => &anonymous,
    };
    let http = client.raw().await;
    let mut r =
        http.request(w.method.clone(), format!("{}{}", side.p.base, w.path)).header("x-csrf-token", &client.csrf);
    r = match &w.body {
        Body::None => r,
        // The marker becomes a lone surrogate's escape.
        Body::Json(v) => r.header("content-type", "application/json").body(v.to_string().replace(SURROGATE, "\\ud800")),
        Body::Form(fields) => {
            let mut fields = fields.clone();
            fields.push(("csrf", client.csrf.clone()));
            r.form(&fields)
        }
    };
    let answer = r.send().await.unwrap();
    let status = answer.status();
    let text = answer.text().await.unwrap();
    match serde_json::from_str::<Value>(&text) {
        Ok(v) => (status, v["code"].as_str().unwrap_or("").into(), v["message"].as_str().unwrap_or("").into()),
        Err(_) => (status, String::new(), text),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_text_in_every_write_gets_the_same_answer_on_both_databases() {
    let sides = [side(Backend::Sqlite).await, side(Backend::Postgres).await];
    let mut samples = generated_texts();
    samples.push(SURROGATE.to_string());
    samples.push(format!("a{SURROGATE}b"));
    let (mut compared, mut refused) = (0, 0);
    for (n, s) in samples.iter().enumerate() {
        let ours = [writes(&sides[0], s, n), writes(&sides[1], s, n)];
        for (a, b) in ours[0].iter().zip(&ours[1]) {
            let got = [send(&sides[0], a).await, send(&sides[1], b).await];
            let what = format!("{} {} with {s:.60?}", a.method, a.path.chars().take(80).collect::<String>());
            for (status, code, words) in &got {
                assert!(!status.is_server_error(), "{what}: {status} {code} {words:.300}");
                assert!(status.is_success() || status.is_client_error() || status.is_redirection(), "{what}: {status}");
                if *status == StatusCode::BAD_REQUEST {
                    assert!(
                        a.field.iter().any(|f| words.contains(f)),
                        "{what}: a 400 names the field ({:?}): {words:.400}",
                        a.field
                    );
                    refused += 1;
                }
            }
            assert_eq!((got[0].0, &got[0].1), (got[1].0, &got[1].1), "{what}: SQLite and PostgreSQL answer alike");
            compared += 1;
        }
    }
    println!("{} texts, {compared} requests compared, {refused} answers with 400", samples.len());
    assert!(compared >= 1500, "{compared} requests compared");
    assert!(refused >= 500, "{refused} refusals seen");
}
