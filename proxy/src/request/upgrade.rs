//! After a backend answered `101 Switching Protocols` to an upgrade request
//! (WebSocket), both connections are spliced: bytes are copied both ways
//! until both sides have closed (`relay`).

use hyper_util::rt::TokioIo;

use super::relay::relay;

/// Copy bytes both ways between an upgraded client and backend connection.
pub async fn splice(client: hyper::upgrade::OnUpgrade, backend: hyper::upgrade::OnUpgrade) {
    let (client, backend) = match tokio::try_join!(client, backend) {
        Ok(pair) => pair,
        Err(e) => {
            tracing::debug!(error = %e, "upgrade did not complete");
            return;
        }
    };
    let mut client = TokioIo::new(client);
    let mut backend = TokioIo::new(backend);
    if let Err(e) = relay(&mut client, &mut backend).await {
        tracing::debug!(error = %e, "upgraded connection ended");
    }
}
