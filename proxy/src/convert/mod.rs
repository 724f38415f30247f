//! `tollgate convert --from 1.7 FILE`: a Traefik 1.7 configuration written
//! as Traefik 2/3's, in YAML or TOML, from the loaded model (so the 1.7
//! defaults and the `[file]` provider's files are in it already).
//!
//! Frontends become routers (their rules upgraded by
//! `router::to_traefik3`, their modifiers path middlewares), backends
//! services, `basicAuth`/`[headers]` middlewares, entry point TLS `http.tls`
//! plus `tls.certificates`/`tls.options`, `[acme]` a resolver named `acme`, `rootCAs`, `insecureSkipVerify` and
//! `[forwardingTimeouts]` `serversTransport`. What has no Traefik 2/3
//! equivalent that tollgate reads is listed in the
//! notes (and at the top of the file), never dropped silently.
//!
//! The output keeps static and dynamic parts in one file, which tollgate
//! reads as it is; Traefik itself wants `http` and `tls` in a file of its
//! file provider.

mod out;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use crate::config::model::{
    BasicAuth, Config, LogFormat, PathModifier, PemSource, TlsConfig, TlsVersion,
};
use crate::router::to_traefik3;

use self::out::Out;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Yaml,
    Toml,
}

/// The converted file, and what did not convert.
pub struct Converted {
    pub text: String,
    pub notes: Vec<String>,
}

pub fn from_traefik1(config: &Config, format: Format) -> Result<Converted, String> {
    let mut c = Converter {
        root: Out::map(),
        notes: Vec::new(),
        base: config
            .source
            .parent()
            .unwrap_or(Path::new(""))
            .to_path_buf(),
    };
    let services = Services::of(config);
    c.entry_points(config);
    c.frontends(config, &services)?;
    c.backends(config, &services);
    c.tls(config);
    c.acme(config);
    c.globals(config);
    let body = match format {
        Format::Yaml => c.root.to_yaml(),
        Format::Toml => c.root.to_toml(),
    };
    let mut text = format!(
        "# Converted from {} (Traefik 1.7) by `tollgate convert`.\n\
         # Static and dynamic parts are in this one file, as tollgate reads it;\n\
         # Traefik wants `http` and `tls` in a file of its file provider.\n\
         # Router priorities are 1.7's (its rules' length), written out so that\n\
         # requests are routed as before.\n",
        config.source.display()
    );
    for note in &c.notes {
        text.push_str(&format!("# NOT CONVERTED: {note}\n"));
    }
    text.push('\n');
    text.push_str(&body);
    Ok(Converted {
        text,
        notes: c.notes,
    })
}

/// The services the backends become. Traefik 2/3 set `passHostHeader` on
/// the service, 1.7 on the frontend: a backend whose frontends disagree
/// becomes two services, the second named `BACKEND-nohost` for the
/// frontends that do not pass the Host.
struct Services<'c> {
    /// Each frontend's service.
    of_frontend: BTreeMap<&'c str, String>,
    /// Every service, the frontends' first, then unused backends as they are.
    all: Vec<Service<'c>>,
}

struct Service<'c> {
    name: String,
    backend: &'c str,
    pass_host_header: bool,
}

impl<'c> Services<'c> {
    fn of(config: &'c Config) -> Services<'c> {
        // Per backend: whether some frontend passes the Host, some does not.
        let mut passes: BTreeMap<&str, (bool, bool)> = BTreeMap::new();
        for f in config.frontends.values() {
            let (some, none) = passes.entry(f.backend.as_str()).or_default();
            *some |= f.pass_host_header;
            *none |= !f.pass_host_header;
        }
        let mut services = Services {
            of_frontend: BTreeMap::new(),
            all: Vec::new(),
        };
        for f in config.frontends.values() {
            let split = passes[f.backend.as_str()] == (true, true);
            let name = if split && !f.pass_host_header {
                format!("{}-nohost", f.backend)
            } else {
                f.backend.clone()
            };
            services.add(&name, &f.backend, f.pass_host_header);
            services.of_frontend.insert(&f.name, name);
        }
        for name in config.backends.keys() {
            services.add(name, name, true);
        }
        services
    }

    fn add(&mut self, name: &str, backend: &'c str, pass_host_header: bool) {
        if !self.all.iter().any(|s| s.name == name) {
            self.all.push(Service {
                name: name.to_owned(),
                backend,
                pass_host_header,
            });
        }
    }
}

struct Converter {
    root: Out,
    notes: Vec<String>,
    base: std::path::PathBuf,
}

fn duration(d: Duration) -> Out {
    let ms = d.as_millis();
    Out::str(if ms % 1000 == 0 {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    })
}

impl Converter {
    /// A path as written relative to the config's folder when it is in it.
    fn path(&self, p: &Path) -> Out {
        Out::str(
            p.strip_prefix(&self.base)
                .unwrap_or(p)
                .display()
                .to_string(),
        )
    }

    fn pem(&self, pem: &PemSource) -> Out {
        match pem {
            PemSource::File(p) => self.path(p),
            PemSource::Inline(text) => Out::str(text.clone()),
        }
    }

    fn entry_points(&mut self, config: &Config) {
        for (name, ep) in &config.entry_points {
            let node = self.root.at(&["entryPoints", name]);
            node.set("address", Out::str(&ep.address));
            if let Some(r) = &ep.redirect {
                match &r.entry_point {
                    Some(target) => {
                        let scheme = if config.entry_points.get(target).is_some_and(|t| t.tls.is_some()) {
                            "https"
                        } else {
                            "http"
                        };
                        let redirect = node.at(&["http", "redirections", "entryPoint"]);
                        redirect.set("to", Out::str(target));
                        redirect.set("scheme", Out::str(scheme));
                        redirect.set("permanent", Out::Bool(r.permanent));
                    }
                    None => self.notes.push(format!(
                        "entryPoints.{name}.redirect by regex (Traefik 3's redirectRegex middleware, not read by tollgate yet)"
                    )),
                }
            }
            let node = self.root.at(&["entryPoints", name]);
            if ep.tls.is_some() {
                node.at(&["http"]).set("tls", Out::map());
            }
            for (key, sources) in [
                ("forwardedHeaders", Some(&ep.forwarded_headers)),
                ("proxyProtocol", ep.proxy_protocol.as_ref()),
            ] {
                let Some(s) = sources else { continue };
                if !s.insecure && s.trusted_ips.is_empty() && key == "forwardedHeaders" {
                    continue;
                }
                let section = node.at(&[key]);
                if s.insecure {
                    section.set("insecure", Out::Bool(true));
                }
                if !s.trusted_ips.is_empty() {
                    section.set("trustedIPs", Out::strs(&s.trusted_ips));
                }
            }
            let timeouts = ep
                .responding_timeouts
                .clone()
                .unwrap_or_else(|| config.responding_timeouts.clone());
            if timeouts != Default::default() {
                let t = node.at(&["transport", "respondingTimeouts"]);
                if let Some(d) = timeouts.read {
                    t.set("readTimeout", duration(d));
                }
                if let Some(d) = timeouts.write {
                    t.set("writeTimeout", duration(d));
                }
                t.set("idleTimeout", duration(timeouts.idle));
            }
            if config.grace_timeout != Duration::from_secs(10) {
                node.at(&["transport", "lifeCycle"])
                    .set("graceTimeOut", duration(config.grace_timeout));
            }
            if ep.auth.is_some() {
                self.notes.push(format!(
                    "entryPoints.{name}.auth (basic auth of a whole entry point, the API's included): add a basicAuth middleware to the entry point's http.middlewares"
                ));
            }
            if ep.limits != Default::default() {
                self.notes.push(format!("entryPoints.{name}.limits: copy the section as it is (tollgate reads it in both dialects)"));
            }
        }
    }

    fn frontends(&mut self, config: &Config, services: &Services<'_>) -> Result<(), String> {
        for (name, f) in &config.frontends {
            let rules: Vec<String> = f.routes.iter().map(|r| r.rule.clone()).collect();
            let upgraded = to_traefik3(&rules).map_err(|e| format!("frontends.{name}: {e}"))?;
            let mut middlewares = Vec::new();
            for (i, m) in upgraded.modifiers.iter().enumerate() {
                let mw = format!(
                    "{name}-path{}",
                    if i == 0 {
                        String::new()
                    } else {
                        format!("-{i}")
                    }
                );
                self.path_middleware(&mw, m);
                middlewares.push(mw);
            }
            if let Some(auth) = &f.basic_auth {
                let mw = format!("{name}-auth");
                self.basic_auth(&mw, auth);
                middlewares.insert(0, mw);
            }
            if let Some(headers) = f.headers_to_apply() {
                let mw = format!("{name}-headers");
                self.headers(&mw, headers);
                middlewares.insert(0, mw);
            }
            middlewares.extend(f.middlewares.iter().map(|(p, _)| p.clone()));
            let service = &services.of_frontend[name.as_str()];
            let router = self.root.at(&["http", "routers", name]);
            router.set("rule", Out::str(&upgraded.rule));
            if upgraded.v2_syntax {
                router.set("ruleSyntax", Out::str("v2"));
            }
            router.set("entryPoints", Out::strs(&config.entry_points_of(f)));
            router.set("service", Out::str(service));
            if !middlewares.is_empty() {
                router.set("middlewares", Out::strs(&middlewares));
            }
            // 1.7's priority written out: 2/3 also order by the rule's
            // length, but the rewritten rule is longer by a different amount
            // per matcher, which could reorder overlapping routers.
            let priority = if f.priority > 0 {
                f.priority
            } else {
                rules.iter().map(|r| r.len() as i64).sum()
            };
            router.set("priority", Out::Int(priority));
        }
        for (name, plugin) in &config.plugins {
            let p = self.root.at(&["plugins", name]);
            p.set(
                "path",
                Out::str(
                    plugin
                        .path
                        .strip_prefix(&self.base)
                        .unwrap_or(&plugin.path)
                        .display()
                        .to_string(),
                ),
            );
            if let Some(t) = plugin.timeout {
                p.set("timeout", duration(t));
            }
            if let Some(m) = plugin.memory {
                p.set("memory", Out::Int(m as i64));
            }
            p.set("config", json(&plugin.config));
        }
        Ok(())
    }

    fn path_middleware(&mut self, name: &str, m: &PathModifier) {
        let node = self.root.at(&["http", "middlewares", name]);
        match m {
            PathModifier::StripPrefix(p) => node.at(&["stripPrefix"]).set("prefixes", Out::strs(p)),
            PathModifier::StripPrefixRegex(r) => {
                node.at(&["stripPrefixRegex"]).set("regex", Out::strs(r))
            }
            PathModifier::AddPrefix(p) => node.at(&["addPrefix"]).set("prefix", Out::str(p)),
            PathModifier::ReplacePath(p) => node.at(&["replacePath"]).set("path", Out::str(p)),
            PathModifier::ReplacePathRegex { regex, replacement } => {
                let n = node.at(&["replacePathRegex"]);
                n.set("regex", Out::str(regex));
                n.set("replacement", Out::str(replacement));
            }
        }
    }

    fn basic_auth(&mut self, name: &str, auth: &BasicAuth) {
        let users_file = auth.users_file.as_ref().map(|p| self.path(p));
        let node = self.root.at(&["http", "middlewares", name, "basicAuth"]);
        if !auth.users.is_empty() {
            node.set("users", Out::strs(&auth.users));
        }
        if let Some(file) = users_file {
            node.set("usersFile", file);
        }
        if let Some(realm) = &auth.realm {
            node.set("realm", Out::str(realm));
        }
        if auth.remove_header {
            node.set("removeHeader", Out::Bool(true));
        }
        if let Some(field) = &auth.header_field {
            node.set("headerField", Out::str(field));
        }
    }

    fn headers(&mut self, name: &str, headers: &serde_json::Value) {
        let node = self.root.at(&["http", "middlewares", name]);
        node.set("headers", json(headers));
    }

    fn backends(&mut self, config: &Config, services: &Services<'_>) {
        for service in &services.all {
            let (backend_name, pass_host) = (service.backend, service.pass_host_header);
            let Some(b) = config.backends.get(backend_name) else {
                continue;
            };
            let service = &service.name;
            let lb = self.root.at(&["http", "services", service, "loadBalancer"]);
            let servers = b
                .servers
                .iter()
                .map(|s| {
                    let mut m = Out::map();
                    m.set("url", Out::str(&s.url));
                    if s.weight != 1 {
                        m.set("weight", Out::Int(i64::from(s.weight)));
                    }
                    m
                })
                .collect();
            lb.set("servers", Out::List(servers));
            if !pass_host {
                lb.set("passHostHeader", Out::Bool(false));
            }
            if let Some(hc) = &b.health_check {
                let h = lb.at(&["healthCheck"]);
                h.set("path", Out::str(&hc.path));
                h.set("interval", duration(hc.interval));
                h.set("timeout", duration(hc.timeout));
                if let Some(port) = hc.port {
                    h.set("port", Out::Int(i64::from(port)));
                }
                if let Some(scheme) = hc.scheme {
                    h.set("scheme", Out::str(scheme.name()));
                }
                if let Some(host) = &hc.hostname {
                    h.set("hostname", Out::str(host));
                }
                if !hc.headers.is_empty() {
                    let headers = h.at(&["headers"]);
                    for (k, v) in &hc.headers {
                        headers.set(k, Out::str(v));
                    }
                }
            }
            if let Some(d) = b.flush_interval {
                lb.at(&["responseForwarding"])
                    .set("flushInterval", duration(d));
            }
            if *service != backend_name {
                continue; // a split backend's notes are given once
            }
            if b.load_balancer != Default::default() {
                self.notes.push(format!("backends.{backend_name}.loadBalancer.method {} (Traefik 3 balances by weighted round robin)", b.load_balancer.name()));
            }
            if b.max_conn.is_some() {
                self.notes.push(format!("backends.{backend_name}.maxConn (Traefik 3's inFlightReq middleware, not read by tollgate yet)"));
            }
            if b.max_request_body.is_some() {
                self.notes.push(format!("backends.{backend_name}.buffering (Traefik 3's buffering middleware, not read by tollgate yet)"));
            }
        }
    }

    fn tls(&mut self, config: &Config) {
        let mut certificates: Vec<Out> = Vec::new();
        let mut options: Option<&TlsConfig> = None;
        for (name, ep) in &config.entry_points {
            let Some(tls) = &ep.tls else { continue };
            for pair in &tls.certificates {
                let mut m = Out::map();
                m.set("certFile", self.pem(&pair.cert));
                m.set("keyFile", self.pem(&pair.key));
                if !certificates.contains(&m) {
                    certificates.push(m);
                }
            }
            let has_options = tls.min_version.is_some()
                || !tls.cipher_suites.is_empty()
                || tls.client_ca.is_some()
                || tls.sni_strict;
            if has_options {
                if options.is_some() {
                    self.notes.push(format!("entryPoints.{name}.tls options other than the first TLS entry point's (give its routers tls.options)"));
                } else {
                    options = Some(tls);
                }
            }
        }
        if !certificates.is_empty() {
            self.root
                .at(&["tls"])
                .set("certificates", Out::List(certificates));
        }
        if let Some(tls) = options {
            let ca_files: Option<Vec<Out>> = tls
                .client_ca
                .as_ref()
                .map(|ca| ca.files.iter().map(|f| self.pem(f)).collect());
            let node = self.root.at(&["tls", "options", "default"]);
            if let Some(v) = tls.min_version {
                node.set(
                    "minVersion",
                    Out::str(match v {
                        TlsVersion::Tls12 => "VersionTLS12",
                        TlsVersion::Tls13 => "VersionTLS13",
                    }),
                );
            }
            if !tls.cipher_suites.is_empty() {
                node.set("cipherSuites", Out::strs(&tls.cipher_suites));
            }
            if tls.sni_strict {
                node.set("sniStrict", Out::Bool(true));
            }
            if let (Some(ca), Some(files)) = (&tls.client_ca, ca_files) {
                let auth = node.at(&["clientAuth"]);
                auth.set("caFiles", Out::List(files));
                auth.set(
                    "clientAuthType",
                    Out::str(if ca.optional {
                        "VerifyClientCertIfGiven"
                    } else {
                        "RequireAndVerifyClientCert"
                    }),
                );
            }
        }
    }

    fn acme(&mut self, config: &Config) {
        let Some(acme) = &config.acme else { return };
        let storage = self.path(&acme.storage);
        let node = self.root.at(&["certificatesResolvers", "acme", "acme"]);
        if !acme.email.is_empty() {
            node.set("email", Out::str(&acme.email));
        }
        node.set("storage", storage);
        node.set("caServer", Out::str(&acme.ca_server));
        node.set(
            "keyType",
            Out::str(format!("{:?}", acme.key_type).to_ascii_uppercase()),
        );
        if let Some(ep) = &acme.http_challenge {
            node.at(&["httpChallenge"]).set("entryPoint", Out::str(ep));
        }
        if acme.tls_challenge {
            node.set("tlsChallenge", Out::map());
        }
        if let Some(dns) = &acme.dns_challenge {
            // The provider's settings stay in lego's environment variables.
            let d = node.at(&["dnsChallenge"]);
            d.set("provider", Out::str("rfc2136"));
            if !dns.delay_before_check.is_zero() {
                d.set(
                    "delayBeforeCheck",
                    Out::str(format!("{}s", dns.delay_before_check.as_secs())),
                );
            }
            if !dns.resolvers.is_empty() {
                let resolvers: Vec<String> = dns.resolvers.iter().map(|r| r.to_string()).collect();
                d.set("resolvers", Out::strs(&resolvers));
            }
        }
        // The resolver goes on the entry point, not on routers: a router
        // with its own `tls` answers TLS only, on every entry point it is on,
        // while a 1.7 frontend is also served (or redirected) on plain HTTP.
        self.root
            .at(&["entryPoints", &acme.entry_point, "http", "tls"])
            .set("certResolver", Out::str("acme"));
        if !acme.domains.is_empty() {
            let domains = acme
                .domains
                .iter()
                .map(|names| {
                    let mut m = Out::map();
                    m.set("main", Out::str(&names[0]));
                    if names.len() > 1 {
                        m.set("sans", Out::strs(&names[1..]));
                    }
                    m
                })
                .collect();
            let tls = self
                .root
                .at(&["entryPoints", &acme.entry_point, "http", "tls"]);
            tls.set("domains", Out::List(domains));
        }
        // tollgate's own keys, which its 2/3 resolvers read too.
        let cas: Vec<Out> = acme.ca_certificates.iter().map(|p| self.path(p)).collect();
        let node = self.root.at(&["certificatesResolvers", "acme", "acme"]);
        if !cas.is_empty() {
            node.set("caCertificates", Out::List(cas));
        }
        if acme.acme_logging {
            node.set("acmeLogging", Out::Bool(true));
        }
        if acme.renew_before != Duration::from_secs(30 * 24 * 3600) {
            node.set("renewBefore", duration(acme.renew_before));
        }
    }

    fn globals(&mut self, config: &Config) {
        if let Some(level) = &config.log.level {
            self.root.at(&["log"]).set("level", Out::str(level));
        }
        if let Some(p) = &config.log.file_path {
            let path = self.path(p);
            self.root.at(&["log"]).set("filePath", path);
        }
        if config.log.format == LogFormat::Json {
            self.root.at(&["log"]).set("format", Out::str("json"));
        }
        if let Some(a) = &config.access_log {
            let file = a.file_path.as_ref().map(|p| self.path(p));
            let node = self.root.at(&["accessLog"]);
            if let Some(file) = file {
                node.set("filePath", file);
            }
            if a.format == LogFormat::Json {
                node.set("format", Out::str("json"));
            }
            if !a.status_codes.is_empty() {
                let codes: Vec<String> = a
                    .status_codes
                    .iter()
                    .map(|(lo, hi)| {
                        if lo == hi {
                            lo.to_string()
                        } else {
                            format!("{lo}-{hi}")
                        }
                    })
                    .collect();
                node.at(&["filters"]).set("statusCodes", Out::strs(&codes));
            }
            if a.retry_attempts {
                node.at(&["filters"]).set("retryAttempts", Out::Bool(true));
            }
            if let Some(d) = a.min_duration {
                node.at(&["filters"]).set("minDuration", duration(d));
            }
        }
        if let Some(ep) = &config.ping {
            self.root.at(&["ping"]).set("entryPoint", Out::str(ep));
        }
        if let Some(api) = &config.api {
            let node = self.root.at(&["api"]);
            node.set("insecure", Out::Bool(true));
            node.set("dashboard", Out::Bool(api.dashboard));
            if api.entry_point != "traefik" {
                self.notes.push(format!(
                    "api on entry point {:?} (Traefik 3 serves it on \"traefik\" with insecure)",
                    api.entry_point
                ));
            }
        }
        if let Some(m) = &config.metrics {
            let node = self.root.at(&["metrics", "prometheus"]);
            node.set("entryPoint", Out::str(&m.entry_point));
            node.set(
                "buckets",
                Out::List(m.buckets.iter().map(|b| Out::Float(*b)).collect()),
            );
        }
        if let Some(file) = &config.file {
            // Everything is in this one file now; keep watching it.
            self.root
                .at(&["providers", "file"])
                .set("watch", Out::Bool(file.watch));
        }
        let cas: Vec<Out> = config
            .backend_tls
            .root_cas
            .iter()
            .map(|p| self.pem(p))
            .collect();
        let transport = self.root.at(&["serversTransport"]);
        if config.backend_tls.insecure_skip_verify {
            transport.set("insecureSkipVerify", Out::Bool(true));
        }
        if !cas.is_empty() {
            transport.set("rootCAs", Out::List(cas));
        }
        let (given, defaults) = (
            &config.forwarding_timeouts,
            crate::config::model::ForwardingTimeouts::default(),
        );
        if given.max_idle_per_host != defaults.max_idle_per_host {
            transport.set(
                "maxIdleConnsPerHost",
                Out::Int(given.max_idle_per_host as i64),
            );
        }
        if given.dial != defaults.dial {
            transport
                .at(&["forwardingTimeouts"])
                .set("dialTimeout", duration(given.dial));
        }
        if let Some(d) = given.response_header {
            transport
                .at(&["forwardingTimeouts"])
                .set("responseHeaderTimeout", duration(d));
        }
        if given.idle_conn != defaults.idle_conn {
            transport
                .at(&["forwardingTimeouts"])
                .set("idleConnTimeout", duration(given.idle_conn));
        }
        if matches!(transport, Out::Map(m) if m.is_empty()) {
            self.root.remove("serversTransport");
        }
    }
}

/// A plugin's config, or a headers table, as it was written.
fn json(value: &serde_json::Value) -> Out {
    match value {
        serde_json::Value::Object(map) => {
            Out::Map(map.iter().map(|(k, v)| (k.clone(), json(v))).collect())
        }
        serde_json::Value::Array(list) => Out::List(list.iter().map(json).collect()),
        serde_json::Value::String(s) => Out::str(s),
        serde_json::Value::Bool(b) => Out::Bool(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Out::Int(i),
            None => Out::Float(n.as_f64().unwrap_or_default()),
        },
        serde_json::Value::Null => Out::map(),
    }
}

#[cfg(test)]
mod tests;
