//! lego's `rfc2136` DNS provider: the DNS-01 TXT records added and removed
//! with RFC 2136 dynamic updates, signed with TSIG (RFC 8945), at the
//! authoritative server `RFC2136_NAMESERVER`. The zone is found as lego
//! finds it: the owner of the SOA record the server gives for the name
//! (in its answer, or in the authority section of a negative answer),
//! walking up one label at a time.
//!
//! Unlike lego, adding a record does not first delete the other TXT
//! records of the name: an order for `example.com` and `*.example.com`
//! needs two values at `_acme-challenge.example.com` at once.

use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use hickory_proto::dnssec::rdata::tsig::TsigAlgorithm as WireAlgorithm;
use hickory_proto::dnssec::tsig::TSigner;
use hickory_proto::op::{update_message, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::TXT;
use hickory_proto::rr::{Name, RData, Record, RecordSet, RecordType};

use super::dns_exchange::exchange;
use crate::config::model::{Rfc2136, TsigAlgorithm};

/// Seconds of clock difference a signed update tolerates (lego's 300).
const FUDGE: u16 = 300;

pub struct Provider {
    settings: Rfc2136,
    signer: Option<TSigner>,
}

impl Provider {
    pub fn new(settings: &Rfc2136) -> Result<Provider, String> {
        let signer = match &settings.tsig {
            None => None,
            Some(key) => {
                let algorithm = match key.algorithm {
                    TsigAlgorithm::HmacSha256 => WireAlgorithm::HmacSha256,
                    TsigAlgorithm::HmacSha384 => WireAlgorithm::HmacSha384,
                    TsigAlgorithm::HmacSha512 => WireAlgorithm::HmacSha512,
                };
                let name = Name::from_ascii(&key.name)
                    .map_err(|e| format!("TSIG key name {:?}: {e}", key.name))?;
                let signer = TSigner::new(key.secret.clone(), algorithm, name, FUDGE)
                    .map_err(|e| format!("TSIG key: {e}"))?;
                Some(signer)
            }
        };
        Ok(Provider {
            settings: settings.clone(),
            signer,
        })
    }

    /// Adds TXT `value` at `fqdn` (`_acme-challenge.example.com`).
    pub async fn present(&self, fqdn: &str, value: &str) -> Result<(), String> {
        let (name, zone, rrset) = self.record(fqdn, value).await?;
        let msg = update_message::append(rrset, zone.clone(), false, false);
        self.update(msg)
            .await
            .map_err(|why| format!("adding TXT {name} in zone {zone}: {why}"))
    }

    /// Removes TXT `value` at `fqdn`, leaving any other value there.
    pub async fn cleanup(&self, fqdn: &str, value: &str) -> Result<(), String> {
        let (name, zone, rrset) = self.record(fqdn, value).await?;
        let msg = update_message::delete_by_rdata(rrset, zone.clone(), false);
        self.update(msg)
            .await
            .map_err(|why| format!("removing TXT {name} from zone {zone}: {why}"))
    }

    /// Is TXT `value` at `fqdn` served by `server` yet?
    pub async fn visible(
        &self,
        server: SocketAddr,
        fqdn: &str,
        value: &str,
    ) -> Result<bool, String> {
        let name = fqdn_name(fqdn)?;
        let answer = self.query(server, &name, RecordType::TXT).await?;
        Ok(answer.answers().iter().any(|r| match r.data() {
            RData::TXT(txt) => {
                let text: Vec<u8> = txt.iter().flat_map(|part| part.iter().copied()).collect();
                text == value.as_bytes()
            }
            _ => false,
        }))
    }

    async fn record(&self, fqdn: &str, value: &str) -> Result<(Name, Name, RecordSet), String> {
        let name = fqdn_name(fqdn)?;
        let zone = self.zone_of(&name).await?;
        let txt = RData::TXT(TXT::new(vec![value.to_owned()]));
        let record = Record::from_rdata(name.clone(), self.settings.ttl, txt);
        Ok((name, zone, RecordSet::from(record)))
    }

    /// The zone `name` belongs to, as the name server sees it.
    async fn zone_of(&self, name: &Name) -> Result<Name, String> {
        let mut candidate = name.clone();
        loop {
            let answer = self
                .query(self.settings.nameserver, &candidate, RecordType::SOA)
                .await?;
            let soa = answer
                .answers()
                .iter()
                .chain(answer.name_servers())
                .find(|r| r.record_type() == RecordType::SOA);
            if let Some(soa) = soa {
                let zone = soa.name().clone();
                if zone.zone_of(name) {
                    return Ok(zone);
                }
            }
            if candidate.num_labels() <= 1 {
                return Err(format!(
                    "{} serves no zone holding {name}",
                    self.settings.nameserver
                ));
            }
            candidate = candidate.base_name();
        }
    }

    async fn query(
        &self,
        server: SocketAddr,
        name: &Name,
        kind: RecordType,
    ) -> Result<Message, String> {
        let mut msg = Message::new();
        let id = random_id();
        msg.set_id(id)
            .set_message_type(MessageType::Query)
            .set_op_code(OpCode::Query)
            .set_recursion_desired(true)
            .add_query(Query::query(name.clone(), kind));
        let bytes = msg.to_vec().map_err(|e| e.to_string())?;
        let answer = exchange(server, &bytes, id, self.settings.dns_timeout).await?;
        Message::from_vec(&answer).map_err(|e| format!("{server}: malformed answer: {e}"))
    }

    /// Sends a signed update and checks the server's (signed) answer.
    async fn update(&self, mut msg: Message) -> Result<(), String> {
        let id = random_id();
        msg.set_id(id);
        let verifier = match &self.signer {
            Some(signer) => {
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_secs() as u32)
                    .unwrap_or(0);
                msg.finalize(signer, now)
                    .map_err(|e| format!("TSIG: {e}"))?
            }
            None => None,
        };
        let bytes = msg.to_vec().map_err(|e| e.to_string())?;
        let server = self.settings.nameserver;
        let answer = exchange(server, &bytes, id, self.settings.dns_timeout).await?;
        let reply = Message::from_vec(&answer).map_err(|e| format!("malformed answer: {e}"))?;
        if reply.response_code() != ResponseCode::NoError {
            return Err(format!("{server} answered {}", reply.response_code()));
        }
        if let Some(mut verify) = verifier {
            // A refusal is unsigned when the key was wrong; a success must
            // carry the server's signature.
            verify(&answer).map_err(|e| format!("the answer's TSIG: {e}"))?;
        }
        Ok(())
    }
}

/// `_acme-challenge.example.com` as an absolute name.
fn fqdn_name(fqdn: &str) -> Result<Name, String> {
    let mut name = Name::from_ascii(fqdn).map_err(|e| format!("{fqdn:?}: {e}"))?;
    name.set_fqdn(true);
    Ok(name)
}

fn random_id() -> u16 {
    let mut id = [0u8; 2];
    // The system RNG does not fail on Linux; a fixed ID would still work,
    // only weaker against spoofed answers.
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut id);
    u16::from_be_bytes(id)
}

/// Where DNS-01 puts its TXT record for `domain`: `_acme-challenge.` before
/// it, a wildcard's `*.` taken off (RFC 8555 section 8.4).
pub fn challenge_name(domain: &str) -> String {
    let base = domain.strip_prefix("*.").unwrap_or(domain);
    format!("_acme-challenge.{}", base.trim_end_matches('.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenge_names() {
        assert_eq!(
            challenge_name("cams.example.com"),
            "_acme-challenge.cams.example.com"
        );
        assert_eq!(
            challenge_name("*.cams.example.com"),
            "_acme-challenge.cams.example.com"
        );
        assert_eq!(
            challenge_name("example.com."),
            "_acme-challenge.example.com"
        );
    }
}
