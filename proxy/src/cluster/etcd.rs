//! The etcd client every clustered part shares: how to connect (TLS,
//! credentials, timeouts that notice a vanished member) and the requests
//! they all make. `reload::etcd` follows the configuration's keys with it;
//! `acme::cluster` keeps the ACME account and certificates, its lock and
//! its challenges in etcd.

use std::time::Duration;

use etcd_client::{
    Certificate, Client, ConnectOptions, GetOptions, Identity, TlsOptions, WatchOptions,
    WatchStream,
};

use crate::config::model::EtcdProvider;

/// How long a request may take before etcd counts as unreachable.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
/// HTTP/2 pings on the gRPC connection: a peer that vanished without a
/// FIN (a partition, a pulled cable) is noticed within about this long.
const KEEPALIVE: Duration = Duration::from_secs(2);

/// A client for `settings`' members. Lazy: an etcd that is down is
/// noticed at the first request, within `REQUEST_TIMEOUT`.
pub async fn connect(settings: &EtcdProvider) -> Result<Client, String> {
    let mut options = ConnectOptions::new()
        .with_connect_timeout(REQUEST_TIMEOUT)
        .with_timeout(REQUEST_TIMEOUT)
        .with_keep_alive(KEEPALIVE, KEEPALIVE)
        .with_keep_alive_while_idle(true)
        .with_require_leader(true);
    if let (Some(user), Some(password)) = (&settings.username, &settings.password) {
        options = options.with_user(user.clone(), password.clone());
    }
    let mut endpoints = settings.endpoints.clone();
    if let Some(tls) = &settings.tls {
        let mut config = TlsOptions::new();
        config = match &tls.ca {
            Some(ca) => config.ca_certificate(Certificate::from_pem(crate::tls::pem::read(ca)?)),
            None => config.ca_certificates(system_roots()),
        };
        if let (Some(cert), Some(key)) = (&tls.cert, &tls.key) {
            config = config.identity(Identity::from_pem(
                crate::tls::pem::read(cert)?,
                crate::tls::pem::read(key)?,
            ));
        }
        options = options.with_tls(config);
        // TLS options need https URLs; 1.7 wrote bare host:port.
        for e in &mut endpoints {
            if !e.starts_with("https://") {
                let bare = e.strip_prefix("http://").unwrap_or(e);
                *e = format!("https://{bare}");
            }
        }
    }
    Client::connect(&endpoints, Some(options))
        .await
        .map_err(|e| format!("connect: {e}"))
}

/// The system's trust store, for `[etcd.tls]` without `ca` (as Traefik).
fn system_roots() -> Vec<Certificate> {
    use base64::Engine;
    let found = rustls_native_certs::load_native_certs();
    found
        .certs
        .iter()
        .map(|der| {
            let b64 = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
            let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
            for line in b64.as_bytes().chunks(64) {
                pem.push_str(std::str::from_utf8(line).unwrap_or_default());
                pem.push('\n');
            }
            pem.push_str("-----END CERTIFICATE-----\n");
            Certificate::from_pem(pem)
        })
        .collect()
}

/// Every key under `prefix` (which should end in `/`) and its value, in
/// key order, with the store's revision they were read at.
pub async fn get_prefix(
    client: &mut Client,
    prefix: &str,
) -> Result<(Vec<(Vec<u8>, Vec<u8>)>, i64), String> {
    let response = client
        .get(prefix, Some(GetOptions::new().with_prefix()))
        .await
        .map_err(|e| format!("read {prefix}: {e}"))?;
    let revision = response.header().map_or(0, |h| h.revision());
    let pairs = response
        .kvs()
        .iter()
        .map(|kv| (kv.key().to_vec(), kv.value().to_vec()))
        .collect();
    Ok((pairs, revision))
}

/// A watch of `prefix` and every key below it, from the revision after
/// `revision` (the one a `get_prefix` read at), so no change in between is
/// missed. Progress notifications keep an idle watch's connection checked.
pub async fn watch_prefix(
    client: &mut Client,
    prefix: &str,
    revision: i64,
) -> Result<WatchStream, String> {
    let options = WatchOptions::new()
        .with_prefix()
        .with_start_revision(revision + 1)
        .with_progress_notify();
    client
        .watch(prefix, Some(options))
        .await
        .map_err(|e| format!("watch {prefix}: {e}"))
}

/// Waits for the next change on `stream` (its created and progress
/// messages skipped); an error says why the watch ended (cancelled,
/// history compacted, connection lost), and the caller then reads the
/// prefix whole again.
pub async fn next_change(stream: &mut WatchStream) -> Result<(), String> {
    loop {
        let message = match stream.message().await {
            Ok(Some(m)) => m,
            Ok(None) => return Err("the watch stream ended".to_owned()),
            Err(e) => return Err(format!("watch: {e}")),
        };
        if message.canceled() {
            return Err(if message.compact_revision() > 0 {
                format!(
                    "watch cancelled: history compacted at {}",
                    message.compact_revision()
                )
            } else {
                format!("watch cancelled: {}", message.cancel_reason())
            });
        }
        if !message.events().is_empty() {
            return Ok(());
        }
    }
}
