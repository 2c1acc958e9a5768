//! Who may see a channel, written once (`store/channels.rs`): an organization's list of
//! channels and its look at one channel give the same answer, for the owner, the
//! operator, a member, a grantee that offered the channel on, invitees by organization and
//! by email (who see the offer, in their inbox and on its page, not the channel and its
//! other members, until they accept), a member that unplugged, and an organization with
//! nothing to do with a channel.

use std::collections::BTreeSet;

use switchboard::model::ChannelKind;
use switchboard::model::id::ChannelId;
use switchboard::service::{Actor, InviteeSpec, NewOffer};

use crate::world::{Backend, World, accept, world};

/// The channels `actor` sees in its list, and those it can open one by one among `all`:
/// they must be the same, and are returned.
async fn seen_by(w: &World, actor: &Actor, all: &[&ChannelId]) -> BTreeSet<ChannelId> {
    let listed: BTreeSet<ChannelId> = w.svc.channels(actor).await.unwrap().into_iter().map(|c| c.id).collect();
    let mut opened = BTreeSet::new();
    for id in all {
        if w.svc.channel(actor, id).await.is_ok() {
            opened.insert((*id).clone());
        }
    }
    assert_eq!(listed, opened, "{} lists other channels than it can open", actor.email);
    listed
}

async fn create(w: &World, by: &Actor, name: &str, kind: ChannelKind, interface: &str) -> ChannelId {
    w.svc.create_channel(by, &w.channel(name, kind, interface)).await.unwrap()
}

async fn lists_and_single_channels_agree(b: Backend) {
    let w = world(b).await;
    // Invited by organization, not answered.
    let by_org = create(&w, &w.acme, "by-org", ChannelKind::Mp2mp, "acme-1a").await;
    let to_globex = InviteeSpec { organization: Some("globex".parse().unwrap()), ..Default::default() };
    w.svc.offer(&w.acme, &by_org, &NewOffer { invitees: vec![to_globex], ..Default::default() }).await.unwrap();
    // Invited by email, not answered.
    let by_email = create(&w, &w.acme, "by-email", ChannelKind::P2p, "acme-7c").await;
    w.offer_to(&w.acme, &by_email, &[&w.stark]).await;
    // Never offered.
    let own = create(&w, &w.initech, "own", ChannelKind::P2p, "initech-1c").await;
    // Accepted with the right to offer on, and offered on.
    let granted = create(&w, &w.acme, "granted", ChannelKind::Mp2mp, "acme-3a").await;
    let to_globex = InviteeSpec { email: Some(w.globex.email.parse().unwrap()), ..Default::default() };
    let offer = NewOffer { invitees: vec![to_globex], allow_reoffer: true, ..Default::default() };
    let offer = w.svc.offer(&w.acme, &granted, &offer).await.unwrap();
    w.svc.accept(&w.globex, &offer.invitations[0].token, &accept("globex-3b")).await.unwrap();
    w.offer_to(&w.globex, &granted, &[&w.umbrella]).await;

    // Invited by organization and by email, and declined both: an answer, not a channel
    // of the decliners (issue 24).
    let declined = create(&w, &w.acme, "declined", ChannelKind::Mp2mp, "acme-5b").await;
    let to_umbrella = InviteeSpec { organization: Some("umbrella".parse().unwrap()), ..Default::default() };
    let offer = NewOffer { invitees: vec![to_umbrella], ..Default::default() };
    let offer = w.svc.offer(&w.acme, &declined, &offer).await.unwrap();
    assert!(w.svc.channel(&w.umbrella, &declined).await.is_err(), "an open offer is not the invitee's channel");
    let inbox = w.svc.inbox(&w.umbrella).await.unwrap();
    assert!(inbox.iter().any(|o| o.channel_name == "declined"), "it is in the invitee's inbox");
    w.svc.decline(&w.umbrella, &offer.invitations[0].token).await.unwrap();
    let offer = w.offer_to(&w.acme, &declined, &[&w.stark]).await;
    w.svc.decline(&w.stark, &offer.invitations[0].token).await.unwrap();

    // Invited, then the invitation withdrawn: no longer the invitee's to see.
    let withdrawn = create(&w, &w.globex, "withdrawn", ChannelKind::Mp2mp, "globex-8a").await;
    let to_initech = InviteeSpec { organization: Some("initech".parse().unwrap()), ..Default::default() };
    let offer = NewOffer { invitees: vec![to_initech], ..Default::default() };
    let offer = w.svc.offer(&w.globex, &withdrawn, &offer).await.unwrap();
    assert!(w.svc.channel(&w.initech, &withdrawn).await.is_err(), "an open offer is not the invitee's channel");
    let invitee = offer.invitations[0].invitee_id.parse().unwrap();
    w.svc.withdraw_invitation(&w.globex, &invitee).await.unwrap();

    // Stark joins initech's E-LAN and unplugs; it goes on between initech and globex.
    let left = create(&w, &w.initech, "left", ChannelKind::Mp2mp, "initech-4a").await;
    let offer = w.offer_to(&w.initech, &left, &[&w.globex, &w.stark]).await;
    w.svc.accept(&w.globex, &offer.invitations[0].token, &accept("globex-5c")).await.unwrap();
    w.svc.accept(&w.stark, &offer.invitations[1].token, &accept("stark-9b")).await.unwrap();
    w.svc.run_pending().await.unwrap();
    assert!(w.svc.channel(&w.stark, &left).await.is_ok(), "a member sees its channel");
    let c = w.svc.channel(&w.initech, &left).await.unwrap();
    let stark = c.attachments.iter().find(|a| a.interface == "stark-9b").unwrap().id.clone();
    w.svc.detach(&w.stark, &stark).await.unwrap();
    w.svc.run_pending().await.unwrap();
    let c = w.svc.channel(&w.initech, &left).await.unwrap();
    assert_eq!(
        (c.state, c.live_attachments().count()),
        (switchboard::orchestrator::policy::ChannelState::Active, 2),
        "{c:?}"
    );

    let all = [&by_org, &by_email, &own, &granted, &declined, &withdrawn, &left];
    let set = |ids: &[&ChannelId]| ids.iter().map(|&s| s.clone()).collect::<BTreeSet<_>>();
    assert_eq!(seen_by(&w, &w.op, &all).await, set(&all));
    assert_eq!(seen_by(&w, &w.acme, &all).await, set(&[&by_org, &by_email, &granted, &declined]));
    assert_eq!(seen_by(&w, &w.globex, &all).await, set(&[&granted, &withdrawn, &left]));
    assert_eq!(seen_by(&w, &w.initech, &all).await, set(&[&own, &left]));
    let names = [
        ("by_org", &by_org),
        ("by_email", &by_email),
        ("own", &own),
        ("granted", &granted),
        ("declined", &declined),
        ("withdrawn", &withdrawn),
        ("left", &left),
    ];
    let seen = seen_by(&w, &w.stark, &all).await;
    let named: Vec<&str> = names.iter().filter(|(_, id)| seen.contains(*id)).map(|(n, _)| *n).collect();
    assert!(named.is_empty(), "invited, declined, unplugged: nothing, not {named:?}");
    assert_eq!(seen_by(&w, &w.umbrella, &all).await, set(&[]), "invited by the grantee, not answered");
}
on_both!(lists_and_single_channels_agree);
