//! `routeVars`: route a user only to what their token says they own. With
//! `"routeVars": {"device": "devices"}`, the claim `devices` (a string, or
//! a list of them) names the devices of the token's holder, and the route
//! variable `device` (of a templated backend, `http://{device}.cams...`)
//! must be one of them:
//! - the rule captured `device` (`/cam/zumi07/...`): it must be in the
//!   claim, else 403, so a user cannot watch another's camera;
//! - it did not (`/my-cam/...`): the claim's one device is set, so the
//!   user reaches their own; a token with several devices gets 403 there,
//!   since the route does not say which.

use serde_json::Value;

use crate::token::Rejection;

/// What to do with one route variable for a verified token.
#[derive(Debug, PartialEq, Eq)]
pub enum Choice {
    /// The rule's value is one the token allows: keep it.
    Keep,
    /// Set the variable to the token's only value.
    Set(String),
}

/// `requested`: the rule's value of the variable, if any; `claim`: the
/// token's value of the claim named for it.
pub fn choose(
    claim_name: &str,
    claim: Option<&Value>,
    requested: Option<&str>,
) -> Result<Choice, Rejection> {
    let refuse = || Rejection::Forbidden(claim_name.to_string());
    let owned: Vec<&str> = match claim {
        Some(Value::String(one)) => vec![one.as_str()],
        Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
        _ => return Err(refuse()),
    };
    match requested {
        Some(wanted) => owned
            .iter()
            .any(|o| o.eq_ignore_ascii_case(wanted))
            .then_some(Choice::Keep)
            .ok_or_else(refuse),
        None => match owned.as_slice() {
            [only] if !only.is_empty() => Ok(Choice::Set(only.to_string())),
            _ => Err(refuse()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_requested_device_must_be_owned() {
        let claim = json!(["zumi07", "zumi08"]);
        assert_eq!(
            choose("devices", Some(&claim), Some("zumi08")),
            Ok(Choice::Keep)
        );
        // Host values reach plugins lower-cased; claims may not be.
        assert_eq!(
            choose("devices", Some(&json!("Zumi07")), Some("zumi07")),
            Ok(Choice::Keep)
        );
        assert_eq!(
            choose("devices", Some(&claim), Some("zumi09")),
            Err(Rejection::Forbidden("devices".into()))
        );
        assert!(choose("devices", None, Some("zumi07")).is_err());
        assert!(choose("devices", Some(&json!(7)), Some("7")).is_err());
    }

    #[test]
    fn without_a_requested_device_the_only_one_is_chosen() {
        assert_eq!(
            choose("device", Some(&json!("zumi07")), None),
            Ok(Choice::Set("zumi07".into()))
        );
        assert_eq!(
            choose("device", Some(&json!(["zumi07"])), None),
            Ok(Choice::Set("zumi07".into()))
        );
        assert!(choose("device", Some(&json!(["a", "b"])), None).is_err());
        assert!(choose("device", Some(&json!("")), None).is_err());
        assert!(choose("device", Some(&json!([])), None).is_err());
    }
}
