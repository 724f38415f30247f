//! ACME for several instances on one etcd (`[etcd]` with an `[acme]
//! storage` that is a key, not a `.json` file, as 1.7's KV storage):
//!
//! - The account and certificates are the storage JSON at that key, so
//!   every instance serves the same certificates; each follows the key with
//!   a watch and installs what another instance stored (`follow`).
//! - An order is placed under an etcd lock held with a lease (`lock`): one
//!   instance orders a certificate, the others find it stored when they get
//!   the lock, or wait (and retry) while it is held. A holder that dies
//!   loses its lease, and with it the lock, within `LEASE_TTL`. Renewals are
//!   therefore done once too.
//! - Challenge answers (HTTP-01 key authorizations, TLS-ALPN-01 digests)
//!   are published under `KEY/challenges/` with the holder's lease, and
//!   every instance mirrors them into its own `Challenges`, so whichever
//!   instance the CA reaches answers.
//!
//! When etcd is unreachable nothing is ordered; the certificates installed
//! keep being served, and the follower catches up when etcd returns.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use etcd_client::{Client, LockOptions, PutOptions};
use futures_util::future::BoxFuture;
use tokio::task::JoinHandle;

use super::challenges::Publish;
pub use super::plan::Cluster;
use super::state::AcmeState;
use super::storage::Storage;
use crate::cluster::etcd::{connect, get_prefix, lease, next_change, watch_prefix, Lease, Outage};

/// The lock's lease: how long a dead holder blocks the others.
const LEASE_TTL: i64 = 10;
/// Challenge answers reach the other instances by their watches; the CA is
/// told to validate after this long, which covers a watch's delivery on a
/// loaded network (it takes milliseconds on a quiet one).
const PROPAGATION: Duration = Duration::from_millis(300);
const RETRY_MAX: Duration = Duration::from_secs(5);

impl Cluster {
    fn challenges(&self) -> String {
        format!("{}/challenges/", self.key)
    }

    async fn client(&self) -> Result<Client, String> {
        connect(&self.etcd).await
    }

    /// The stored account and certificates (empty when the key is absent).
    pub async fn load(&self) -> Result<Storage, String> {
        let mut client = self.client().await?;
        let got = client
            .get(self.key.as_str(), None)
            .await
            .map_err(|e| format!("etcd {}: {e}", self.key))?;
        match got.kvs().first() {
            None => Ok(Storage::default()),
            Some(kv) => Storage::parse(kv.value()).map_err(|e| format!("etcd {}: {e}", self.key)),
        }
    }

    pub async fn save(&self, storage: &Storage) -> Result<(), String> {
        let json = serde_json::to_vec_pretty(storage).map_err(|e| e.to_string())?;
        let mut client = self.client().await?;
        client
            .put(self.key.as_str(), json, None)
            .await
            .map_err(|e| format!("etcd {}: {e}", self.key))?;
        Ok(())
    }

    /// The ordering lock, or `Ok(None)` while another instance holds it.
    pub async fn lock(&self) -> Result<Option<Held>, String> {
        let mut client = self.client().await?;
        // Renewed while the order runs; dropped or revoked with `Held`.
        let lease = lease(&mut client, LEASE_TTL).await?;
        let name = format!("{}/lock", self.key);
        // The client's request timeout bounds the wait: a lock held past it
        // is another instance ordering.
        match client
            .lock(name.as_str(), Some(LockOptions::new().with_lease(lease.id)))
            .await
        {
            Ok(locked) => Ok(Some(Held {
                client,
                lease,
                key: locked.key().to_vec(),
                challenges: self.challenges(),
                published: std::sync::Mutex::new(Vec::new()),
            })),
            Err(_) => {
                lease.revoke(&mut client).await;
                Ok(None)
            }
        }
    }
}

/// The ordering lock, held; the order's challenge answers are published
/// with its lease.
pub struct Held {
    client: Client,
    lease: Lease,
    key: Vec<u8>,
    /// `KEY/challenges/`, where the answers go.
    challenges: String,
    /// Answer keys written, removed on release (the lease would too).
    published: std::sync::Mutex<Vec<String>>,
}

impl Held {
    async fn publish(&self, key: String, value: Vec<u8>) -> Result<(), String> {
        // A clone shares the connection; several orders publish at once.
        self.client
            .clone()
            .put(
                key.as_str(),
                value,
                Some(PutOptions::new().with_lease(self.lease.id)),
            )
            .await
            .map_err(|e| format!("etcd {key}: {e}"))?;
        self.published
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(key);
        // The CA is told to validate right after this returns.
        tokio::time::sleep(PROPAGATION).await;
        Ok(())
    }

    /// Removes the answers and lets go of the lock (its lease revoked).
    pub async fn release(mut self) {
        let published = std::mem::take(self.published.get_mut().unwrap_or_else(|p| p.into_inner()));
        for key in published {
            let _ = self.client.delete(key.as_str(), None).await;
        }
        let _ = self.client.unlock(self.key.clone()).await;
        self.lease.revoke(&mut self.client).await;
    }
}

impl Publish for Held {
    /// An HTTP-01 answer, for every instance.
    fn http01<'a>(
        &'a self,
        token: &'a str,
        key_auth: &'a str,
    ) -> BoxFuture<'a, Result<(), String>> {
        let key = format!("{}http-01/{token}", self.challenges);
        Box::pin(self.publish(key, key_auth.as_bytes().to_vec()))
    }

    /// A TLS-ALPN-01 answer: the key authorization's digest, from which each
    /// instance makes its own challenge certificate.
    fn tls_alpn01<'a>(
        &'a self,
        name: &'a str,
        digest: &'a [u8],
    ) -> BoxFuture<'a, Result<(), String>> {
        let key = format!("{}tls-alpn-01/{name}", self.challenges);
        Box::pin(self.publish(key, hex(digest).into_bytes()))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Follows the storage key and the challenge answers: installs what
/// another instance stored, mirrors the answers it publishes. Runs until
/// aborted (the manager aborts it when the cluster settings change).
pub fn follow(state: Arc<AcmeState>, cluster: Cluster) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut mirror = Mirror::default();
        let mut outage = Outage::new(RETRY_MAX);
        loop {
            let error = follow_once(&state, &cluster, &mut mirror, &mut outage).await;
            if outage.failed() {
                tracing::warn!(key = %cluster.key, "acme: etcd unreachable, installed certificates keep being served: {error}");
            }
            outage.wait().await;
        }
    })
}

/// The answers this instance mirrored, to drop them when they go.
#[derive(Default)]
struct Mirror {
    http: BTreeSet<String>,
    alpn: BTreeSet<String>,
    storage: Option<Vec<u8>>,
}

async fn follow_once(
    state: &AcmeState,
    cluster: &Cluster,
    mirror: &mut Mirror,
    outage: &mut Outage,
) -> String {
    let mut client = match cluster.client().await {
        Ok(c) => c,
        Err(e) => return e,
    };
    let revision = match sync(state, cluster, &mut client, mirror).await {
        Ok(r) => r,
        Err(e) => return e,
    };
    outage.reached();
    let mut stream = match watch_prefix(&mut client, &cluster.key, revision).await {
        Ok(s) => s,
        Err(e) => return e,
    };
    loop {
        if let Err(e) = next_change(&mut stream).await {
            return e;
        }
        if let Err(e) = sync(state, cluster, &mut client, mirror).await {
            return e;
        }
    }
}

/// Reads the key and its answers whole and applies what changed.
async fn sync(
    state: &AcmeState,
    cluster: &Cluster,
    client: &mut Client,
    mirror: &mut Mirror,
) -> Result<i64, String> {
    let (pairs, revision) = get_prefix(client, &cluster.key).await?;
    let challenges = cluster.challenges();
    let mut http = BTreeSet::new();
    let mut alpn = BTreeSet::new();
    for (key, value) in &pairs {
        let (Ok(key), Ok(value)) = (std::str::from_utf8(key), std::str::from_utf8(value)) else {
            continue;
        };
        if key == cluster.key {
            if mirror.storage.as_deref() != Some(value.as_bytes()) {
                match Storage::parse(value.as_bytes()) {
                    Ok(storage) => {
                        state.install(&storage, std::path::Path::new(&cluster.key));
                        mirror.storage = Some(value.as_bytes().to_vec());
                    }
                    Err(e) => tracing::warn!(key = %cluster.key, "acme: {e}"),
                }
            }
        } else if let Some(token) = key.strip_prefix(&format!("{challenges}http-01/")) {
            state.challenges.put_token(token, value);
            http.insert(token.to_owned());
        } else if let Some(name) = key.strip_prefix(&format!("{challenges}tls-alpn-01/")) {
            match unhex(value).map(|d| super::alpn::certificate(name, &d)) {
                Some(Ok(cert)) => {
                    state.challenges.put_alpn(name, cert);
                    alpn.insert(name.to_owned());
                }
                _ => tracing::warn!(key, "acme: a TLS-ALPN-01 answer that is not a digest"),
            }
        }
    }
    for gone in mirror.http.difference(&http) {
        state.challenges.drop_token(gone);
    }
    for gone in mirror.alpn.difference(&alpn) {
        state.challenges.drop_alpn(gone);
    }
    mirror.http = http;
    mirror.alpn = alpn;
    Ok(revision)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_round_trip_and_bad_text_is_refused() {
        let d = [0u8, 1, 0xab, 0xff];
        assert_eq!(unhex(&hex(&d)).unwrap(), d);
        assert!(unhex("abc").is_none());
        assert!(unhex("zz").is_none());
        assert!(unhex("é0").is_none());
    }
}
