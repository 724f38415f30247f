//! The host side of the http-wasm `http_handler` ABI
//! (<https://http-wasm.io/http-handler-abi/>), against the [`Exchange`] of
//! the request in progress, plus tollgate's extensions in the `tollgate`
//! module (`get_scheme`, `get_route_var`, `set_route_var`), which a guest
//! imports only if it calls them.
//!
//! Two rules of the ABI shape every function here:
//! - buffer limit: a value longer than `buf_limit` is not written at all,
//!   and its length is returned so the guest can retry with room for it;
//! - trap on misuse: a guest that breaks a rule (memory out of bounds, an
//!   invalid name or value, changing the request after it went on, reading
//!   an unbuffered response body, setting trailers without the feature...)
//!   gets a trap, which fails only that request.
//!
//! tollgate holds the response head until every plugin has seen it, so
//! response headers and the status stay writable in `handle_response` even
//! without `buffer_response` (the ABI leaves this to the host).

use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::{Method, Uri};
use wasmtime::{Caller, Linker};

use super::body::{self, CollectError};
use super::exchange::{
    status_from, version_text, BodySlot, Exchange, Phase, FEATURE_TRAILERS, SUPPORTED_FEATURES,
};
use super::failure::{misuse, HostError};
use super::state::{HostState, LastName};
use crate::router::RouteVars;

type Result<T> = wasmtime::Result<T>;
type C<'a> = Caller<'a, HostState>;

const MODULE: &str = "http_handler";

pub(crate) fn add_to_linker(linker: &mut Linker<HostState>) -> Result<()> {
    linker.func_wrap(MODULE, "log", log)?;
    linker.func_wrap(MODULE, "log_enabled", |_: C<'_>, level: i32| -> u32 {
        u32::from(log_enabled(level))
    })?;
    linker.func_wrap(MODULE, "get_config", get_config)?;
    linker.func_wrap(MODULE, "enable_features", enable_features)?;
    linker.func_wrap(MODULE, "get_method", get_method)?;
    linker.func_wrap(MODULE, "set_method", set_method)?;
    linker.func_wrap(MODULE, "get_uri", get_uri)?;
    linker.func_wrap(MODULE, "set_uri", set_uri)?;
    linker.func_wrap(MODULE, "get_protocol_version", get_protocol_version)?;
    linker.func_wrap(MODULE, "get_source_addr", get_source_addr)?;
    linker.func_wrap(MODULE, "get_header_names", get_header_names)?;
    linker.func_wrap(MODULE, "get_header_values", get_header_values)?;
    linker.func_wrap(MODULE, "set_header_value", set_header_value)?;
    linker.func_wrap(MODULE, "add_header_value", add_header_value)?;
    linker.func_wrap(MODULE, "remove_header", remove_header)?;
    linker.func_wrap_async(MODULE, "read_body", |caller, (kind, buf, limit)| {
        Box::new(read_body(caller, kind, buf, limit))
    })?;
    linker.func_wrap(MODULE, "write_body", write_body)?;
    linker.func_wrap(MODULE, "get_status_code", get_status_code)?;
    linker.func_wrap(MODULE, "set_status_code", set_status_code)?;
    linker.func_wrap("tollgate", "get_scheme", get_scheme)?;
    linker.func_wrap("tollgate", "get_route_var", get_route_var)?;
    linker.func_wrap("tollgate", "set_route_var", set_route_var)?;
    Ok(())
}

// === guest memory ===

/// The guest's exported `memory`. Known once the instance is made; while
/// its `(start ...)` function runs (which may already call `get_config` or
/// `enable_features`, as on the reference host), it is looked up here.
fn guest_memory(caller: &mut C<'_>) -> Result<wasmtime::Memory> {
    if let Some(memory) = caller.data().memory {
        return Ok(memory);
    }
    match caller.get_export("memory") {
        Some(wasmtime::Extern::Memory(memory)) => {
            caller.data_mut().memory = Some(memory);
            Ok(memory)
        }
        _ => Err(misuse("no memory exported as \"memory\"")),
    }
}

fn read_guest(caller: &mut C<'_>, ptr: u32, len: u32) -> Result<Vec<u8>> {
    let memory = guest_memory(caller)?;
    let mut buf = vec![0u8; len as usize];
    memory
        .read(&*caller, ptr as usize, &mut buf)
        .map_err(|_| misuse(format!("[{ptr}, +{len}) is outside the guest's memory")))?;
    Ok(buf)
}

fn write_guest(caller: &mut C<'_>, ptr: u32, data: &[u8]) -> Result<()> {
    let memory = guest_memory(caller)?;
    memory.write(&mut *caller, ptr as usize, data).map_err(|_| {
        misuse(format!(
            "[{ptr}, +{}) is outside the guest's memory",
            data.len()
        ))
    })
}

/// The buffer-limit rule: write `value` only if it fits; always return its
/// length.
fn write_if_fits(caller: &mut C<'_>, buf: u32, limit: u32, value: &[u8]) -> Result<u32> {
    let len = u32::try_from(value.len()).map_err(|_| misuse("value over 4 GiB"))?;
    if len <= limit && len > 0 {
        write_guest(caller, buf, value)?;
    }
    Ok(len)
}

fn exchange<'c>(caller: &'c mut C<'_>) -> Result<&'c mut Exchange> {
    state_exchange(caller.data_mut())
}

fn request_phase<'c>(caller: &'c mut C<'_>, what: &str) -> Result<&'c mut Exchange> {
    let ex = exchange(caller)?;
    if ex.phase != Phase::Request {
        return Err(misuse(format!(
            "cannot {what} after the request was passed on"
        )));
    }
    Ok(ex)
}

// === administrative ===

fn log_enabled(level: i32) -> bool {
    use tracing::Level;
    match level {
        i32::MIN..=-1 => tracing::enabled!(target: "tollgate::plugin", Level::DEBUG),
        0 => tracing::enabled!(target: "tollgate::plugin", Level::INFO),
        1 => tracing::enabled!(target: "tollgate::plugin", Level::WARN),
        2 => tracing::enabled!(target: "tollgate::plugin", Level::ERROR),
        _ => false,
    }
}

/// The ABI says a failed log is ignored, never a trap.
fn log(mut caller: C<'_>, level: i32, ptr: u32, len: u32) {
    let Ok(bytes) = read_guest(&mut caller, ptr, len.min(64 * 1024)) else {
        return;
    };
    let text = String::from_utf8_lossy(&bytes);
    let state = caller.data_mut();
    if level >= 1 {
        state.remember_start_log(&text);
    }
    let plugin = &*state.shared.name;
    match level {
        i32::MIN..=-1 => tracing::debug!(target: "tollgate::plugin", plugin, "{text}"),
        0 => tracing::info!(target: "tollgate::plugin", plugin, "{text}"),
        1 => tracing::warn!(target: "tollgate::plugin", plugin, "{text}"),
        2 => tracing::error!(target: "tollgate::plugin", plugin, "{text}"),
        _ => {}
    }
}

fn get_config(mut caller: C<'_>, buf: u32, limit: u32) -> Result<u32> {
    let config = caller.data().shared.config.clone();
    write_if_fits(&mut caller, buf, limit, &config)
}

/// Inside a request: for that request only. Outside (at start): for every
/// request this instance serves.
fn enable_features(mut caller: C<'_>, features: u32) -> u32 {
    let wanted = features & SUPPORTED_FEATURES;
    let state = caller.data_mut();
    match state.exchange.as_mut() {
        Some(ex) => {
            ex.features |= wanted;
            ex.features
        }
        None => {
            state.global_features |= wanted;
            state.global_features
        }
    }
}

// === request line ===

fn get_method(mut caller: C<'_>, buf: u32, limit: u32) -> Result<u32> {
    let method = exchange(&mut caller)?.req.method.clone();
    write_if_fits(&mut caller, buf, limit, method.as_str().as_bytes())
}

fn set_method(mut caller: C<'_>, ptr: u32, len: u32) -> Result<()> {
    if len == 0 {
        return Err(misuse("empty method"));
    }
    let bytes = read_guest(&mut caller, ptr, len)?;
    let method = Method::from_bytes(&bytes).map_err(|_| misuse("invalid method"))?;
    request_phase(&mut caller, "set the method")?.req.method = method;
    Ok(())
}

fn get_uri(mut caller: C<'_>, buf: u32, limit: u32) -> Result<u32> {
    let uri = exchange(&mut caller)?
        .req
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "/".to_string());
    write_if_fits(&mut caller, buf, limit, uri.as_bytes())
}

/// Path and query only: the scheme and authority the request came with stay.
fn set_uri(mut caller: C<'_>, ptr: u32, len: u32) -> Result<()> {
    let bytes = read_guest(&mut caller, ptr, len)?;
    let given: Uri = if bytes.is_empty() {
        Uri::from_static("/")
    } else {
        Uri::try_from(bytes.as_slice()).map_err(|_| misuse("invalid URI"))?
    };
    let path_and_query = given
        .path_and_query()
        .cloned()
        .unwrap_or_else(|| http::uri::PathAndQuery::from_static("/"));
    let ex = request_phase(&mut caller, "set the URI")?;
    let mut parts = ex.req.uri.clone().into_parts();
    parts.path_and_query = Some(path_and_query);
    ex.req.uri = Uri::from_parts(parts).map_err(|_| misuse("invalid URI"))?;
    Ok(())
}

fn get_protocol_version(mut caller: C<'_>, buf: u32, limit: u32) -> Result<u32> {
    let version = version_text(exchange(&mut caller)?.req.version);
    write_if_fits(&mut caller, buf, limit, version.as_bytes())
}

fn get_source_addr(mut caller: C<'_>, buf: u32, limit: u32) -> Result<u32> {
    let addr = exchange(&mut caller)?.client.to_string();
    write_if_fits(&mut caller, buf, limit, addr.as_bytes())
}

fn get_scheme(mut caller: C<'_>, buf: u32, limit: u32) -> Result<u32> {
    let scheme: &[u8] = if exchange(&mut caller)?.tls {
        b"https"
    } else {
        b"http"
    };
    write_if_fits(&mut caller, buf, limit, scheme)
}

// === route variables (templated backends) ===

/// Longest variable name and value a guest may set: a host name's length.
const MAX_ROUTE_VAR: usize = 253;

/// The route variable `name` (`{device}` of the frontend's rule, or what a
/// plugin before set): its length, written to `buf` if it fits; -1 when
/// the request has no such variable.
fn get_route_var(mut caller: C<'_>, name: u32, name_len: u32, buf: u32, limit: u32) -> Result<i64> {
    let name = route_var_name(&mut caller, name, name_len)?;
    let value = exchange(&mut caller)?
        .req
        .extensions
        .get::<RouteVars>()
        .and_then(|vars| vars.0.iter().find(|(n, _)| **n == *name))
        .map(|(_, v)| v.clone());
    match value {
        Some(value) => Ok(i64::from(write_if_fits(
            &mut caller,
            buf,
            limit,
            value.as_bytes(),
        )?)),
        None => Ok(-1),
    }
}

/// Sets route variable `name` for choosing the request's target (request
/// phase). The value is checked where it is used: a templated backend
/// refuses (403) what is not host-name text or not in its allow-list.
fn set_route_var(
    mut caller: C<'_>,
    name: u32,
    name_len: u32,
    value: u32,
    value_len: u32,
) -> Result<()> {
    let name = route_var_name(&mut caller, name, name_len)?;
    let value = read_guest(&mut caller, value, value_len)?;
    if value.len() > MAX_ROUTE_VAR {
        return Err(misuse(format!(
            "route variable value over {MAX_ROUTE_VAR} bytes"
        )));
    }
    let value = String::from_utf8(value).map_err(|_| misuse("route variable value not UTF-8"))?;
    let ex = request_phase(&mut caller, "set a route variable")?;
    let vars = &mut ex.req.extensions.get_or_insert_default::<RouteVars>().0;
    match vars.iter_mut().find(|(n, _)| **n == *name) {
        Some((_, v)) => *v = value,
        None => vars.push((name.into(), value)),
    }
    Ok(())
}

/// A route variable's name: what `{name}` may hold in a server URL.
fn route_var_name(caller: &mut C<'_>, ptr: u32, len: u32) -> Result<String> {
    let name = read_guest(caller, ptr, len)?;
    let valid = !name.is_empty()
        && name.len() <= MAX_ROUTE_VAR
        && name
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'));
    if !valid {
        return Err(misuse("invalid route variable name"));
    }
    Ok(String::from_utf8(name).unwrap_or_default())
}

// === headers ===

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Request,
    Response,
    RequestTrailers,
    ResponseTrailers,
}

fn kind(k: u32) -> Result<Kind> {
    Ok(match k {
        0 => Kind::Request,
        1 => Kind::Response,
        2 => Kind::RequestTrailers,
        3 => Kind::ResponseTrailers,
        _ => return Err(misuse(format!("unknown header kind {k}"))),
    })
}

/// Read access. Trailers read as empty without the trailers feature (as
/// the ABI says), and until their body has been buffered.
fn fields(ex: &Exchange, kind: Kind) -> Option<&HeaderMap> {
    let trailers = ex.features & FEATURE_TRAILERS != 0;
    match kind {
        Kind::RequestTrailers | Kind::ResponseTrailers if !trailers => None,
        Kind::Request => Some(&ex.req.headers),
        Kind::Response => Some(&ex.resp.headers),
        Kind::RequestTrailers => ex.req_trailers.as_ref(),
        Kind::ResponseTrailers => ex.resp_trailers.as_ref(),
    }
}

/// Write access, enforcing when each map may change.
fn fields_mut(ex: &mut Exchange, kind: Kind) -> Result<&mut HeaderMap> {
    match kind {
        Kind::Request | Kind::RequestTrailers if ex.phase != Phase::Request => {
            return Err(misuse("cannot change the request after it was passed on"));
        }
        Kind::RequestTrailers | Kind::ResponseTrailers if ex.features & FEATURE_TRAILERS == 0 => {
            return Err(misuse("setting trailers needs the trailers feature"));
        }
        _ => {}
    }
    Ok(match kind {
        Kind::Request => &mut ex.req.headers,
        Kind::Response => &mut ex.resp.headers,
        Kind::RequestTrailers => {
            if ex.req_body.is_stream() {
                return Err(misuse(
                    "request trailers can only change once the body is read or written",
                ));
            }
            ex.req_trailers.get_or_insert_with(HeaderMap::new)
        }
        Kind::ResponseTrailers => {
            if ex.resp_body.is_stream() {
                return Err(misuse(
                    "response trailers can only change on a buffered or written body",
                ));
            }
            ex.resp_trailers.get_or_insert_with(HeaderMap::new)
        }
    })
}

/// The guest's memory and the host state, borrowed together: header
/// functions read names and write results in place, without copies.
fn split<'c>(caller: &'c mut C<'_>) -> Result<(&'c mut [u8], &'c mut HostState)> {
    let memory = guest_memory(caller)?;
    Ok(memory.data_and_store_mut(caller))
}

fn slice(mem: &[u8], ptr: u32, len: u32) -> Result<&[u8]> {
    let start = ptr as usize;
    start
        .checked_add(len as usize)
        .and_then(|end| mem.get(start..end))
        .ok_or_else(|| misuse(format!("[{ptr}, +{len}) is outside the guest's memory")))
}

/// A header name from guest memory, reusing the last one parsed when the
/// guest passes the same bytes again (see `LastName`).
fn name_at(mem: &[u8], last: &mut LastName, ptr: u32, len: u32) -> Result<HeaderName> {
    if len == 0 {
        return Err(misuse("empty header name"));
    }
    let bytes = slice(mem, ptr, len)?;
    if let Some(name) = &last.name {
        if last.bytes == bytes {
            return Ok(name.clone());
        }
    }
    let name = HeaderName::from_bytes(bytes).map_err(|_| misuse("invalid header name"))?;
    last.bytes.clear();
    last.bytes.extend_from_slice(bytes);
    last.name = Some(name.clone());
    Ok(name)
}

fn value_at(mem: &[u8], ptr: u32, len: u32) -> Result<HeaderValue> {
    HeaderValue::from_bytes(slice(mem, ptr, len)?).map_err(|_| misuse("invalid header value"))
}

fn state_exchange(state: &mut HostState) -> Result<&mut Exchange> {
    state.exchange.as_deref_mut().ok_or_else(|| {
        misuse("no request in progress (called outside handle_request/handle_response)")
    })
}

/// Write `values` as a NUL-terminated sequence at `buf` if it fits in
/// `limit`; `count << 32 | len` either way. `values` is walked twice (to
/// size, then to copy) rather than collected: no allocation per call.
fn put_sequence<'v, I>(mem: &mut [u8], buf: u32, limit: u32, values: impl Fn() -> I) -> Result<u64>
where
    I: Iterator<Item = &'v [u8]>,
{
    let (count, len) = values().fold((0u64, 0usize), |(n, l), v| (n + 1, l + v.len() + 1));
    let len32 = u32::try_from(len).map_err(|_| misuse("headers over 4 GiB"))?;
    if len32 <= limit && len > 0 {
        let start = buf as usize;
        let out = start
            .checked_add(len)
            .and_then(|end| mem.get_mut(start..end))
            .ok_or_else(|| misuse(format!("[{buf}, +{len}) is outside the guest's memory")))?;
        let mut at = 0;
        for v in values() {
            out[at..at + v.len()].copy_from_slice(v);
            at += v.len();
            out[at] = 0;
            at += 1;
        }
    }
    Ok((count << 32) | u64::from(len32))
}

fn get_header_names(mut caller: C<'_>, kind_: u32, buf: u32, limit: u32) -> Result<u64> {
    let kind = kind(kind_)?;
    let (mem, state) = split(&mut caller)?;
    let ex = state_exchange(state)?;
    let map = fields(ex, kind);
    // HTTP/2 carries the host as `:authority`; guests expect `host`.
    let host = (kind == Kind::Request
        && !ex.req.headers.contains_key(http::header::HOST)
        && ex.request_host().is_some())
    .then_some(&b"host"[..]);
    put_sequence(mem, buf, limit, || {
        map.into_iter()
            .flat_map(HeaderMap::keys)
            .map(|n| n.as_str().as_bytes())
            .chain(host)
    })
}

fn get_header_values(
    mut caller: C<'_>,
    kind_: u32,
    name: u32,
    name_len: u32,
    buf: u32,
    limit: u32,
) -> Result<u64> {
    let kind = kind(kind_)?;
    let (mem, state) = split(&mut caller)?;
    let name = name_at(mem, &mut state.last_name, name, name_len)?;
    let ex = state_exchange(state)?;
    // One lookup, walked twice by `put_sequence`.
    let values = fields(ex, kind).map(|m| m.get_all(&name));
    let present = values.as_ref().is_some_and(|v| v.iter().next().is_some());
    let host = (!present && kind == Kind::Request && name == http::header::HOST)
        .then(|| ex.request_host())
        .flatten();
    put_sequence(mem, buf, limit, || {
        values
            .iter()
            .flat_map(|v| v.iter())
            .map(HeaderValue::as_bytes)
            .chain(host.as_ref().map(HeaderValue::as_bytes))
    })
}

fn set_header_value(
    mut caller: C<'_>,
    kind_: u32,
    name: u32,
    name_len: u32,
    value: u32,
    value_len: u32,
) -> Result<()> {
    let kind = kind(kind_)?;
    let (mem, state) = split(&mut caller)?;
    let name = name_at(mem, &mut state.last_name, name, name_len)?;
    let value = value_at(mem, value, value_len)?;
    fields_mut(state_exchange(state)?, kind)?.insert(name, value);
    Ok(())
}

fn add_header_value(
    mut caller: C<'_>,
    kind_: u32,
    name: u32,
    name_len: u32,
    value: u32,
    value_len: u32,
) -> Result<()> {
    let kind = kind(kind_)?;
    let (mem, state) = split(&mut caller)?;
    let name = name_at(mem, &mut state.last_name, name, name_len)?;
    let value = value_at(mem, value, value_len)?;
    fields_mut(state_exchange(state)?, kind)?.append(name, value);
    Ok(())
}

fn remove_header(mut caller: C<'_>, kind_: u32, name: u32, name_len: u32) -> Result<()> {
    let kind = kind(kind_)?;
    let (mem, state) = split(&mut caller)?;
    let name = name_at(mem, &mut state.last_name, name, name_len)?;
    fields_mut(state_exchange(state)?, kind)?.remove(name);
    Ok(())
}

// === bodies ===

/// Stateful read of up to `limit` bytes: `eof << 32 | len`.
async fn read_body(mut caller: C<'_>, kind: u32, buf: u32, limit: u32) -> Result<u64> {
    if limit == 0 {
        return Err(misuse("read_body with buf_limit 0"));
    }
    let chunk = match kind {
        0 => {
            request_phase(&mut caller, "read the request body")?;
            buffer_request_body(&mut caller).await?;
            exchange(&mut caller)?.req_body.read(limit as usize)
        }
        1 => {
            let ex = exchange(&mut caller)?;
            if ex.resp_body.is_stream() {
                return Err(misuse(
                    "reading the response body in handle_response needs buffer_response",
                ));
            }
            ex.resp_body.read(limit as usize)
        }
        k => return Err(misuse(format!("unknown body kind {k}"))),
    };
    let (bytes, eof) = chunk;
    write_guest(&mut caller, buf, &bytes)?;
    Ok((u64::from(eof) << 32) | bytes.len() as u64)
}

/// The first read of the request body collects it whole (bounded). The
/// wait is the client's, not the guest's: no epoch ticks are counted while
/// the guest waits in here.
async fn buffer_request_body(caller: &mut C<'_>) -> Result<()> {
    let limit = caller.data().shared.max_body;
    let ex = exchange(caller)?;
    if !ex.req_body.is_stream() {
        return Ok(());
    }
    let placeholder = BodySlot::Written {
        data: Default::default(),
        pos: 0,
    };
    let BodySlot::Stream(stream) = std::mem::replace(&mut ex.req_body, placeholder) else {
        return Ok(());
    };
    let collected = body::collect(stream, limit).await;
    let collected = collected.map_err(|e| {
        wasmtime::Error::new(match e {
            CollectError::TooLarge => HostError::RequestBodyTooLarge(limit),
            CollectError::Failed(why) => HostError::RequestBody(why),
        })
    })?;
    let ex = exchange(caller)?;
    ex.req_body = BodySlot::Buffered {
        data: collected.data,
        pos: 0,
        permit: collected.permit,
    };
    ex.req_trailers = collected.trailers;
    Ok(())
}

/// Append to a body; the first write of a handler replaces it.
fn write_body(mut caller: C<'_>, kind: u32, ptr: u32, len: u32) -> Result<()> {
    let data = read_guest(&mut caller, ptr, len)?;
    match kind {
        0 => {
            let ex = request_phase(&mut caller, "write the request body")?;
            let first = !ex.req_written;
            ex.req_written = true;
            ex.req_body.write(&data, first);
        }
        1 => {
            let ex = exchange(&mut caller)?;
            let first = !ex.resp_written;
            ex.resp_written = true;
            ex.resp_body.write(&data, first);
        }
        k => return Err(misuse(format!("unknown body kind {k}"))),
    }
    Ok(())
}

// === status ===

fn get_status_code(mut caller: C<'_>) -> Result<u32> {
    Ok(u32::from(exchange(&mut caller)?.resp.status.as_u16()))
}

fn set_status_code(mut caller: C<'_>, code: u32) -> Result<()> {
    let status = status_from(code).ok_or_else(|| misuse(format!("invalid status {code}")))?;
    let ex = exchange(&mut caller)?;
    ex.resp.status = status;
    ex.status_set = true;
    Ok(())
}
