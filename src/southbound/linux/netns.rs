//! Named network namespaces (`/run/netns/NAME`, as `ip netns` keeps them), created and
//! entered without forking (../shared/NETLINK.md §5), so it is safe in a threaded process.
//!
//! `setns` acts on the calling thread only, so everything that must live in a namespace
//! (a netlink socket, a raw packet socket) is opened on a short-lived thread that entered it;
//! a socket stays in the namespace it was created in.

use std::fs::{File, create_dir_all};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sched::{CloneFlags, setns, unshare};

/// Where named namespaces are bind-mounted.
pub const NETNS_DIR: &str = "/run/netns";

/// Errors of namespace handling, with the namespace name.
#[derive(Debug, thiserror::Error)]
pub enum NetnsError {
    #[error("network namespace `{name}`: {what}: {source}")]
    Sys { name: String, what: &'static str, source: nix::Error },
    #[error("network namespace `{name}`: {what}: {source}")]
    Io { name: String, what: &'static str, source: std::io::Error },
    #[error("network namespace `{name}` does not exist (is the lab up? `switchboard lab up TOPOLOGY`)")]
    Missing { name: String },
    #[error("network namespace `{name}`: the thread that entered it panicked")]
    Thread { name: String },
}

pub fn path(name: &str) -> PathBuf {
    Path::new(NETNS_DIR).join(name)
}

pub fn exists(name: &str) -> bool {
    path(name).exists()
}

/// Makes /run/netns a shared mount point, as `ip netns add` does, so that namespaces
/// mounted there are visible to every mount namespace and can be unmounted cleanly.
fn prepare_dir(name: &str) -> Result<(), NetnsError> {
    create_dir_all(NETNS_DIR).map_err(|source| NetnsError::Io {
        name: name.into(),
        what: "create /run/netns",
        source,
    })?;
    let shared = MsFlags::MS_SHARED | MsFlags::MS_REC;
    if mount(None::<&str>, NETNS_DIR, None::<&str>, shared, None::<&str>).is_err() {
        mount(Some(NETNS_DIR), NETNS_DIR, None::<&str>, MsFlags::MS_BIND | MsFlags::MS_REC, None::<&str>)
            .map_err(|source| NetnsError::Sys { name: name.into(), what: "bind-mount /run/netns", source })?;
        mount(None::<&str>, NETNS_DIR, None::<&str>, shared, None::<&str>).map_err(|source| NetnsError::Sys {
            name: name.into(),
            what: "make /run/netns shared",
            source,
        })?;
    }
    Ok(())
}

/// Creates the namespace unless it exists. Returns whether it was created.
pub fn create(name: &str) -> Result<bool, NetnsError> {
    let p = path(name);
    if p.exists() {
        return Ok(false);
    }
    prepare_dir(name)?;
    File::options().write(true).create_new(true).open(&p).map_err(|source| NetnsError::Io {
        name: name.into(),
        what: "create mount point",
        source,
    })?;
    let target = p.clone();
    let res = std::thread::spawn(move || -> Result<(), (&'static str, nix::Error)> {
        unshare(CloneFlags::CLONE_NEWNET).map_err(|e| ("unshare", e))?;
        mount(Some("/proc/thread-self/ns/net"), &target, None::<&str>, MsFlags::MS_BIND, None::<&str>)
            .map_err(|e| ("bind-mount", e))
    })
    .join()
    .map_err(|_| NetnsError::Thread { name: name.into() })?;
    if let Err((what, source)) = res {
        let _ = std::fs::remove_file(&p);
        return Err(NetnsError::Sys { name: name.into(), what, source });
    }
    Ok(true)
}

/// Deletes the namespace if it exists (its interfaces go with it). Returns whether it existed.
/// The sockets this process keeps into it go first (a kept socket would keep it alive).
pub fn delete(name: &str) -> Result<bool, NetnsError> {
    super::kept::forget(&[name]);
    let p = path(name);
    if !p.exists() {
        return Ok(false);
    }
    // Not mounted (a half-made namespace) is fine: remove the file anyway.
    let _ = umount2(&p, MntFlags::MNT_DETACH);
    std::fs::remove_file(&p).map_err(|source| NetnsError::Io {
        name: name.into(),
        what: "remove mount point",
        source,
    })?;
    Ok(true)
}

/// Opens the namespace file (for `setns` or IFLA_NET_NS_FD).
pub fn open(name: &str) -> Result<File, NetnsError> {
    File::open(path(name)).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => NetnsError::Missing { name: name.into() },
        _ => NetnsError::Io { name: name.into(), what: "open", source },
    })
}

/// Runs `f` on a fresh thread inside namespace `name` (or the current one for `None`) and
/// returns its result. Sockets `f` opens stay in that namespace.
pub fn run_in<T: Send + 'static>(name: Option<&str>, f: impl FnOnce() -> T + Send + 'static) -> Result<T, NetnsError> {
    let label = name.unwrap_or("(host)").to_string();
    let file = match name {
        Some(n) => Some(open(n)?),
        None => None,
    };
    std::thread::spawn(move || -> Result<T, NetnsError> {
        if let Some(file) = &file {
            setns(file.as_fd(), CloneFlags::CLONE_NEWNET).map_err(|source| NetnsError::Sys {
                name: label.clone(),
                what: "enter (setns)",
                source,
            })?;
        }
        Ok(f())
    })
    .join()
    .map_err(|_| NetnsError::Thread { name: name.unwrap_or("(host)").into() })?
}

/// Writes a sysctl inside a namespace (for example `net/ipv6/conf/all/disable_ipv6`).
pub fn sysctl(name: &str, key: &str, value: &str) -> Result<(), NetnsError> {
    let key_path = format!("/proc/sys/{key}");
    let value = value.to_string();
    run_in(Some(name), move || std::fs::write(key_path, value))?.map_err(|source| NetnsError::Io {
        name: name.into(),
        what: "write sysctl",
        source,
    })
}

/// Names of the namespaces under /run/netns.
pub fn list() -> Vec<String> {
    std::fs::read_dir(NETNS_DIR)
        .map(|d| d.filter_map(|e| e.ok()).filter_map(|e| e.file_name().into_string().ok()).collect())
        .unwrap_or_default()
}
