//! `switchboard pki`: the certificates of remote switches, made with rcgen so that an
//! operator needs no openssl. One directory holds a CA (`ca.pem`, `ca-key.pem`), an
//! agent certificate per switch (`agent-NAME.pem`, `agent-NAME-key.pem`: subject CN and DNS
//! SAN are the switch's name, which the orchestrator checks) and the orchestrator's client
//! certificate (`orchestrator.pem`, `orchestrator-key.pem`). Keys are written 0600 and never
//! overwritten. Not for the portal's HTTPS certificate.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType, SerialNumber,
};
use time::{Duration, OffsetDateTime};

/// Why a certificate could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("{dir} does not exist: create it, or run `switchboard pki init {dir}` first")]
    NoDir { dir: String },
    #[error("{dir} has no CA ({file} is missing): run `switchboard pki init {dir}` first")]
    NoCa { dir: String, file: String },
    #[error("{path} already exists: remove it first to make a new one")]
    Exists { path: String },
    #[error("{path}: {message}")]
    Io { path: String, message: String },
    #[error("{0}")]
    Bad(String),
}

/// Whom a certificate is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// The agent of the switch with this name (server and client use).
    Agent(String),
    /// The orchestrator (client use).
    Orchestrator,
}

/// When a certificate is valid.
#[derive(Debug, Clone, Copy)]
pub struct Validity {
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
}

impl Validity {
    /// From an hour ago (clocks differ a little) for `days` days.
    pub fn days(days: i64) -> Validity {
        let now = OffsetDateTime::now_utc();
        Validity { not_before: now - Duration::hours(1), not_after: now + Duration::days(days) }
    }
}

/// The files a certificate was written to.
#[derive(Debug, Clone)]
pub struct Written {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// The CA's file names in a directory.
pub fn ca_paths(dir: &Path) -> Written {
    Written { cert: dir.join("ca.pem"), key: dir.join("ca-key.pem") }
}

/// The file names of `subject`'s certificate in a directory.
pub fn paths(dir: &Path, subject: &Subject) -> Written {
    match subject {
        Subject::Agent(name) => {
            Written { cert: dir.join(format!("agent-{name}.pem")), key: dir.join(format!("agent-{name}-key.pem")) }
        }
        Subject::Orchestrator => Written { cert: dir.join("orchestrator.pem"), key: dir.join("orchestrator-key.pem") },
    }
}

/// Makes a CA in `dir` (created if missing), valid as `validity` says.
pub fn init(dir: &Path, validity: Validity) -> Result<Written, PkiError> {
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let out = ca_paths(dir);
    refuse_existing(&out)?;
    let key = KeyPair::generate().map_err(bad)?;
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, "Switchboard agents CA");
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    params.serial_number = Some(serial());
    (params.not_before, params.not_after) = (validity.not_before, validity.not_after);
    let cert = params.self_signed(&key).map_err(bad)?;
    write_pair(&out, &cert.pem(), &key.serialize_pem())?;
    Ok(out)
}

/// Issues `subject`'s certificate from the CA in `dir`.
pub fn issue(dir: &Path, subject: &Subject, validity: Validity) -> Result<Written, PkiError> {
    if !dir.is_dir() {
        return Err(PkiError::NoDir { dir: dir.display().to_string() });
    }
    let ca = ca_paths(dir);
    for file in [&ca.cert, &ca.key] {
        if !file.exists() {
            return Err(PkiError::NoCa { dir: dir.display().to_string(), file: file.display().to_string() });
        }
    }
    let read = |p: &Path| std::fs::read_to_string(p).map_err(|e| io(p, e));
    let ca_key = KeyPair::from_pem(&read(&ca.key)?)
        .map_err(|e| PkiError::Io { path: ca.key.display().to_string(), message: format!("not a usable key: {e}") })?;
    let issuer = Issuer::from_ca_cert_pem(&read(&ca.cert)?, ca_key).map_err(|e| PkiError::Io {
        path: ca.cert.display().to_string(),
        message: format!("not a usable CA certificate: {e}"),
    })?;
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    match subject {
        Subject::Agent(name) => {
            if !crate::topology::is_usable_name(name) {
                return Err(PkiError::Bad(format!(
                    "switch name {name:?} is not usable: use 1-64 letters, digits, '-', '_' or '.', starting with a letter or digit"
                )));
            }
            params.distinguished_name.push(DnType::CommonName, name.as_str());
            let dns = name.clone().try_into().map_err(|e| PkiError::Bad(format!("switch name {name:?}: {e}")))?;
            params.subject_alt_names = vec![SanType::DnsName(dns)];
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
        }
        Subject::Orchestrator => {
            params.distinguished_name.push(DnType::CommonName, "switchboard orchestrator");
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        }
    }
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.use_authority_key_identifier_extension = true;
    params.serial_number = Some(serial());
    (params.not_before, params.not_after) = (validity.not_before, validity.not_after);
    let out = paths(dir, subject);
    refuse_existing(&out)?;
    let key = KeyPair::generate().map_err(bad)?;
    let cert = params.signed_by(&key, &issuer).map_err(bad)?;
    write_pair(&out, &cert.pem(), &key.serialize_pem())?;
    Ok(out)
}

fn refuse_existing(out: &Written) -> Result<(), PkiError> {
    for p in [&out.cert, &out.key] {
        if p.exists() {
            return Err(PkiError::Exists { path: p.display().to_string() });
        }
    }
    Ok(())
}

/// Writes the key (0600, created new) and then the certificate.
fn write_pair(out: &Written, cert: &str, key: &str) -> Result<(), PkiError> {
    let write = |path: &Path, text: &str, mode: u32| -> Result<(), PkiError> {
        let mut f =
            std::fs::OpenOptions::new().write(true).create_new(true).mode(mode).open(path).map_err(|e| io(path, e))?;
        f.write_all(text.as_bytes()).and_then(|()| f.sync_all()).map_err(|e| io(path, e))
    };
    write(&out.key, key, 0o600)?;
    write(&out.cert, cert, 0o644)
}

/// A random positive serial number (128 bits).
fn serial() -> SerialNumber {
    let mut bytes: [u8; 16] = rand::random();
    bytes[0] &= 0x7f;
    bytes[0] |= 0x01;
    SerialNumber::from_slice(&bytes)
}

fn io(path: &Path, e: std::io::Error) -> PkiError {
    PkiError::Io { path: path.display().to_string(), message: e.to_string() }
}

fn bad(e: rcgen::Error) -> PkiError {
    PkiError::Bad(e.to_string())
}
