//! From ABI calls to `Plugin` methods. Shared by the wasm exports and the
//! native harness, so a unit test exercises the same start-up and dispatch
//! path as the real module.

use crate::abi::{ctx_next, Features};
use crate::host::Host;
use crate::message::{Request, Response};
use crate::{Flow, Plugin};

/// A started plugin with its type erased, so the wasm glue can keep it in a
/// plain static.
pub(crate) trait Handler {
    fn handle_request(&mut self, host: &dyn Host) -> i64;
    fn handle_response(&mut self, host: &dyn Host, req_ctx: u32, is_error: bool);
}

impl<P: Plugin> Handler for P {
    fn handle_request(&mut self, host: &dyn Host) -> i64 {
        match self.on_request(Request::new(host), Response::new(host)) {
            Flow::Continue => ctx_next(true, 0),
            Flow::ContinueWith(ctx) => ctx_next(true, ctx),
            Flow::Respond => ctx_next(false, 0),
        }
    }

    fn handle_response(&mut self, host: &dyn Host, req_ctx: u32, is_error: bool) {
        self.on_response(Request::new(host), Response::new(host), req_ctx, is_error)
    }
}

/// Read the config, build the plugin and enable its features.
pub(crate) fn start<P: Plugin>(host: &dyn Host) -> Result<P, String> {
    let raw = host.config();
    let config = parse_config::<P::Config>(&raw)?;
    let plugin = P::new(config)?;
    let wanted = plugin.features();
    if wanted != Features::NONE {
        let enabled = host.enable_features(wanted);
        if !enabled.contains(wanted) {
            return Err(format!(
                "the host does not support features {:#x} (it has {:#x})",
                wanted.0, enabled.0
            ));
        }
    }
    if !P::WANTS_RESPONSE {
        // A hint only: hosts that do not know the bit are fine.
        host.enable_features(Features::SKIP_RESPONSE);
    }
    Ok(plugin)
}

/// Config JSON to `T`; an empty config is `{}`.
pub(crate) fn parse_config<T: serde::de::DeserializeOwned>(raw: &[u8]) -> Result<T, String> {
    let text: &[u8] = if raw.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        raw
    };
    serde_json::from_slice(text).map_err(|e| format!("invalid plugin config: {e}"))
}
