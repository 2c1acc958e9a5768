//! The data-plane probe, I/O part: raw Ethernet frames sent from and received at every lab
//! site namespace.
//!
//! Frames are sent with pnet's datalink channel. They are received on a raw AF_PACKET socket
//! of our own with PACKET_AUXDATA: the kernel moves a frame's outer VLAN tag into metadata
//! before packet sockets see it (pnet's receiver would show tagged frames as untagged), so
//! the tag is read from the auxiliary data and put back.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use pnet_datalink::{Channel, Config, DataLinkSender};

use crate::orchestrator::reach::{Probe, Reception, frame, parse};
use crate::topology::Topology;

use super::lab::{SITE_IFNAME, site_namespace};
use super::netns;

/// How long to wait for frames after the last one was sent.
const SETTLE: Duration = Duration::from_millis(400);

#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error(transparent)]
    Netns(#[from] netns::NetnsError),
    #[error("site `{site}`: {what}: {source}")]
    Io { site: String, what: &'static str, source: std::io::Error },
    #[error("site `{site}`: no interface {SITE_IFNAME} in its namespace (is the lab up?)")]
    NoInterface { site: String },
}

struct Site {
    name: String,
    tx: Box<dyn DataLinkSender>,
    rx: OwnedFd,
}

/// Sends every probe from its site and returns every probe frame any site received.
pub fn run(topo: &Topology, probes: &[Probe], nonce: u32) -> Result<Vec<Reception>, ProbeError> {
    let mut sites = Vec::new();
    for iface in &topo.interfaces {
        sites.push(open_site(&iface.name, &site_namespace(topo, &iface.name))?);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let (tx_rec, rx_rec) = mpsc::channel::<Reception>();
    let mut senders = std::collections::HashMap::new();
    let mut threads = Vec::new();
    for site in sites {
        senders.insert(site.name.clone(), site.tx);
        let (name, fd, stop, out) = (site.name, site.rx, stop.clone(), tx_rec.clone());
        threads.push(std::thread::spawn(move || receive(&name, &fd, &stop, nonce, &out)));
    }
    drop(tx_rec);
    std::thread::sleep(Duration::from_millis(50));
    for p in probes {
        if let Some(tx) = senders.get_mut(&p.from)
            && let Some(Err(source)) = tx.send_to(&frame(p, nonce), None)
        {
            stop.store(true, Ordering::Relaxed);
            return Err(ProbeError::Io { site: p.from.clone(), what: "send", source });
        }
    }
    std::thread::sleep(SETTLE);
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    let mut out: Vec<Reception> = rx_rec.into_iter().collect();
    out.sort();
    out.dedup();
    Ok(out)
}

/// Sends `count` copies of `frame` from the lab site of interface `from` (a load, e.g.
/// to see switch counters move); returns the bytes handed to the kernel.
pub fn send_load(topo: &Topology, from: &str, frame: &[u8], count: usize) -> Result<u64, ProbeError> {
    let mut site = open_site(from, &site_namespace(topo, from))?;
    let mut sent = 0u64;
    for _ in 0..count {
        if let Some(Err(source)) = site.tx.send_to(frame, None) {
            return Err(ProbeError::Io { site: from.to_string(), what: "send", source });
        }
        sent += frame.len() as u64;
    }
    std::thread::sleep(SETTLE);
    Ok(sent)
}

/// A paced load: what [`send_paced`] is to send.
#[derive(Clone, Copy, Debug)]
pub struct Pace {
    /// The rate to offer, in bits per second of whole frames.
    pub rate_bps: u64,
    /// How long to send for at most.
    pub duration: Duration,
    /// How many frames to send at most.
    pub max_frames: u64,
    /// The most bytes sent back to back to catch up with the schedule after the sender was
    /// held up; past that the schedule starts again from now (so the offered rate is at most
    /// `rate_bps`, and bursts above it at most this).
    pub catch_up_bytes: u64,
}

/// What a paced load sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sent {
    pub frames: u64,
    pub bytes: u64,
    /// From the first frame handed to the kernel to the last.
    pub elapsed: Duration,
}

/// Sends copies of `frame` from the lab site of interface `from` at `pace.rate_bps` for
/// `pace.duration` (or until `pace.max_frames` are sent), then waits for the last ones to arrive. The rate is kept by the clock:
/// before each frame, whatever the schedule has fallen behind is sent, up to
/// `pace.catch_up_bytes`.
pub fn send_paced(topo: &Topology, from: &str, frame: &[u8], pace: Pace) -> Result<Sent, ProbeError> {
    let mut site = open_site(from, &site_namespace(topo, from))?;
    let frame_bytes = frame.len() as u64;
    let start = std::time::Instant::now();
    let (mut base, mut credited) = (start, 0u64);
    let mut first = None;
    let mut sent = Sent { frames: 0, bytes: 0, elapsed: Duration::ZERO };
    while start.elapsed() < pace.duration && sent.frames < pace.max_frames {
        let due = credited + (u128::from(pace.rate_bps) * base.elapsed().as_nanos() / 8_000_000_000) as u64;
        if due.saturating_sub(sent.bytes) > pace.catch_up_bytes {
            (base, credited) = (std::time::Instant::now(), sent.bytes);
            continue;
        }
        if sent.bytes + frame_bytes > due {
            std::thread::sleep(Duration::from_micros(200));
            continue;
        }
        if let Some(Err(source)) = site.tx.send_to(frame, None) {
            return Err(ProbeError::Io { site: from.to_string(), what: "send", source });
        }
        let first = *first.get_or_insert_with(std::time::Instant::now);
        sent.frames += 1;
        sent.bytes += frame_bytes;
        sent.elapsed = first.elapsed();
    }
    std::thread::sleep(SETTLE);
    Ok(sent)
}

/// What one site received of a [`load`].
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Delivered {
    pub site: String,
    pub frames: u64,
    pub bytes: u64,
}

/// A load (issue 18, `probe --load-mbps`): sends copies of `frame` (one of this run's probe
/// frames, `nonce`) from the lab site of interface `from` as [`send_paced`] does, while every
/// other site counts the copies it receives. Returns what was sent and, per receiving site
/// (in topology order, those that received nothing included), what arrived.
pub fn load(
    topo: &Topology,
    from: &str,
    frame: &[u8],
    nonce: u32,
    pace: Pace,
) -> Result<(Sent, Vec<Delivered>), ProbeError> {
    let stop = Arc::new(AtomicBool::new(false));
    let mut threads = Vec::new();
    for iface in topo.interfaces.iter().filter(|i| i.name != from) {
        let fd = open_tap(&iface.name, &site_namespace(topo, &iface.name), SITE_IFNAME)?;
        let (site, stop) = (iface.name.clone(), stop.clone());
        threads.push(std::thread::spawn(move || {
            let mut got = Delivered { site, frames: 0, bytes: 0 };
            receive_frames(&fd, &stop, &mut |f| {
                if parse(&f, nonce).is_some() {
                    got.frames += 1;
                    got.bytes += f.len() as u64;
                }
            });
            got
        }));
    }
    let sent = send_paced(topo, from, frame, pace);
    stop.store(true, Ordering::Relaxed);
    let delivered: Vec<Delivered> = threads.into_iter().filter_map(|t| t.join().ok()).collect();
    Ok((sent?, delivered))
}

/// A packet socket on `ifname` in namespace `netns` (see [`packet_socket`]).
fn open_tap(label: &str, netns: &str, ifname: &str) -> Result<OwnedFd, ProbeError> {
    let (label, ifname) = (label.to_string(), ifname.to_string());
    netns::run_in(Some(netns), move || -> Result<OwnedFd, ProbeError> {
        let iface = pnet_datalink::interfaces()
            .into_iter()
            .find(|i| i.name == ifname)
            .ok_or_else(|| ProbeError::NoInterface { site: label.clone() })?;
        packet_socket(iface.index).map_err(|source| ProbeError::Io { site: label, what: "open packet socket", source })
    })?
}

/// Where [`capture`] listens: interface `ifname` in namespace `netns`, reported as `label`.
#[derive(Clone, Debug)]
pub struct Tap {
    pub label: String,
    pub netns: String,
    pub ifname: String,
}

/// Sends raw frames, each from the lab site of its interface, one after another, and returns
/// every frame the taps received meanwhile (and within [`SETTLE`] after), as (tap label,
/// frame), the frame as it was on the wire: the outer VLAN tag the kernel moved into
/// metadata put back with its own TPID and TCI. What the taps' interfaces send is left out.
/// For tests that look at tags themselves (protocol, VID, priority), not only at probes.
pub fn capture(
    topo: &Topology,
    taps: &[Tap],
    sends: &[(String, Vec<u8>)],
) -> Result<Vec<(String, Vec<u8>)>, ProbeError> {
    let stop = Arc::new(AtomicBool::new(false));
    let (tx_rec, rx_rec) = mpsc::channel::<(String, Vec<u8>)>();
    let mut threads = Vec::new();
    for tap in taps {
        let fd = open_tap(&tap.label, &tap.netns, &tap.ifname)?;
        let (label, stop, out) = (tap.label.clone(), stop.clone(), tx_rec.clone());
        threads.push(std::thread::spawn(move || {
            receive_frames(&fd, &stop, &mut |frame| {
                let _ = out.send((label.clone(), frame));
            })
        }));
    }
    drop(tx_rec);
    let mut senders: std::collections::HashMap<&str, Site> = std::collections::HashMap::new();
    for (from, _) in sends {
        if !senders.contains_key(from.as_str()) {
            senders.insert(from, open_site(from, &site_namespace(topo, from))?);
        }
    }
    std::thread::sleep(Duration::from_millis(50));
    for (from, frame) in sends {
        if let Some(site) = senders.get_mut(from.as_str())
            && let Some(Err(source)) = site.tx.send_to(frame, None)
        {
            stop.store(true, Ordering::Relaxed);
            return Err(ProbeError::Io { site: from.clone(), what: "send", source });
        }
    }
    std::thread::sleep(SETTLE);
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    Ok(rx_rec.into_iter().collect())
}

fn open_site(name: &str, ns: &str) -> Result<Site, ProbeError> {
    let site = name.to_string();
    let opened = netns::run_in(Some(ns), move || -> Result<(Box<dyn DataLinkSender>, OwnedFd), ProbeError> {
        let iface = pnet_datalink::interfaces()
            .into_iter()
            .find(|i| i.name == SITE_IFNAME)
            .ok_or_else(|| ProbeError::NoInterface { site: site.clone() })?;
        let config = Config { read_timeout: Some(Duration::from_millis(20)), ..Config::default() };
        let tx = match pnet_datalink::channel(&iface, config) {
            Ok(Channel::Ethernet(tx, _rx)) => tx,
            Ok(_) => {
                return Err(ProbeError::Io {
                    site,
                    what: "open channel",
                    source: std::io::Error::other("unknown channel type"),
                });
            }
            Err(source) => return Err(ProbeError::Io { site, what: "open channel", source }),
        };
        let rx =
            packet_socket(iface.index).map_err(|source| ProbeError::Io { site, what: "open packet socket", source })?;
        Ok((tx, rx))
    })??;
    Ok(Site { name: name.to_string(), tx: opened.0, rx: opened.1 })
}

/// A raw packet socket bound to `ifindex`, promiscuous, with PACKET_AUXDATA and a 20 ms
/// receive timeout.
fn packet_socket(ifindex: u32) -> std::io::Result<OwnedFd> {
    let proto = (libc::ETH_P_ALL as u16).to_be();
    // SAFETY: plain socket(2); the fd is owned right away.
    let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, i32::from(proto)) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh, valid descriptor we own.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let raw = fd.as_raw_fd();
    // SAFETY: zeroed sockaddr_ll is valid; the fields set are the ones bind needs.
    let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    addr.sll_family = libc::AF_PACKET as u16;
    addr.sll_protocol = proto;
    addr.sll_ifindex = ifindex as i32;
    let len = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
    // SAFETY: addr points to a sockaddr_ll of `len` bytes.
    if unsafe { libc::bind(raw, (&addr as *const libc::sockaddr_ll).cast(), len) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let one: libc::c_int = 1;
    setsockopt(raw, libc::SOL_PACKET, libc::PACKET_AUXDATA, &one)?;
    // SAFETY: zeroed packet_mreq is valid.
    let mut mreq: libc::packet_mreq = unsafe { std::mem::zeroed() };
    mreq.mr_ifindex = ifindex as i32;
    mreq.mr_type = libc::PACKET_MR_PROMISC as u16;
    setsockopt(raw, libc::SOL_PACKET, libc::PACKET_ADD_MEMBERSHIP, &mreq)?;
    let tv = libc::timeval { tv_sec: 0, tv_usec: 20_000 };
    setsockopt(raw, libc::SOL_SOCKET, libc::SO_RCVTIMEO, &tv)?;
    Ok(fd)
}

fn setsockopt<T>(fd: i32, level: i32, name: i32, value: &T) -> std::io::Result<()> {
    let len = std::mem::size_of::<T>() as libc::socklen_t;
    // SAFETY: value points to a T of `len` bytes for the duration of the call.
    if unsafe { libc::setsockopt(fd, level, name, (value as *const T).cast(), len) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Receives until `stop`, reporting every probe frame of this run.
fn receive(site: &str, fd: &OwnedFd, stop: &AtomicBool, nonce: u32, out: &mpsc::Sender<Reception>) {
    receive_frames(fd, stop, &mut |frame| {
        if let Some((probe, tags)) = parse(&frame, nonce) {
            let _ = out.send(Reception { probe, at: site.to_string(), tags });
        }
    });
}

/// Receives until `stop`, handing every received frame (not the interface's own) to `seen`
/// with its outer VLAN tag put back.
fn receive_frames(fd: &OwnedFd, stop: &AtomicBool, seen: &mut dyn FnMut(Vec<u8>)) {
    let mut buf = vec![0u8; 2048];
    let mut cmsg = vec![0u8; 256];
    loop {
        let Some((len, vlan)) = recv_with_vlan(fd.as_raw_fd(), &mut buf, &mut cmsg) else {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            continue;
        };
        let Some(data) = buf.get(..len) else { continue };
        let frame = match vlan {
            Some((tpid, tci)) if data.len() >= 12 => {
                let mut f = Vec::with_capacity(len + 4);
                f.extend_from_slice(&data[..12]);
                f.extend_from_slice(&tpid.to_be_bytes());
                f.extend_from_slice(&tci.to_be_bytes());
                f.extend_from_slice(&data[12..]);
                f
            }
            _ => data.to_vec(),
        };
        if !frame.is_empty() {
            seen(frame);
        }
    }
}

/// recvmsg with PACKET_AUXDATA: (length, outer VLAN tag as (TPID, TCI) if the kernel took it).
fn recv_with_vlan(fd: i32, buf: &mut [u8], cmsg: &mut [u8]) -> Option<(usize, Option<(u16, u16)>)> {
    const TP_STATUS_VLAN_VALID: u32 = 1 << 4;
    const TP_STATUS_VLAN_TPID_VALID: u32 = 1 << 6;
    let mut iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
    // SAFETY: zeroed sockaddr_ll and msghdr are valid; the pointers set below outlive the call.
    let mut from: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_name = (&mut from as *mut libc::sockaddr_ll).cast();
    msg.msg_namelen = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cmsg.as_mut_ptr().cast();
    msg.msg_controllen = cmsg.len();
    // SAFETY: msg describes valid buffers.
    let n = unsafe { libc::recvmsg(fd, &mut msg, 0) };
    if n < 0 {
        return None;
    }
    // The site's own frames, looped back to packet sockets on the way out, are not receptions.
    if from.sll_pkttype == libc::PACKET_OUTGOING {
        return Some((0, None));
    }
    let mut vlan = None;
    // SAFETY: walking the control messages the kernel filled in, with the libc macros.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_PACKET && (*c).cmsg_type == libc::PACKET_AUXDATA {
                let aux: libc::tpacket_auxdata = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast());
                if aux.tp_status & TP_STATUS_VLAN_VALID != 0 || aux.tp_vlan_tci != 0 {
                    let tpid = if aux.tp_status & TP_STATUS_VLAN_TPID_VALID != 0 { aux.tp_vlan_tpid } else { 0x8100 };
                    vlan = Some((tpid, aux.tp_vlan_tci));
                }
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    Some((n as usize, vlan))
}

/// Measures how long after `start` is called the first frame from site `from` reaches site
/// `to`: `from` sends a unicast probe to `to`'s first MAC every 200 µs from before `start`
/// until it arrives (or `timeout`). Returns the delay and what `start` returned.
pub fn first_arrival<T>(
    topo: &Topology,
    from: &str,
    to: &str,
    timeout: Duration,
    start: impl FnOnce() -> T,
) -> Result<(Option<Duration>, T), ProbeError> {
    let (Some(src), Some(dst)) = (topo.interface(from), topo.interface(to)) else {
        return Err(ProbeError::NoInterface { site: format!("{from} or {to}") });
    };
    let probe = Probe {
        id: 0,
        from: from.into(),
        channel: None,
        tags: Vec::new(),
        src: src.macs.first().copied().ok_or_else(|| ProbeError::NoInterface { site: from.into() })?,
        dst: dst.macs.first().copied(),
        to: Some(to.into()),
    };
    let nonce = 0x5b5b_0001;
    let bytes = frame(&probe, nonce);
    let mut sender = open_site(from, &site_namespace(topo, from))?;
    let receiver = open_site(to, &site_namespace(topo, to))?;
    let stop = Arc::new(AtomicBool::new(false));
    let (tx_rec, rx_rec) = mpsc::channel::<Reception>();
    let (rname, rfd, rstop) = (receiver.name.clone(), receiver.rx, stop.clone());
    let rthread = std::thread::spawn(move || receive(&rname, &rfd, &rstop, nonce, &tx_rec));
    let sstop = stop.clone();
    let sthread = std::thread::spawn(move || {
        while !sstop.load(Ordering::Relaxed) {
            let _ = sender.tx.send_to(&bytes, None);
            std::thread::sleep(Duration::from_micros(200));
        }
    });
    // Nothing may arrive before the channel exists; drain anything that did.
    std::thread::sleep(Duration::from_millis(20));
    while rx_rec.try_recv().is_ok() {}
    // The arrival is timed by a thread of its own, so it does not wait for `start` to return.
    let waiter = std::thread::spawn(move || rx_rec.recv_timeout(timeout).ok().map(|_| std::time::Instant::now()));
    let t0 = std::time::Instant::now();
    let value = start();
    let arrived = waiter.join().ok().flatten().map(|at| at.saturating_duration_since(t0));
    stop.store(true, Ordering::Relaxed);
    let _ = sthread.join();
    let _ = rthread.join();
    Ok((arrived, value))
}
