//! An organization's policy and a usage model's terms as the service applies them, on
//! SQLite and PostgreSQL: standing auto-accept rules (SPEC §7), usage restrictions while a
//! channel runs (time windows, term ends, traffic caps), billing after the plug-in, and
//! notification preferences.

use switchboard::model::ChannelKind;
use switchboard::model::text::Email;
use switchboard::orchestrator::policy::ChannelState;
use switchboard::orchestrator::{Item, Planner};
use switchboard::service::{Acceptance, Policy};

use crate::service::{assert_switches_match, by_org};
use crate::world::{Backend, World, accept, suspended, world};

/// SPEC §7: an organization that auto-accepts offers from another gets its channels plugged
/// in at once, with the interface it chose and the same checks as by hand; a refusal
/// leaves the invitation open; bad rules are refused whole.
async fn auto_accept(b: Backend) {
    use switchboard::service::AutoAccept;
    let mut w = world(b).await;
    let dir = mail_to_outbox(&mut w);
    let mut policy = w.svc.policy(&w.globex).await.unwrap();
    assert_eq!(
        policy,
        Policy {
            default_offer_days: 60,
            members_can_accept: true,
            auto_accept: vec![],
            notifications: Default::default()
        },
        "defaults"
    );
    policy.auto_accept =
        vec![AutoAccept { organization: "acme".parse().unwrap(), interface: "globex-8a".parse().unwrap() }];
    policy.default_offer_days = 14;
    assert_eq!(w.svc.update_policy(&w.globex, &policy).await.unwrap(), policy);

    // Bad rules: refused, naming the rule, and nothing changes.
    let bad = |rule: AutoAccept| Policy { auto_accept: vec![policy.auto_accept[0].clone(), rule], ..policy.clone() };
    for (rule, says) in [
        (
            AutoAccept { organization: "nobody".parse().unwrap(), interface: "globex-8a".parse().unwrap() },
            "no organization `nobody`",
        ),
        (AutoAccept { organization: "globex".parse().unwrap(), interface: "globex-8a".parse().unwrap() }, "to itself"),
        (
            AutoAccept { organization: "initech".parse().unwrap(), interface: "acme-1a".parse().unwrap() },
            "not one of your",
        ),
        (
            AutoAccept { organization: "acme".parse().unwrap(), interface: "globex-1b".parse().unwrap() },
            "has a rule already",
        ),
    ] {
        let e = w.svc.update_policy(&w.globex, &bad(rule)).await.unwrap_err();
        assert_eq!(e.code(), "invalid_input");
        assert!(e.to_string().starts_with("auto_accept[1]: ") && e.to_string().contains(says), "{e}");
    }
    assert_eq!(w.svc.policy(&w.globex).await.unwrap(), policy, "refused changes store nothing");
    let e = w.svc.update_policy(&w.acme, &Policy { default_offer_days: 0, ..policy.clone() }).await.unwrap_err();
    assert_eq!(e.code(), "invalid_input");
    // Every problem at once, one per line, in the order of the fields.
    let mut all_wrong =
        bad(AutoAccept { organization: "nobody".parse().unwrap(), interface: "acme-1a".parse().unwrap() });
    all_wrong.default_offer_days = 0;
    all_wrong
        .auto_accept
        .push(AutoAccept { organization: "globex".parse().unwrap(), interface: "globex-8a".parse().unwrap() });
    all_wrong.notifications.recipients = vec![Email::stored("not an address"), Email::stored("noc@globex.example")];
    let e = w.svc.update_policy(&w.globex, &all_wrong).await.unwrap_err().to_string();
    let lines: Vec<&str> = e.lines().collect();
    assert_eq!(lines.len(), 4, "{e}");
    assert!(lines[0].starts_with("default_offer_days: "), "{e}");
    assert!(lines[1].starts_with("notifications.recipients[0]: `not an address`"), "{e}");
    assert!(lines[2].starts_with("auto_accept[1]: ") && lines[2].contains("no organization `nobody`"), "{e}");
    assert!(lines[3].starts_with("auto_accept[2]: ") && lines[3].contains("to itself"), "{e}");
    assert_eq!(w.svc.policy(&w.globex).await.unwrap(), policy, "refused changes store nothing");

    // acme offers to globex (by organization) and to initech: globex's answer is at once.
    let ch = w.svc.create_channel(&w.acme, &w.channel("auto", ChannelKind::P2mp, "acme-1a")).await.unwrap();
    let offer = w.svc.offer(&w.acme, &ch, &by_org(&["globex", "initech"])).await.unwrap();
    let initech_token = offer.invitations[1].token.clone();
    assert_eq!(offer.auto_accepted.len(), 1, "{:?}", offer.auto_accepted);
    let a = &offer.auto_accepted[0];
    assert!(a.accepted && a.organization == "globex" && a.interface == "globex-8a", "{a:?}");
    let c = w.svc.channel(&w.acme, &ch).await.unwrap();
    assert_eq!(c.state, ChannelState::Provisioning);
    assert!(c.attachments.iter().any(|a| a.interface == "globex-8a"));
    w.svc.run_pending().await.unwrap();
    assert_eq!(w.svc.channel(&w.acme, &ch).await.unwrap().state, ChannelState::Active);
    let status = w.svc.offer_status(&w.acme, &offer.offer_id).await.unwrap();
    let answered: Vec<bool> = status.invitees.iter().map(|i| i.accepted).collect();
    assert_eq!(answered.iter().filter(|a| **a).count(), 1, "initech still has to answer: {answered:?}");
    let log = w.svc.audit_log(&w.op, None).await.unwrap();
    let entry = log.iter().find(|e| e.action == "invitation.accept").unwrap();
    assert!(entry.actor.starts_with("auto-accept:") && entry.source == "auto-accept", "{entry:?}");

    // globex-8a is a port-mode port and now carries a channel: a rule naming it would
    // refuse every offer, so it is refused when saved, saying why and what to do.
    let e = w.svc.update_policy(&w.globex, &policy).await.unwrap_err();
    assert_eq!(e.code(), "invalid_input");
    assert!(
        e.to_string().contains("globex-8a already carries a channel") && e.to_string().contains("free port"),
        "{e}"
    );

    // A refusal (globex suspended) leaves the invitation open, with the reason recorded.
    w.set_account("globex", suspended).await;
    let ch2 = w.svc.create_channel(&w.acme, &w.channel("auto2", ChannelKind::P2p, "acme-3a")).await.unwrap();
    let offer = w.svc.offer(&w.acme, &ch2, &by_org(&["globex"])).await.unwrap();
    let a = &offer.auto_accepted[0];
    assert!(!a.accepted && a.reason.as_deref().is_some_and(|r| r.contains("suspended")), "{a:?}");
    let row = &w.svc.offer_status(&w.acme, &offer.offer_id).await.unwrap().invitees[0];
    assert!(!row.accepted);
    // The offerer's invitee row says why the rule could not accept it.
    assert!(row.auto_accept_refused.as_deref().is_some_and(|r| r.contains("suspended")), "{row:?}");
    assert_eq!(w.svc.channel(&w.acme, &ch2).await.unwrap().state, ChannelState::Offered);
    let log = w.svc.audit_log(&w.op, None).await.unwrap();
    assert!(log.iter().any(|e| e.action == "invitation.auto_accept_refused"
        && e.object == a.invitee_id
        && e.detail.contains(ch2.as_str())));
    // The operator's audit search by the channel's name finds it.
    let q = switchboard::service::AuditQuery { text: "AUTO2".into(), ..Default::default() };
    let (found, _) = w.svc.audit_search(&w.op, &q, 50).await.unwrap();
    assert!(found.iter().any(|e| e.action == "invitation.auto_accept_refused"), "{found:?}");
    // The rule's owner hears of it by email, with the reason and the invitation's link.
    w.svc.mail_settled().await;
    let told: Vec<_> = outbox(dir.path()).into_iter().filter(|(_, s, _)| s.contains("could not accept")).collect();
    assert!(!told.is_empty(), "globex is told its rule failed");
    for (to, subject, body) in &told {
        assert!(to.ends_with("@globex.example"), "{to}");
        assert!(subject.contains("acme"), "{subject}");
        assert!(body.contains("suspended") && body.contains("/invitations/") && body.contains("globex-8a"), "{body}");
    }
    // Invitations by email are for people: no rule answers them.
    w.set_account("globex", |a| {
        a.status = switchboard::orchestrator::policy::AccountStatus::Active;
        a.credit_limit_cents = 0;
    })
    .await;
    let ch3 = w.svc.create_channel(&w.acme, &w.channel("auto3", ChannelKind::P2p, "acme-5b")).await.unwrap();
    let offer = w.offer_to(&w.acme, &ch3, &[&w.globex]).await;
    assert!(offer.auto_accepted.is_empty(), "{:?}", offer.auto_accepted);
    assert_eq!(w.svc.channel(&w.acme, &ch3).await.unwrap().state, ChannelState::Offered);

    // globex's rule accepted the first offer (no person did); when globex unplugs from the
    // channel, which goes on with acme and initech, the offerer's invitee row says so all
    // the same.
    w.svc.accept(&w.initech, &initech_token, &accept("initech-4a")).await.unwrap();
    w.svc.run_pending().await.unwrap();
    let c = w.svc.channel(&w.op, &ch).await.unwrap();
    let att = c.attachments.iter().find(|a| a.interface == "globex-8a" && a.state == "attached").unwrap().id.clone();
    w.svc.detach(&w.globex, &att).await.unwrap();
    let invitees = w.svc.offers(&w.acme, &ch).await.unwrap().remove(0).invitees;
    let globex = invitees.iter().find(|i| i.organization.as_deref() == Some("globex")).unwrap();
    assert!(globex.accepted && globex.unplugged_at.is_some(), "{globex:?}");
    w.svc.run_pending().await.unwrap();
    assert_eq!(w.svc.channel(&w.acme, &ch).await.unwrap().state, ChannelState::Active, "it went on");
}
on_both!(auto_accept);

async fn usage_restrictions_while_running(b: Backend) {
    use switchboard::service::UsageModelSpec;
    let w = world(b).await;
    let day_ms = 86_400_000;
    let minute = |t: i64| u32::try_from(t.rem_euclid(day_ms) / 60_000).unwrap();
    // A two-hour daily window that is open now, and a model whose term ends in three days.
    let now = w.svc.clock.now();
    let window = (minute(now), (minute(now) + 120) % 1440);
    let spec = UsageModelSpec { name: "business hours".into(), window: Some(window), ..Default::default() };
    let windowed = w.svc.create_usage_model(&w.op, &w.definition, &spec).await.unwrap();
    let spec = UsageModelSpec { name: "three days".into(), term_end_ms: Some(now + 3 * day_ms), ..Default::default() };
    let short = w.svc.create_usage_model(&w.op, &w.definition, &spec).await.unwrap();

    let mut new = w.channel("daytime", ChannelKind::P2p, "acme-1a");
    new.usage_model_id = windowed;
    let ch = w.svc.create_channel(&w.acme, &new).await.unwrap();
    let offer = w.offer_to(&w.acme, &ch, &[&w.globex]).await;
    let with_term = Acceptance {
        interface: "globex-8a".parse().unwrap(),
        usage_model_id: Some(short),
        customer_vlan: None,
        bandwidth_mbps: None,
    };
    w.svc.accept(&w.globex, &offer.invitations[0].token, &with_term).await.unwrap();
    w.svc.run_pending().await.unwrap();
    let c = w.svc.channel(&w.acme, &ch).await.unwrap();
    assert_eq!(c.state, ChannelState::Active);
    let vlan = c.vlan.unwrap();
    // Items on the path's switches beyond what an empty network has.
    let holds = |w: &World| {
        let (svc, path) = (w.svc.clone(), c.path.clone());
        async move {
            let topo = svc.topology().await.unwrap();
            let baseline = Planner::new(&topo);
            let mut n = 0;
            for sw in &path {
                let base = baseline.desired(topo.switch_index(sw).unwrap());
                let items = svc.switch_items(sw).await.unwrap();
                n += items.iter().filter(|t| !base.contains(&serde_json::from_str::<Item>(t).unwrap())).count();
            }
            n
        }
    };
    assert!(holds(&w).await > 0);
    // Inside the window the sweep leaves it alone.
    assert_eq!(w.svc.sweep().await.unwrap(), 0);

    // Three hours on, the window is closed: paused, configuration gone, VLAN kept.
    w.svc.clock.advance(std::time::Duration::from_secs(3 * 3600));
    assert_eq!(w.svc.sweep().await.unwrap(), 1);
    let c = w.svc.channel(&w.acme, &ch).await.unwrap();
    assert_eq!(c.state, ChannelState::Paused);
    assert!(c.reason.contains("business hours") && c.reason.contains("resumes"), "{}", c.reason);
    w.svc.run_pending().await.unwrap();
    assert_eq!(holds(&w).await, 0, "a paused channel leaves nothing on the switches");
    assert_switches_match(&w).await;
    let c = w.svc.channel(&w.acme, &ch).await.unwrap();
    assert_eq!((c.state, c.vlan), (ChannelState::Paused, Some(vlan)));
    // Its VLAN stays reserved: a channel sharing switches with it gets another one.
    let other = w.svc.create_channel(&w.acme, &w.channel("other", ChannelKind::P2p, "acme-3a")).await.unwrap();
    let offer = w.offer_to(&w.acme, &other, &[&w.globex]).await;
    w.svc.accept(&w.globex, &offer.invitations[0].token, &accept("globex-1b")).await.unwrap();
    w.svc.run_pending().await.unwrap();
    let o = w.svc.channel(&w.acme, &other).await.unwrap();
    assert!(o.path.iter().any(|s| c.path.contains(s)), "{:?} {:?}", o.path, c.path);
    assert_ne!(o.vlan, Some(vlan), "the VLAN is kept while paused");
    assert_eq!(w.svc.sweep().await.unwrap(), 0, "paused once");

    // The next day inside the window: resumed with the same VLAN.
    w.svc.clock.advance(std::time::Duration::from_secs(22 * 3600));
    assert_eq!(w.svc.sweep().await.unwrap(), 1);
    assert_eq!(w.svc.channel(&w.acme, &ch).await.unwrap().state, ChannelState::Provisioning);
    w.svc.run_pending().await.unwrap();
    let c = w.svc.channel(&w.acme, &ch).await.unwrap();
    assert_eq!((c.state, c.vlan, c.reason.as_str()), (ChannelState::Active, Some(vlan), ""));
    assert!(holds(&w).await > 0);
    assert_switches_match(&w).await;

    // Paused again, then the invitee's term ends while paused: the channel ends, VLAN freed.
    w.svc.clock.advance(std::time::Duration::from_secs(3 * 3600));
    w.svc.sweep().await.unwrap();
    w.svc.run_pending().await.unwrap();
    assert_eq!(w.svc.channel(&w.acme, &ch).await.unwrap().state, ChannelState::Paused);
    w.svc.clock.advance(std::time::Duration::from_secs(2 * 86_400));
    assert_eq!(w.svc.sweep().await.unwrap(), 1);
    w.svc.run_pending().await.unwrap();
    let c = w.svc.channel(&w.acme, &ch).await.unwrap();
    assert_eq!((c.state, c.path.len()), (ChannelState::Terminated, 0));
    assert_switches_match(&w).await;
    // Its VLAN is free again: the next channel between the same sockets gets it.
    let again = w.live_p2p("again", "acme-1a").await;
    assert_eq!(w.svc.channel(&w.acme, &again).await.unwrap().vlan, Some(vlan));

    let log = w.svc.audit_log(&w.op, None).await.unwrap();
    let actions: Vec<&str> = log.iter().map(|e| e.action.as_str()).collect();
    for a in ["channel.paused", "channel.resumed", "channel.term_ended"] {
        assert!(actions.contains(&a), "audit log lacks {a}: {actions:?}");
    }
}
on_both!(usage_restrictions_while_running);

/// Makes `w`'s service mail into a directory of its own, which it returns.
fn mail_to_outbox(w: &mut World) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mailer =
        switchboard::mail::Mailer::outbox(dir.path().to_path_buf(), "Switchboard <noreply@sb.example>").unwrap();
    w.svc = w.svc.clone().with_mailer(mailer);
    dir
}

/// The outbox's messages as (to, subject, body).
fn outbox(dir: &std::path::Path) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for f in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let text = switchboard::mail::unfold(&std::fs::read_to_string(f.path()).unwrap());
        let header = |name: &str| {
            text.lines().find_map(|l| l.strip_prefix(name)).map(|v| v.trim().to_string()).unwrap_or_default()
        };
        let body = text.split_once("\r\n\r\n").or_else(|| text.split_once("\n\n")).map(|(_, b)| b.to_string());
        out.push((header("To:"), header("Subject:"), body.unwrap_or_default()));
    }
    out.sort();
    out
}

/// SPEC §7 notification preferences: answers to an offer go to the offering organization,
/// a channel's activation, failure and end to every member organization, each only if the
/// organization wants that kind of news, to the recipients it chose or else its admins.
async fn notification_preferences(b: Backend) {
    let mut w = world(b).await;
    let dir = mail_to_outbox(&mut w);
    let news = |subject_has: &str| {
        outbox(dir.path()).into_iter().filter(|(_, s, _)| s.contains(subject_has)).collect::<Vec<_>>()
    };

    // acme sends everything to its NOC; globex does not want to hear about activations.
    let mut p = w.svc.policy(&w.acme).await.unwrap();
    assert_eq!(p.notifications, switchboard::service::Notifications::default(), "all news, to the admins");
    // An address is read lower-case, so the same address twice is kept once.
    p.notifications.recipients = vec!["noc@acme.example".parse().unwrap(), "NOC@acme.example".parse().unwrap()];
    assert_eq!(w.svc.update_policy(&w.acme, &p).await.unwrap().notifications.recipients, ["noc@acme.example"]);
    // A request cannot carry one that is not an address (the type refuses it), and the
    // service checks again what it is given.
    assert!(" noc@acme.example".parse::<Email>().is_err() && "not an address".parse::<Email>().is_err());
    let mut bad = p.clone();
    bad.notifications.recipients = vec!["noc@acme.example".parse().unwrap(), Email::stored("not an address")];
    let e = w.svc.update_policy(&w.acme, &bad).await.unwrap_err();
    assert!(e.to_string().starts_with("notifications.recipients[1]: `not an address`"), "{e}");
    let mut g = w.svc.policy(&w.globex).await.unwrap();
    g.notifications.channel_active = false;
    w.svc.update_policy(&w.globex, &g).await.unwrap();
    assert!(!w.svc.policy(&w.globex).await.unwrap().notifications.channel_active);

    // An acceptance and a decline reach acme's NOC, and only it.
    let ch = w.svc.create_channel(&w.acme, &w.channel("news", ChannelKind::P2p, "acme-1a")).await.unwrap();
    let offer = w.offer_to(&w.acme, &ch, &[&w.globex, &w.initech]).await;
    w.svc.accept(&w.globex, &offer.invitations[0].token, &accept("globex-8a")).await.unwrap();
    w.svc.decline(&w.initech, &offer.invitations[1].token).await.unwrap();
    w.svc.mail_settled().await;
    let answers: Vec<_> = news("your offer").into_iter().map(|(to, s, _)| (to, s)).collect();
    assert_eq!(
        answers,
        [
            ("noc@acme.example".to_string(), "globex accepted your offer of \"news\"".to_string()),
            ("noc@acme.example".to_string(), "initech declined your offer of \"news\"".to_string()),
        ]
    );
    let accepted = &news("accepted your offer")[0].2;
    assert!(accepted.contains("globex-8a") && accepted.contains(&format!("/channels/{ch}")), "{accepted}");

    // Active: acme hears it (with the VLAN), globex asked not to.
    w.svc.run_pending().await.unwrap();
    w.svc.mail_settled().await;
    let vlan = w.svc.channel(&w.acme, &ch).await.unwrap().vlan.unwrap();
    let active = news("is active");
    assert_eq!(active.iter().map(|m| m.0.as_str()).collect::<Vec<_>>(), ["noc@acme.example"]);
    assert!(active[0].2.contains(&format!("VLAN {vlan}")), "{}", active[0].2);

    // Ended: both member organizations hear it, globex at its admins.
    w.svc.terminate(&w.acme, &ch, &"moved to fibre".parse().unwrap()).await.unwrap();
    w.svc.run_pending().await.unwrap();
    w.svc.mail_settled().await;
    let ended = news("ended");
    assert_eq!(ended.iter().map(|m| m.0.as_str()).collect::<Vec<_>>(), ["admin@globex.example", "noc@acme.example"]);
    assert!(ended[0].2.contains("moved to fibre"), "{}", ended[0].2);
    assert!(ended[0].2.contains(&format!("was ended by {} (acme)", w.acme.email)), "who ended it: {}", ended[0].2);

    // Failed: both hear it with the reason; acme stops wanting answers and hears none.
    p.notifications.offer_answers = false;
    w.svc.update_policy(&w.acme, &p).await.unwrap();
    let ch = w.svc.create_channel(&w.acme, &w.channel("doomed", ChannelKind::P2p, "acme-1a")).await.unwrap();
    let offer = w.offer_to(&w.acme, &ch, &[&w.globex]).await;
    w.svc.inject_lasting_fault("core1", 0);
    w.svc.accept(&w.globex, &offer.invitations[0].token, &accept("globex-8a")).await.unwrap();
    w.svc.run_pending().await.unwrap();
    w.svc.clear_faults();
    w.svc.mail_settled().await;
    let c = w.svc.channel(&w.acme, &ch).await.unwrap();
    assert_eq!(c.state, ChannelState::Failed);
    let failed = news("\"doomed\" failed");
    assert_eq!(failed.iter().map(|m| m.0.as_str()).collect::<Vec<_>>(), ["admin@globex.example", "noc@acme.example"]);
    // The reason in the words the pages use (quotes, not backticks).
    let reason = switchboard::model::people::for_people(&c.reason);
    assert!(c.reason.contains('`') && failed[0].2.contains(&reason), "{} lacks {reason}", failed[0].2);
    assert!(news("accepted your offer of \"doomed\"").is_empty(), "acme turned answers off");
}
on_both!(notification_preferences);

/// A member unplugged: every member organization hears who unplugged which port, and
/// whether the channel goes on without it or is taken down; so does the member whose port
/// it was (issue 24).
async fn an_unplug_is_news_to_every_member(b: Backend) {
    let mut w = world(b).await;
    let dir = mail_to_outbox(&mut w);
    let news = |subject_has: &str| {
        outbox(dir.path()).into_iter().filter(|(_, s, _)| s.contains(subject_has)).collect::<Vec<_>>()
    };
    let unplug = async |ch: &switchboard::model::id::ChannelId, iface: &str, who: &switchboard::service::Actor| {
        let c = w.svc.channel(&w.op, ch).await.unwrap();
        let att = c.attachments.iter().find(|a| a.interface == iface && a.state == "attached").unwrap().id.clone();
        w.svc.detach(who, &att).await.unwrap();
        w.svc.mail_settled().await;
    };

    // An E-LAN of three: globex leaves, acme and initech go on.
    let lan = w.svc.create_channel(&w.acme, &w.channel("lan", ChannelKind::Mp2mp, "acme-1a")).await.unwrap();
    let offer = w.offer_to(&w.acme, &lan, &[&w.globex, &w.initech]).await;
    w.svc.accept(&w.globex, &offer.invitations[0].token, &accept("globex-8a")).await.unwrap();
    w.svc.accept(&w.initech, &offer.invitations[1].token, &accept("initech-4a")).await.unwrap();
    w.svc.run_pending().await.unwrap();
    unplug(&lan, "globex-8a", &w.globex).await;
    let left = news("globex left \"lan\"");
    let to: Vec<&str> = left.iter().map(|m| m.0.as_str()).collect();
    assert_eq!(to, ["admin@acme.example", "admin@globex.example", "admin@initech.example"], "{left:?}");
    let body = &left[0].2;
    assert!(body.contains(&format!("{} (globex) unplugged globex's port globex-8a", w.globex.email)), "{body}");
    assert!(body.contains("goes on without it") && body.contains(&format!("/channels/{lan}")), "{body}");
    assert!(!left[1].2.contains(&format!("/channels/{lan}")), "globex sees the channel no more: {}", left[1].2);
    w.svc.run_pending().await.unwrap();
    assert_eq!(w.svc.channel(&w.op, &lan).await.unwrap().state, ChannelState::Active);
    // The creator's invitee list says globex accepted and has since unplugged.
    let invitees = w.svc.offers(&w.acme, &lan).await.unwrap().remove(0).invitees;
    assert!(invitees[0].accepted && invitees[0].unplugged_at.is_some(), "{:?}", invitees[0]);
    assert!(invitees[1].accepted && invitees[1].unplugged_at.is_none(), "initech is still in: {:?}", invitees[1]);

    // An E-Line: the creator unplugs the other end, and the channel is taken down.
    let line = w.svc.create_channel(&w.acme, &w.channel("line", ChannelKind::P2p, "acme-3a")).await.unwrap();
    let offer = w.offer_to(&w.acme, &line, &[&w.globex]).await;
    w.svc.accept(&w.globex, &offer.invitations[0].token, &accept("globex-8a")).await.unwrap();
    w.svc.run_pending().await.unwrap();
    unplug(&line, "acme-3a", &w.acme).await;
    let left = news("acme left \"line\"");
    assert_eq!(left.iter().map(|m| m.0.as_str()).collect::<Vec<_>>(), ["admin@acme.example", "admin@globex.example"]);
    assert!(left[1].2.contains("it is taken down"), "{}", left[1].2);
    // A channel that ended was not unplugged by its members.
    let invitees = w.svc.offers(&w.acme, &line).await.unwrap().remove(0).invitees;
    assert!(invitees[0].accepted && invitees[0].unplugged_at.is_none(), "{:?}", invitees[0]);
}
on_both!(an_unplug_is_news_to_every_member);

/// Charges made after the fact (issue 24, item 1): each month or hour that starts is charged
/// in advance to the paying members of a live channel; a member whose account cannot pay
/// ends the channel, and then nobody is charged for the month it would not get; the reason
/// names the account and the amounts. A second run in the same period charges nothing.
async fn billing_after_the_fact(b: Backend) {
    use switchboard::orchestrator::policy::PriceType;
    use switchboard::service::UsageModelSpec;
    let w = world(b).await;
    let spec = UsageModelSpec {
        name: "hourly".into(),
        price_type: Some(PriceType::PerHour),
        price_cents: 30,
        ..Default::default()
    };
    let hourly = w.svc.create_usage_model(&w.op, &w.definition, &spec).await.unwrap();
    w.set_account("acme", |a| (a.balance_cents, a.credit_limit_cents) = (0, 100_000)).await;
    w.set_account("globex", |a| (a.balance_cents, a.credit_limit_cents) = (5_000, 0)).await;
    // A monthly E-Line both ends pay for (globex with all it has), and an hourly one acme
    // pays for alone.
    let mut new = w.channel("monthly", ChannelKind::P2p, "acme-1a");
    new.usage_model_id = w.paid.parse().unwrap();
    let monthly = w.svc.create_channel(&w.acme, &new).await.unwrap();
    let offer = w.offer_to(&w.acme, &monthly, &[&w.globex]).await;
    let paid = Acceptance {
        interface: "globex-8a".parse().unwrap(),
        usage_model_id: Some(w.paid.parse().unwrap()),
        customer_vlan: None,
        bandwidth_mbps: None,
    };
    w.svc.accept(&w.globex, &offer.invitations[0].token, &paid).await.unwrap();
    let mut new = w.channel("hourly", ChannelKind::P2p, "acme-3a");
    new.usage_model_id = hourly;
    let by_hour = w.svc.create_channel(&w.acme, &new).await.unwrap();
    let offer = w.offer_to(&w.acme, &by_hour, &[&w.globex]).await;
    let free = Acceptance {
        interface: "globex-1b".parse().unwrap(),
        usage_model_id: Some(w.free.parse().unwrap()),
        customer_vlan: None,
        bandwidth_mbps: None,
    };
    w.svc.accept(&w.globex, &offer.invitations[0].token, &free).await.unwrap();
    w.svc.run_pending().await.unwrap();
    for ch in [&monthly, &by_hour] {
        assert_eq!(w.svc.channel(&w.acme, ch).await.unwrap().state, ChannelState::Active);
    }
    let balance = |w: &World, org: &'static str| {
        let (svc, actor) = (w.svc.clone(), if org == "acme" { w.acme.clone() } else { w.globex.clone() });
        async move { svc.my_account(&actor).await.unwrap() }
    };
    assert_eq!(balance(&w, "acme").await.balance_cents, -5_030, "the first month and hour, in advance");
    assert_eq!(w.svc.bill().await.unwrap().charges, 0, "paid in advance: nothing more yet");

    // An hour on: the second hour.
    w.svc.clock.advance(std::time::Duration::from_secs(3601));
    let r = w.svc.bill().await.unwrap();
    assert_eq!((r.charges, r.cents, r.ended.len()), (1, 30, 0), "{r:?}");
    assert_eq!(w.svc.bill().await.unwrap().charges, 0, "once per hour");
    let acme = balance(&w, "acme").await;
    assert_eq!(acme.balance_cents, -5_060);
    assert!(acme.charges[0].what.contains("hourly: 1 more hour"), "{:?}", acme.charges[0]);

    // Thirty days on: 720 more hours for acme; the second month is due from both ends of
    // the monthly channel, and globex has nothing left: the channel ends, acme is not
    // charged for a month it will not get.
    w.svc.clock.advance(std::time::Duration::from_secs(30 * 86_400));
    let r = w.svc.bill().await.unwrap();
    assert_eq!((r.charges, r.cents), (1, 720 * 30), "{r:?}");
    assert_eq!(r.ended, vec![monthly.to_string()], "{r:?}");
    let c = w.svc.channel(&w.acme, &monthly).await.unwrap();
    assert_eq!(c.state, ChannelState::Terminating);
    assert!(
        c.reason.contains("globex's account cannot pay usage model `monthly`: 50.00 was due and it could pay 0.00"),
        "{}",
        c.reason
    );
    let acme = balance(&w, "acme").await;
    assert_eq!(acme.balance_cents, -5_060 - 720 * 30);
    assert_eq!(acme.charges.iter().filter(|c| c.channel == "monthly").count(), 1, "{:?}", acme.charges);
    assert_eq!(balance(&w, "globex").await.balance_cents, 0);
    w.svc.run_pending().await.unwrap();
    assert_eq!(w.svc.channel(&w.acme, &monthly).await.unwrap().state, ChannelState::Terminated);
    assert_switches_match(&w).await;
    let r = w.svc.bill().await.unwrap();
    assert_eq!((r.charges, r.ended.len()), (0, 0), "an ended channel charges nothing more: {r:?}");
    let log = w.svc.audit_log(&w.op, None).await.unwrap();
    assert!(log.iter().any(|e| e.action == "channel.unpaid" && e.object == monthly), "audited");
}
on_both!(billing_after_the_fact);
