//! Who may join a channel, and what a member keeps: an organization is never invited to
//! its own channel (by name or through its users' addresses) nor joins it through an
//! invitation offered back; a member on a tagged-mode port keeps its tag when its channel
//! moves to another VLAN, and a re-import that would leave a live channel unplannable is
//! refused. Each scenario runs on both databases.

use switchboard::model::ChannelKind;
use switchboard::model::id::ChannelId;
use switchboard::orchestrator::policy::ChannelState;
use switchboard::service::{Actor, InviteeSpec, NewOffer, OfferCreated, UserRole};

use crate::service::assert_switches_match;
use crate::world::{Backend, World, accept, world};

/// An organization cannot be invited to its own channel, whether named or reached through
/// one of its users' addresses; nor can it join its own channel through an invitation a
/// grantee sends it back (it would be plugged in and charged twice).
async fn own_organization_is_refused_by_address_too(b: Backend) {
    let w = world(b).await;
    let ch = w.svc.create_channel(&w.acme, &w.channel("own", ChannelKind::Mp2mp, "acme-1a")).await.unwrap();
    let to = |email: &str| NewOffer {
        invitees: vec![InviteeSpec { email: Some(email.parse().unwrap()), ..Default::default() }],
        allow_reoffer: true,
        ..Default::default()
    };
    let refused = w.svc.offer(&w.acme, &ch, &to(&w.acme.email.to_uppercase())).await.unwrap_err();
    assert_eq!(refused.code(), "invalid_input");
    assert!(refused.to_string().contains("a user of your own organization"), "{refused}");

    let offer = w.svc.offer(&w.acme, &ch, &to(&w.globex.email)).await.unwrap();
    w.svc.accept(&w.globex, &offer.invitations[0].token, &accept("globex-1b")).await.unwrap();
    // globex may offer it on, but not back to acme, by name or by an acme user's address.
    let back = w.svc.offer(&w.globex, &ch, &to(&w.acme.email)).await.unwrap_err();
    assert!(back.to_string().contains("a user of the channel's own organization"), "{back}");
    let by_name = NewOffer {
        invitees: vec![InviteeSpec { organization: Some("acme".parse().unwrap()), ..Default::default() }],
        ..Default::default()
    };
    let back = w.svc.offer(&w.globex, &ch, &by_name).await.unwrap_err();
    assert!(back.to_string().contains("the channel's own organization cannot be invited"), "{back}");
    // An address that becomes an acme user's after the offer: refused when it accepts.
    let later = w.svc.offer(&w.globex, &ch, &to("ops@acme-later.example")).await.unwrap();
    let acme_org = w.svc.organization_id("acme").await.unwrap();
    let uid = w
        .svc
        .create_user(&w.acme, &acme_org, "ops@acme-later.example", "Ops", UserRole::Admin, "password-9")
        .await
        .unwrap();
    let ops = w.svc.actor(&uid, "test").await.unwrap();
    let refused = w.svc.accept(&ops, &later.invitations[0].token, &accept("acme-3a")).await.unwrap_err();
    assert_eq!(refused.code(), "forbidden");
    assert!(refused.to_string().contains("your own organization's channel"), "{refused}");
    let c = w.svc.channel(&w.acme, &ch).await.unwrap();
    assert_eq!(c.attachments.iter().filter(|a| a.organization == "acme").count(), 1, "acme is plugged in once");
}

on_both!(own_organization_is_refused_by_address_too);

/// stark's E-LAN `lan` on its tagged site stark-2c, offered to `invitees` (the first of
/// which is umbrella, who plugs umbrella-2a in) and provisioned.
async fn live_lan(w: &World, invitees: &[&Actor]) -> (ChannelId, OfferCreated) {
    let lan = w.svc.create_channel(&w.stark, &w.channel("lan", ChannelKind::Mp2mp, "stark-2c")).await.unwrap();
    let offer = w.offer_to(&w.stark, &lan, invitees).await;
    w.svc.accept(&w.umbrella, &offer.invitations[0].token, &accept("umbrella-2a")).await.unwrap();
    w.svc.run_pending().await.unwrap();
    (lan, offer)
}

/// A member on a tagged-mode interface keeps its tag when its channel has to move to
/// another VLAN: stark's equipment, tagging the channel's first VLAN, goes on working when a
/// new member's switch has that VLAN taken.
async fn a_tagged_members_tag_stays_when_its_channel_moves(b: Backend) {
    let w = world(b).await;
    // VLAN 2 on acc1 only.
    let a = w.svc.create_channel(&w.acme, &w.channel("on-acc1", ChannelKind::P2p, "acme-1a")).await.unwrap();
    let offer = w.offer_to(&w.acme, &a, &[&w.globex]).await;
    w.svc.accept(&w.globex, &offer.invitations[0].token, &accept("globex-1b")).await.unwrap();
    // An E-LAN on acc2, disjoint: VLAN 2 again; stark's site is tagged, without a customer VLAN.
    let (lan, offer) = live_lan(&w, &[&w.umbrella, &w.initech]).await;
    let before = w.svc.channel(&w.stark, &lan).await.unwrap();
    assert_eq!((before.state, before.vlan), (ChannelState::Active, Some(2)), "{before:?}");
    let stark = |c: &switchboard::service::ChannelView| {
        c.attachments.iter().find(|x| x.interface == "stark-2c").unwrap().clone()
    };
    assert_eq!(stark(&before).tag, Some(2));
    assert!(
        w.svc
            .switch_items("acc2")
            .await
            .unwrap()
            .iter()
            .any(|i| i.contains(r#""parent":"c3""#) && i.contains(r#""vid":2"#))
    );

    // initech joins from acc1, where VLAN 2 is taken: the channel moves; stark's tag stays.
    w.svc.accept(&w.initech, &offer.invitations[1].token, &accept("initech-1c")).await.unwrap();
    let done = w.svc.run_pending().await.unwrap();
    assert!(done.iter().all(|o| o.status == "done"), "{done:?}");
    let after = w.svc.channel(&w.stark, &lan).await.unwrap();
    assert_eq!(after.state, ChannelState::Active);
    assert_ne!(after.vlan, Some(2), "the channel had to move: {after:?}");
    assert_eq!(stark(&after).tag, Some(2), "stark's equipment still tags 2: {after:?}");
    assert_eq!(stark(&after).customer_vlan, None, "what stark asked for is unchanged");
    let acc2 = w.svc.switch_items("acc2").await.unwrap();
    assert!(acc2.iter().any(|i| i.contains(r#""parent":"c3""#) && i.contains(r#""vid":2"#)), "{acc2:#?}");
    assert!(!acc2.iter().any(|i| i.contains(r#""type":"sub_interface""#) && !i.contains(r#""vid":2"#)), "{acc2:#?}");
    // Port-mode members show no tag.
    assert_eq!(after.attachments.iter().find(|x| x.interface == "umbrella-2a").unwrap().tag, None);
    assert_switches_match(&w).await;
}

on_both!(a_tagged_members_tag_stays_when_its_channel_moves);

/// A topology re-import that would leave a live channel no order can plan (its tagged
/// port made port-mode, its port's capacity cut below what it takes) is refused, naming the
/// channel, and nothing of it is stored; one that leaves every channel fitting goes through.
async fn an_import_that_strands_a_live_channel_is_refused(b: Backend) {
    let w = world(b).await;
    let (lan, _) = live_lan(&w, &[&w.umbrella]).await;
    assert_eq!(w.svc.channel(&w.stark, &lan).await.unwrap().state, ChannelState::Active);
    let metro = crate::world::metro_text();
    let edit_of = |site: &str, from: &str, to: &str| {
        let start = metro.find(&format!("  {site}:")).unwrap();
        let at = start + metro[start..].find(from).unwrap();
        format!("{}{to}{}", &metro[..at], &metro[at + from.len()..])
    };
    let edit = |from: &str, to: &str| edit_of("stark-2c", from, to);
    let before = w.svc.topology().await.unwrap();
    for (bad, why) in [
        (edit("mode: tagged", "mode: port"), "port mode"),
        (edit("capacity: 10G", "capacity: 1M"), "capacity"),
        // Port-mode umbrella made tagged: its equipment would have to tag its frames.
        (
            edit_of("umbrella-2a", "mode: port", "mode: tagged"),
            "`umbrella-2a` would change from port mode to tagged mode",
        ),
    ] {
        let refused = w.svc.import_topology(&w.op, &bad, "metro.yaml").await.unwrap_err();
        assert_eq!(refused.code(), "conflict", "{refused}");
        let said = refused.to_string();
        assert!(said.contains("channel `lan` (stark") && said.contains("terminate them first"), "{said}");
        assert!(said.contains(why), "{said}");
    }
    let after = w.svc.topology().await.unwrap();
    assert_eq!(after.interface("stark-2c").unwrap().mode, before.interface("stark-2c").unwrap().mode, "nothing stored");
    // A change that leaves the channel fitting is taken.
    let roomier = edit("capacity: 10G", "capacity: 20G");
    w.svc.import_topology(&w.op, &roomier, "metro.yaml").await.unwrap();
    // Ended, the channel no longer holds the port back.
    w.svc.terminate(&w.stark, &lan, &"moving".parse().unwrap()).await.unwrap();
    w.svc.run_pending().await.unwrap();
    w.svc.import_topology(&w.op, &edit("mode: tagged", "mode: port"), "metro.yaml").await.unwrap();
}

on_both!(an_import_that_strands_a_live_channel_is_refused);
