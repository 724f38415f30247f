//! `[etcd]` (Traefik 1.7) and `providers.etcd` (2/3): frontends, backends
//! and plugins kept in etcd under a prefix, so that several instances serve
//! one configuration. Only the connection is read here; the keys themselves
//! are a document like a provider file (`tree::Tree::from_kv`), and
//! `reload::etcd` fetches and follows them.

use std::path::Path;

use crate::config::model::{EtcdProvider, EtcdTls, PemSource};
use crate::config::tree::Node;

/// 1.7's and 2/3's default endpoint.
const DEFAULT_ENDPOINT: &str = "127.0.0.1:2379";

/// `[etcd]`: `endpoint` (one, or several separated by commas), `prefix`
/// (`/traefik`), `watch` (true), `username`/`password`, `[etcd.tls]`.
pub(super) fn read_etcd(root: &Node<'_>, config_path: &Path) -> Option<EtcdProvider> {
    let section = root.section("etcd")?;
    let endpoints = match section
        .get("endpoint")
        .and_then(|n| n.str().map(|s| (n.clone(), s)))
    {
        Some((node, text)) => endpoint_list(&node, text.split(',').map(str::trim)),
        None => vec![DEFAULT_ENDPOINT.to_owned()],
    };
    // 1.7 used the v3 API only with this flag; tollgate speaks v3 always.
    let _ = section.get("useAPIV3").and_then(|n| n.bool());
    for unsupported in ["filename", "templateVersion", "constraints", "trace"] {
        if let Some(n) = section.get(unsupported) {
            n.read_subtree();
            n.warn(format!(
                "etcd `{unsupported}` is not supported: the keys are read in Traefik's KV layout, \
                 ignored"
            ));
        }
    }
    let prefix = read_prefix(&section, "prefix", "/traefik");
    Some(EtcdProvider {
        endpoints,
        prefix,
        watch: section.get("watch").and_then(|n| n.bool()).unwrap_or(true),
        username: section
            .get("username")
            .and_then(|n| n.str().map(str::to_owned)),
        password: section
            .get("password")
            .and_then(|n| n.str().map(str::to_owned)),
        tls: read_tls(&section, config_path),
    })
    .filter(|p| check_credentials(&section, p))
}

/// `providers.etcd`: `endpoints` (a list), `rootKey` (`traefik`),
/// `username`/`password`, `tls`. 2/3 always watch.
pub(super) fn read_etcd_v3(section: &Node<'_>, config_path: &Path) -> Option<EtcdProvider> {
    if !section.expect_table() {
        return None;
    }
    let endpoints = match section.get("endpoints") {
        Some(node) => {
            let list = node.str_list()?;
            endpoint_list(&node, list.iter().map(String::as_str))
        }
        None => vec![DEFAULT_ENDPOINT.to_owned()],
    };
    let prefix = read_prefix(section, "rootKey", "traefik");
    Some(EtcdProvider {
        endpoints,
        prefix,
        watch: true,
        username: section
            .get("username")
            .and_then(|n| n.str().map(str::to_owned)),
        password: section
            .get("password")
            .and_then(|n| n.str().map(str::to_owned)),
        tls: read_tls(section, config_path),
    })
    .filter(|p| check_credentials(section, p))
}

/// `host:port` or `http(s)://host:port` each; anything with a path, no
/// port or other scheme is refused here rather than at the first dial.
fn endpoint_list<'a>(node: &Node<'_>, items: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut out = Vec::new();
    let mut refused = false;
    for item in items.filter(|s| !s.is_empty()) {
        let rest = item
            .strip_prefix("http://")
            .or_else(|| item.strip_prefix("https://"))
            .unwrap_or(item);
        let valid = match rest.rsplit_once(':') {
            Some((host, port)) => {
                !host.is_empty()
                    && !host.contains(['/', '@', ' '])
                    && port.parse::<u16>().is_ok_and(|p| p > 0)
            }
            None => false,
        };
        if valid {
            out.push(item.to_owned());
        } else {
            refused = true;
            node.error(format!(
                "etcd endpoint {item:?}: expected host:port or http(s)://host:port"
            ));
        }
    }
    if out.is_empty() && !refused {
        node.error("no etcd endpoint given");
    }
    out
}

fn read_prefix(section: &Node<'_>, key: &'static str, default: &str) -> String {
    let Some(node) = section.get(key) else {
        return default.to_owned();
    };
    let Some(text) = node.str() else {
        return default.to_owned();
    };
    let trimmed = text.trim_end_matches('/');
    if trimmed.contains("//") || trimmed.chars().any(char::is_control) {
        node.error(format!(
            "etcd {key} {text:?}: a key prefix such as \"/traefik\""
        ));
    }
    trimmed.to_owned()
}

fn read_tls(section: &Node<'_>, config_path: &Path) -> Option<EtcdTls> {
    let tls = section.section("tls")?;
    let base = config_path.parent().unwrap_or(Path::new(""));
    let pem = |key: &'static str| {
        tls.get(key)
            .and_then(|n| n.str().map(|s| PemSource::from_config(s, base)))
    };
    let out = EtcdTls {
        ca: pem("ca"),
        cert: pem("cert"),
        key: pem("key"),
    };
    if let Some(n) = tls.get("caOptional") {
        let _ = n.bool();
    }
    if let Some(n) = tls.get("insecureSkipVerify") {
        if n.bool() == Some(true) {
            n.warn(
                "insecureSkipVerify is not supported for etcd: its certificate is always \
                 checked (give `ca`)",
            );
        }
    }
    if out.cert.is_some() != out.key.is_some() {
        tls.error("etcd tls: give both `cert` and `key` (a client certificate), or neither");
        return None;
    }
    Some(out)
}

fn check_credentials(section: &Node<'_>, p: &EtcdProvider) -> bool {
    if p.username.is_some() != p.password.is_some() {
        section.error("etcd: give both `username` and `password`, or neither");
        return false;
    }
    true
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::load::{load_with_kv, KvKeys};
    use crate::config::model::Config;

    use super::super::tests::{errors, loaded};

    const MAIN: &str = "[entryPoints.web]\naddress = \":8080\"\n[entryPoints.other]\naddress = \":8081\"\n[etcd]\nendpoint = \"10.0.0.1:2379, https://10.0.0.2:2379\"\n";

    fn with_keys(pairs: &[(&str, &str)]) -> Result<Config, Vec<String>> {
        let keys = KvKeys {
            label: "etcd".into(),
            prefix: "/traefik".into(),
            provider: "/traefik".into(),
            pairs: pairs
                .iter()
                .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
                .collect(),
        };
        load_with_kv(Path::new("/etc/tollgate/t.toml"), MAIN, Some(&keys))
            .map_err(|e| e.errors.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn settings_have_traefik_defaults_and_are_checked() {
        let c = loaded("[etcd]\n");
        let etcd = c.etcd.unwrap();
        assert_eq!(etcd.endpoints, ["127.0.0.1:2379"]);
        assert_eq!((etcd.prefix.as_str(), etcd.watch), ("/traefik", true));
        let c = loaded(MAIN);
        assert_eq!(
            c.etcd.unwrap().endpoints,
            ["10.0.0.1:2379", "https://10.0.0.2:2379"]
        );
        let e = errors(
            "[etcd]\nendpoint = \"etcd.local\"\nusername = \"u\"\n[etcd.tls]\ncert = \"c.pem\"\n",
        );
        assert!(
            e.iter()
                .any(|e| e.contains("\"etcd.local\": expected host:port")),
            "{e:?}"
        );
        assert!(
            e.iter().any(|e| e.contains("both `cert` and `key`")),
            "{e:?}"
        );
        assert!(
            e.iter()
                .any(|e| e.contains("both `username` and `password`")),
            "{e:?}"
        );
    }

    #[test]
    fn keys_read_as_traefiks_kv_layout() {
        let c = with_keys(&[
            (
                "/traefik/backends/b/servers/s1/url",
                "http://127.0.0.1:9001",
            ),
            ("/traefik/backends/b/servers/s1/weight", "5"),
            ("/traefik/frontends/f/backend", "b"),
            ("/traefik/frontends/f/passhostheader", "false"),
            ("/traefik/frontends/f/priority", "7"),
            ("/traefik/frontends/f/entrypoints", "web, other"),
            ("/traefik/frontends/f/routes/r/rule", "PathPrefix:/f"),
            ("/traefik/frontends/g/backend", "b"),
            ("/traefik/frontends/g/entrypoints/1", "other"),
            ("/traefik/frontends/g/entrypoints/0", "web"),
            ("/traefik/frontends/g/routes/r/rule", "Host:g.example"),
            ("/traefik/frontends/g/middlewares/0", "p"),
            ("/traefik/plugins/p/path", "p.wasm"),
            ("/traefik/plugins/p/config/names/0", "a"),
            ("/traefik/plugins/p/config/mode", "x"),
        ])
        .unwrap();
        let f = &c.frontends["f"];
        assert_eq!((f.pass_host_header, f.priority), (false, 7));
        assert_eq!(f.entry_points, ["web", "other"]);
        assert_eq!(c.backends["b"].servers[0].weight, 5);
        assert_eq!(c.frontends["g"].entry_points, ["web", "other"]);
        let p = &c.plugins["p"];
        // Relative to the main file, as for [plugins] written there.
        assert_eq!(p.path, Path::new("/etc/tollgate/p.wasm"));
        assert_eq!(p.config, serde_json::json!({"names": ["a"], "mode": "x"}));
        // The keys are not files to watch.
        assert!(c.dynamic_files.is_empty());
    }

    #[test]
    fn a_bad_key_is_refused_by_its_name() {
        let e = with_keys(&[
            (
                "/traefik/backends/b/servers/s1/url",
                "http://127.0.0.1:9001",
            ),
            ("/traefik/backends/b/servers/s1/weight", "heavy"),
            ("/traefik/frontends/f/backend", "nosuch"),
            ("/traefik/frontends/f/passhostheader", "maybe"),
            ("/traefik/frontends/f/routes/r/rule", "PathPrefix:/f"),
            ("/traefik/frontends/f/routes/r/rule/x", "y"),
        ])
        .unwrap_err();
        let all = e.join("\n");
        for said in [
            "etcd: /traefik/backends/b/servers/s1/weight: expected an integer, found \"heavy\"",
            "etcd: /traefik/frontends/f/passhostheader: expected a boolean (true or false), found \"maybe\"",
            "etcd: /traefik/frontends/f/backend",
            "etcd: /traefik/frontends/f/routes/r/rule/x: \"rule\" is both a value and a folder",
        ] {
            assert!(all.contains(said), "{said}\nnot in:\n{all}");
        }
    }

    #[test]
    fn a_name_in_both_the_file_and_etcd_is_refused_naming_both() {
        let keys = KvKeys {
            label: "etcd".into(),
            prefix: "/traefik".into(),
            provider: "/traefik".into(),
            pairs: vec![(
                b"/traefik/backends/b/servers/s/url".to_vec(),
                b"http://127.0.0.1:1".to_vec(),
            )],
        };
        let main = format!("{MAIN}[backends.b.servers.s]\nurl = \"http://127.0.0.1:2\"\n");
        let e = load_with_kv(Path::new("t.toml"), &main, Some(&keys)).unwrap_err();
        let all = e.to_string();
        assert!(
            all.contains("etcd: /traefik/backends/b") && all.contains("t.toml:"),
            "{all}"
        );
    }
}
