//! A route-netlink connection inside a network namespace, with the three ways the driver
//! talks to the kernel: one acknowledged request, a dump, and a batch (many messages per
//! sendmsg, acknowledged once per chunk; failures matched back to their message by the
//! sequence number the kernel echoes).

use std::os::fd::{FromRawFd, IntoRawFd};

use futures::StreamExt;
use rtnetlink::packet_core::{Emitable, NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST, NetlinkMessage, NetlinkPayload};
use rtnetlink::packet_route::RouteNetlinkMessage;
use rtnetlink::proto::{ConnectionHandle, NetlinkCodec, ReplyExpectation};
use rtnetlink::sys::{Socket, SocketAddr, TokioSocket, protocols::NETLINK_ROUTE};

use super::netns;

/// Most messages per sendmsg in a batch. Only the last of a chunk asks for an ACK, so the
/// receive buffer never overflows with ACKs (../shared/NETLINK.md §6).
pub const CHUNK: usize = 1000;

/// Most bytes per sendmsg: the send buffer is 208 KiB. An FDB add is 48 bytes, a tc filter
/// with its action about 120, so this only cuts chunks of the larger kinds shorter.
pub const CHUNK_BYTES: usize = 160 * 1024;

/// Get requests per sendmsg in [`Conn::gets`]. Every answer is a message of its own in the
/// receive buffer (about a KiB each with overhead), so this stays well inside it.
pub const GETS_PER_SENDMSG: usize = 128;

/// struct nlmsghdr.
const NETLINK_HEADER_LEN: usize = 16;

/// Where `messages` is cut into sendmsg-sized chunks: (start, end) ranges, in order.
pub fn chunks(messages: &[(RouteNetlinkMessage, u16)]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (k, (m, _)) in messages.iter().enumerate() {
        let len = NETLINK_HEADER_LEN + m.buffer_len();
        if k > start && (k - start == CHUNK || bytes + len > CHUNK_BYTES) {
            out.push((start, k));
            (start, bytes) = (k, 0);
        }
        bytes += len;
    }
    if start < messages.len() {
        out.push((start, messages.len()));
    }
    out
}

/// A netlink failure: the errno and what the kernel calls it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (errno {errno})")]
pub struct NlError {
    pub errno: i32,
    pub message: String,
}

impl NlError {
    fn from_code(code: i32) -> NlError {
        let errno = code.abs();
        NlError { errno, message: std::io::Error::from_raw_os_error(errno).to_string() }
    }

    fn other(message: impl Into<String>) -> NlError {
        NlError { errno: 0, message: message.into() }
    }
}

type Unsolicited = futures::channel::mpsc::UnboundedReceiver<(NetlinkMessage<RouteNetlinkMessage>, SocketAddr)>;

/// A connection bound to one namespace, with its own single-threaded runtime.
pub struct Conn {
    rt: tokio::runtime::Runtime,
    handle: ConnectionHandle<RouteNetlinkMessage>,
    unsolicited: Unsolicited,
    /// The sequence number of the last message sent. netlink-proto numbers every message
    /// it sends 1, 2, 3, ... in the order it is given them, and this connection is its only
    /// user, so a batch's messages are `seq + 1 ..= seq + n` and an error the kernel sends
    /// for one of them names its message exactly (identical messages included).
    seq: u32,
}

impl Conn {
    /// Opens a route-netlink socket inside `netns` (or the current namespace).
    pub fn open(netns: Option<&str>) -> Result<Conn, NlError> {
        let sock = netns::run_in(netns, || -> std::io::Result<Socket> {
            let mut s = Socket::new(NETLINK_ROUTE)?;
            s.bind_auto()?;
            s.set_netlink_get_strict_chk(true)?;
            // Room for dumps of large FDBs and for batch error replies.
            let _ = s.set_rx_buf_sz(8 * 1024 * 1024);
            Ok(s)
        })
        .map_err(|e| NlError::other(e.to_string()))?
        .map_err(|e| NlError::other(format!("netlink socket: {e}")))?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| NlError::other(format!("runtime: {e}")))?;
        let (handle, unsolicited) = rt.block_on(async {
            // SAFETY: the fd comes from a socket we own and hand over here.
            let ts = unsafe { TokioSocket::from_raw_fd(sock.into_raw_fd()) };
            let (conn, handle, unsolicited) =
                rtnetlink::proto::from_socket_with_codec::<RouteNetlinkMessage, TokioSocket, NetlinkCodec>(ts);
            tokio::spawn(conn);
            (handle, unsolicited)
        });
        Ok(Conn { rt, handle, unsolicited, seq: 0 })
    }

    /// Sends one request with `flags` (plus REQUEST|ACK) and waits for its answer.
    pub fn request(&mut self, message: RouteNetlinkMessage, flags: u16) -> Result<Vec<RouteNetlinkMessage>, NlError> {
        self.exchange(message, NLM_F_REQUEST | NLM_F_ACK | flags)
    }

    /// Dumps: sends `message` with NLM_F_DUMP and collects every reply.
    pub fn dump(&mut self, message: RouteNetlinkMessage) -> Result<Vec<RouteNetlinkMessage>, NlError> {
        self.exchange(message, NLM_F_REQUEST | NLM_F_DUMP)
    }

    /// Sends many get requests (not dumps), [`GETS_PER_SENDMSG`] to a sendmsg, and returns
    /// each one's answer in order: the kernel runs them one after another and answers each
    /// (a message or an error), so a chunk costs one round trip however many it holds. For
    /// what the kernel will not dump in one go (tc filters are dumped one hook of one device
    /// at a time, and a socket runs one dump at a time).
    pub fn gets(&mut self, messages: &[RouteNetlinkMessage]) -> Vec<Result<Vec<RouteNetlinkMessage>, NlError>> {
        let mut out = Vec::with_capacity(messages.len());
        for chunk in messages.chunks(GETS_PER_SENDMSG) {
            let reqs: Vec<NetlinkMessage<RouteNetlinkMessage>> = chunk
                .iter()
                .map(|m| {
                    let mut req = NetlinkMessage::from(m.clone());
                    req.header.flags = NLM_F_REQUEST;
                    req
                })
                .collect();
            let first_seq = self.seq.wrapping_add(1);
            self.seq = self.seq.wrapping_add(chunk.len() as u32);
            let handle = self.handle.clone();
            let mut answers: Vec<Result<Vec<RouteNetlinkMessage>, NlError>> = vec![Ok(Vec::new()); chunk.len()];
            let sent = self.rt.block_on(async {
                let mut stream =
                    handle.request_batch(reqs, SocketAddr::new(0, 0)).map_err(|e| NlError::other(e.to_string()))?;
                while let Some(msg) = stream.next().await {
                    let Some(answer) = answers.get_mut(msg.header.sequence_number.wrapping_sub(first_seq) as usize)
                    else {
                        continue;
                    };
                    match msg.payload {
                        NetlinkPayload::Error(e) if e.code.is_some() => *answer = Err(NlError::from_code(e.raw_code())),
                        NetlinkPayload::InnerMessage(m) => {
                            if let Ok(v) = answer {
                                v.push(m);
                            }
                        }
                        _ => {}
                    }
                }
                Ok::<(), NlError>(())
            });
            match sent {
                Ok(()) => out.extend(answers),
                Err(e) => out.extend(chunk.iter().map(|_| Err(e.clone()))),
            }
        }
        out
    }

    /// The ifindex of the link called `name`, by one lookup (not a dump).
    pub fn link_index(&mut self, name: &str) -> Option<u32> {
        let mut get = rtnetlink::packet_route::link::LinkMessage::default();
        get.attributes.push(rtnetlink::packet_route::link::LinkAttribute::IfName(name.to_string()));
        self.request(RouteNetlinkMessage::GetLink(get), 0).ok()?.into_iter().find_map(|m| match m {
            RouteNetlinkMessage::NewLink(l) => Some(l.header.index),
            _ => None,
        })
    }

    fn exchange(&mut self, message: RouteNetlinkMessage, flags: u16) -> Result<Vec<RouteNetlinkMessage>, NlError> {
        let mut req = NetlinkMessage::from(message);
        req.header.flags = flags;
        let handle = self.handle.clone();
        self.seq = self.seq.wrapping_add(1);
        self.rt.block_on(async move {
            let mut stream = handle.request(req, SocketAddr::new(0, 0)).map_err(|e| NlError::other(e.to_string()))?;
            let mut out = Vec::new();
            while let Some(msg) = stream.next().await {
                match msg.payload {
                    NetlinkPayload::Error(e) if e.code.is_some() => return Err(NlError::from_code(e.raw_code())),
                    NetlinkPayload::InnerMessage(m) => out.push(m),
                    _ => {}
                }
            }
            Ok(out)
        })
    }

    /// Sends `messages` (each with its extra flags) in chunks of [`CHUNK`] per sendmsg; the
    /// kernel runs them in order and goes on after a failure. Returns each failure as
    /// (index into `messages`, error); an empty list means all succeeded.
    pub fn batch(&mut self, messages: &[(RouteNetlinkMessage, u16)]) -> Vec<(usize, NlError)> {
        let mut failures = Vec::new();
        for (base, end) in chunks(messages) {
            let chunk = &messages[base..end];
            let last = chunk.len() - 1;
            let reqs: Vec<(NetlinkMessage<RouteNetlinkMessage>, ReplyExpectation)> = chunk
                .iter()
                .enumerate()
                .map(|(k, (m, flags))| {
                    let mut req = NetlinkMessage::from(m.clone());
                    let expect = k == last;
                    req.header.flags = NLM_F_REQUEST | flags | if expect { NLM_F_ACK } else { 0 };
                    (req, if expect { ReplyExpectation::Expected } else { ReplyExpectation::NotExpected })
                })
                .collect();
            let first_seq = self.seq.wrapping_add(1);
            self.seq = self.seq.wrapping_add(chunk.len() as u32);
            let handle = self.handle.clone();
            let res: Result<Option<NlError>, NlError> = self.rt.block_on(async move {
                let mut stream = handle
                    .request_batch_with_expectation(reqs, SocketAddr::new(0, 0))
                    .map_err(|e| NlError::other(e.to_string()))?;
                let mut err = None;
                while let Some(msg) = stream.next().await {
                    if let NetlinkPayload::Error(e) = msg.payload
                        && e.code.is_some()
                    {
                        err = Some(NlError::from_code(e.raw_code()));
                    }
                }
                Ok(err)
            });
            match res {
                Ok(Some(e)) => failures.push((base + last, e)),
                Ok(None) => {}
                Err(e) => {
                    // The chunk could not be sent at all: every message in it failed.
                    failures.extend((0..chunk.len()).map(|k| (base + k, e.clone())));
                    continue;
                }
            }
            // Errors of unacknowledged messages arrive as unsolicited messages, before the
            // final ACK (one socket, read in order). Each names its message by sequence
            // number; should the numbering ever be off, the echoed request names it.
            while let Ok((msg, _)) = self.unsolicited.try_recv() {
                let NetlinkPayload::Error(e) = msg.payload else { continue };
                if e.code.is_none() {
                    continue;
                }
                let by_seq = msg.header.sequence_number.wrapping_sub(first_seq) as usize;
                let idx = if by_seq < chunk.len() {
                    by_seq
                } else {
                    NetlinkMessage::<RouteNetlinkMessage>::deserialize(&e.header)
                        .ok()
                        .and_then(|echo| match echo.payload {
                            NetlinkPayload::InnerMessage(inner) => chunk.iter().position(|(m, _)| *m == inner),
                            _ => None,
                        })
                        .unwrap_or(last)
                };
                failures.push((base + idx, NlError::from_code(e.raw_code())));
            }
        }
        failures.sort_by_key(|(i, _)| *i);
        failures.dedup_by_key(|(i, _)| *i);
        failures
    }
}
