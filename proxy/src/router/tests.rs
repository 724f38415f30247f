//! Behaviour of the whole router: every matcher and modifier, priorities,
//! normalization attacks, errors, and the index agreeing with a linear scan.

use http::{HeaderMap, HeaderValue, Method, Uri};

use super::*;

fn compile(frontends: &[(i64, &[&str])]) -> Router {
    Router::compile(&frontends_of(frontends)).unwrap_or_else(|e| panic!("{e:?}"))
}

fn frontends_of(frontends: &[(i64, &[&str])]) -> Vec<FrontendRules> {
    frontends
        .iter()
        .map(|(priority, rules)| FrontendRules {
            wants_vars: false,
            priority: *priority,
            rules: rules.iter().map(|r| r.to_string()).collect(),
            syntax: RuleSyntax::Traefik1,
            modifiers: Vec::new(),
        })
        .collect()
}

/// Rules of frontends with default priority.
fn rules(frontends: &[&[&str]]) -> Router {
    compile(&frontends.iter().map(|r| (0, *r)).collect::<Vec<_>>())
}

fn errors(frontends: &[&[&str]]) -> Vec<RuleError> {
    Router::compile(&frontends_of(
        &frontends.iter().map(|r| (0, *r)).collect::<Vec<_>>(),
    ))
    .expect_err("should not compile")
}

#[derive(Clone)]
struct Req {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    client: std::net::IpAddr,
}

/// The client address of test requests.
const CLIENT: std::net::IpAddr = std::net::IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 7));

/// `target` is an origin-form path (host via `Host` header) or an absolute URI.
fn req(method: &str, target: &str, host: Option<&str>, headers: &[(&str, &str)]) -> Req {
    let mut map = HeaderMap::new();
    if let Some(host) = host {
        map.insert(http::header::HOST, HeaderValue::from_str(host).unwrap());
    }
    for (k, v) in headers {
        map.append(
            http::header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    Req {
        method: Method::from_bytes(method.as_bytes()).unwrap(),
        uri: target.parse().unwrap(),
        headers: map,
        client: CLIENT,
    }
}

fn route(router: &Router, r: &Req) -> Option<RouteMatch> {
    let fast = router.route(&r.method, &r.uri, &r.headers, r.client);
    assert_eq!(
        fast,
        router.route_linear(&r.method, &r.uri, &r.headers, r.client),
        "index disagrees"
    );
    fast
}

/// The winning frontend for GET `target` with `Host: host`.
fn winner(router: &Router, target: &str, host: Option<&str>) -> Option<usize> {
    route(router, &req("GET", target, host, &[])).map(|m| m.frontend)
}

fn at(router: &Router, target: &str) -> Option<usize> {
    winner(router, target, Some("example.com"))
}

fn rewrite(router: &Router, target: &str) -> Option<Rewrite> {
    route(router, &req("GET", target, Some("example.com"), &[])).and_then(|m| m.rewrite)
}

fn rw(path: &str, prefix: Option<&str>, replaced: Option<&str>) -> Option<Rewrite> {
    Some(Rewrite {
        path: path.into(),
        forwarded_prefix: prefix.map(Into::into),
        replaced_path: replaced.map(Into::into),
    })
}

#[test]
fn zumi_seed_rule() {
    let r = rules(&[&["PathPrefix:/zumi01"]]);
    assert_eq!(
        route(&r, &req("GET", "/zumi01/api/kernels?x=1", Some("h"), &[])),
        Some(RouteMatch {
            frontend: 0,
            rewrite: None,
            vars: Vec::new(),
        })
    );
    // Plain prefix, as gorilla mux / Traefik 1.7.
    assert_eq!(at(&r, "/zumi01x"), Some(0));
    assert_eq!(at(&r, "/zumi0"), None);
    assert_eq!(at(&r, "/"), None);
    assert_eq!(at(&r, "/Zumi01"), None);
}

#[test]
fn host() {
    let r = rules(&[&["Host:Example.com, www.example.com"], &["Host:other.org"]]);
    assert_eq!(winner(&r, "/", Some("example.com")), Some(0));
    assert_eq!(winner(&r, "/", Some("EXAMPLE.COM:8443")), Some(0));
    assert_eq!(winner(&r, "/", Some("www.example.com.")), Some(0));
    assert_eq!(winner(&r, "/", Some("other.org:80")), Some(1));
    assert_eq!(winner(&r, "/", Some("example.com.evil")), None);
    assert_eq!(winner(&r, "/", Some("sub.example.com")), None);
    assert_eq!(winner(&r, "/", None), None);
    let dot = rules(&[&["Host:."], &["PathPrefix:/a"]]);
    assert_eq!(winner(&dot, "/", None), Some(0));
    assert_eq!(winner(&dot, "/a", Some("a.com")), Some(1));
    // The URI authority (HTTP/2, absolute-form) wins over the Host header.
    assert_eq!(
        winner(&r, "https://Other.org:8443/x", Some("example.com")),
        Some(1)
    );
    assert_eq!(winner(&r, "http://example.com/x", None), Some(0));
}

#[test]
fn host_regexp() {
    let r = rules(&[
        &["HostRegexp:{sub:[a-z]+}.example.com,example.org"],
        &["HostRegexp:{any}.test"],
    ]);
    assert_eq!(winner(&r, "/", Some("api.example.com")), Some(0));
    assert_eq!(winner(&r, "/", Some("API.Example.COM:80")), Some(0));
    assert_eq!(winner(&r, "/", Some("example.org")), Some(0));
    assert_eq!(winner(&r, "/", Some("a1.example.com")), None);
    assert_eq!(winner(&r, "/", Some("a.b.example.com")), None);
    assert_eq!(winner(&r, "/", Some("x-y.test")), Some(1));
    assert_eq!(winner(&r, "/", Some("x.y.test")), None);
    assert_eq!(winner(&r, "/", None), None);
}

#[test]
fn path_and_templates() {
    let r = rules(&[
        &["Path:/zumi01"],
        &["Path:/articles/{category}/{id:[0-9]+}"],
        &["Path:/a,/b/"],
    ]);
    assert_eq!(at(&r, "/zumi01"), Some(0));
    assert_eq!(at(&r, "/zumi01?q"), Some(0));
    assert_eq!(at(&r, "/zumi01/"), None);
    assert_eq!(at(&r, "/zumi01x"), None);
    assert_eq!(at(&r, "/articles/news/42"), Some(1));
    assert_eq!(at(&r, "/articles/news/42/"), None);
    assert_eq!(at(&r, "/articles/news/x"), None);
    assert_eq!(at(&r, "/a"), Some(2));
    assert_eq!(at(&r, "/b/"), Some(2));
    assert_eq!(at(&r, "/b"), None);
}

#[test]
fn path_prefix_templates() {
    let r = rules(&[
        &["PathPrefix:/users/{id:[0-9]+}"],
        &["PathPrefix:/{lang:en|fr}/"],
    ]);
    assert_eq!(at(&r, "/users/12"), Some(0));
    assert_eq!(at(&r, "/users/12/photos"), Some(0));
    assert_eq!(at(&r, "/users/x"), None);
    assert_eq!(at(&r, "/fr/x"), Some(1));
    assert_eq!(at(&r, "/de/x"), None);
}

#[test]
fn method() {
    let r = rules(&[&["Method:get, Post"], &["Method:DELETE"]]);
    let m = |method| route(&r, &req(method, "/", None, &[])).map(|m| m.frontend);
    assert_eq!(m("GET"), Some(0));
    assert_eq!(m("POST"), Some(0));
    assert_eq!(m("DELETE"), Some(1));
    assert_eq!(m("PUT"), None);
    // Request methods are case-sensitive tokens.
    assert_eq!(m("get"), None);
}

#[test]
fn headers() {
    let r = rules(&[
        &["Headers:Content-Type,application/json"],
        &["Headers:X-A,1,X-B,2"],
    ]);
    let h =
        |headers: &[(&str, &str)]| route(&r, &req("GET", "/", None, headers)).map(|m| m.frontend);
    assert_eq!(h(&[("content-type", "application/json")]), Some(0));
    assert_eq!(
        h(&[
            ("content-type", "text/plain"),
            ("content-type", "application/json")
        ]),
        Some(0)
    );
    assert_eq!(
        h(&[("content-type", "application/json; charset=utf-8")]),
        None
    );
    assert_eq!(h(&[("x-a", "1"), ("x-b", "2")]), Some(1));
    assert_eq!(h(&[("x-a", "1")]), None);
    assert_eq!(h(&[]), None);
}

#[test]
fn headers_regexp() {
    let r = rules(&[
        &["HeadersRegexp:Content-Type, application/(text|json)"],
        &["HeadersRegexp:X-V,^v[0-9]{1,2}$"],
    ]);
    let h =
        |headers: &[(&str, &str)]| route(&r, &req("GET", "/", None, headers)).map(|m| m.frontend);
    assert_eq!(h(&[("content-type", "application/json")]), Some(0));
    // Unanchored, as gorilla mux.
    assert_eq!(
        h(&[("content-type", "application/text; charset=utf-8")]),
        Some(0)
    );
    assert_eq!(h(&[("content-type", "application/xml")]), None);
    assert_eq!(h(&[("x-v", "v12")]), Some(1));
    assert_eq!(h(&[("x-v", "v123")]), None);
}

#[test]
fn query() {
    let r = rules(&[
        &["Query:foo=bar,bar=baz"],
        &["Query:id={id:[0-9]+}"],
        &["Query:flag="],
    ]);
    let q = |target| at(&r, target);
    assert_eq!(q("/?foo=bar&bar=baz"), Some(0));
    assert_eq!(q("/?bar=baz&x=1&foo=bar"), Some(0));
    assert_eq!(q("/?foo=bar"), None);
    assert_eq!(q("/?foo=ba%72&bar=baz"), Some(0));
    assert_eq!(q("/?id=42"), Some(1));
    assert_eq!(q("/?id=4x"), None);
    // gorilla mux looks at the first value only.
    assert_eq!(q("/?id=x&id=42"), None);
    assert_eq!(q("/?flag"), Some(2));
    assert_eq!(q("/?flag=anything"), Some(2));
    assert_eq!(q("/"), None);
}

#[test]
fn and_within_a_rule_and_across_routes() {
    let r = rules(&[
        &["Host:a.com;PathPrefix:/x;Method:POST"],
        &["Host:a.com", "PathPrefix:/y"],
    ]);
    let w = |method, path, host| route(&r, &req(method, path, Some(host), &[])).map(|m| m.frontend);
    assert_eq!(w("POST", "/x", "a.com"), Some(0));
    assert_eq!(w("GET", "/x", "a.com"), None);
    assert_eq!(w("POST", "/x", "b.com"), None);
    assert_eq!(w("GET", "/y/1", "a.com"), Some(1));
    assert_eq!(w("GET", "/y/1", "b.com"), None);
    assert_eq!(w("GET", "/z", "a.com"), None);
}

#[test]
fn frontend_without_matchers_matches_everything() {
    let r = compile(&[(0, &[]), (0, &["PathPrefix:/a"])]);
    assert_eq!(at(&r, "/a"), Some(1));
    assert_eq!(at(&r, "/b"), Some(0));
    let r = rules(&[&["AddPrefix:/p"]]);
    assert_eq!(rewrite(&r, "/b"), rw("/p/b", None, None));
}

#[test]
fn priority_by_length_then_index() {
    let r = rules(&[
        &["PathPrefix:/"],
        &["PathPrefix:/zumi01"],
        &["PathPrefix:/zumi01/api"],
    ]);
    assert_eq!(at(&r, "/zumi01/api/x"), Some(2));
    assert_eq!(at(&r, "/zumi01/x"), Some(1));
    assert_eq!(at(&r, "/other"), Some(0));
    // Equal lengths: the first frontend wins.
    let r = rules(&[&["PathPrefix:/b"], &["PathPrefix:/a"], &["PathPrefix:/"]]);
    let r2 = rules(&[&["PathPrefix:/"], &["PathPrefix:/a"], &["Method:GET,POST"]]);
    assert_eq!(at(&r, "/a"), Some(1));
    assert_eq!(at(&r2, "/a"), Some(2)); // "Method:GET,POST" is longer than "PathPrefix:/a"
                                        // Length counts the raw rule strings of all routes.
    let r = rules(&[&["PathPrefix:/a", "Method:GET"], &["PathPrefix:/a/b"]]);
    assert_eq!(at(&r, "/a/b"), Some(0));
}

#[test]
fn explicit_priority() {
    let r = compile(&[
        (0, &["PathPrefix:/zumi01/api"]),
        (100, &["PathPrefix:/"]),
        (100, &["PathPrefix:/zumi01"]),
        (-5, &["PathPrefix:/zumi01/api/kernels/long/enough"]),
    ]);
    assert_eq!(at(&r, "/zumi01/api"), Some(1));
    let r = compile(&[
        (1, &["PathPrefix:/zumi01/api"]),
        (2, &["PathPrefix:/zumi01"]),
    ]);
    assert_eq!(at(&r, "/zumi01/api"), Some(1));
    // A priority <= 0 means "by length".
    let r = compile(&[
        (-1, &["PathPrefix:/zumi01/api/kernels/long"]),
        (20, &["PathPrefix:/zumi01"]),
    ]);
    assert_eq!(at(&r, "/zumi01/api/kernels/long"), Some(0));
}

#[test]
fn normalization_attacks() {
    let r = rules(&[&["PathPrefix:/zumi01"], &["PathPrefix:/admin"], &["Path:/"]]);
    assert_eq!(at(&r, "/zumi01/../admin"), Some(1));
    assert_eq!(at(&r, "/zumi01/%2e%2e/admin"), Some(1));
    assert_eq!(at(&r, "//zumi01"), Some(0));
    assert_eq!(at(&r, "/./zumi01"), Some(0));
    assert_eq!(at(&r, "/%7Aumi01"), Some(0));
    assert_eq!(at(&r, "/%2e%2e/"), Some(2));
    assert_eq!(at(&r, "/%2e%2e/%2e%2e/zumi01"), Some(0));
    assert_eq!(at(&r, "/zumi01/%2e%2e/x"), None);
    // An encoded `/` does not split segments: `..%2F` is not a dot segment.
    assert_eq!(at(&r, "/zumi01/..%2Fadmin"), Some(0));

    // Normalization alone never rewrites: the caller forwards the raw path.
    let m = route(&r, &req("GET", "//zumi01/./x", None, &[])).unwrap();
    assert_eq!(
        m,
        RouteMatch {
            frontend: 0,
            rewrite: None,
            vars: Vec::new(),
        }
    );

    // Rules are written in the same normal form as requests.
    let r = rules(&[
        &["PathPrefix:/%7ezumi"],
        &["Path:/a%2fb"],
        &["Path:/x/{id}/%2E"],
    ]);
    assert_eq!(at(&r, "/~zumi"), Some(0));
    assert_eq!(at(&r, "/%7Ezumi"), Some(0));
    assert_eq!(at(&r, "/a%2Fb"), Some(1));
    assert_eq!(at(&r, "/a/b"), None);
    assert_eq!(at(&r, "/x/1/."), None); // `.` is resolved away in the request
}

#[test]
fn path_strip() {
    let r = rules(&[&["PathStrip:/zumi01"]]);
    assert_eq!(rewrite(&r, "/zumi01"), rw("/", Some("/zumi01"), None));
    assert_eq!(at(&r, "/zumi01/x"), None);
    // Works on the normalized path.
    assert_eq!(rewrite(&r, "//x/../zumi01"), rw("/", Some("/zumi01"), None));
}

#[test]
fn path_prefix_strip() {
    let r = rules(&[&["PathPrefixStrip:/zumi01"]]);
    assert_eq!(
        rewrite(&r, "/zumi01/api/x"),
        rw("/api/x", Some("/zumi01"), None)
    );
    assert_eq!(rewrite(&r, "/zumi01"), rw("/", Some("/zumi01"), None));
    assert_eq!(rewrite(&r, "/zumi01x"), rw("/x", Some("/zumi01"), None));
    assert_eq!(
        rewrite(&r, "/zumi01/a/../b"),
        rw("/b", Some("/zumi01"), None)
    );

    // Several alternatives: the longest matching one is stripped.
    let r = rules(&[&["PathPrefixStrip:/a,/a/b/,/c"]]);
    assert_eq!(rewrite(&r, "/a/b/c"), rw("/c", Some("/a/b/"), None));
    assert_eq!(rewrite(&r, "/a/x"), rw("/x", Some("/a"), None));
    assert_eq!(rewrite(&r, "/c"), rw("/", Some("/c"), None));

    // Templates strip what they matched.
    let r = rules(&[&["PathPrefixStrip:/u/{id:[0-9]+}"]]);
    assert_eq!(
        rewrite(&r, "/u/42/photos"),
        rw("/photos", Some("/u/42"), None)
    );
}

#[test]
fn regex_strips() {
    let r = rules(&[&["PathStripRegex:/api/{v:v[0-9]}"]]);
    assert_eq!(rewrite(&r, "/api/v1"), rw("/", Some("/api/v1"), None));
    assert_eq!(at(&r, "/api/v1/x"), None);
    let r = rules(&[&["PathPrefixStripRegex:/articles/{category}/{id:[0-9]+}"]]);
    assert_eq!(
        rewrite(&r, "/articles/news/42/comments"),
        rw("/comments", Some("/articles/news/42"), None)
    );
    assert_eq!(at(&r, "/articles/news/x"), None);
}

#[test]
fn add_prefix_and_replace_path() {
    let r = rules(&[&["PathPrefix:/a;AddPrefix:/api"]]);
    assert_eq!(rewrite(&r, "/a/b"), rw("/api/a/b", None, None));
    let r = rules(&[&["PathPrefix:/a;AddPrefix:api"]]);
    assert_eq!(rewrite(&r, "/a"), rw("/api/a", None, None));

    let r = rules(&[&["PathPrefix:/a;ReplacePath:/serverless-path"]]);
    assert_eq!(
        rewrite(&r, "/a/b"),
        rw("/serverless-path", None, Some("/a/b"))
    );
    // ReplacePath sees the normalized path.
    assert_eq!(
        rewrite(&r, "/a/./b"),
        rw("/serverless-path", None, Some("/a/b"))
    );
}

#[test]
fn replace_path_regex() {
    let r = rules(&[&["PathPrefix:/api;ReplacePathRegex: ^/api/v2/(.*) /api/$1"]]);
    assert_eq!(
        rewrite(&r, "/api/v2/users"),
        rw("/api/users", None, Some("/api/v2/users"))
    );
    // Not matching: no change, no X-Replaced-Path.
    assert_eq!(rewrite(&r, "/api/v1/users"), None);
    assert_eq!(at(&r, "/api/v1/users"), Some(0));

    // Go replacement syntax: ${name}, ${1}, $$ and a name as long as possible.
    let r = rules(&[&["ReplacePathRegex:^/(?P<a>[a-z]+)/([0-9]+) /${2}/${a}/$$/$1x"]]);
    assert_eq!(
        rewrite(&r, "/abc/12"),
        rw("/12/abc/$/", None, Some("/abc/12"))
    );
    // Commas belong to the regex (Traefik 1.7 would have split them).
    let r = rules(&[&["ReplacePathRegex:^/v{1,2}/(.*) /x/$1"]]);
    assert_eq!(rewrite(&r, "/vv/y"), rw("/x/y", None, Some("/vv/y")));
}

#[test]
fn modifiers_run_in_1_7_order() {
    // Written in reverse; applied strip -> add prefix -> replace.
    let r = rules(&[&["AddPrefix:/backend;PathPrefixStrip:/zumi01"]]);
    assert_eq!(
        rewrite(&r, "/zumi01/x"),
        rw("/backend/x", Some("/zumi01"), None)
    );

    let r = rules(&[&[
        "ReplacePathRegex:^/backend/(.*) /b/$1",
        "AddPrefix:/backend",
        "PathPrefixStrip:/zumi01",
    ]]);
    assert_eq!(
        rewrite(&r, "/zumi01/x"),
        rw("/b/x", Some("/zumi01"), Some("/backend/x"))
    );

    // ReplacePathRegex runs before ReplacePath; X-Replaced-Path is the path
    // before the first replacement.
    let r = rules(&[&["PathPrefix:/a;ReplacePath:/final;ReplacePathRegex:^/a /b"]]);
    assert_eq!(rewrite(&r, "/a"), rw("/final", None, Some("/a")));

    // Two strips remove consecutive pieces and report them as one prefix.
    let r = rules(&[&["PathPrefixStripRegex:/{x:[a-z]}", "PathPrefixStrip:/a/b"]]);
    assert_eq!(rewrite(&r, "/a/b/c"), rw("/", Some("/a/b/c"), None));
}

#[test]
fn error_messages() {
    let e = errors(&[&["PathPrefix:/ok"], &["Host:a.com", "PathPrefx:/zumi01"]]);
    assert_eq!(
        e,
        [RuleError {
            frontend: 1,
            rule: 1,
            message: "unknown matcher \"PathPrefx\"; did you mean \"PathPrefix\"?".into()
        }]
    );

    let e = errors(&[
        &["HostRegexp:{sub:[a-z}.a.com"],
        &[""],
        &["Path:"],
        &["Path:/ok"],
        &["Headers:X-A"],
    ]);
    let by_frontend: Vec<_> = e.iter().map(|e| (e.frontend, e.rule)).collect();
    assert_eq!(by_frontend, [(0, 0), (1, 0), (2, 0), (4, 0)]);
    assert!(
        e[0].message
            .starts_with("HostRegexp: invalid regular expression"),
        "{}",
        e[0].message
    );
    assert!(
        e[0].message.contains("unclosed character class"),
        "{}",
        e[0].message
    );
    assert_eq!(e[1].message, "empty rule");
    assert_eq!(e[2].message, "empty value for Path");
    assert!(e[3].message.contains("key,value pairs"), "{}", e[3].message);

    let msg = |rule: &str| errors(&[&[rule]]).remove(0).message;
    assert_eq!(msg("Path:,,"), "empty value for Path");
    assert!(msg("Path:/a/{id").contains("unbalanced braces"));
    assert!(msg("PathPrefix:zumi01").contains("must start with \"/\""));
    assert!(msg("Method:GE T").contains("invalid method"));
    assert!(msg("Headers:Bad Name,1").contains("invalid header name"));
    assert!(msg("HeadersRegexp:X-A,(").contains("invalid regular expression"));
    assert!(msg("Query:foo").contains("key=value"));
    assert!(msg("Query:=x").contains("missing key"));
    assert!(msg("ReplacePathRegex:^/a").contains("separated by a space"));
    assert!(msg("ReplacePathRegex:( /x").contains("invalid regular expression"));
    assert!(msg("Nonsense").contains("missing \":\""));
}

#[test]
fn matcher_names_are_case_insensitive() {
    let r = rules(&[&["pathprefix:/a; METHOD:get"], &["host:A.com"]]);
    assert_eq!(at(&r, "/a"), Some(0));
    assert_eq!(winner(&r, "/", Some("a.com")), Some(1));
}

#[test]
fn empty_router() {
    let r = Router::default();
    assert!(r.is_empty());
    assert_eq!(
        r.route(
            &Method::GET,
            &"/".parse().unwrap(),
            &HeaderMap::new(),
            CLIENT
        ),
        None
    );
    let r = Router::compile(&[]).unwrap();
    assert_eq!(r.len(), 0);
    assert_eq!(at(&r, "/"), None);
}

#[test]
fn router_is_shareable() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Router>();
}

#[test]
fn request_host_sources() {
    let h = |target: &str, host: Option<&str>| {
        let r = req("GET", target, host, &[]);
        request_host(&r.uri, &r.headers).map(str::to_owned)
    };
    assert_eq!(
        h("/", Some("example.com:8080")).as_deref(),
        Some("example.com")
    );
    assert_eq!(h("/", Some("Example.com")).as_deref(), Some("Example.com"));
    assert_eq!(h("/", Some("[::1]:8080")).as_deref(), Some("[::1]"));
    assert_eq!(h("/", Some("[::1]")).as_deref(), Some("[::1]"));
    assert_eq!(h("/", Some("")), None);
    assert_eq!(h("/", None), None);
    assert_eq!(
        h("http://a.com:1/", Some("b.com")).as_deref(),
        Some("a.com")
    );
}

#[test]
fn hosts_of_rules() {
    let hosts = rule_hosts(
        &[
            "Host:A.com, b.com.;PathPrefix:/x".into(),
            "HostRegexp:{x}.c.com".into(),
            "Host:a.com".into(),
            "Bad".into(),
        ],
        RuleSyntax::Traefik1,
    );
    assert_eq!(hosts, ["a.com", "b.com"]);
    let hosts = rule_hosts(
        &[
            "Host(`A.com`) && PathPrefix(`/x`) || HostHeader(`b.com.`, `c.com`)".into(),
            "!Host(`not.com`) && HostRegexp(`.+`)".into(),
            "Host(`a.com`)".into(),
            "Host(".into(),
        ],
        RuleSyntax::Traefik3,
    );
    assert_eq!(hosts, ["a.com", "b.com", "c.com"]);
}

#[test]
fn many_frontends_route_through_the_index() {
    let mut specs: Vec<String> = (0..1000)
        .map(|i| format!("PathPrefix:/device{i:03}"))
        .collect();
    specs.extend((0..500).map(|i| format!("Host:h{i}.example.com")));
    specs.extend((0..500).map(|i| format!("Host:h{i}.example.com;PathPrefix:/api")));
    specs.push("HostRegexp:{x}.regexp.com".into());
    specs.extend((0..300).map(|i| format!("HostRegexp:{{sub:[a-z]+}}.dev{i}.example.com")));
    let frontends: Vec<_> = specs
        .iter()
        .map(|r| FrontendRules {
            wants_vars: false,
            priority: 0,
            rules: vec![r.clone()],
            syntax: RuleSyntax::Traefik1,
            modifiers: Vec::new(),
        })
        .collect();
    let r = Router::compile(&frontends).unwrap();
    assert_eq!(at(&r, "/device999/x"), Some(999));
    assert_eq!(at(&r, "/device000"), Some(0));
    assert_eq!(winner(&r, "/device5", Some("H499.example.com")), Some(1499));
    assert_eq!(winner(&r, "/api/x", Some("h499.example.com")), Some(1999));
    // "PathPrefix:/device123" (20 bytes) beats "Host:h1.example.com" (19).
    assert_eq!(winner(&r, "/device123", Some("h1.example.com")), Some(123));
    assert_eq!(winner(&r, "/", Some("a.regexp.com")), Some(2000));
    assert_eq!(at(&r, "/nothing"), None);
    assert_eq!(winner(&r, "/", Some("abc.DEV299.example.com")), Some(2300));
    assert_eq!(winner(&r, "/", Some("ab1.dev299.example.com")), None);
    let long = format!("{}.regexp.com", "a".repeat(300));
    assert_eq!(winner(&r, "/", Some(&long)), Some(2000));
}

/// xorshift64*: deterministic, dependency-free randomness for tests.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

fn random_item(rng: &mut Rng) -> String {
    const PATHS: &[&str] = &[
        "/",
        "/a",
        "/ab",
        "/a/b",
        "/b",
        "/a/{x}",
        "/{x}/b",
        "/%61b",
        "/a/",
        "/{x:[ab]+}",
    ];
    const HOSTS: &[&str] = &["a.com", "B.com", "c.org", "a.com."];
    let paths = |rng: &mut Rng| {
        let n = 1 + rng.below(2);
        (0..n)
            .map(|_| *rng.pick(PATHS))
            .collect::<Vec<_>>()
            .join(",")
    };
    match rng.below(11) {
        0 | 1 => format!(
            "Host:{}",
            (0..1 + rng.below(2))
                .map(|_| *rng.pick(HOSTS))
                .collect::<Vec<_>>()
                .join(",")
        ),
        2 => rng
            .pick(&[
                "HostRegexp:{s}.a.com,c.org",
                "HostRegexp:{s:[a-z.]+}.com",
                "HostRegexp:{s}",
            ])
            .to_string(),
        3 | 4 => format!("PathPrefix:{}", paths(rng)),
        5 => format!("Path:{}", paths(rng)),
        6 => format!("PathPrefixStrip:{}", paths(rng)),
        7 => format!("PathStrip:{}", paths(rng)),
        8 => format!("Method:{}", rng.pick(&["GET", "POST", "GET,PUT"])),
        9 => format!("Headers:X-A,{}", rng.pick(&["1", "2"])),
        _ => format!("Query:q={}", rng.pick(&["1", "{n:[0-9]+}"])),
    }
}

fn random_request(rng: &mut Rng) -> Req {
    const SEGMENTS: &[&str] = &["a", "b", "ab", "..", ".", "", "%61", "x", "%2e%2e", "A"];
    let path: String = (0..rng.below(5))
        .map(|_| format!("/{}", rng.pick(SEGMENTS)))
        .collect();
    let path = if path.is_empty() {
        "/".to_string()
    } else {
        path
    };
    let query = *rng.pick(&["", "?q=1", "?q=x", "?q=12&z"]);
    let host = *rng.pick(&[
        Some("a.com"),
        Some("A.COM:8080"),
        Some("b.com"),
        Some("c.org."),
        None,
        Some("x.a.com"),
        Some("y.b.a.com"),
    ]);
    let method = *rng.pick(&["GET", "POST", "PUT"]);
    const HEADERS: &[&[(&str, &str)]] = &[&[], &[("x-a", "1")], &[("x-a", "2"), ("x-a", "1")]];
    let headers = *rng.pick(HEADERS);
    let target = if rng.below(4) == 0 && host.is_some() {
        format!("http://{}{path}{query}", host.unwrap_or_default())
    } else {
        format!("{path}{query}")
    };
    req(method, &target, host, headers)
}

#[test]
fn index_agrees_with_linear_scan_on_random_rules() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut matched = 0;
    for _ in 0..300 {
        let n = 1 + rng.below(40);
        let frontends: Vec<FrontendRules> = (0..n)
            .map(|_| FrontendRules {
                wants_vars: false,
                priority: *rng.pick(&[0, 0, 0, 1, 2, 50]),
                rules: (0..1 + rng.below(2))
                    .map(|_| {
                        (0..1 + rng.below(2))
                            .map(|_| random_item(&mut rng))
                            .collect::<Vec<_>>()
                            .join(";")
                    })
                    .collect(),
                syntax: RuleSyntax::Traefik1,
                modifiers: Vec::new(),
            })
            .collect();
        let router = Router::compile(&frontends).unwrap_or_else(|e| panic!("{e:?}"));
        for _ in 0..100 {
            let r = random_request(&mut rng);
            // `route` asserts agreement with `route_linear`.
            matched += usize::from(route(&router, &r).is_some());
        }
    }
    // The generator must exercise matches, not just misses.
    assert!(matched > 5_000, "only {matched} matches");
}

#[test]
fn odd_inputs_never_panic() {
    const ALPHABET: &[&str] = &[
        "{",
        "}",
        "[",
        "]",
        "(",
        ")",
        "/",
        ":",
        ";",
        ",",
        "=",
        ".",
        "%",
        "%2",
        "%2e",
        "\\",
        " ",
        "a",
        "Z",
        "0",
        "*",
        "?",
        "$",
        "^",
        "|",
        "é",
        "Host",
        "HostRegexp",
        "Path",
        "PathPrefix",
        "PathPrefixStrip",
        "PathStripRegex",
        "Method",
        "Headers",
        "HeadersRegexp",
        "Query",
        "AddPrefix",
        "ReplacePath",
        "ReplacePathRegex",
        "{x}",
        "{x:.*}",
        "..",
    ];
    let mut rng = Rng(42);
    let mut compiled = 0;
    for _ in 0..3000 {
        let mut rule: String = (0..rng.below(12)).map(|_| *rng.pick(ALPHABET)).collect();
        if rng.below(4) != 0 {
            // Mostly well-formed names, so that values get exercised too.
            let slash = if rng.below(2) == 0 { "/" } else { "" };
            rule = format!("{}:{slash}{rule}", rng.pick(&ALPHABET[26..]));
        }
        let frontends = [FrontendRules {
            wants_vars: false,
            priority: rng.below(3) as i64 - 1,
            rules: vec![rule.clone()],
            syntax: RuleSyntax::Traefik1,
            modifiers: Vec::new(),
        }];
        let Ok(router) = Router::compile(&frontends) else {
            continue;
        };
        compiled += 1;
        for _ in 0..5 {
            let path: String = (0..rng.below(8)).map(|_| *rng.pick(ALPHABET)).collect();
            let path = normalize_path(&format!("/{path}")).into_owned();
            assert_eq!(normalize_path(&path), path, "not idempotent");
            if let Ok(uri) = Uri::try_from(format!("{path}?{}", rng.pick(&["a=%", "=", "q=1&&"]))) {
                let _ = router.route(&Method::GET, &uri, &HeaderMap::new(), CLIENT);
            }
        }
    }
    assert!(compiled > 100, "only {compiled} rules compiled");
    for raw in [
        "",
        "*",
        "%",
        "/%",
        "/%%",
        "/..",
        "/.%2",
        "//%2e%2e//",
        "/\u{0}",
        "/é/%C3",
    ] {
        let _ = normalize_path(raw);
    }
}

// === Traefik 2/3 rules ===

fn v3(rules: &[&str]) -> Router {
    Router::compile(&v3_frontends(rules)).unwrap_or_else(|e| panic!("{e:?}"))
}

fn v3_frontends(rules: &[&str]) -> Vec<FrontendRules> {
    rules
        .iter()
        .map(|r| FrontendRules {
            wants_vars: false,
            priority: 0,
            rules: vec![r.to_string()],
            syntax: RuleSyntax::Traefik3,
            modifiers: Vec::new(),
        })
        .collect()
}

fn v3_error(rule: &str) -> String {
    let errors = Router::compile(&v3_frontends(&[rule])).expect_err(rule);
    errors[0].message.clone()
}

fn hit(router: &Router, r: Req) -> Option<usize> {
    route(router, &r).map(|m| m.frontend)
}

#[test]
fn traefik3_host_path_and_boolean_operators() {
    let r = v3(&[
        "Host(`cam.example.com`) && PathPrefix(`/zumi01`)",
        "(Host(`a.test`) || Host(`b.test`)) && !PathPrefix(`/admin`)",
        "Host(`c.test`) && (Method(`POST`) || Header(`X-Debug`, `1`))",
        "PathPrefix(`/`)",
    ]);
    let get = |target: &str, host: &str| hit(&r, req("GET", target, Some(host), &[]));
    assert_eq!(get("/zumi01/tree", "cam.example.com"), Some(0));
    assert_eq!(get("/zumi01/tree", "CAM.example.com:8443"), Some(0));
    assert_eq!(get("/zumi02", "cam.example.com"), Some(3));
    assert_eq!(get("/x", "a.test"), Some(1));
    assert_eq!(get("/x", "b.test"), Some(1));
    assert_eq!(get("/admin/x", "b.test"), Some(3));
    assert_eq!(get("/x", "c.test"), Some(3));
    assert_eq!(hit(&r, req("POST", "/x", Some("c.test"), &[])), Some(2));
    assert_eq!(
        hit(&r, req("GET", "/x", Some("c.test"), &[("x-debug", "1")])),
        Some(2)
    );
    assert_eq!(
        hit(&r, req("GET", "/x", Some("c.test"), &[("x-debug", "2")])),
        Some(3)
    );
}

#[test]
fn traefik3_priority_is_the_rule_length() {
    // The longer rule wins whatever the order; ties go to the first.
    let r = v3(&[
        "PathPrefix(`/a`)",
        "PathPrefix(`/a/b`)",
        "PathPrefix(`/a/c`)",
    ]);
    assert_eq!(at(&r, "/a/b/x"), Some(1));
    assert_eq!(at(&r, "/a/x"), Some(0));
    let r = v3(&["Host(`example.com`)", "Host(`example.com`) && Path(`/p`)"]);
    assert_eq!(at(&r, "/p"), Some(1));
    assert_eq!(at(&r, "/q"), Some(0));
}

#[test]
fn traefik3_and_traefik2_matchers() {
    let r = v3(&[
        // Traefik 3 HostRegexp: a plain regex, unanchored, any case.
        "HostRegexp(`^[a-z]+\\.dev\\.test$`)",
        // Traefik 2 HostRegexp: a mux template.
        "HostRegexp(`{device:[0-9]+}.fleet.test`)",
        "Host(`q.test`) && Query(`mode`, `live`)",
        "Host(`q.test`) && Query(`id=`, `x={v:[0-9]+}`)",
        "Host(`q.test`) && QueryRegexp(`n`, `^[0-9]{3}$`)",
        "Host(`r.test`) && PathRegexp(`\\.(jpg|png)$`)",
        "Host(`r.test`) && HeaderRegexp(`Accept`, `image/`)",
        "Host(`m.test`) && Method(`PUT`, `PATCH`)",
        "Host(`h2.test`, `h3.test`) && Path(`/one`, `/two/{id}`)",
    ]);
    let get = |target: &str, host: &str| hit(&r, req("GET", target, Some(host), &[]));
    assert_eq!(get("/", "cam.DEV.test"), Some(0));
    assert_eq!(get("/", "cam.dev.test.evil"), None);
    assert_eq!(get("/", "42.fleet.test"), Some(1));
    assert_eq!(get("/", "x42.fleet.test"), None);
    assert_eq!(get("/?mode=live", "q.test"), Some(2));
    assert_eq!(get("/?mode=still", "q.test"), None);
    assert_eq!(get("/?id=&x=12", "q.test"), Some(3));
    assert_eq!(get("/?id=&x=ab", "q.test"), None);
    assert_eq!(get("/?n=123", "q.test"), Some(4));
    assert_eq!(get("/?n=1234", "q.test"), None);
    assert_eq!(get("/pic/a.png", "r.test"), Some(5));
    assert_eq!(get("/pic/a.gif", "r.test"), None);
    assert_eq!(
        hit(
            &r,
            req("GET", "/x", Some("r.test"), &[("accept", "image/webp")])
        ),
        Some(6)
    );
    assert_eq!(hit(&r, req("PATCH", "/", Some("m.test"), &[])), Some(7));
    assert_eq!(hit(&r, req("GET", "/", Some("m.test"), &[])), None);
    assert_eq!(get("/one", "h3.test"), Some(8));
    assert_eq!(get("/two/7", "h2.test"), Some(8));
    assert_eq!(get("/two/7/x", "h2.test"), None);
}

#[test]
fn traefik3_client_ip_is_the_peer() {
    let r = v3(&[
        "ClientIP(`192.0.2.0/24`) && PathPrefix(`/`)",
        "ClientIP(`10.0.0.1`, `::1`)",
    ]);
    let mut from = req("GET", "/", Some("a"), &[("x-forwarded-for", "10.0.0.1")]);
    assert_eq!(hit(&r, from.clone()), Some(0));
    from.client = "10.0.0.1".parse().unwrap();
    assert_eq!(hit(&r, from.clone()), Some(1));
    from.client = "::1".parse().unwrap();
    assert_eq!(hit(&r, from.clone()), Some(1));
    // X-Forwarded-For is not the client.
    from.client = "203.0.113.9".parse().unwrap();
    assert_eq!(hit(&r, from), None);
}

#[test]
fn traefik3_errors_name_the_place_and_the_fix() {
    assert_eq!(
        v3_error("Host(`a`) && PathPrefx(`/x`)"),
        "at character 14: unknown matcher \"PathPrefx\"; did you mean \"PathPrefix\"?"
    );
    assert!(v3_error("PathPrefix:/x").contains("Traefik 1.7's syntax"));
    assert!(v3_error("Path(`x`)").contains("must start with \"/\""));
    assert!(v3_error("Header(`X-A`)").contains("takes two arguments"));
    assert!(v3_error("Host()").contains("at least one argument"));
    assert!(v3_error("Host(``)").contains("argument 1 is empty"));
    assert!(v3_error("HostRegexp(`(`)").contains("invalid regular expression"));
    assert!(v3_error("ClientIP(`10.0.0.0/33`)").contains("prefix length"));
    assert!(v3_error("Method(`G T`)").contains("invalid method"));
    assert!(v3_error("Query(`a`, `b`, `c`)").contains("Query takes"));
}

#[test]
fn traefik3_index_agrees_with_linear_scan_on_random_rules() {
    let mut rng = Rng(0x5EED_0F7A_3F1C);
    let leaf = |rng: &mut Rng| -> String {
        (*rng.pick(&[
            "Host(`a.com`)",
            "Host(`b.com`, `a.com`)",
            "HostRegexp(`^.+\\.a\\.com$`)",
            "HostRegexp(`{x:[a-z]+}.b.a.com`)",
            "PathPrefix(`/a`)",
            "Path(`/a/b`)",
            "PathRegexp(`^/a?b$`)",
            "Method(`POST`)",
            "Header(`x-a`, `1`)",
            "Query(`q`, `1`)",
            "ClientIP(`192.0.2.0/24`)",
        ]))
        .to_string()
    };
    let mut matched = 0;
    for _ in 0..200 {
        let n = 1 + rng.below(20);
        let rules: Vec<String> = (0..n)
            .map(|_| {
                let (a, b, c) = (leaf(&mut rng), leaf(&mut rng), leaf(&mut rng));
                match rng.below(5) {
                    0 => a,
                    1 => format!("{a} && {b}"),
                    2 => format!("{a} || {b}"),
                    3 => format!("{a} && !({b} || {c})"),
                    _ => format!("({a} || {b}) && {c}"),
                }
            })
            .collect();
        let refs: Vec<&str> = rules.iter().map(String::as_str).collect();
        let router = v3(&refs);
        for _ in 0..100 {
            let r = random_request(&mut rng);
            // `route` asserts agreement with `route_linear`.
            matched += usize::from(route(&router, &r).is_some());
        }
    }
    assert!(
        matched > 1000,
        "too few matches to mean anything: {matched}"
    );
}

/// Variables of the rules of one frontend that wants them.
fn vars_of(rules: &[&str], r: &Req) -> Option<Vec<(String, String)>> {
    let router = Router::compile(&[FrontendRules {
        wants_vars: true,
        priority: 0,
        rules: rules.iter().map(|r| r.to_string()).collect(),
        syntax: RuleSyntax::Traefik1,
        modifiers: Vec::new(),
    }])
    .unwrap();
    let m = route(&router, r)?;
    Some(m.vars.into_iter().map(|(n, v)| (n.into(), v)).collect())
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

#[test]
fn variables_of_templated_rules() {
    // Path: the strip modifier's template, default and explicit patterns.
    let get = |path: &str| req("GET", path, Some("example.com"), &[]);
    assert_eq!(
        vars_of(
            &["PathPrefixStrip:/cam/{device:[a-z0-9-]+}"],
            &get("/cam/zumi-07/stream")
        ),
        Some(pairs(&[("device", "zumi-07")]))
    );
    assert_eq!(
        vars_of(
            &["PathPrefixStrip:/cam/{device:[a-z0-9-]+}"],
            &get("/cam/ZUMI/x")
        ),
        None
    );
    // Host values are lower-case; several variables in rule order. (1.7's
    // `Host` is a plain name, braces and all: templates are `HostRegexp`.)
    assert_eq!(
        vars_of(
            &["HostRegexp:{device}.cams.example.com;PathPrefix:/{site}/"],
            &req("GET", "/lab2/x", Some("Zumi01.cams.example.com:443"), &[])
        ),
        Some(pairs(&[("device", "zumi01"), ("site", "lab2")]))
    );
    // A name given twice keeps its first value; a query template too.
    assert_eq!(
        vars_of(&["Path:/{a}/{a}", "Query:cam={cam}"], &get("/x/y?cam=c3")),
        Some(pairs(&[("a", "x"), ("cam", "c3")]))
    );
    // Alternatives: the variables of the one that matched.
    assert_eq!(
        vars_of(
            &["HostRegexp:{d}.a.example,{d}.b.example"],
            &req("GET", "/", Some("q.b.example"), &[])
        ),
        Some(pairs(&[("d", "q")]))
    );
    // A user's own groups in a pattern do not shift the variables.
    assert_eq!(
        vars_of(&["Path:/{x:(a|b)(c)}/{y}"], &get("/bc/z")),
        Some(pairs(&[("x", "bc"), ("y", "z")]))
    );
    // Frontends that do not want them get none (and pay nothing).
    let r = rules(&[&["PathPrefix:/cam/{device}"]]);
    assert!(route(&r, &get("/cam/a")).unwrap().vars.is_empty());
}
