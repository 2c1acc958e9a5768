//! Mutual TLS between the orchestrator and its agents (rustls with the `ring` provider).
//!
//! The agent accepts only clients whose certificate chains to its CA (rustls's
//! `WebPkiClientVerifier`: expired, not-yet-valid and foreign certificates fail the
//! handshake). The orchestrator trusts only the same CA and checks that the agent's
//! certificate names the switch the topology puts at that address: the switch's name is the
//! TLS server name, so an agent certificate issued for another switch fails the handshake.
//! Not for the portal's HTTPS (`crate::tls`).

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use rustls::pki_types::{CertificateDer, ServerName};
use rustls::server::WebPkiClientVerifier;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{TlsAcceptor, TlsConnector};

use crate::tls::{TlsError, install_crypto, read_certs, read_key};

/// How long a TLS handshake may take before the connection is dropped.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Certificate files: the CA both sides trust, and this side's certificate and key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub ca: std::path::PathBuf,
    pub cert: std::path::PathBuf,
    pub key: std::path::PathBuf,
}

impl From<&crate::topology::TlsPaths> for TlsFiles {
    fn from(p: &crate::topology::TlsPaths) -> TlsFiles {
        TlsFiles { ca: p.ca.clone().into(), cert: p.cert.clone().into(), key: p.key.clone().into() }
    }
}

/// The agent's server configuration: its certificate, and client certificates required to
/// chain to the CA.
pub fn server_config(files: &TlsFiles) -> Result<rustls::ServerConfig, TlsError> {
    install_crypto();
    let roots = Arc::new(root_store(&files.ca)?);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider.clone())
        .build()
        .map_err(|e| TlsError::Config(format!("client verifier from {}: {e}", files.ca.display())))?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(read_certs(&files.cert)?, read_key(&files.key)?)
        .map_err(|e| TlsError::Config(e.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(config)
}

/// The orchestrator's client configuration: the CA as the only root, and its client
/// certificate.
pub fn client_config(files: &TlsFiles) -> Result<rustls::ClientConfig, TlsError> {
    install_crypto();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_root_certificates(root_store(&files.ca)?)
        .with_client_auth_cert(read_certs(&files.cert)?, read_key(&files.key)?)
        .map_err(|e| TlsError::Config(e.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(config)
}

fn root_store(ca: &Path) -> Result<rustls::RootCertStore, TlsError> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in read_certs(ca)? {
        roots
            .add(cert)
            .map_err(|e| TlsError::Pem { path: ca.display().to_string(), message: format!("not a usable CA: {e}") })?;
    }
    Ok(roots)
}

/// The subject's common name of a DER certificate (the switch of an agent certificate, the
/// orchestrator's name for a client), or `None` when it has none.
pub fn common_name(cert: &CertificateDer<'_>) -> Option<String> {
    let (_, parsed) = x509_parser::parse_x509_certificate(cert.as_ref()).ok()?;
    let cn = parsed.subject().iter_common_name().next()?.as_str().ok()?.to_string();
    Some(cn)
}

/// Who is on the other end of an agent's connection, as the handshake proved it.
#[derive(Debug, Clone)]
pub struct Peer {
    pub address: Option<SocketAddr>,
    /// The common name of the client certificate (verified to chain to the CA).
    pub name: String,
}

/// An accepted, authenticated connection to the agent.
pub struct AgentConn {
    stream: tokio_rustls::server::TlsStream<TcpStream>,
    peer: Peer,
}

impl tonic::transport::server::Connected for AgentConn {
    type ConnectInfo = Peer;
    fn connect_info(&self) -> Peer {
        self.peer.clone()
    }
}

impl AsyncRead for AgentConn {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for AgentConn {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// The authenticated connections to `listener`, as a stream for tonic's
/// `serve_with_incoming`. Each handshake runs on a task of its own (with
/// [`HANDSHAKE_TIMEOUT`]), so a slow or hostile client holds up nobody; a refused one is
/// logged and dropped.
pub fn incoming(
    listener: TcpListener,
    config: rustls::ServerConfig,
) -> impl futures::Stream<Item = Result<AgentConn, io::Error>> {
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let (tx, rx) = tokio::sync::mpsc::channel::<AgentConn>(64);
    tokio::spawn(async move {
        loop {
            let (tcp, address) = match listener.accept().await {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let (acceptor, tx) = (acceptor.clone(), tx.clone());
            tokio::spawn(async move {
                let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                    Ok(Ok(s)) => s,
                    Ok(Err(e)) => {
                        tracing::warn!(%address, error = %e, "TLS handshake refused");
                        return;
                    }
                    Err(_) => {
                        tracing::warn!(%address, "TLS handshake timed out");
                        return;
                    }
                };
                let name = stream
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|c| c.first())
                    .and_then(common_name)
                    .unwrap_or_else(|| "(client certificate without a common name)".into());
                let _ = tx.send(AgentConn { stream, peer: Peer { address: Some(address), name } }).await;
            });
        }
    });
    futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|conn| (Ok(conn), rx)) })
}

/// Opens a TLS connection to the agent at `address` and checks that its certificate chains
/// to the CA and names `switch`. With `netns`, the TCP socket is made inside that network
/// namespace (a management network the orchestrator's own namespace has no route to).
pub async fn connect(
    config: Arc<rustls::ClientConfig>,
    address: &str,
    switch: &str,
    netns: Option<&str>,
) -> io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let name = ServerName::try_from(switch.to_string())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("switch name {switch:?}: {e}")))?;
    let tcp = match netns {
        None => TcpStream::connect(address).await?,
        Some(ns) => connect_in(ns, address).await?,
    };
    let _ = tcp.set_nodelay(true);
    TlsConnector::from(config).connect(name, tcp).await
}

/// A TCP connection to `address` from a socket made inside network namespace `ns`. `setns`
/// acts on one thread only and a socket stays in the namespace it was made in, so the socket
/// is made on a short-lived thread that entered `ns` and connected from here.
async fn connect_in(ns: &str, address: &str) -> io::Result<TcpStream> {
    let mut last = None;
    for addr in tokio::net::lookup_host(address).await? {
        let ns_owned = ns.to_string();
        let made = tokio::task::spawn_blocking(move || {
            crate::southbound::linux::netns::run_in(Some(&ns_owned), move || {
                if addr.is_ipv4() { tokio::net::TcpSocket::new_v4() } else { tokio::net::TcpSocket::new_v6() }
            })
        })
        .await
        .map_err(|e| io::Error::other(format!("network namespace `{ns}`: {e}")))?
        .map_err(|e| io::Error::other(e.to_string()))?;
        match made?.connect(addr).await {
            Ok(tcp) => return Ok(tcp),
            Err(e) => last = Some(io::Error::new(e.kind(), format!("{addr} from network namespace `{ns}`: {e}"))),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("{address} resolves to no address"))))
}
