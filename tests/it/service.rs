//! The orchestrator service on real SQLite and real PostgreSQL: the whole flow of SPEC §2
//! for p2p, p2mp and mp2mp, registration, refusals, expiry, tokens, permissions, account
//! checks, customer tags, and the audit log. Each scenario runs on both databases.

use std::collections::BTreeSet;

use switchboard::model::id::{ChannelId, InvitationToken};
use switchboard::model::{ChannelKind, Role};
use switchboard::orchestrator::policy::ChannelState;
use switchboard::orchestrator::{Item, Planner};
use switchboard::service::{
    Acceptance, Actor, InviteeSpec, NewOffer, Policy, Registered, Registration, ServiceError, UserRole,
};
use switchboard::store::query_scalar;

use crate::world::{Backend, World, accept, suspended, world};

pub fn code<T: std::fmt::Debug>(r: Result<T, ServiceError>) -> &'static str {
    match r {
        Ok(v) => panic!("expected a refusal, got {v:?}"),
        Err(e) => e.code(),
    }
}

/// Every switch holds exactly what the live channels in the database call for: planned
/// independently here from the channels' members and VLANs.
pub async fn assert_switches_match(w: &World) {
    let topo = w.svc.topology().await.unwrap();
    let mut planner = Planner::new(&topo);
    for c in w.svc.channels(&w.op).await.unwrap() {
        if !matches!(c.state, ChannelState::Active) {
            continue;
        }
        let spec = c.spec();
        planner.add(&spec).unwrap_or_else(|e| panic!("channel {} does not re-plan: {e:?}", c.id));
    }
    let baseline = Planner::new(&topo);
    for (s, sw) in topo.switches.iter().enumerate() {
        let base = baseline.desired(s);
        let held: BTreeSet<Item> = w
            .svc
            .switch_items(&sw.name)
            .await
            .unwrap()
            .iter()
            .map(|t| serde_json::from_str(t).unwrap())
            .filter(|i| !base.contains(i))
            .collect();
        let want: BTreeSet<Item> = planner.desired(s).into_iter().filter(|i| !base.contains(i)).collect();
        assert_eq!(held, want, "switch {} holds something else than its channels call for", sw.name);
    }
}

async fn p2p_flow(b: Backend) {
    let w = world(b).await;
    let ch = w.svc.create_channel(&w.acme, &w.channel("acme-globex", ChannelKind::P2p, "acme-1a")).await.unwrap();
    assert_eq!(w.svc.channel(&w.acme, &ch).await.unwrap().state, ChannelState::Draft);
    let offer = w.offer_to(&w.acme, &ch, &[&w.globex]).await;
    let inv = &offer.invitations[0];
    assert!(inv.url.ends_with(inv.token.as_str()) && inv.url.contains("/invitations/"));
    // Default expiry: 60 days.
    let days = (offer.expires_at - w.svc.now()) as f64 / 86_400_000.0;
    assert!((59.9..=60.0).contains(&days), "expiry in {days} days");
    assert_eq!(w.svc.channel(&w.acme, &ch).await.unwrap().state, ChannelState::Offered);

    let view = w.svc.open_invitation(&inv.token, Some(&w.globex), "192.0.2.7").await.unwrap();
    assert_eq!(view.channel.name, "acme-globex");
    assert_eq!(view.offered_by, "acme");
    assert_eq!(view.terms.len(), 2, "both usage models of the definition are shown as terms");
    // Looking is not acting (issue 24 item 5): a mail scanner's fetch records nothing.
    let status = w.svc.offer_status(&w.acme, &offer.offer_id).await.unwrap();
    assert!(status.invitees[0].accessed_at.is_none());
    assert!(!status.invitees[0].accepted);

    let out = w.svc.accept(&w.globex, &inv.token, &accept("globex-8a")).await.unwrap();
    assert!(w.svc.offer_status(&w.acme, &offer.offer_id).await.unwrap().invitees[0].accessed_at.is_some());
    assert_eq!(out.channel_state, ChannelState::Provisioning);
    let order = out.order_id.clone().expect("an order when the channel became ready");
    let done = w.svc.run_pending().await.unwrap();
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].status, "done", "{done:?}");
    let c = w.svc.channel(&w.globex, &ch).await.unwrap();
    assert_eq!(c.state, ChannelState::Active);
    assert!(c.vlan.is_some());
    assert_eq!(c.path, ["core1", "agg1", "agg3", "acc1", "acc8"], "the path in topology order");
    let o = w.svc.order(&w.acme, &order).await.unwrap();
    assert_eq!(o.status, "done");
    let (p, a, f) = (o.planning_at.unwrap(), o.applying_at.unwrap(), o.finished_at.unwrap());
    assert!(o.created_at <= p && p <= a && a <= f, "{o:?}");
    assert!(
        o.detail.contains("bridge -n metro-acc1 vlan add dev c1 vid"),
        "the order records the commands: {}",
        o.detail
    );
    let status = w.svc.offer_status(&w.acme, &offer.offer_id).await.unwrap();
    assert!(status.invitees[0].accepted && status.invitees[0].accepted_at.is_some());
    assert_switches_match(&w).await;

    // Terminate: the configuration goes, the VLAN is free again.
    let order = w.svc.terminate(&w.acme, &ch, &"no longer needed".parse().unwrap()).await.unwrap().unwrap();
    assert_eq!(w.svc.channel(&w.acme, &ch).await.unwrap().state, ChannelState::Terminating);
    w.svc.run_pending().await.unwrap();
    assert_eq!(w.svc.order(&w.acme, &order).await.unwrap().status, "done");
    let c = w.svc.channel(&w.acme, &ch).await.unwrap();
    assert_eq!(c.state, ChannelState::Terminated);
    assert!(w.svc.allocations().await.unwrap().is_empty());
    // Freed VLANs are not shown as the ended channel's: another may hold them now.
    assert_eq!((c.vlan, c.leaf_vlan), (None, None), "{c:?}");
    assert_switches_match(&w).await;
    // Its members are unplugged: the sockets are free and show no wire.
    assert!(
        c.attachments.iter().all(|a| a.state == "detached" && a.detached_at.is_some()),
        "a terminated channel's attachments: {:?}",
        c.attachments
    );
    for who in [&w.acme, &w.globex] {
        for i in w.svc.interfaces(who).await.unwrap() {
            assert!(!i.channels.contains(&ch.to_string()), "{} still shows the terminated channel", i.name);
        }
    }
    // Illegal transition.
    assert_eq!(code(w.svc.terminate(&w.acme, &ch, &"again".parse().unwrap()).await), "conflict");

    // Every step is in the audit log, with who and from where.
    let log = w.svc.audit_log(&w.op, None).await.unwrap();
    let actions: Vec<&str> = log.iter().map(|e| e.action.as_str()).collect();
    for a in [
        "topology.import",
        "channel.create",
        "offer.create",
        "invitation.open",
        "invitation.accept",
        "order.create",
        "order.planned",
        "order.done",
        "channel.terminate",
    ] {
        assert!(actions.contains(&a), "audit log lacks {a}: {actions:?}");
    }
    // "Opened" is recorded by the person's first act on it, the acceptance (issue 24 item 5),
    // not by the look at 192.0.2.7.
    let open = log.iter().find(|e| e.action == "invitation.open").unwrap();
    assert_eq!((open.actor.as_str(), open.source.as_str()), (w.globex.user_id.as_str(), w.globex.source.as_str()));
    // An organization's admin reads only its own entries.
    let mine = w.svc.audit_log(&w.globex, None).await.unwrap();
    assert!(!mine.is_empty() && mine.iter().all(|e| e.organization.as_deref() == Some(w.globex.org_id.as_str())));
}
on_both!(p2p_flow);

async fn p2mp_flow(b: Backend) {
    let w = world(b).await;
    let mut new = w.channel("tree", ChannelKind::P2mp, "acme-1a");
    new.role = Some(Role::Root);
    let ch = w.svc.create_channel(&w.acme, &new).await.unwrap();
    let offer = w.offer_to(&w.acme, &ch, &[&w.globex, &w.initech, &w.umbrella]).await;
    let token = |i: usize| offer.invitations[i].token.clone();

    w.svc.accept(&w.globex, &token(0), &accept("globex-5c")).await.unwrap();
    w.svc.run_pending().await.unwrap();
    let c = w.svc.channel(&w.acme, &ch).await.unwrap();
    assert_eq!(c.state, ChannelState::Active);
    assert!(c.vlan.is_some() && c.leaf_vlan.is_some() && c.vlan != c.leaf_vlan);

    // A later acceptance extends the live channel; a tagged leaf gets its own customer tag.
    let tagged = Acceptance {
        interface: "initech-8b".parse().unwrap(),
        usage_model_id: None,
        customer_vlan: Some(300),
        bandwidth_mbps: None,
    };
    let out = w.svc.accept(&w.initech, &token(1), &tagged).await.unwrap();
    assert_eq!(out.channel_state, ChannelState::Modifying);
    w.svc.run_pending().await.unwrap();
    let c = w.svc.channel(&w.acme, &ch).await.unwrap();
    assert_eq!(c.state, ChannelState::Active);
    assert!(c.path.contains(&"acc8".to_string()) && c.path.contains(&"acc5".to_string()));
    assert_eq!(c.attachments.iter().filter(|a| a.role == Role::Leaf).count(), 2);
    w.svc.decline(&w.umbrella, &token(2)).await.unwrap();
    let status = w.svc.offer_status(&w.acme, &offer.offer_id).await.unwrap();
    let flags: Vec<(bool, bool)> = status.invitees.iter().map(|i| (i.accepted, i.declined)).collect();
    assert_eq!(flags, [(true, false), (true, false), (false, true)]);
    let orders = w.svc.orders(&w.acme, Some(&ch)).await.unwrap();
    let actions: Vec<(&str, &str)> = orders.iter().map(|o| (o.action.as_str(), o.status.as_str())).collect();
    assert_eq!(actions, [("activate", "done"), ("modify", "done")]);
    assert_switches_match(&w).await;
    // The leaf sub-interface and its drops are on acc8.
    let acc8 = w.svc.switch_items("acc8").await.unwrap().join("\n");
    assert!(acc8.contains("tc_drop") && acc8.contains("sub_interface"), "{acc8}");
}
on_both!(p2mp_flow);

async fn mp2mp_detach(b: Backend) {
    let w = world(b).await;
    let ch = w.svc.create_channel(&w.acme, &w.channel("lan", ChannelKind::Mp2mp, "acme-3a")).await.unwrap();
    let offer = w.offer_to(&w.acme, &ch, &[&w.globex, &w.stark]).await;
    // One invitee: ready with two members.
    w.svc.accept(&w.globex, &offer.invitations[0].token, &accept("globex-3b")).await.unwrap();
    w.svc.run_pending().await.unwrap();
    let c = w.svc.channel(&w.acme, &ch).await.unwrap();
    assert_eq!((c.state, c.path.clone()), (ChannelState::Active, vec!["acc3".to_string()]));
    w.svc.accept(&w.stark, &offer.invitations[1].token, &accept("stark-9b")).await.unwrap();
    w.svc.run_pending().await.unwrap();
    let c = w.svc.channel(&w.acme, &ch).await.unwrap();
    assert_eq!(c.path.len(), 5, "{:?}", c.path);
    assert_switches_match(&w).await;
    assert_held(&w, &[(&w.acme, 1), (&w.globex, 1), (&w.stark, 1)]).await;

    // Stark unplugs: two members remain, the channel shrinks back.
    let stark_att = c.attachments.iter().find(|a| a.interface == "stark-9b").unwrap().id.clone();
    let globex_att = c.attachments.iter().find(|a| a.interface == "globex-3b").unwrap().id.clone();
    assert_eq!(code(w.svc.detach(&w.acme, &stark_att).await), "not_found", "not acme's attachment");
    w.svc.detach(&w.stark, &stark_att).await.unwrap();
    w.svc.run_pending().await.unwrap();
    let c = w.svc.channel(&w.acme, &ch).await.unwrap();
    assert_eq!((c.state, c.path.clone()), (ChannelState::Active, vec!["acc3".to_string()]));
    assert!(w.svc.switch_items("acc9").await.unwrap().iter().all(|i| !i.contains("\"vlan\"")), "nothing left on acc9");
    assert_switches_match(&w).await;
    assert_held(&w, &[(&w.acme, 1), (&w.globex, 1), (&w.stark, 0)]).await;
    w.svc.detach(&w.stark, &stark_att).await.unwrap_err();
    assert_held(&w, &[(&w.stark, 0)]).await;

    // Globex unplugs: one member cannot carry traffic; the channel ends and frees its VLAN.
    w.svc.detach(&w.globex, &globex_att).await.unwrap();
    w.svc.run_pending().await.unwrap();
    let c = w.svc.channel(&w.acme, &ch).await.unwrap();
    assert_eq!(c.state, ChannelState::Terminated);
    assert!(w.svc.allocations().await.unwrap().is_empty());
    // Freed VLANs are not shown as the ended channel's: another may hold them now.
    assert_eq!((c.vlan, c.leaf_vlan), (None, None), "{c:?}");
    assert_switches_match(&w).await;
    assert_held(&w, &[(&w.acme, 0), (&w.globex, 0), (&w.stark, 0)]).await;
}
on_both!(mp2mp_detach);

/// Each organization holds `held` channels: counted from its live attachments (its account's
/// page), and as the account row keeps the count that creation and acceptance check.
async fn assert_held(w: &World, held: &[(&Actor, u64)]) {
    for (actor, n) in held {
        let kept: i64 = query_scalar("SELECT channels_held FROM accounts WHERE org_id = $1")
            .bind(actor.org_id.as_str())
            .fetch_one(&w.svc.db)
            .await
            .unwrap();
        let counted = w.svc.my_account(actor).await.unwrap().channels_held;
        assert_eq!((counted, kept), (*n, i64::try_from(*n).unwrap()), "{}: counted, kept", actor.email);
    }
}

async fn freed_vlans_are_reused_at_once(b: Backend) {
    let w = world(b).await;
    let mut vlans = Vec::new();
    for round in 0..2 {
        let ch =
            w.svc.create_channel(&w.acme, &w.channel(&format!("c{round}"), ChannelKind::P2p, "acme-1a")).await.unwrap();
        let offer = w.offer_to(&w.acme, &ch, &[&w.globex]).await;
        w.svc.accept(&w.globex, &offer.invitations[0].token, &accept("globex-1b")).await.unwrap();
        w.svc.run_pending().await.unwrap();
        vlans.push(w.svc.channel(&w.acme, &ch).await.unwrap().vlan.unwrap());
        w.svc.terminate(&w.acme, &ch, &"".parse().unwrap()).await.unwrap();
        w.svc.run_pending().await.unwrap();
    }
    assert_eq!(vlans[0], vlans[1], "the lowest free VLAN again");
}
on_both!(freed_vlans_are_reused_at_once);

/// One offer names at most 100 invitees (each gets an email): 101 are refused, nothing is
/// written, and 100 go through.
async fn an_offer_invites_at_most_a_hundred(b: Backend) {
    let w = world(b).await;
    let ch = w.svc.create_channel(&w.acme, &w.channel("wide", ChannelKind::Mp2mp, "acme-1a")).await.unwrap();
    let to = |n: usize| NewOffer {
        invitees: (0..n)
            .map(|i| InviteeSpec { email: Some(format!("u{i}@ex.example").parse().unwrap()), ..Default::default() })
            .collect(),
        ..Default::default()
    };
    let e = w.svc.offer(&w.acme, &ch, &to(101)).await.unwrap_err();
    assert_eq!(e.code(), "invalid_input", "{e}");
    assert!(e.to_string().contains("at most 100"), "{e}");
    let offers: i64 = query_scalar("SELECT COUNT(*) FROM offers").fetch_one(&w.svc.db).await.unwrap();
    assert_eq!(offers, 0, "nothing of the refused offer is kept");
    assert_eq!(w.svc.offer(&w.acme, &ch, &to(100)).await.unwrap().invitations.len(), 100);
}
on_both!(an_offer_invites_at_most_a_hundred);

async fn registration(b: Backend) {
    let w = world(b).await;
    let ch = w.svc.create_channel(&w.acme, &w.channel("to-newco", ChannelKind::P2p, "acme-1a")).await.unwrap();
    let offer = w
        .svc
        .offer(
            &w.acme,
            &ch,
            &NewOffer {
                description: "Line to our new partner".parse().unwrap(),
                expires_in_days: Some(7),
                allow_reoffer: false,
                invitees: vec![InviteeSpec {
                    email: Some("Jane@NewCo.example".parse().unwrap()),
                    name: "Jane Doe".parse().unwrap(),
                    org_name: "NewCo".parse().unwrap(),
                    ..Default::default()
                }],
            },
        )
        .await
        .unwrap();
    let token = offer.invitations[0].token.clone();
    // Anonymous: the page offers registration, pre-filled with what acme entered.
    let view = w.svc.open_invitation(&token, None, "198.51.100.1").await.unwrap();
    assert_eq!(view.prefill_email.as_deref(), Some("jane@newco.example"));
    assert_eq!((view.prefill_name.as_str(), view.prefill_organization.as_str()), ("Jane Doe", "NewCo"));
    assert!(!view.has_account);
    let reg = |email: &str, org: &str| Registration {
        email: email.parse().unwrap(),
        name: "Jane Doe".parse().unwrap(),
        organization: org.parse().unwrap(),
        password: "correct horse".into(),
    };
    // Another address than the invited one is refused with words that say what to do, not
    // a bare "access denied" (issue 24 item 5: the registration form keeps its values and
    // puts them beside the email field).
    let wrong = w.svc.register(&token, &reg("mallory@evil.example", "NewCo"), "x").await;
    assert!(wrong.as_ref().is_err_and(|e| e.to_string().contains("sent to another address")), "{wrong:?}");
    assert_eq!(code(wrong), "forbidden");
    assert_eq!(code(w.svc.register(&token, &reg("jane@newco.example", "globex"), "x").await), "conflict");
    // Nor under a name that reads as globex's: another case, or an invisible character.
    assert_eq!(code(w.svc.register(&token, &reg("jane@newco.example", "GLOBEX"), "x").await), "conflict");
    let hidden = w.svc.register(&token, &reg("jane@newco.example", "globex\u{200b}"), "x").await;
    assert!(hidden.as_ref().is_err_and(|e| e.to_string().contains("invisible character (U+200B)")), "{hidden:?}");
    let registered = w.svc.register(&token, &reg("jane@newco.example", "NewCo"), "x").await.unwrap();
    assert!(matches!(registered, Registered::In(ref jane) if jane.role == UserRole::Admin), "{registered:?}");
    assert_eq!(code(w.svc.register(&token, &reg("jane@newco.example", "NewCo 2"), "x").await), "conflict");
    let jane = w.svc.login("jane@newco.example", "correct horse", "x").await.unwrap();
    assert_eq!(code(w.svc.login("jane@newco.example", "wrong", "x").await), "bad_credentials");
    let status = w.svc.offer_status(&w.acme, &offer.offer_id).await.unwrap();
    assert!(status.invitees[0].registered && status.invitees[0].registered_at.is_some());

    // NewCo has no interface yet: the operator re-imports the topology with hooli-9a moved to it.
    assert_eq!(code(w.svc.accept(&jane, &token, &accept("hooli-9a")).await), "not_found");
    let text = crate::world::metro_text();
    let moved = text.replacen("organization: hooli\n    switch: acc9", "organization: NewCo\n    switch: acc9", 1);
    assert_ne!(moved, text);
    let report = w.svc.import_topology(&w.op, &moved, "metro.yaml").await.unwrap();
    assert!(report.changed);
    assert_eq!(report.interfaces_changed, ["hooli-9a"]);
    assert_eq!(report.revision, 2);
    let again = w.svc.import_topology(&w.op, &moved, "metro.yaml").await.unwrap();
    assert!(!again.changed && again.revision == 2, "re-import is idempotent: {again:?}");
    // A broken file is refused with positions, and changes nothing.
    let err = w.svc.import_topology(&w.op, "name: x\nswitches: [", "bad.yaml").await.unwrap_err();
    assert!(err.to_string().starts_with("bad.yaml:"), "{err}");

    w.svc.accept(&jane, &token, &accept("hooli-9a")).await.unwrap();
    w.svc.run_pending().await.unwrap();
    assert_eq!(w.svc.channel(&jane, &ch).await.unwrap().state, ChannelState::Active);
}
on_both!(registration);

async fn expiry(b: Backend) {
    let w = world(b).await;
    let ch = w.svc.create_channel(&w.acme, &w.channel("short", ChannelKind::P2p, "acme-1a")).await.unwrap();
    let offer = w
        .svc
        .offer(
            &w.acme,
            &ch,
            &NewOffer {
                expires_in_days: Some(1),
                invitees: vec![
                    InviteeSpec { email: Some(w.globex.email.parse().unwrap()), ..Default::default() },
                    InviteeSpec { organization: Some("initech".parse().unwrap()), ..Default::default() },
                ],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    w.svc.open_invitation(&offer.invitations[0].token, Some(&w.globex), "x").await.unwrap();
    w.svc.clock.advance(std::time::Duration::from_secs(2 * 86_400));
    let t0 = &offer.invitations[0].token;
    assert_eq!(code(w.svc.open_invitation(t0, Some(&w.globex), "x").await), "offer_expired");
    assert_eq!(code(w.svc.accept(&w.globex, t0, &accept("globex-8a")).await), "offer_expired");
    assert_eq!(
        w.svc.open_invitation(t0, None, "x").await.unwrap_err().to_string(),
        "offer has expired",
        "the words of seed 000"
    );
    // The sweep marks the other invitee expired too.
    assert!(w.svc.sweep().await.unwrap() >= 1);
    let status = w.svc.offer_status(&w.acme, &offer.offer_id).await.unwrap();
    assert!(status.expired && status.invitees.iter().all(|i| i.expired && !i.accepted));
    assert_eq!(
        code(
            w.svc
                .add_invitees(
                    &w.acme,
                    &offer.offer_id,
                    &[InviteeSpec { email: Some("late@x.example".parse().unwrap()), ..Default::default() }]
                )
                .await
        ),
        "offer_expired"
    );
    // Nothing was provisioned.
    assert_eq!(w.svc.channel(&w.acme, &ch).await.unwrap().state, ChannelState::Offered);
    assert!(w.svc.run_pending().await.unwrap().is_empty());
}
on_both!(expiry);

async fn tokens_and_emails(b: Backend) {
    let w = world(b).await;
    let ch = w.svc.create_channel(&w.acme, &w.channel("t", ChannelKind::P2p, "acme-1a")).await.unwrap();
    let offer = w.offer_to(&w.acme, &ch, &[&w.globex]).await;
    let token = offer.invitations[0].token.clone();
    // Someone else logged in: access denied, and nothing recorded.
    assert_eq!(code(w.svc.open_invitation(&token, Some(&w.initech), "x").await), "access_denied");
    assert_eq!(code(w.svc.accept(&w.initech, &token, &accept("initech-8b")).await), "access_denied");
    assert_eq!(code(w.svc.decline(&w.initech, &token).await), "access_denied");
    assert!(w.svc.offer_status(&w.acme, &offer.offer_id).await.unwrap().invitees[0].accessed_at.is_none());
    // Forged and malformed tokens.
    let forged: InvitationToken = format!("{:064x}", 0xdead_beef_u64).parse().unwrap();
    assert_eq!(code(w.svc.open_invitation(&forged, None, "x").await), "access_denied");
    // A malformed one is not a token at all: it cannot be asked about (the portal answers
    // it as a wrong one, `access_denied`: tests/it/gate.rs).
    for bad in ["", "abc", "../../etc/passwd", &"z".repeat(64), &format!("{token}0")] {
        assert!(bad.parse::<InvitationToken>().is_err_and(|e| e.secret), "{bad:?}");
    }
    // The token is stored only hashed.
    let log = w.svc.audit_log(&w.op, None).await.unwrap();
    assert!(log.iter().all(|e| !e.detail.contains(token.as_str())));
    // Reuse: accepted once only; no decline after.
    w.svc.accept(&w.globex, &token, &accept("globex-8a")).await.unwrap();
    assert_eq!(code(w.svc.accept(&w.globex, &token, &accept("globex-1b")).await), "conflict");
    assert_eq!(code(w.svc.decline(&w.globex, &token).await), "conflict");
    assert_eq!(w.svc.channel(&w.acme, &ch).await.unwrap().attachments.len(), 2);
}
on_both!(tokens_and_emails);

async fn permissions(b: Backend) {
    let w = world(b).await;
    // A member cannot create or offer; the operator cannot accept.
    let globex_org = w.svc.organization_id("globex").await.unwrap();
    let uid = w
        .svc
        .create_user(&w.globex, &globex_org, "member@globex.example", "Member", UserRole::Member, "password-2")
        .await
        .unwrap();
    let member = w.svc.actor(&uid, "test").await.unwrap();
    assert_eq!(
        code(w.svc.create_user(&w.globex, &w.acme.org_id, "x@acme.example", "X", UserRole::Admin, "password-3").await),
        "forbidden"
    );
    assert_eq!(code(w.svc.create_channel(&member, &w.channel("m", ChannelKind::P2p, "globex-1b")).await), "forbidden");
    // Someone else's interface: answered as one that does not exist, word for word, so
    // customers cannot list other customers' ports.
    let theirs = w.svc.create_channel(&w.acme, &w.channel("m", ChannelKind::P2p, "globex-1b")).await.unwrap_err();
    let none = w.svc.create_channel(&w.acme, &w.channel("m", ChannelKind::P2p, "globex-1z")).await.unwrap_err();
    assert_eq!(theirs.code(), "not_found");
    assert_eq!(theirs.to_string().replace("globex-1b", "X"), none.to_string().replace("globex-1z", "X"));

    let ch = w.svc.create_channel(&w.acme, &w.channel("p", ChannelKind::Mp2mp, "acme-1a")).await.unwrap();
    // Invisible to organizations that have nothing to do with it.
    assert_eq!(code(w.svc.channel(&w.stark, &ch).await), "not_found");
    assert!(w.svc.channels(&w.stark).await.unwrap().is_empty());
    assert_eq!(code(w.svc.orders(&w.stark, None).await), "forbidden");
    let offer = w
        .svc
        .offer(
            &w.acme,
            &ch,
            &NewOffer {
                invitees: vec![InviteeSpec { organization: Some("globex".parse().unwrap()), ..Default::default() }],
                allow_reoffer: false,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let token = offer.invitations[0].token.clone();
    // Invited by organization: any globex user may open it; the channel itself (its other
    // members) is globex's to see once it accepts.
    w.svc.open_invitation(&token, Some(&member), "x").await.unwrap();
    assert_eq!(code(w.svc.channel(&member, &ch).await), "not_found");
    assert_eq!(code(w.svc.offer_status(&w.globex, &offer.offer_id).await), "not_found");
    // The org lets only admins accept.
    let policy = w.svc.policy(&w.globex).await.unwrap();
    let admins_only = Policy { default_offer_days: 30, members_can_accept: false, ..policy };
    w.svc.update_policy(&w.globex, &admins_only).await.unwrap();
    assert_eq!(code(w.svc.accept(&member, &token, &accept("globex-1b")).await), "forbidden");
    // Nor may the member turn it down for globex: declining is answering too.
    let refused = w.svc.decline(&member, &token).await.unwrap_err();
    assert_eq!(refused.code(), "forbidden");
    assert!(refused.to_string().contains("only its admins decline offers"), "{refused}");
    assert_eq!(code(w.svc.accept(&w.op, &token, &accept("globex-1b")).await), "access_denied");
    w.svc.accept(&w.globex, &token, &accept("globex-1b")).await.unwrap();
    w.svc.channel(&member, &ch).await.unwrap();
    // A grantee without the re-offer right cannot offer on; an outsider does not see it.
    let re = NewOffer {
        invitees: vec![InviteeSpec { email: Some(w.stark.email.parse().unwrap()), ..Default::default() }],
        ..Default::default()
    };
    assert_eq!(code(w.svc.offer(&w.globex, &ch, &re).await), "forbidden");
    assert_eq!(code(w.svc.offer(&w.umbrella, &ch, &re).await), "not_found");

    // With the right, it can; the grantee's invitee joins.
    let ch2 = w.svc.create_channel(&w.acme, &w.channel("q", ChannelKind::Mp2mp, "acme-3a")).await.unwrap();
    let offer2 = w
        .svc
        .offer(
            &w.acme,
            &ch2,
            &NewOffer {
                invitees: vec![InviteeSpec { email: Some(w.globex.email.parse().unwrap()), ..Default::default() }],
                allow_reoffer: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    w.svc.accept(&w.globex, &offer2.invitations[0].token, &accept("globex-3b")).await.unwrap();
    let reoffer = w.svc.offer(&w.globex, &ch2, &re).await.unwrap();
    w.svc.accept(&w.stark, &reoffer.invitations[0].token, &accept("stark-2c")).await.unwrap();
    w.svc.run_pending().await.unwrap();
    let c = w.svc.channel(&w.stark, &ch2).await.unwrap();
    assert_eq!((c.state, c.attachments.len()), (ChannelState::Active, 3));
    // Only the creator's admins (or the operator) terminate.
    assert_eq!(code(w.svc.terminate(&w.globex, &ch2, &"".parse().unwrap()).await), "forbidden");
    w.svc.terminate(&w.op, &ch2, &"operator decision".parse().unwrap()).await.unwrap();
    w.svc.run_pending().await.unwrap();
    let c = w.svc.channel(&w.acme, &ch2).await.unwrap();
    assert_eq!((c.state, c.reason.as_str()), (ChannelState::Terminated, "operator decision"));
}
on_both!(permissions);

async fn account_checks(b: Backend) {
    let w = world(b).await;
    let try_create = |name: &str, bw: u64, iface: &str, model: &str| {
        let mut c = w.channel(name, ChannelKind::P2p, iface);
        c.bandwidth_mbps = bw;
        c.usage_model_id = model.parse().unwrap();
        c
    };
    let count = |w: &World| {
        let svc = w.svc.clone();
        let op = w.op.clone();
        async move { svc.channels(&op).await.unwrap().len() }
    };
    // Over the account's bandwidth.
    w.set_account("acme", |a| a.max_bandwidth_mbps = 100).await;
    let r = w.svc.create_channel(&w.acme, &try_create("big", 500, "acme-1a", &w.free)).await;
    assert_eq!(code(r), "over_bandwidth");
    // Over the interface's capacity (1G port).
    w.set_account("acme", |a| a.max_bandwidth_mbps = 100_000).await;
    let r = w.svc.create_channel(&w.acme, &try_create("huge", 5000, "acme-1a", &w.free)).await;
    assert_eq!(code(r), "interface_capacity");
    // Over credit: 50.00 a month, balance 0 and no credit.
    w.set_account("acme", |a| a.credit_limit_cents = 0).await;
    let r = w.svc.create_channel(&w.acme, &try_create("paid", 10, "acme-1a", &w.paid)).await;
    let e = r.unwrap_err();
    assert_eq!(e.code(), "over_credit");
    assert!(e.to_string().contains("charges 50.00 in advance and the account can pay 0.00"), "{e}");
    assert!(w.svc.my_account(&w.acme).await.unwrap().charges.is_empty(), "a refusal charges nothing");
    w.set_account("acme", |a| a.credit_limit_cents = 10_000).await;
    let before = w.svc.my_account(&w.acme).await.unwrap().balance_cents;
    let paid_ch = w.svc.create_channel(&w.acme, &try_create("paid", 10, "acme-1a", &w.paid)).await.unwrap();
    // Charged in advance as it plugs in: the ledger says so and the balance went down.
    let account = w.svc.my_account(&w.acme).await.unwrap();
    assert_eq!(account.balance_cents, before - 5000);
    assert_eq!(account.available_cents, before - 5000 + 10_000);
    assert_eq!(account.charges.len(), 1, "{:?}", account.charges);
    let charge = &account.charges[0];
    assert_eq!(
        (charge.amount_cents, charge.channel.as_str(), charge.channel_id.as_str()),
        (5000, "paid", paid_ch.as_str())
    );
    assert!(charge.what.contains("monthly") && charge.what.contains("in advance"), "{}", charge.what);
    // Port mode carries one channel.
    let r = w.svc.create_channel(&w.acme, &try_create("second", 10, "acme-1a", &w.free)).await;
    assert_eq!(code(r), "interface_busy");
    // Over the channel count.
    w.set_account("acme", |a| a.max_channels = 1).await;
    let r = w.svc.create_channel(&w.acme, &try_create("third", 10, "acme-3a", &w.free)).await;
    assert_eq!(code(r), "over_channel_count");
    assert_eq!(count(&w).await, 1, "refusals store nothing");

    // A suspended invitee is refused at acceptance, and nothing is stored.
    let ch = w.svc.channels(&w.acme).await.unwrap()[0].id.clone();
    let offer = w.offer_to(&w.acme, &ch, &[&w.globex]).await;
    w.set_account("globex", suspended).await;
    let e = w.svc.accept(&w.globex, &offer.invitations[0].token, &accept("globex-8a")).await.unwrap_err();
    assert_eq!(e.code(), "account_inactive");
    assert_eq!(e.to_string(), "the account is suspended: ask the operator to reactivate it");
    let status = w.svc.offer_status(&w.acme, &offer.offer_id).await.unwrap();
    assert!(!status.invitees[0].accepted);
    assert_eq!(w.svc.channel(&w.acme, &ch).await.unwrap().attachments.len(), 1);
    // The invitee picks the paid model without credit: refused; with credit: accepted.
    w.set_account("globex", |a| {
        a.status = switchboard::orchestrator::policy::AccountStatus::Active;
        a.credit_limit_cents = 0;
    })
    .await;
    let paid = Acceptance {
        interface: "globex-8a".parse().unwrap(),
        usage_model_id: Some(w.paid.parse().unwrap()),
        customer_vlan: None,
        bandwidth_mbps: None,
    };
    assert_eq!(code(w.svc.accept(&w.globex, &offer.invitations[0].token, &paid).await), "over_credit");
    assert!(w.svc.my_account(&w.globex).await.unwrap().charges.is_empty(), "a refused acceptance charges nothing");
    w.set_account("globex", |a| a.balance_cents = 5000).await;
    w.svc.accept(&w.globex, &offer.invitations[0].token, &paid).await.unwrap();
    let globex = w.svc.my_account(&w.globex).await.unwrap();
    assert_eq!((globex.balance_cents, globex.charges.len(), globex.channels_held), (0, 1, 1));
    // A free model charges nothing; the operator has no account.
    w.set_account("acme", |a| a.max_channels = 10).await;
    w.svc.create_channel(&w.acme, &try_create("free", 10, "acme-3a", &w.free)).await.unwrap();
    let acme = w.svc.my_account(&w.acme).await.unwrap();
    assert_eq!((acme.charges.len(), acme.channels_held), (1, 2), "{:?}", acme.charges);
    assert_eq!(code(w.svc.my_account(&w.op).await), "not_found");
}
on_both!(account_checks);

pub fn by_org(names: &[&str]) -> NewOffer {
    NewOffer {
        invitees: names
            .iter()
            .map(|o| InviteeSpec { organization: Some(o.parse().unwrap()), ..Default::default() })
            .collect(),
        ..Default::default()
    }
}

/// A tagged interface carries many channels, each on its own tag (the customer's VLAN, or
/// else the channel's): a customer VLAN already in use there is refused, and a new
/// channel is never given a VLAN that is a tag in use there.
async fn tags_on_a_tagged_interface_never_collide(b: Backend) {
    let w = world(b).await;
    let tagged = |name: &str, tag: Option<u16>| {
        let mut c = w.channel(name, ChannelKind::P2p, "initech-1c");
        c.customer_vlan = tag;
        c
    };
    async fn go_live(w: &World, ch: &ChannelId, to: &Actor, iface: &str) -> u16 {
        let offer = w.offer_to(&w.initech, ch, &[to]).await;
        w.svc.accept(to, &offer.invitations[0].token, &accept(iface)).await.unwrap();
        w.svc.run_pending().await.unwrap();
        let c = w.svc.channel(&w.op, ch).await.unwrap();
        assert_eq!(c.state, ChannelState::Active, "{}", c.reason);
        c.vlan.unwrap()
    }
    // X rides on its channel's VLAN: that VLAN is now a tag of the interface.
    let x = w.svc.create_channel(&w.initech, &tagged("x", None)).await.unwrap();
    let vx = go_live(&w, &x, &w.globex, "globex-1b").await;
    let e = w.svc.create_channel(&w.initech, &tagged("y", Some(vx))).await.unwrap_err();
    assert!(e.to_string().contains(&format!("customer VLAN {vx} is already used on interface `initech-1c`")), "{e}");
    // Z brings its own tag, two above X's VLAN (Z itself takes the next free VLAN).
    let z = w.svc.create_channel(&w.initech, &tagged("z", Some(vx + 2))).await.unwrap();
    let vz = go_live(&w, &z, &w.acme, "acme-3a").await;
    // W and V have no tag of their own: their VLANs become tags, so neither may be X's or
    // Z's tag, nor the other's. (Accepted together, they are planned as one batch.)
    let wch = w.svc.create_channel(&w.initech, &tagged("w", None)).await.unwrap();
    let vch = w.svc.create_channel(&w.initech, &tagged("v", None)).await.unwrap();
    for (ch, to, iface) in [(&wch, &w.umbrella, "umbrella-2a"), (&vch, &w.stark, "stark-2c")] {
        let offer = w.offer_to(&w.initech, ch, &[to]).await;
        w.svc.accept(to, &offer.invitations[0].token, &accept(iface)).await.unwrap();
    }
    let done = w.svc.run_pending().await.unwrap();
    assert_eq!(done.len(), 2, "{done:?}");
    let vw = w.svc.channel(&w.op, &wch).await.unwrap().vlan.unwrap();
    let vv = w.svc.channel(&w.op, &vch).await.unwrap().vlan.unwrap();
    for v in [vw, vv] {
        assert!(![vx, vx + 2, vz].contains(&v), "got VLAN {v}; the interface's tags are {vx} and {}", vx + 2);
    }
    assert_ne!(vw, vv);
    // Its VLAN is a tag of the interface now: refused as a customer VLAN too.
    let e = w.svc.create_channel(&w.initech, &tagged("u", Some(vw))).await.unwrap_err();
    assert!(e.to_string().contains("already used on interface `initech-1c`"), "{e}");
    assert_switches_match(&w).await;
}
on_both!(tags_on_a_tagged_interface_never_collide);

/// A class of service is the PCP of a channel's S-tags on trunks (the topology's `classes`):
/// a definition offering a class the topology does not name is refused when it is made, and
/// a topology that drops a class a definition offers is refused when it is imported, both
/// saying where to add it; nothing changes.
async fn classes_offered_are_classes_the_topology_names(b: Backend) {
    let w = world(b).await;
    let spec = |classes: &[&str]| switchboard::service::DefinitionSpec {
        name: "Line".into(),
        kinds: vec![switchboard::model::ChannelKind::P2p],
        min_bandwidth_mbps: 1,
        max_bandwidth_mbps: 1000,
        classes: classes.iter().map(|c| c.to_string()).collect(),
        drivers: vec!["dry-run".into()],
        relations: Default::default(),
    };
    let before = w.svc.catalog().await.unwrap().len();
    let err = w.svc.create_definition(&w.op, &spec(&["standard", "platinum", "bronze"])).await.unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("`bronze`, `platinum` not in the topology's `classes`"), "{msg}");
    assert!(msg.contains("gold, premium, silver, standard") && msg.contains("PCP (0-7)"), "{msg}");
    assert_eq!(w.svc.catalog().await.unwrap().len(), before, "nothing was added");

    w.svc.create_definition(&w.op, &spec(&["standard", "gold"])).await.unwrap();
    let text = crate::world::metro_text();
    let without_gold =
        text.replacen("classes: {gold: 5, premium: 4, silver: 3}", "classes: {premium: 4, silver: 3}", 1);
    assert_ne!(without_gold, text);
    let err = w.svc.import_topology(&w.op, &without_gold, "metro.yaml").await.unwrap_err();
    assert!(err.to_string().contains("`gold` not in metro.yaml's `classes`"), "{err}");
    let again = w.svc.import_topology(&w.op, &text, "metro.yaml").await.unwrap();
    assert!(!again.changed, "the refused import changed nothing: {again:?}");
}
on_both!(classes_offered_are_classes_the_topology_names);
