//! TCP_NODELAY on PostgreSQL connections, set by outsync because sqlx 0.9.0 does not.
//!
//! sqlx 0.9.0 stopped setting TCP_NODELAY on its sockets (sqlx issue 4335; the fix, pull
//! request 4336, is merged but not released). Without it, the tail of a statement larger
//! than one TCP segment (a batch's results insert) waits for the server's delayed ACK:
//! about 40 ms per batch, a fifth of the PostgreSQL drain's speed. sqlx offers no hook to
//! set socket options, so after each new connection the pool runs
//! [`set_on_connections_to`], which finds the process's TCP sockets whose peer is the
//! database's address and sets the option on those that lack it.
//!
//! **Drop this module** when outsync depends on a sqlx release that sets TCP_NODELAY itself
//! (the release after 0.9.0 that contains pull request 4336): remove the `after_connect` in
//! `connect.rs`, this file, and the `rustix` and `socket2` dependencies. The test below
//! must keep passing without it.
//!
//! How the sockets are found (Linux; elsewhere this does nothing): `/proc/self/fd` lists
//! the process's descriptors; each socket among them is duplicated with `pidfd_getfd` (a
//! safe, owned duplicate of the same socket, so no descriptor is borrowed that another
//! thread might close), and its peer address compared with the database's.

use std::net::{IpAddr, SocketAddr};

/// Sets TCP_NODELAY on every TCP socket of this process connected to `host:port` that
/// lacks it. Failures are logged at debug level: a missing option costs speed, not
/// correctness.
pub(crate) async fn set_on_connections_to(host: &str, port: u16) {
    let peers = database_addresses(host, port).await;
    if peers.is_empty() {
        return;
    }
    match set_on_sockets(|peer| peers.contains(&canonical(peer))) {
        Ok(set) => tracing::trace!(set, "TCP_NODELAY set on database connections"),
        Err(error) => tracing::debug!(%error, "could not set TCP_NODELAY on database connections"),
    }
}

/// The addresses `host` resolves to (none for a Unix socket directory).
async fn database_addresses(host: &str, port: u16) -> Vec<SocketAddr> {
    if host.starts_with('/') {
        return Vec::new();
    }
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = host.parse::<IpAddr>() {
        return vec![canonical(SocketAddr::new(ip, port))];
    }
    match tokio::net::lookup_host((host, port)).await {
        Ok(addresses) => addresses.map(canonical).collect(),
        Err(error) => {
            tracing::debug!(%error, host, "could not resolve the database host for TCP_NODELAY");
            Vec::new()
        }
    }
}

/// An IPv4 address mapped into IPv6 (how a dual-stack socket reports it) as IPv4.
fn canonical(address: SocketAddr) -> SocketAddr {
    SocketAddr::new(address.ip().to_canonical(), address.port())
}

/// Calls `visit` with a duplicate of each socket of this process and its peer address.
#[cfg(target_os = "linux")]
fn each_socket(mut visit: impl FnMut(socket2::SockRef<'_>, SocketAddr)) -> std::io::Result<()> {
    use rustix::process::{PidfdFlags, PidfdGetfdFlags, getpid, pidfd_getfd, pidfd_open};
    let this_process = pidfd_open(getpid(), PidfdFlags::empty())?;
    for entry in std::fs::read_dir("/proc/self/fd")? {
        let entry = entry?;
        let Some(number) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        let is_socket = std::fs::read_link(entry.path()).is_ok_and(|target| {
            target
                .as_os_str()
                .as_encoded_bytes()
                .starts_with(b"socket:")
        });
        if !is_socket {
            continue;
        }
        // The descriptor may have been closed (or reused) since it was listed: then the
        // duplicate fails, or is another socket whose peer is checked like any other.
        let Ok(duplicate) = pidfd_getfd(&this_process, number, PidfdGetfdFlags::empty()) else {
            continue;
        };
        let socket = socket2::SockRef::from(&duplicate);
        if let Some(peer) = socket.peer_addr().ok().and_then(|peer| peer.as_socket()) {
            visit(socket, canonical(peer));
        }
    }
    Ok(())
}

#[cfg(target_os = "linux")]
fn set_on_sockets(is_database: impl Fn(SocketAddr) -> bool) -> std::io::Result<usize> {
    let mut set = 0;
    let mut failure = None;
    each_socket(|socket, peer| {
        if is_database(peer) && socket.tcp_nodelay().is_ok_and(|on| !on) {
            match socket.set_tcp_nodelay(true) {
                Ok(()) => set += 1,
                Err(error) => failure = Some(error),
            }
        }
    })?;
    failure.map_or(Ok(set), Err)
}

#[cfg(not(target_os = "linux"))]
fn set_on_sockets(_is_database: impl Fn(SocketAddr) -> bool) -> std::io::Result<usize> {
    Ok(0)
}

#[cfg(all(test, target_os = "linux", feature = "postgres"))]
mod tests {
    use super::*;
    use crate::{DatabaseSettings, open};
    use sea_orm::{ConnectionTrait, Statement, TransactionTrait};

    /// Whether the socket with local port `port` has TCP_NODELAY (`None`: no such socket).
    fn nodelay_of_local_port(port: u16) -> Option<bool> {
        let mut found = None;
        each_socket(|socket, _| {
            let local = socket.local_addr().ok().and_then(|local| local.as_socket());
            if local.is_some_and(|local| local.port() == port) {
                found = socket.tcp_nodelay().ok();
            }
        })
        .expect("list sockets");
        found
    }

    #[tokio::test]
    async fn every_postgres_connection_has_tcp_nodelay() {
        let url = std::env::var("OUTSYNC_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
        let settings = DatabaseSettings {
            pool_size: Some(4),
            ..DatabaseSettings::default()
        };
        let db = open(&url, &settings).await.expect("connect");
        // Four transactions hold four connections of the pool at once.
        let mut transactions = Vec::new();
        for _ in 0..4 {
            transactions.push(db.begin().await.expect("begin"));
        }
        for transaction in &transactions {
            let row = transaction
                .query_one_raw(Statement::from_string(
                    transaction.get_database_backend(),
                    "SELECT inet_client_port() AS port",
                ))
                .await
                .expect("client port")
                .expect("a row");
            let port: i32 = row.try_get("", "port").expect("port");
            let port = u16::try_from(port).expect("a TCP port");
            assert_eq!(
                nodelay_of_local_port(port),
                Some(true),
                "the connection from local port {port} lacks TCP_NODELAY"
            );
        }
    }
}
