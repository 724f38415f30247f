//! DNS-01's wait between adding a TXT record and telling the CA to look:
//! `delayBeforeCheck`, then the record is looked for at the `resolvers`
//! (else the provider's name server) every `RFC2136_POLLING_INTERVAL` until
//! all of them serve it, for at most `RFC2136_PROPAGATION_TIMEOUT`. Telling
//! the CA too early fails the order; a secondary server that has not
//! caught up yet is the usual reason.

use std::time::Instant;

use super::rfc2136::Provider;
use crate::config::model::DnsChallenge;

pub async fn wait_until_visible(
    settings: &DnsChallenge,
    provider: &Provider,
    name: &str,
    value: &str,
) -> Result<(), String> {
    if !settings.delay_before_check.is_zero() {
        tokio::time::sleep(settings.delay_before_check).await;
    }
    let servers = match settings.resolvers.is_empty() {
        true => vec![settings.rfc2136.nameserver],
        false => settings.resolvers.clone(),
    };
    let deadline = Instant::now() + settings.rfc2136.propagation_timeout;
    loop {
        let mut missing = Vec::new();
        for server in &servers {
            match provider.visible(*server, name, value).await {
                Ok(true) => {}
                Ok(false) => missing.push(server.to_string()),
                Err(why) => missing.push(format!("{server} ({why})")),
            }
        }
        if missing.is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "TXT {name} not served by {} within RFC2136_PROPAGATION_TIMEOUT ({:?})",
                missing.join(", "),
                settings.rfc2136.propagation_timeout
            ));
        }
        tokio::time::sleep(settings.rfc2136.polling_interval).await;
    }
}
