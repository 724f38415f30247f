//! Small builders for Traefik-1.7-style TOML used by the tests.

/// Top-level settings plus one `127.0.0.1:0` entrypoint per name; the first
/// one is the default entrypoint.
pub fn entrypoints(names: &[&str]) -> String {
    let mut s = format!(
        "logLevel = \"INFO\"\ndefaultEntryPoints = [\"{}\"]\n\n[entryPoints]\n",
        names[0]
    );
    for n in names {
        s += &format!("  [entryPoints.{n}]\n  address = \"127.0.0.1:0\"\n");
    }
    s + "\n"
}

/// Just the `http` entrypoint.
pub fn http_only() -> String {
    entrypoints(&["http"])
}

/// `[frontends.NAME]` with one route.
pub fn frontend(name: &str, backend: &str, rule: &str) -> String {
    format!(
        "[frontends.{name}]\nbackend = \"{backend}\"\n  [frontends.{name}.routes.r1]\n  rule = \"{rule}\"\n\n"
    )
}

/// `[frontends.NAME]` with one route and extra frontend keys (`extra` is
/// inserted verbatim below `backend = ...`).
pub fn frontend_with(name: &str, backend: &str, rule: &str, extra: &str) -> String {
    format!(
        "[frontends.{name}]\nbackend = \"{backend}\"\n{extra}\n  [frontends.{name}.routes.r1]\n  rule = \"{rule}\"\n\n"
    )
}

/// `[backends.NAME]` with one server `s1`.
pub fn backend(name: &str, url: &str) -> String {
    weighted_backend(name, &[(url, 1)])
}

/// `[backends.NAME]` with servers `s1..sN` and their weights.
pub fn weighted_backend(name: &str, servers: &[(&str, u32)]) -> String {
    let mut s = String::new();
    for (i, (url, w)) in servers.iter().enumerate() {
        s += &format!(
            "[backends.{name}.servers.s{}]\nurl = \"{url}\"\nweight = {w}\n",
            i + 1
        );
    }
    s + "\n"
}
