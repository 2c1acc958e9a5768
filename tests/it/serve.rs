//! `switchboard serve` as a process, and what it talks to: the README's run command
//! (`serve --demo`, started twice), invitation email to a real SMTP server on loopback,
//! HTTPS with a certificate made for the test, and schemathesis against the served OpenAPI
//! document.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::api::{Portal, new_channel, wait_until};
use crate::world::Backend;

/// `switchboard serve` as a process on a free port: its URL and what it printed at start
/// (the rest of its output is drained so it never blocks). Killed on drop.
pub struct ServeProcess {
    child: std::process::Child,
    pub url: String,
    pub printed: Vec<String>,
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl ServeProcess {
    /// Starts `serve --listen 127.0.0.1:0 --data-dir DATA ARGS...` and reads its first
    /// `lines` lines.
    pub fn start(data: &std::path::Path, args: &[&str], lines: usize) -> ServeProcess {
        ServeProcess::start_on(data, None, args, lines)
    }

    /// As [`ServeProcess::start`], on the database `database_url` when given.
    pub fn start_on(data: &std::path::Path, database_url: Option<&str>, args: &[&str], lines: usize) -> ServeProcess {
        use std::io::{BufRead, BufReader};
        use std::process::{Command, Stdio};
        switchboard::tls::install_crypto();
        let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data)
            .args(args)
            .env("RUST_LOG", "warn")
            .envs(database_url.map(|u| ("DATABASE_URL", u.to_string())))
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
        let printed: Vec<String> = out.by_ref().take(lines).map(|l| l.unwrap()).collect();
        std::thread::spawn(move || for _ in out {});
        let url = printed
            .first()
            .and_then(|l| l.split_whitespace().find(|w| w.starts_with("http://") || w.starts_with("https://")))
            .unwrap_or_else(|| panic!("serve printed no URL: {printed:?}"))
            .to_string();
        ServeProcess { child, url, printed }
    }
}

/// The README's run command: `switchboard serve --demo` seeds a database, prints logins that
/// work, and a second start on the same data finds everything in place.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_demo_is_ready_to_click_through_and_restarts_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let mut printed = Vec::new();
    for _ in 0..2 {
        let serve = ServeProcess::start(dir.path(), &["--demo"], 8);
        let url = serve.url.clone();
        let logins: Vec<String> = serve.printed[1..].to_vec();
        assert!(logins.iter().any(|l| l.contains("admin@acme.example")), "{logins:?}");
        assert!(logins.iter().any(|l| l.contains("noc@operator.example")), "{logins:?}");

        let http = reqwest::Client::builder().cookie_store(true).build().unwrap();
        let session: Value = http
            .post(format!("{url}/api/v1/session"))
            .json(&json!({"email": "admin@acme.example", "password": switchboard::service::DEMO_PASSWORD}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(session["user"]["role"], "admin", "{session}");
        let sockets: Value = http.get(format!("{url}/api/v1/interfaces")).send().await.unwrap().json().await.unwrap();
        assert!(sockets.as_array().unwrap().len() >= 2, "{sockets}");
        let catalog: Value = http.get(format!("{url}/api/v1/catalog")).send().await.unwrap().json().await.unwrap();
        assert_eq!(catalog.as_array().unwrap().len(), 1, "seeded once: {catalog}");
        assert_eq!(catalog[0]["usage_models"].as_array().unwrap().len(), 3, "{catalog}");
        if printed.is_empty() {
            // With no SMTP server, invitations land in the outbox as .eml files.
            let csrf = session["csrf"].as_str().unwrap();
            let model = catalog[0]["usage_models"][0]["usage_model_id"].as_str().unwrap();
            let ch: Value = http
                .post(format!("{url}/api/v1/channels"))
                .header("x-csrf-token", csrf)
                .json(&json!({"name": "demo", "kind": "p2p", "bandwidth_mbps": 10, "class": "standard",
                              "usage_model_id": model, "interface": "acme-1a"}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let offer: Value = http
                .post(format!("{url}/api/v1/channels/{}/offers", ch["id"].as_str().unwrap()))
                .header("x-csrf-token", csrf)
                .json(&json!({"invitees": [{"email": "ops@hooli.example", "name": "Hooli Ops", "org_name": "hooli"}]}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let link = offer["invitations"][0]["url"].as_str().unwrap_or_else(|| panic!("{ch}\n{offer}")).to_string();
            assert!(link.starts_with(&url), "links point at the server: {link}");
            let outbox = dir.path().join("outbox");
            wait_until("the outbox", async || {
                std::fs::read_dir(&outbox).is_ok_and(|d| {
                    d.flatten().any(|f| {
                        switchboard::mail::unfold(&std::fs::read_to_string(f.path()).unwrap_or_default())
                            .contains(&link)
                    })
                })
            })
            .await;
        }
        printed.push(logins);
    }
    assert_eq!(printed[0], printed[1], "a restart prints the same logins");
}

/// A real SMTP server on loopback (Python's aiosmtpd, writing a maildir).
struct SmtpServer {
    child: std::process::Child,
    port: u16,
    maildir: tempfile::TempDir,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl SmtpServer {
    async fn start() -> SmtpServer {
        let maildir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = std::process::Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-c", "aiosmtpd.handlers.Mailbox"])
            .arg(maildir.path().join("mail"))
            .args(["-l", &format!("127.0.0.1:{port}")])
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut server = SmtpServer { child, port, maildir };
        let start = Instant::now();
        while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            if let Ok(Some(status)) = server.child.try_wait() {
                let mut err = String::new();
                if let Some(mut e) = server.child.stderr.take() {
                    use std::io::Read;
                    let _ = e.read_to_string(&mut err);
                }
                panic!(
                    "the SMTP test server (python3 -m aiosmtpd) exited with {status}: {err}\ninstall it with: python3 -m pip install aiosmtpd (.ci/run does)"
                );
            }
            assert!(start.elapsed() < Duration::from_secs(20), "aiosmtpd did not listen on {port}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        server
    }

    /// Every message received so far, as readers show them.
    fn messages(&self) -> Vec<String> {
        let mut out = Vec::new();
        for sub in ["new", "cur"] {
            if let Ok(dir) = std::fs::read_dir(self.maildir.path().join("mail").join(sub)) {
                for f in dir.flatten() {
                    out.push(switchboard::mail::unfold(&std::fs::read_to_string(f.path()).unwrap()));
                }
            }
        }
        out
    }
}

/// SPEC §2 step 3 and §6: invitations go out over SMTP, to the invited person and to the
/// admins of an invited organization; each message carries its own working link.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invitations_are_mailed_over_smtp() {
    let smtp = SmtpServer::start().await;
    let mailer = switchboard::mail::Mailer::smtp(
        &format!("smtp://127.0.0.1:{}", smtp.port),
        "Switchboard <noreply@switchboard.example>",
    )
    .unwrap();
    let p = Portal::start_with(Backend::Sqlite, Some(mailer)).await;
    let acme = p.login("admin@acme.example", "password-1").await;
    let (_, ch) = acme.post("/api/v1/channels", new_channel(&p, "mailed", "mp2mp", "acme-1a")).await;
    let id = ch["id"].as_str().unwrap();
    let (status, offer) = acme
        .post(
            &format!("/api/v1/channels/{id}/offers"),
            json!({"description": "Our new E-LAN", "invitees": [
                {"email": "admin@globex.example"}, {"organization": "initech"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{offer}");
    wait_until("two messages", async || smtp.messages().len() >= 2).await;
    let messages = smtp.messages();
    assert_eq!(messages.len(), 2, "{messages:#?}");
    for (k, to) in [(0, "admin@globex.example"), (1, "admin@initech.example")] {
        let url = offer["invitations"][k]["url"].as_str().unwrap();
        let m = messages.iter().find(|m| m.contains(&format!("To: {to}"))).unwrap_or_else(|| panic!("no mail to {to}"));
        assert!(m.contains(url), "the mail to {to} carries its own link {url}:\n{m}");
        assert!(m.contains("acme invites you"), "{m}");
        assert!(m.contains("Our new E-LAN"), "{m}");
    }
    // The link in globex's mail opens globex's invitation.
    let globex = p.login("admin@globex.example", "password-1").await;
    let token = offer["invitations"][0]["token"].as_str().unwrap();
    assert_eq!(globex.get(&format!("/api/v1/invitations/{token}")).await.0, StatusCode::OK);
    // Each sending is in the audit log.
    let noc = p.login("noc@operator.example", "operator-pw").await;
    let invitee = offer["invitations"][0]["invitee_id"].as_str().unwrap();
    let (_, log) = noc.get(&format!("/api/v1/audit?object={invitee}")).await;
    assert!(log.as_array().unwrap().iter().any(|e| e["action"] == "invitation.mailed"), "{log}");
}

/// `serve --tls-cert/--tls-key` answers HTTPS only, with Secure session cookies; a bad
/// certificate stops it at once with a message naming the file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_over_tls() {
    use std::process::Command;
    switchboard::tls::install_crypto();
    let dir = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();

    let serve = ServeProcess::start(
        &dir.path().join("data"),
        &["--demo", "--tls-cert", cert_path.to_str().unwrap(), "--tls-key", key_path.to_str().unwrap()],
        1,
    );
    let url = serve.url.clone();
    assert!(url.starts_with("https://"), "{url}");
    let https = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert.cert.pem().as_bytes()).unwrap())
        .build()
        .unwrap();
    let r = https.get(format!("{}/healthz", url.replace("127.0.0.1", "localhost"))).send().await;
    let r = match r {
        Ok(r) => r,
        Err(_) => https.get(format!("{url}/healthz")).send().await.unwrap(),
    };
    assert_eq!(r.status(), StatusCode::OK);
    let r = https
        .post(format!("{url}/api/v1/session"))
        .json(&json!({"email": "admin@acme.example", "password": switchboard::service::DEMO_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let cookie = r.headers().get("set-cookie").unwrap().to_str().unwrap().to_string();
    assert!(cookie.contains("; Secure") && cookie.contains("HttpOnly"), "{cookie}");
    // A __Host- cookie: no sibling subdomain can plant one for this site.
    assert!(cookie.starts_with("__Host-sb_session=") && !cookie.contains("Domain="), "{cookie}");
    let session = cookie.split(';').next().unwrap().to_string();
    let r = https.get(format!("{url}/api/v1/me")).header("cookie", &session).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "the __Host- cookie opens the session");
    let r = https.get(format!("{url}/login")).send().await.unwrap();
    let form = r.headers().get("set-cookie").unwrap().to_str().unwrap().to_string();
    assert!(form.starts_with("__Host-sb_form=") && form.contains("; Secure"), "{form}");
    // Plain HTTP on the same port gets no answer.
    let plain = reqwest::Client::new().get(format!("{}/healthz", url.replace("https://", "http://"))).send().await;
    assert!(plain.is_err() || !plain.unwrap().status().is_success());
    drop(serve);

    // A key that is not a key: refused before listening, naming the file.
    std::fs::write(&key_path, "not a key").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .arg("--tls-cert")
        .arg(&cert_path)
        .arg("--tls-key")
        .arg(&key_path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("key.pem") && err.contains("private key"), "{err}");
}

/// A client that stalls inside a request's head (here: its headers never end, as curl 7.88
/// sends them when it drops a cookie from an over-long request) is disconnected after
/// `--head-timeout`, while a whole request on another connection is answered meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_head_that_never_ends_is_cut_off() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let serve = ServeProcess::start(dir.path(), &["--demo", "--head-timeout", "1"], 1);
    let addr = serve.url.trim_start_matches("http://").to_string();
    let mut stalled = std::net::TcpStream::connect(&addr).unwrap();
    stalled.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let long = "a".repeat(8_100);
    stalled.write_all(format!("GET /healthz?x={long} HTTP/1.1\r\nHost: {addr}\r\nCookie: \r\n").as_bytes()).unwrap();
    let started = Instant::now();
    let r = reqwest::get(format!("{}/healthz", serve.url)).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "another connection is served meanwhile");
    let mut buf = [0u8; 512];
    let got = stalled.read(&mut buf);
    let waited = started.elapsed();
    // Closed (0 bytes, or reset), or answered with an error; never left open.
    match got {
        Ok(0) | Err(_) => {}
        Ok(n) => {
            let head = String::from_utf8_lossy(&buf[..n]);
            assert!(head.starts_with("HTTP/1.1 408") || head.starts_with("HTTP/1.1 400"), "{head}");
        }
    }
    assert!(waited < Duration::from_secs(8), "cut off after {waited:?}, the timeout being 1 s");
    if let Err(e) = &got {
        assert!(e.kind() != std::io::ErrorKind::WouldBlock && e.kind() != std::io::ErrorKind::TimedOut, "{e}");
    }
}

/// schemathesis (PyPI) generates requests from the served OpenAPI document, as the NOC and
/// as a subscriber, valid and invalid alike (`--mode all`: negative data too), through
/// every phase (examples, coverage, fuzzing, and stateful sequences following the
/// response links), on SQLite and on PostgreSQL. It finds no server error (a 5xx), and
/// every request that breaks the schema (a pattern, a length, a range, an unknown field)
/// is refused with a 4xx (`negative_data_rejection`).
///
/// Random text seldom names something that exists, so the run is given what this
/// deployment has (read from the API as each user): its interfaces, usage models, classes,
/// organizations and users' addresses, which schemathesis uses for most values of those
/// fields; then channels get created, and the stateful phase follows the links from them
/// to offers, invitations, orders and terminations.
async fn schemathesis_finds_no_server_error(b: Backend) {
    use std::process::Command;
    let dir = tempfile::tempdir().unwrap();
    let db = crate::world::test_db(b).await;
    let url_of_db = (b == Backend::Postgres).then_some(db.url.as_str());
    let serve = ServeProcess::start_on(dir.path(), url_of_db, &["--demo"], 8);
    let url = serve.url.clone();
    let emails: Vec<String> = serve.printed[1..]
        .iter()
        .filter_map(|l| l.split_whitespace().find(|w| w.contains('@')))
        .map(String::from)
        .collect();
    assert!(emails.len() >= 3, "serve --demo prints its users: {:?}", serve.printed);
    let mut organizations = Vec::new();
    for (who, seed) in [("noc@operator.example", "7"), ("admin@acme.example", "11")] {
        let http = reqwest::Client::new();
        let r = http
            .post(format!("{url}/api/v1/session"))
            .json(&json!({"email": who, "password": switchboard::service::DEMO_PASSWORD}))
            .send()
            .await
            .unwrap();
        let cookie = r.headers().get("set-cookie").unwrap().to_str().unwrap().split(';').next().unwrap().to_string();
        let session: Value = r.json().await.unwrap();
        let get = |path: &str| {
            let req = http.get(format!("{url}/api/v1{path}")).header("cookie", &cookie);
            async move { req.send().await.unwrap().json::<Value>().await.unwrap() }
        };
        let strings = |v: &Value, key: &str| -> Vec<Value> {
            let mut out: Vec<Value> = v.as_array().into_iter().flatten().filter_map(|x| x.get(key).cloned()).collect();
            out.dedup();
            out
        };
        let interfaces = get("/interfaces").await;
        let catalog = get("/catalog").await;
        if organizations.is_empty() {
            // The NOC sees every interface, and so every organization.
            organizations = strings(&interfaces, "organization");
        }
        let mine = interfaces[0]["organization"].clone();
        let others: Vec<Value> = organizations.iter().filter(|o| **o != mine).cloned().collect();
        let usage_models: Vec<Value> = catalog
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|d| strings(&d["usage_models"], "usage_model_id"))
            .collect();
        let classes: Vec<Value> = catalog
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|d| d["classes"].as_array().cloned().unwrap_or_default())
            .collect();
        let config = dir.path().join(format!("schemathesis-{seed}.toml"));
        let dictionary = |name: &str, values: &[Value]| format!("[dictionaries.{name}]\nvalues = {}\n", json!(values));
        let bind =
            |field: &str, name: &str| format!("\"body.{field}\" = {{ dictionary = \"{name}\", probability = 0.9 }}\n");
        let toml = [
            dictionary("interfaces", &strings(&interfaces, "name")),
            dictionary("usage_models", &usage_models),
            dictionary("classes", &classes),
            dictionary("organizations", &others),
            dictionary("emails", &emails.iter().map(|e| json!(e)).collect::<Vec<_>>()),
            dictionary("bandwidths", &[json!(1), json!(5), json!(10)]),
            // The stateful phase follows links from what the run made. How far a sequence
            // gets varies from run to run (what the server answers depends on how far its
            // worker is), so the phase gets longer sequences, and more of them, than the
            // defaults, which reached too few links once under load.
            "[generation]\nmax-examples = 60\n".to_string(),
            "[phases.stateful]\nmax-steps = 12\n[phases.stateful.generation]\nmax-examples = 150\n".to_string(),
            "[parameters]\n".to_string(),
            bind("interface", "interfaces"),
            bind("usage_model_id", "usage_models"),
            bind("class", "classes"),
            bind("bandwidth_mbps", "bandwidths"),
            bind("invitees[*].organization", "organizations"),
            bind("invitees[*].email", "emails"),
            bind("auto_accept[*].organization", "organizations"),
            bind("auto_accept[*].interface", "interfaces"),
        ]
        .concat();
        std::fs::write(&config, toml).unwrap();
        let out = Command::new("schemathesis")
            .arg("--config-file")
            .arg(&config)
            .args(["run", &format!("{url}/api/v1/openapi.json")])
            .args(["--checks", "not_a_server_error,negative_data_rejection"])
            .args(["--mode", "all", "--phases", "examples,coverage,fuzzing,stateful"])
            .args(["--seed", seed])
            // Logging in or out would change whose session the run uses.
            .args(["--exclude-operation-id", "login", "--exclude-operation-id", "logout"])
            .args(["-H", &format!("Cookie: {cookie}")])
            .args(["-H", &format!("X-CSRF-Token: {}", session["csrf"].as_str().unwrap())])
            .env("NO_COLOR", "1")
            .output()
            .unwrap_or_else(|e| {
                panic!("cannot run schemathesis ({e}): python3 -m pip install schemathesis (.ci/run does)")
            });
        let report = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "schemathesis as {who} found problems:\n{report}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(report.contains("passed"), "{report}");
        // The run reached past creation: the stateful phase followed links from what it made.
        let covered = report
            .lines()
            .find_map(|l| l.trim().strip_prefix("API Links:"))
            .and_then(|l| l.split_whitespace().next()?.parse::<u32>().ok())
            .unwrap_or_else(|| panic!("no link count in the report:\n{report}"));
        if who.starts_with("admin") {
            assert!(covered >= 3, "as {who} the stateful phase followed only {covered} links:\n{report}");
        }
        // The counts, for the README (`cargo nextest run --test it schemathesis --no-capture`).
        let summary: Vec<&str> = report
            .lines()
            .filter(|l| l.contains("API Links") || l.contains("Operations:") || l.contains(" generated, "))
            .map(str::trim)
            .collect();
        eprintln!("schemathesis on {b:?} as {who}: {}", summary.join(" | "));
    }
}

on_both!(schemathesis_finds_no_server_error);
