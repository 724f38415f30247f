//! Fuzz targets for tollgate's parsers (see `mutate.rs` for the engine and
//! its knobs): each states the properties its parser must keep on any
//! input, and `lane_and_hyper_agree` is the differential between the two
//! HTTP/1 paths. `tests/fuzz/run.sh` runs them for longer.

mod mutate;

use std::path::Path;
use std::sync::{Arc, Mutex};

use bytes::BytesMut;
use http::{header, Method, Response, StatusCode};
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use tollgate::config::model::RespondingTimeouts;
use tollgate::http1::chunked::{Decoder, Step};
use tollgate::http1::policy::{self, MAX_HEAD};
use tollgate::http1::request::{self, Parsed};
use tollgate::http1::response::{self, Form};
use tollgate::router::{normalize_path, FrontendRules, Router, RuleSyntax};

/// The client address of routed requests.
const CLIENT: std::net::IpAddr = std::net::IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 7));

const REQUEST_WORDS: &[&[u8]] = &[
    b"Host: a\r\n",
    b"Host: b\r\n",
    b"Content-Length: 0\r\n",
    b"Content-Length: 5\r\n",
    b"Content-Length: 5, 5\r\n",
    b"Transfer-Encoding: chunked\r\n",
    b"Transfer-Encoding: identity, chunked\r\n",
    b"Connection: close\r\n",
    b"Connection: host, content-length\r\n",
    b"Upgrade: websocket\r\n",
    b"Expect: 100-continue\r\n",
    b"X_Under: 1\r\n",
    b" HTTP/1.1",
    b" HTTP/1.0",
    b"http://x.local",
    b"x.local:80",
    b"%2F",
    b"/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    b"\r\n",
    b"\n",
    b": ",
];

/// The lane's parser: what it takes obeys the policy, what it refuses gets
/// a policy status, and what it leaves to hyper is left untouched.
#[test]
fn request_head() {
    let runs = mutate::run("request", REQUEST_WORDS, |input| {
        let mut buf = BytesMut::from(input);
        match request::parse(&mut buf, &policy::HeadLimits::default()) {
            Parsed::Request(req, _) => {
                let hosts = req.headers().get_all(header::HOST).iter().count();
                assert_eq!(hosts, 1, "a request without exactly one Host was taken");
                assert!(!req.headers().contains_key(header::TRANSFER_ENCODING));
                assert!(input.len() - buf.len() <= MAX_HEAD);
                let uri = req.uri();
                let asterisk = uri.path() == "*" && req.method() == Method::OPTIONS;
                assert!(
                    uri.path().starts_with('/') || uri.scheme().is_some() || asterisk,
                    "target form {uri:?}"
                );
            }
            Parsed::Refused(r) => {
                assert!([400, 414, 431, 501].contains(&r.status.as_u16()), "{r:?}");
            }
            Parsed::Partial | Parsed::ToHyper => {
                assert_eq!(&buf[..], input, "a head not taken was consumed")
            }
        }
    });
    eprintln!("request_head: {runs} inputs");
}

/// What one HTTP/1 path makes of a request head.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    /// Taken: method, target and header lines, in order.
    Accept(String, String, Vec<(String, Vec<u8>)>),
    Refuse(u16),
    /// Refused for having both framing headers (the lane sees them).
    RefuseBoth,
    /// Not a whole head (the lane waits for more; hyper sees EOF and goes).
    Incomplete,
}

/// The lane's verdict; None when it hands the head to hyper.
fn lane_verdict(input: &[u8]) -> Option<Verdict> {
    match request::parse(&mut BytesMut::from(input), &policy::HeadLimits::default()) {
        Parsed::Request(req, _) => Some(Verdict::Accept(
            req.method().to_string(),
            req.uri().to_string(),
            header_lines(req.headers()),
        )),
        Parsed::Refused(r) if r.why == policy::BOTH_FRAMINGS => Some(Verdict::RefuseBoth),
        Parsed::Refused(r) => Some(Verdict::Refuse(r.status.as_u16())),
        Parsed::Partial => Some(Verdict::Incomplete),
        Parsed::ToHyper => None,
    }
}

fn header_lines(headers: &http::HeaderMap) -> Vec<(String, Vec<u8>)> {
    headers
        .iter()
        .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec()))
        .collect()
}

/// hyper's verdict, with tollgate's settings and the policy tollgate
/// applies to what hyper parses (`listen::service`): the path a request
/// takes when the lane hands it over.
async fn hyper_verdict(input: &[u8]) -> Verdict {
    let (mut client, server) = tokio::io::duplex(256 * 1024);
    let seen: Arc<Mutex<Option<Verdict>>> = Arc::default();
    let record = seen.clone();
    let service = service_fn(move |mut req: http::Request<hyper::body::Incoming>| {
        let (method, uri, version) = (req.method().clone(), req.uri().clone(), req.version());
        let verdict = match policy::check_request(
            &method,
            &uri,
            version,
            req.headers_mut(),
            &policy::HeadLimits::default(),
        ) {
            Err(r) => Verdict::Refuse(r.status.as_u16()),
            Ok(()) => Verdict::Accept(
                method.to_string(),
                uri.to_string(),
                header_lines(req.headers()),
            ),
        };
        // The first request's verdict: what follows a refusal is never read
        // (tollgate closes the connection after one).
        record.lock().unwrap().get_or_insert(verdict);
        async { Ok::<_, std::convert::Infallible>(Response::new(Full::new(bytes::Bytes::new()))) }
    });
    let conn = serve(server, service);
    let _ = client.write_all(input).await;
    let _ = client.shutdown().await;
    let mut answer = Vec::new();
    let _ = client.read_to_end(&mut answer).await;
    let _ = conn.await;
    if let Some(v) = seen.lock().unwrap().take() {
        return v;
    }
    let status = answer
        .strip_prefix(b"HTTP/1.1 ")
        .and_then(|s| std::str::from_utf8(&s[..3.min(s.len())]).ok())
        .and_then(|s| s.parse::<u16>().ok());
    match status {
        Some(s) => Verdict::Refuse(s),
        None => Verdict::Incomplete,
    }
}

/// Serve one connection as tollgate's server does (its hyper builder, with
/// the default settings), in a task of its own.
fn serve<S>(server: tokio::io::DuplexStream, service: S) -> tokio::task::JoinHandle<()>
where
    S: hyper::service::Service<
            http::Request<hyper::body::Incoming>,
            Response = Response<Full<bytes::Bytes>>,
            Error = std::convert::Infallible,
        > + Send
        + 'static,
    S::Future: Send + 'static,
{
    let builder = tollgate::snapshot::responding::http_server(
        &RespondingTimeouts::default(),
        &Default::default(),
    );
    tokio::spawn(async move {
        let _ = builder
            .serve_connection_with_upgrades(TokioIo::new(server), service)
            .await;
    })
}

/// The differential: wherever the lane decides, hyper's path (with the
/// same policy) decides the same, and a request both take reaches the
/// pipeline identical. A difference found is a bug to fix or a reason to
/// write here. The documented ones:
/// - both `Content-Length` and `Transfer-Encoding`: the lane refuses with
///   400; hyper, depending on the order of the lines, refuses the length
///   (400), or drops it unseen and reads the body chunked, where tollgate
///   then refuses the coding (400, 501) or closes the connection after the
///   answer (`listen::service`). None lets a second framing through.
#[test]
fn lane_and_hyper_agree() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut compared = 0;
    let runs = mutate::run("request", REQUEST_WORDS, |input| {
        let Some(lane) = lane_verdict(input) else {
            return;
        };
        if lane == Verdict::Incomplete {
            return; // the lane waits; hyper sees EOF: not comparable
        }
        let hyper = rt.block_on(hyper_verdict(input));
        compared += 1;
        match (&lane, &hyper) {
            (a, b) if a == b => {}
            // httparse accepted what hyper's stricter settings refuse (or
            // the other way round) with a 400 on both sides' terms: the
            // client gets a 400 either way, only the reason differs.
            (Verdict::Refuse(400), Verdict::Refuse(400)) => {}
            (Verdict::RefuseBoth, Verdict::Accept(_, _, headers))
                if headers.iter().any(|(n, _)| n == "transfer-encoding") => {}
            (Verdict::RefuseBoth, Verdict::Refuse(400 | 501)) => {}
            _ => panic!("lane {lane:?} but hyper {hyper:?}"),
        }
    });
    eprintln!("lane_and_hyper_agree: {runs} inputs, {compared} decided by the lane and compared");
}

/// A backend's response head: parsing never panics, a head parsed whole is
/// not complete in any prefix, and both head forms agree.
#[test]
fn response_head() {
    let words: &[&[u8]] = &[
        b"Content-Length: 5\r\n",
        b"Content-Length: 5, 5\r\n",
        b"Content-Length: 5, 6\r\n",
        b"Transfer-Encoding: chunked\r\n",
        b"Transfer-Encoding: gzip\r\n",
        b"Connection: close\r\n",
        b"Connection: keep-alive, x-a\r\n",
        b"Keep-Alive: timeout=5\r\n",
        b"HTTP/1.0 ",
        b"101",
        b"204",
        b"\r\n",
    ];
    let runs = mutate::run("response", words, |input| {
        let map = response::parse(&mut BytesMut::from(input), false, Form::Map);
        let raw = response::parse(&mut BytesMut::from(input), false, Form::PassThrough);
        match (&map, &raw) {
            (Ok(Some(a)), Ok(Some(b))) => {
                assert_eq!(
                    (a.status, a.framing, a.keep_alive),
                    (b.status, b.framing, b.keep_alive)
                );
                if a.status == StatusCode::SWITCHING_PROTOCOLS {
                    assert!(!a.keep_alive, "a switched connection kept");
                }
                let lengths = a.headers.get_all(header::CONTENT_LENGTH).iter().count();
                assert!(lengths <= 1, "{lengths} length lines passed on");
            }
            (Ok(None), Ok(None)) | (Err(_), Err(_)) => {}
            _ => panic!("the head forms disagree: {map:?} vs {raw:?}"),
        }
        if let Ok(Some(whole)) = &map {
            // The head ends where the parser stopped: any shorter prefix is
            // incomplete, never a different head or an error.
            let mut buf = BytesMut::from(input);
            let _ = response::parse(&mut buf, false, Form::Map);
            let head_len = input.len() - buf.len();
            for cut in [0, head_len / 2, head_len.saturating_sub(1)] {
                let prefix = &input[..cut];
                match response::parse(&mut BytesMut::from(prefix), false, Form::Map) {
                    Ok(None) => {}
                    other => panic!("prefix of {cut} bytes: {other:?}, whole: {whole:?}"),
                }
            }
        }
    });
    eprintln!("response_head: {runs} inputs");
}

/// The chunked decoder gives the same bytes and the same end whether the
/// body arrives at once or byte by byte, and never panics.
#[test]
fn chunked_body() {
    let words: &[&[u8]] = &[
        b"0\r\n\r\n",
        b"5\r\nhello\r\n",
        b";x=y",
        b";x=\"a b\"",
        b"ffffffffffffffff",
        b"\r\n",
    ];
    let runs = mutate::run("chunked", words, |input| {
        let whole = decode(&[input]);
        let pieces: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(whole, decode(&pieces), "whole vs byte by byte");
        let (data, end) = &whole;
        assert!(data.len() <= input.len());
        if matches!(end, Ended::Done) {
            assert!(input.windows(2).any(|w| w == b"\r\n"));
        }
    });
    eprintln!("chunked_body: {runs} inputs");
}

#[derive(Debug, PartialEq, Eq)]
enum Ended {
    Done,
    NeedMore,
    Error,
}

fn decode(pieces: &[&[u8]]) -> (Vec<u8>, Ended) {
    let mut decoder = Decoder::default();
    let mut buf = BytesMut::new();
    let mut data = Vec::new();
    for piece in pieces {
        buf.extend_from_slice(piece);
        loop {
            match decoder.step(&mut buf) {
                Ok(Step::Data(d)) => data.extend_from_slice(&d),
                Ok(Step::NeedMore) => break,
                Ok(Step::Done) => return (data, Ended::Done),
                Err(_) => return (data, Ended::Error),
            }
        }
    }
    (data, Ended::NeedMore)
}

/// The config loader and validator: any bytes give a config or errors with
/// a location, never a panic.
#[test]
fn config_file() {
    let words: &[&[u8]] = &[
        b"[entryPoints.x]\naddress = \":0\"\n",
        b"[frontends.f.routes.r]\nrule = \"PathPrefix:/\"\n",
        b"[backends.b.servers.s]\nurl = \"http://127.0.0.1:1\"\n",
        b"[entryPoints.x.http.encodedCharacters]\nallowEncodedSlash = true\n",
        b"weight = -1\n",
        b"[api]\nentryPoint = \"x\"\ndashboard = false\n",
        b"[metrics.prometheus]\nbuckets = [0.1, 1, 5.0]\n",
        b"[entryPoints.x.auth.basic]\nusers = [\"u:$apr1$a$b\"]\n",
        b"[plugins.p]\npath = \"p.wasm\"\nconfig = \"raw\"\n",
        b"traefikPlugin = \"plugins-local/src/x\"\n",
        // Templated backends, tunnels, DNS-01.
        b"[backends.b.servers.t]\nurl = \"http://{device}.cams:{port}\"\n",
        b"allowedHosts = [\"*.cams\"]\nallowedNetworks = [\"10.0.0.0/8\"]\n",
        b"resolvers = [\"127.0.0.1:5353\", \"::1\"]\nmaxTargets = 2\n",
        b"url = \"tunnel://{device}\"\n",
        b"[tunnels]\nentryPoint = \"x\"\n[tunnels.devices.d]\ntokenHash = \"$2b$10$\"\n",
        b"[acme.dnsChallenge]\nprovider = \"rfc2136\"\nresolvers = [\"ns\"]\n",
        b"\"\"\"",
        b"[[",
        b"= ",
    ];
    let runs = mutate::run("config", words, |input| {
        let text = String::from_utf8_lossy(input);
        if let Ok(config) = tollgate::config::load_str(Path::new("fuzz.toml"), &text) {
            let _ = tollgate::snapshot::compile::validate(&config);
        }
    });
    eprintln!("config_file: {runs} inputs");
}

/// The keys of an `[etcd]` store, read as a config document: any keys and
/// values (one `KEY=VALUE` per line here; etcd's are bytes) give a config
/// or errors that each name a place, never a panic.
#[test]
fn etcd_keys() {
    let words: &[&[u8]] = &[
        b"/traefik/frontends/f/routes/r/rule=PathPrefix:/\n",
        b"/traefik/frontends/f/backend=b\n",
        b"/traefik/backends/b/servers/s/url=http://127.0.0.1:1\n",
        b"/traefik/backends/b/servers/s/weight=3\n",
        b"/traefik/frontends/f/entrypoints=x,y\n",
        b"/traefik/frontends/f/entrypoints/0=x\n",
        b"/traefik/frontends/f/passhostheader=true\n",
        b"/traefik/frontends/f/middlewares/1=p\n",
        b"/traefik/frontends/f/auth/basic/users=u:$apr1$a$b\n",
        b"/traefik/plugins/p/path=/p.wasm\n",
        b"/traefik/plugins/p/config/list/0=a\n",
        b"/traefik/tls/0/entrypoints=x\n",
        b"/traefikx/a=1\n",
        b"//",
        b"/",
        b"=",
        b"\n",
        b"\xff",
    ];
    let main = "[entryPoints.x]\naddress = \"127.0.0.1:0\"\n[etcd]\nendpoint = \"127.0.0.1:1\"\n";
    let runs = mutate::run("etcd_keys", words, |input| {
        let pairs = input
            .split(|b| *b == b'\n')
            .map(|line| match line.iter().position(|b| *b == b'=') {
                Some(i) => (line[..i].to_vec(), line[i + 1..].to_vec()),
                None => (line.to_vec(), Vec::new()),
            })
            .collect();
        let keys = tollgate::config::KvKeys {
            label: "etcd".into(),
            prefix: "/traefik".into(),
            provider: "/traefik".into(),
            pairs,
        };
        match tollgate::config::load_with_kv(Path::new("fuzz.toml"), main, Some(&keys)) {
            Ok(config) => {
                let _ = tollgate::snapshot::compile::validate(&config);
            }
            Err(e) => {
                for d in &e.errors {
                    assert!(d.location.is_some(), "an error without a place: {d}");
                }
            }
        }
    });
    eprintln!("etcd_keys: {runs} inputs");
}

/// Traefik 2/3 configs in YAML (and TOML, by the same loader): any bytes
/// give a config or errors with a location, never a panic.
#[test]
fn config_traefik3_yaml() {
    let words: &[&[u8]] = &[
        b"entryPoints:\n  web:\n    address: \":0\"\n",
        b"http:\n  routers:\n    r:\n      rule: \"PathPrefix(`/`)\"\n      service: s\n",
        b"  services:\n    s:\n      loadBalancer:\n        servers:\n          - url: \"http://127.0.0.1:1\"\n",
        b"  middlewares:\n    m:\n      chain:\n        middlewares: [m]\n",
        b"      stripPrefix:\n        prefixes: [/a]\n",
        b"      weighted:\n        services:\n          - name: s\n            weight: 2\n",
        b"tls:\n  certificates:\n    - certFile: a\n      keyFile: b\n",
        b"certificatesResolvers:\n  le:\n    acme:\n      storage: a.json\n",
        b"      tls:\n        certResolver: le\n",
        b"&a ",
        b"*a",
        b"<<: ",
        b"!!str ",
        b"- ",
        b"{",
        b"[",
        b"\n---\n",
    ];
    let runs = mutate::run("config_traefik3", words, |input| {
        let text = String::from_utf8_lossy(input);
        if let Ok(config) = tollgate::config::load_str(Path::new("fuzz.yml"), &text) {
            let _ = tollgate::snapshot::compile::validate(&config);
        }
    });
    eprintln!("config_traefik3_yaml: {runs} inputs");
}

/// Rules compile or are refused; a compiled router routes any request.
#[test]
fn rules() {
    let words: &[&[u8]] = &[
        b"Host:",
        b"PathPrefix:",
        b"{x:[a-z]+}",
        b";",
        b",",
        b"{",
        b"}",
        b"(",
        b"\\",
        b"Headers:",
    ];
    let requests = ["/", "/zumi01/api", "/cam/dev-1/x", "/a/b?c=d", "/%2F"];
    let runs = mutate::run("rules", words, |input| {
        let rule = String::from_utf8_lossy(input).into_owned();
        // With its variables reported, as for a templated backend.
        let spec = FrontendRules {
            wants_vars: true,
            priority: 0,
            rules: vec![rule],
            syntax: RuleSyntax::Traefik1,
            modifiers: Vec::new(),
        };
        if let Ok(router) = Router::compile(&[spec]) {
            for path in requests {
                let uri: http::Uri = path.parse().unwrap();
                let mut headers = http::HeaderMap::new();
                headers.insert(header::HOST, "a.example".parse().unwrap());
                if let Some(m) = router.route(&Method::GET, &uri, &headers, CLIENT) {
                    if let Some(rw) = m.rewrite {
                        assert!(rw.path.starts_with('/'), "{rw:?}");
                    }
                    for (name, _) in &m.vars {
                        assert!(!name.is_empty(), "{:?}", m.vars);
                    }
                }
            }
        }
    });
    eprintln!("rules: {runs} inputs");
}

/// Traefik 2/3 rules (expressions of matcher calls) compile or are refused
/// with a message; a compiled router routes any request.
#[test]
fn rules_traefik3() {
    let words: &[&[u8]] = &[
        b"Host(`",
        b"`)",
        b" && ",
        b" || ",
        b"!",
        b"(",
        b")",
        b"PathPrefix(`/",
        b"HostRegexp(`^[a-z]{2,3}\\.x$`)",
        b"HostRegexp(`{sub:[a-z]+}.x`)",
        b"Query(`a`, `1`)",
        b"ClientIP(`10.0.0.0/8`)",
        b"Header(`X-A`, `b`)",
        b"\"",
        b"\\x4",
        b",",
    ];
    let requests = ["/", "/zumi01/api", "/cam/dev-1/x", "/a/b?c=d&a=1", "/%2F"];
    let runs = mutate::run("rules_traefik3", words, |input| {
        let rule = String::from_utf8_lossy(input).into_owned();
        let spec = FrontendRules {
            wants_vars: false,
            priority: 0,
            rules: vec![rule],
            syntax: RuleSyntax::Traefik3,
            modifiers: Vec::new(),
        };
        match Router::compile(&[spec]) {
            Ok(router) => {
                for path in requests {
                    let uri: http::Uri = path.parse().unwrap();
                    let mut headers = http::HeaderMap::new();
                    headers.insert(header::HOST, "a.example".parse().unwrap());
                    let _ = router.route(&Method::GET, &uri, &headers, CLIENT);
                }
            }
            Err(errors) => assert!(errors.iter().all(|e| !e.message.is_empty())),
        }
    });
    eprintln!("rules_traefik3: {runs} inputs");
}

/// `tollgate convert`'s rule upgrade, differentially: a 1.7 rule that
/// compiles upgrades to a 2/3 rule (and path middlewares) that compiles and
/// routes every request of a set the same way, rewrites included.
#[test]
fn rules_upgrade() {
    let words: &[&[u8]] = &[
        b"Host:",
        b"HostRegexp:{x:[a-z]+}.",
        b"PathPrefix:",
        b"PathPrefixStrip:",
        b"PathStrip:",
        b"PathStripRegex:",
        b"Path:",
        b"Method:",
        b"Headers:",
        b"HeadersRegexp:",
        b"Query:",
        b"AddPrefix:",
        b"ReplacePath:",
        b"ReplacePathRegex:",
        b"{x:[a-z]+}",
        b"{x}",
        b";",
        b",",
        b"`",
        b"\"",
        b"/a",
        b"=",
    ];
    /// Method, target, Host, other headers.
    type Probe<'a> = (Method, &'a str, &'a str, &'a [(&'a str, &'a str)]);
    let requests: Vec<Probe<'_>> = vec![
        (Method::GET, "/", "a.example", &[]),
        (Method::POST, "/zumi01/api", "b.example", &[("x-api", "1")]),
        (
            Method::GET,
            "/a/b?mode=live&id=7",
            "x.fleet.test",
            &[("accept", "text/html")],
        ),
        (Method::PUT, "/cam/dev-1/x", "a.example", &[]),
        (Method::GET, "/exact/n", "A.EXAMPLE.", &[]),
        (Method::GET, "/a%2Fb/../c", "q.test", &[]),
    ];
    let runs = mutate::run("rules_upgrade", words, |input| {
        let rule = String::from_utf8_lossy(input).into_owned();
        let old = FrontendRules {
            wants_vars: false,
            priority: 0,
            rules: vec![rule.clone()],
            syntax: RuleSyntax::Traefik1,
            modifiers: Vec::new(),
        };
        let Ok(old_router) = Router::compile(std::slice::from_ref(&old)) else {
            return;
        };
        let up = tollgate::router::to_traefik3(&old.rules)
            .unwrap_or_else(|e| panic!("{rule:?} compiles in 1.7 but does not upgrade: {e}"));
        let new = FrontendRules {
            wants_vars: false,
            priority: rule.len() as i64,
            rules: vec![up.rule.clone()],
            syntax: RuleSyntax::Traefik3,
            modifiers: up.modifiers.clone(),
        };
        let new_router = Router::compile(&[new]).unwrap_or_else(|e| {
            panic!("{rule:?} upgraded to {up:?}, which does not compile: {e:?}")
        });
        for (method, target, host, headers) in &requests {
            let uri: http::Uri = target.parse().unwrap();
            let mut map = http::HeaderMap::new();
            map.insert(header::HOST, host.parse().unwrap());
            for (k, v) in *headers {
                map.insert(*k, v.parse().unwrap());
            }
            let before = old_router.route(method, &uri, &map, CLIENT);
            let after = new_router.route(method, &uri, &map, CLIENT);
            assert_eq!(
                before, after,
                "{rule:?} → {up:?} on {method} {target} {host}"
            );
        }
    });
    eprintln!("rules_upgrade: {runs} inputs");
}

/// Path normalization: idempotent, rooted, no dot segments or empty ones.
#[test]
fn path_normalization() {
    let words: &[&[u8]] = &[
        b"/..", b"/.", b"//", b"%2e", b"%2E%2e", b"%2F", b"%7e", b"%", b"?",
    ];
    let runs = mutate::run("path", words, |input| {
        let path = String::from_utf8_lossy(input);
        if !path.starts_with('/') {
            return;
        }
        let once = normalize_path(&path).into_owned();
        assert_eq!(normalize_path(&once), once, "not idempotent");
        assert!(once.starts_with('/'), "{once}");
        for segment in once.split('/').skip(1) {
            assert!(segment != "." && segment != "..", "{once}");
        }
        assert!(!once.contains("//"), "{once}");
    });
    eprintln!("path_normalization: {runs} inputs");
}

/// The PROXY protocol header reader: never panics; a header it accepts
/// ends within the input, and every shorter prefix of that header is
/// incomplete (it never decides before the header is whole); input that
/// does not start like a header is never taken for one.
#[test]
fn proxy_header() {
    use tollgate::listen::proxy_protocol::{parse, Parsed, MAX_HEADER};
    let words: &[&[u8]] = &[
        b"PROXY ",
        b"TCP4 ",
        b"TCP6 ",
        b"UNKNOWN",
        b"\r\n",
        b"\r\n\r\n\0\r\nQUIT\n",
        b"\x21\x11",
        b"\x21\x21",
        b"\x20\x00",
        b"\x00\x0c",
        b"\xff\xff",
        b"255.255.255.255 ",
        b"::1 ",
        b"65535 ",
        b"65536 ",
    ];
    let runs = mutate::run("proxy_header", words, |input| {
        let input = &input[..input.len().min(2 * MAX_HEADER)];
        match parse(input) {
            Parsed::Header { len, .. } => {
                assert!(len <= input.len());
                for end in 0..len {
                    assert_eq!(parse(&input[..end]), Parsed::Incomplete, "prefix {end}");
                }
            }
            Parsed::Absent => {
                assert!(
                    !input.starts_with(b"PROXY ") && !input.starts_with(b"\r\n\r\n\0\r\nQUIT\n")
                );
            }
            Parsed::Incomplete => assert!(input.len() < MAX_HEADER),
            Parsed::Invalid(why) => assert!(!why.is_empty()),
        }
    });
    eprintln!("proxy_header: {runs} inputs");
}

/// A tunnel's hello line (the first bytes an agent sends): any bytes are
/// a hello or refused, never a panic; what is accepted says it again the
/// same way.
#[test]
fn tunnel_hello() {
    use tollgate::tunnel::hello::{format_hello, format_peer_hello, parse_hello, peer_token};
    let words: &[&[u8]] = &[
        b"TOLLGATE-TUNNEL/1 ",
        b"TOLLGATE-PEER/1 ",
        b"zumi01 ",
        b"k3J9xQ2v_Zp7-Lm4Rt8WcY1bN6dF0aE5",
        b" ",
        b"\r",
        b"\0",
        b"\xff",
    ];
    let runs = mutate::run("tunnel_hello", words, |input| {
        let line = String::from_utf8_lossy(input);
        if let Ok(hello) = parse_hello(&line) {
            let again = format_hello(&hello.device, &hello.token);
            assert_eq!(parse_hello(again.trim_end()), Ok(hello));
        }
        // Another instance's hello: a token without spaces, said again
        // the same way; never also taken as an agent's.
        if let Some(token) = peer_token(&line) {
            assert!(!token.is_empty() && !token.contains(' '), "{line:?}");
            assert!(parse_hello(&line).is_err(), "{line:?}");
            let again = format_peer_hello(token);
            assert_eq!(peer_token(again.trim_end()), Some(token));
        }
    });
    eprintln!("tunnel_hello: {runs} inputs");
}

/// HTTP/2 from a client, as tollgate's server takes it (hyper over the
/// patched h2, proxy/vendor/h2/PATCH.md: its own frame reader, buffers
/// freed between reads, HPACK entries copied out): any bytes, arriving in
/// any pieces, end the connection without a panic once the client stops
/// sending, and a connection that began with the preface was answered with
/// the server's SETTINGS first. The pieces' sizes come from the input
/// itself, so a saved failure replays the same way; between pieces the
/// server reads what came, so frames and header blocks are cut across reads.
#[test]
fn http2_frames() {
    let words: &[&[u8]] = &[
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        b"\x00\x00\x00\x04\x01\x00\x00\x00\x00", // SETTINGS ack
        b"\x00\x00\x08\x06\x00\x00\x00\x00\x00", // PING
        b"\x00\x00\x04\x08\x00\x00\x00\x00\x01", // WINDOW_UPDATE, stream 1
        b"\x00\x00\x04\x03\x00\x00\x00\x00\x01", // RST_STREAM, stream 1
        b"\x00\x00\x05\x09\x04\x00\x00\x00\x01", // CONTINUATION, end of headers
        b"\x00\x40\x00\x00\x00\x00\x00\x00\x03", // DATA of 16 KiB, stream 3
        b"\x00\x00\x06\x04\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00", // SETTINGS header table 0
        b"\x3f\xe1\x1f",                         // HPACK table size update
        b"\x40\x88\x25\xa8\x49\xe9\x5b\xa9\x7d\x7f", // HPACK literal, Huffman name
        b"\xbe",                                 // HPACK dynamic-table index
        b"\xff\xff\xff\xff",
    ];
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut served = 0;
    let runs = mutate::run("http2", words, |input| {
        served += usize::from(rt.block_on(http2_connection(input)));
    });
    eprintln!("http2_frames: {runs} inputs, {served} got a response");
    // Most mutants break the preface or a frame; the corpus's requests
    // (8 connections) must still be served, or the target tests nothing.
    assert!(served >= 8, "{served} connections got a response");
}

/// Whether the server sent a response's HEADERS.
async fn http2_connection(input: &[u8]) -> bool {
    let (client, server) = tokio::io::duplex(64 * 1024);
    let service = service_fn(|req: http::Request<hyper::body::Incoming>| async move {
        // A header made from the request goes into the response encoder's
        // dynamic table.
        let path = http::HeaderValue::from_str(req.uri().path())
            .unwrap_or(http::HeaderValue::from_static("-"));
        let body = http_body_util::BodyExt::collect(req.into_body()).await;
        let size = body.map(|b| b.to_bytes().len()).unwrap_or(0);
        let mut resp = Response::new(Full::new(bytes::Bytes::from(size.to_string())));
        resp.headers_mut().insert("x-path", path);
        Ok::<_, std::convert::Infallible>(resp)
    });
    let conn = serve(server, service);
    let (mut from_server, mut to_server) = tokio::io::split(client);
    let answer = tokio::spawn(async move {
        let mut answer = Vec::new();
        let _ = from_server.read_to_end(&mut answer).await;
        answer
    });
    // Piece sizes from an FNV-1a hash of the input: 1 to 64 bytes mostly,
    // now and then up to 20 KiB (more than a read's stack probe).
    let mut rng = mutate::Rng::new(input.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    }));
    let mut rest = input;
    while !rest.is_empty() {
        let n = if rng.below(8) == 0 {
            1 + rng.below(20 * 1024)
        } else {
            1 + rng.below(64)
        };
        let (piece, after) = rest.split_at(n.min(rest.len()));
        if to_server.write_all(piece).await.is_err() {
            break; // the server closed the connection
        }
        rest = after;
        for _ in 0..4 {
            tokio::task::yield_now().await;
        }
    }
    let _ = to_server.shutdown().await;
    let ended = tokio::time::timeout(std::time::Duration::from_secs(10), conn).await;
    match ended {
        Err(_) => panic!("the connection did not end after the client stopped sending"),
        Ok(Err(e)) => panic!("the connection's task failed: {e}"),
        Ok(Ok(())) => {}
    }
    let answer = answer.await.unwrap();
    if !input.starts_with(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") || answer.len() < 9 {
        return false;
    }
    assert_eq!(answer[3], 4, "the server's first frame is not SETTINGS");
    let mut frames = &answer[..];
    while frames.len() >= 9 {
        let len = u32::from_be_bytes([0, frames[0], frames[1], frames[2]]) as usize;
        if frames[3] == 1 {
            return true;
        }
        frames = &frames[(9 + len).min(frames.len())..];
    }
    false
}

/// TLS records from a client, as a rustls server reads them (the patched
/// rustls, proxy/vendor/rustls/PATCH.md, frees its receive buffer whenever
/// a read would block with nothing buffered and reads into an array on the
/// stack until bytes come): the same bytes, given in one stream or in
/// pieces with a would-block before each piece, end the same way (the
/// same error, or the same handshake state), and never panic. Pieces are
/// cut inside records and handshake messages, where part of a record waits
/// in the buffer across reads.
#[test]
fn tls_records() {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let words: &[&[u8]] = &[
        b"\x16\x03\x01\x00\x04",         // handshake record header
        b"\x16\x03\x03\x40\x00",         // a 16 KiB handshake record
        b"\x17\x03\x03\x00\x10",         // application data
        b"\x14\x03\x03\x00\x01\x01",     // change_cipher_spec
        b"\x15\x03\x03\x00\x02\x02\x28", // alert
        b"\x01\x00\xff\xff",             // ClientHello of 64 KiB
        b"\x00\x10\x00\x05\x02h2",       // ALPN
        b"\x00\x00",
        b"\xff\xff",
    ];
    let key = rcgen::generate_simple_self_signed(vec!["a.test".to_string()]).unwrap();
    let chain = vec![CertificateDer::from(key.cert.der().to_vec())];
    let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.signing_key.serialize_der()));
    let config = Arc::new(
        rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, der)
        .unwrap(),
    );
    let mut answered = 0;
    let runs = mutate::run("tls_records", words, |input| {
        let (whole, wrote) = tls_read(&config, input, None);
        let seed = input.len() as u64 * 0x9e37_79b9 + 1;
        let (pieces, _) = tls_read(&config, input, Some(mutate::Rng::new(seed)));
        assert_eq!(whole, pieces, "one stream and pieces ended differently");
        answered += usize::from(wrote > 0 && whole.is_ok());
    });
    eprintln!("tls_records: {runs} inputs, {answered} answered with a handshake");
    // Nearly every mutant breaks the ClientHello (lengths, extensions); the
    // corpus's hellos must still be answered, or the target tests nothing.
    assert!(answered >= 4, "the server answered {answered} hellos");
}

/// How a rustls server connection fed `input` ended (its error, or whether
/// it was still handshaking at the end of the input), and how many bytes
/// it wrote back.
fn tls_read(
    config: &Arc<rustls::ServerConfig>,
    input: &[u8],
    pieces: Option<mutate::Rng>,
) -> (Result<bool, String>, usize) {
    use std::io::{ErrorKind, Read};
    struct Source<'a> {
        rest: &'a [u8],
        pieces: Option<mutate::Rng>,
        blocked: bool,
    }
    impl Read for Source<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let mut n = buf.len().min(self.rest.len());
            if let Some(rng) = &mut self.pieces {
                // A would-block before every piece: the connection "waits".
                self.blocked = !self.blocked;
                if self.blocked {
                    return Err(ErrorKind::WouldBlock.into());
                }
                n = n.min(1 + rng.below(300));
            }
            buf[..n].copy_from_slice(&self.rest[..n]);
            self.rest = &self.rest[n..];
            Ok(n)
        }
    }
    let mut conn = rustls::ServerConnection::new(config.clone()).unwrap();
    let mut source = Source {
        rest: input,
        pieces,
        blocked: false,
    };
    let mut wrote = 0;
    loop {
        match conn.read_tls(&mut source) {
            Ok(0) => return (Ok(conn.is_handshaking()), wrote),
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock => continue,
            Err(e) => return (Err(format!("read: {e}")), wrote),
        }
        if let Err(e) = conn.process_new_packets() {
            return (Err(format!("process: {e}")), wrote);
        }
        while conn.wants_write() {
            wrote += conn.write_tls(&mut std::io::sink()).unwrap();
        }
    }
}
