//! Frontend rules (Traefik 1.7 semantics): matchers, modifiers, priority,
//! entrypoint restriction, path normalisation.

use crate::harness::*;
use reqwest::StatusCode;

/// GET `path` on `tg`'s http entrypoint with `Host: host`; the status and,
/// on 200, what the echo backend saw.
async fn get_host(tg: &Tollgate, host: &str, path: &str) -> (StatusCode, Option<Echo>) {
    let (st, body) = send(http1().get(tg.url("http", path)).header("host", host)).await;
    (st, (st == StatusCode::OK).then(|| Echo::parse(&body)))
}

async fn get(tg: &Tollgate, path: &str) -> (StatusCode, Option<Echo>) {
    let (st, body) = send(http1().get(tg.url("http", path))).await;
    (st, (st == StatusCode::OK).then(|| Echo::parse(&body)))
}

/// Asserts `path` is served by echo backend `server`; returns what it saw.
async fn served_by(tg: &Tollgate, path: &str, server: &str) -> Echo {
    let (st, e) = get(tg, path).await;
    assert_eq!(st, StatusCode::OK, "GET {path}");
    let e = e.unwrap();
    assert_eq!(e.server, server, "GET {path} went to the wrong backend");
    e
}

async fn not_found(tg: &Tollgate, path: &str) {
    let (st, e) = get(tg, path).await;
    assert_eq!(
        st,
        StatusCode::NOT_FOUND,
        "GET {path} should match no frontend, got {e:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_and_host_regexp_rules() {
    let (a, b, c) = (echo("a").await, echo("b").await, echo("c").await);
    let toml = http_only()
        + &frontend("fa", "a", "Host:a.example.com")
        + &frontend("fb", "b", "Host:b.example.com")
        + &frontend("fc", "c", "HostRegexp:{sub:[a-z]+}.wild.test")
        + &backend("a", &a.url())
        + &backend("b", &b.url())
        + &backend("c", &c.url());
    let tg = Tollgate::start(&toml, &["http"]).await;

    for (host, want) in [
        ("a.example.com", Some("a")),
        // Host matching ignores case and the port.
        ("A.Example.COM:8080", Some("a")),
        ("b.example.com", Some("b")),
        ("foo.wild.test", Some("c")),
        ("bar.wild.test:81", Some("c")),
        // `{sub:[a-z]+}` does not match digits.
        ("foo1.wild.test", None),
        // The `.` outside the braces is literal, not a regex wildcard.
        ("fooxwild.test", None),
        ("c.example.com", None),
        ("a.example.com.evil.test", None),
    ] {
        let (st, e) = get_host(&tg, host, "/some/path").await;
        match want {
            Some(id) => {
                assert_eq!(st, StatusCode::OK, "Host: {host}");
                let e = e.unwrap();
                assert_eq!(e.server, id, "Host: {host}");
                assert_eq!(e.uri, "/some/path");
            }
            None => assert_eq!(st, StatusCode::NOT_FOUND, "Host: {host} matched {e:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn path_and_path_prefix_forward_the_raw_path_and_query() {
    let (e, z, u) = (echo("exact").await, echo("zumi").await, echo("users").await);
    let toml = http_only()
        + &frontend("exact", "exact", "Path:/exact")
        + &frontend("zumi", "zumi", "PathPrefix:/zumi01")
        + &frontend("users", "users", "Path:/users/{id:[0-9]+}")
        + &backend("exact", &e.url())
        + &backend("zumi", &z.url())
        + &backend("users", &u.url());
    let tg = Tollgate::start(&toml, &["http"]).await;

    let seen = served_by(&tg, "/exact", "exact").await;
    assert_eq!(seen.uri, "/exact");
    not_found(&tg, "/exact/more").await;

    // No modifier: the backend gets exactly the client's path and query.
    let seen = served_by(&tg, "/zumi01/tree?a=1&b=%20x&c", "zumi").await;
    assert_eq!(seen.uri, "/zumi01/tree?a=1&b=%20x&c");
    let seen = served_by(&tg, "/zumi01/static/base/images/favicon.ico", "zumi").await;
    assert_eq!(seen.uri, "/zumi01/static/base/images/favicon.ico");
    let seen = served_by(&tg, "/zumi01", "zumi").await;
    assert_eq!(seen.uri, "/zumi01");

    served_by(&tg, "/users/42", "users").await;
    not_found(&tg, "/users/abc").await;
    not_found(&tg, "/").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strip_modifiers_rewrite_path_and_set_x_forwarded_prefix() {
    let be = echo("be").await;
    let toml = http_only()
        + &frontend("s1", "be", "PathStrip:/strip1")
        + &frontend("s2", "be", "PathPrefixStrip:/api")
        + &frontend("s3", "be", "PathStripRegex:/items/{id:[0-9]+}")
        + &frontend("s4", "be", "PathPrefixStripRegex:/tenants/{id:[0-9]+}")
        + &backend("be", &be.url());
    let tg = Tollgate::start(&toml, &["http"]).await;

    for (path, want_uri, want_prefix) in [
        ("/strip1", "/", "/strip1"),
        ("/api/users?x=1", "/users?x=1", "/api"),
        ("/api", "/", "/api"),
        ("/items/42", "/", "/items/42"),
        ("/tenants/7/profile?q=1", "/profile?q=1", "/tenants/7"),
    ] {
        let seen = served_by(&tg, path, "be").await;
        assert_eq!(seen.uri, want_uri, "GET {path}: path at the backend");
        assert_eq!(
            seen.header("x-forwarded-prefix"),
            Some(want_prefix),
            "GET {path}: X-Forwarded-Prefix"
        );
    }
    // PathStrip is an exact match.
    not_found(&tg, "/strip1/more").await;
    not_found(&tg, "/items/abc").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_prefix_and_replace_path_modifiers() {
    let be = echo("be").await;
    let toml = http_only()
        + &frontend("add", "be", "PathPrefix:/add;AddPrefix:/v1")
        + &frontend("rep", "be", "Path:/old;ReplacePath:/replaced")
        + &frontend(
            "rx",
            "be",
            "PathPrefix:/rx;ReplacePathRegex: ^/rx/(.*) /v2/$1",
        )
        + &frontend("combo", "be", "PathPrefixStrip:/combo;AddPrefix:/base")
        + &backend("be", &be.url());
    let tg = Tollgate::start(&toml, &["http"]).await;

    let seen = served_by(&tg, "/add/x?y=1", "be").await;
    assert_eq!(seen.uri, "/v1/add/x?y=1");

    let seen = served_by(&tg, "/old?k=v", "be").await;
    assert_eq!(seen.uri, "/replaced?k=v");
    assert_eq!(seen.header("x-replaced-path"), Some("/old"));

    let seen = served_by(&tg, "/rx/users/5", "be").await;
    assert_eq!(seen.uri, "/v2/users/5");
    assert_eq!(seen.header("x-replaced-path"), Some("/rx/users/5"));

    // Strip runs before AddPrefix.
    let seen = served_by(&tg, "/combo/x", "be").await;
    assert_eq!(seen.uri, "/base/x");
    assert_eq!(seen.header("x-forwarded-prefix"), Some("/combo"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn method_headers_and_query_matchers() {
    let be = echo("be").await;
    let toml = http_only()
        + &frontend("m", "be", "PathPrefix:/mth;Method:POST,PUT")
        + &frontend("h", "be", "PathPrefix:/hdr;Headers:X-Env,staging")
        + &frontend(
            "hr",
            "be",
            "PathPrefix:/rgx;HeadersRegexp:X-Tenant,^t-[0-9]+$",
        )
        + &frontend("q", "be", "PathPrefix:/qry;Query:debug=1")
        + &backend("be", &be.url());
    let tg = Tollgate::start(&toml, &["http"]).await;
    let c = http1();
    let u = |p: &str| tg.url("http", p);

    let seen = echo_of(c.post(u("/mth")).body("x")).await;
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.body_len, 1);
    assert_eq!(echo_of(c.put(u("/mth"))).await.method, "PUT");
    assert_eq!(send(c.get(u("/mth"))).await.0, StatusCode::NOT_FOUND);

    echo_of(c.get(u("/hdr")).header("x-env", "staging")).await;
    assert_eq!(
        send(c.get(u("/hdr")).header("x-env", "prod")).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(send(c.get(u("/hdr"))).await.0, StatusCode::NOT_FOUND);

    echo_of(c.get(u("/rgx")).header("x-tenant", "t-12")).await;
    assert_eq!(
        send(c.get(u("/rgx")).header("x-tenant", "t-x")).await.0,
        StatusCode::NOT_FOUND
    );

    assert_eq!(
        echo_of(c.get(u("/qry?debug=1&z=2"))).await.uri,
        "/qry?debug=1&z=2"
    );
    assert_eq!(
        send(c.get(u("/qry?debug=2"))).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(send(c.get(u("/qry"))).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn comma_is_or_semicolon_and_routes_are_and() {
    let (alt, and, multi) = (echo("alt").await, echo("and").await, echo("multi").await);
    let toml = http_only()
        + &frontend("alt", "alt", "PathPrefix:/one,/two")
        + &frontend("and", "and", "Host:and.test;PathPrefix:/both")
        + "[frontends.multi]\nbackend = \"multi\"\n  [frontends.multi.routes.r1]\n  rule = \"Host:multi.test\"\n  [frontends.multi.routes.r2]\n  rule = \"PathPrefix:/multi\"\n\n"
        + &backend("alt", &alt.url())
        + &backend("and", &and.url())
        + &backend("multi", &multi.url());
    let tg = Tollgate::start(&toml, &["http"]).await;

    served_by(&tg, "/one/x", "alt").await;
    served_by(&tg, "/two", "alt").await;
    not_found(&tg, "/three").await;

    let (st, e) = get_host(&tg, "and.test", "/both/x").await;
    assert_eq!(
        (st, e.map(|e| e.server)),
        (StatusCode::OK, Some("and".to_string()))
    );
    assert_eq!(
        get_host(&tg, "and.test", "/other").await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get_host(&tg, "other.test", "/both").await.0,
        StatusCode::NOT_FOUND
    );

    let (st, e) = get_host(&tg, "multi.test", "/multi/1").await;
    assert_eq!(
        (st, e.map(|e| e.server)),
        (StatusCode::OK, Some("multi".to_string()))
    );
    assert_eq!(
        get_host(&tg, "other.test", "/multi/1").await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get_host(&tg, "multi.test", "/nope").await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn priority_longer_rule_first_unless_explicit() {
    let ids = ["short", "long", "prio", "specific", "low", "high"];
    let mut backends = Vec::new();
    for id in ids {
        backends.push(echo(id).await);
    }
    // Names sort (and appear in the file) so that order alone would pick
    // the wrong frontend.
    let toml = http_only()
        + &frontend("a_short", "short", "PathPrefix:/p")
        + &frontend("b_long", "long", "PathPrefix:/p/longer")
        + &frontend_with("c_prio", "prio", "PathPrefix:/q", "priority = 100")
        + &frontend("d_specific", "specific", "PathPrefix:/q/specific")
        + &frontend_with(
            "e_low",
            "low",
            "PathPrefix:/r/a/very/long/rule",
            "priority = 1",
        )
        + &frontend_with("f_high", "high", "PathPrefix:/r", "priority = 2")
        + &ids
            .iter()
            .zip(&backends)
            .map(|(id, b)| backend(id, &b.url()))
            .collect::<String>();
    let tg = Tollgate::start(&toml, &["http"]).await;

    served_by(&tg, "/p/longer/x", "long").await;
    served_by(&tg, "/p/other", "short").await;
    served_by(&tg, "/q/specific/x", "prio").await;
    served_by(&tg, "/r/a/very/long/rule/x", "high").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dot_segments_and_double_slashes_route_like_the_clean_path() {
    let (z, o) = (echo("zumi").await, echo("other").await);
    let toml = http_only()
        + &frontend("zumi", "zumi", "PathPrefix:/zumi01")
        + &frontend("other", "other", "PathPrefix:/other")
        + &backend("zumi", &z.url())
        + &backend("other", &o.url());
    let tg = Tollgate::start(&toml, &["http"]).await;
    let addr = tg.addr("http");
    let raw = |path: &str| {
        format!("GET {path} HTTP/1.1\r\nHost: myserver.test\r\nConnection: close\r\n\r\n")
            .into_bytes()
    };

    for (path, want) in [
        ("/zumi01/../other", "other"),
        ("/zumi01/../other/x?y=1", "other"),
        ("/other/../zumi01/tree", "zumi"),
        ("//zumi01/x", "zumi"),
        ("/zumi01/./x", "zumi"),
    ] {
        let r = raw_request(addr, &raw(path)).await;
        assert_eq!(r.status, 200, "GET {path}: {}", r.body_text());
        assert_eq!(
            r.echo().server,
            want,
            "GET {path} routed to the wrong backend"
        );
    }
    // A path that climbs out of /zumi01 must not reach zumi's backend.
    let r = raw_request(addr, &raw("/zumi01/../nowhere")).await;
    assert_eq!(r.status, 404, "GET /zumi01/../nowhere: {}", r.body_text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frontend_entry_points_restrict_where_it_is_served() {
    let (adm, web) = (echo("admin").await, echo("web").await);
    let toml = entrypoints(&["http", "admin"])
        + &frontend_with(
            "f_admin",
            "admin",
            "PathPrefix:/admin",
            "entryPoints = [\"admin\"]",
        )
        + &frontend("f_default", "web", "PathPrefix:/")
        + &backend("admin", &adm.url())
        + &backend("web", &web.url());
    let tg = Tollgate::start(&toml, &["http", "admin"]).await;
    let c = http1();

    assert_eq!(
        echo_of(c.get(tg.url("admin", "/admin/x"))).await.server,
        "admin"
    );
    // Not served on `http`: the catch-all of the default entrypoint answers.
    assert_eq!(
        echo_of(c.get(tg.url("http", "/admin/x"))).await.server,
        "web"
    );
    // The catch-all (default entrypoints = ["http"]) is not on `admin`.
    assert_eq!(
        status_of(&c, &tg.url("admin", "/other")).await,
        StatusCode::NOT_FOUND
    );
}
