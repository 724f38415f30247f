//! `tollgate plugin new NAME`: a plugin crate that tests, builds and runs
//! as it is, outside this repository. It holds the template plugin of
//! `examples/plugin-template` (an API-key check, with its tests), a
//! runnable `tollgate.toml`, and a copy of the plugin SDK under `vendor/`
//! (the SDK is not published: a vendored path is the dependency line that
//! works anywhere, offline included). Everything is compiled into the
//! binary, so the command works without a checkout.

use std::path::{Path, PathBuf};

/// The template plugin (its `main.rs` is written anew: it names the crate).
const TEMPLATE_LIB: &str = include_str!("../../examples/plugin-template/src/lib.rs");

/// The SDK's sources, by path under its `src/`.
const SDK_SOURCES: [(&str, &str); 7] = [
    ("lib.rs", include_str!("../../plugin-sdk/src/lib.rs")),
    ("abi.rs", include_str!("../../plugin-sdk/src/abi.rs")),
    ("ffi.rs", include_str!("../../plugin-sdk/src/ffi.rs")),
    ("glue.rs", include_str!("../../plugin-sdk/src/glue.rs")),
    ("host.rs", include_str!("../../plugin-sdk/src/host.rs")),
    (
        "message.rs",
        include_str!("../../plugin-sdk/src/message.rs"),
    ),
    (
        "testing.rs",
        include_str!("../../plugin-sdk/src/testing.rs"),
    ),
];

/// Write the crate `NAME/` under `parent`; returns its path.
pub fn new_plugin(name: &str, parent: &Path) -> Result<PathBuf, String> {
    check_name(name)?;
    let dir = parent.join(name);
    if dir.exists() {
        return Err(format!("{} already exists", dir.display()));
    }
    let lib = name.replace('-', "_");
    let version = env!("CARGO_PKG_VERSION");
    let files: Vec<(PathBuf, String)> = vec![
        ("Cargo.toml".into(), cargo_toml(name, &lib, version)),
        ("src/lib.rs".into(), TEMPLATE_LIB.to_owned()),
        ("src/main.rs".into(), main_rs(&lib)),
        ("tollgate.toml".into(), tollgate_toml(name)),
        ("README.md".into(), readme(name)),
        (".gitignore".into(), "/target\n".into()),
        (
            "vendor/tollgate-plugin-sdk/Cargo.toml".into(),
            sdk_cargo_toml(version),
        ),
    ]
    .into_iter()
    .chain(SDK_SOURCES.iter().map(|(file, text)| {
        (
            Path::new("vendor/tollgate-plugin-sdk/src").join(file),
            (*text).to_owned(),
        )
    }))
    .collect();
    for (path, text) in files {
        let path = dir.join(path);
        if let Some(folder) = path.parent() {
            std::fs::create_dir_all(folder)
                .map_err(|e| format!("cannot create {}: {e}", folder.display()))?;
        }
        std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(dir)
}

/// A cargo package name that is also a good `.wasm` file and TOML key.
fn check_name(name: &str) -> Result<(), String> {
    let ok = name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not a plugin name: use lower-case letters, digits and '-', \
             starting with a letter (e.g. my-auth)"
        ))
    }
}

fn cargo_toml(name: &str, lib: &str, version: &str) -> String {
    format!(
        r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2021"
publish = false

# The plugin's logic: plain Rust, tested natively with `cargo test`.
[lib]
name = "{lib}"
path = "src/lib.rs"

# The .wasm module: `cargo build --release --target wasm32-wasip1`
# writes target/wasm32-wasip1/release/{name}.wasm.
[[bin]]
name = "{name}"
path = "src/main.rs"
test = false

[dependencies]
# tollgate's plugin SDK {version}, copied here by `tollgate plugin new`.
tollgate-plugin-sdk = {{ path = "vendor/tollgate-plugin-sdk" }}
serde = {{ version = "1", features = ["derive"] }}

[dev-dependencies]
serde_json = "1"

# A project of its own, whatever folder it is in.
[workspace]

# A small module.
[profile.release]
opt-level = "s"
lto = true
codegen-units = 1
strip = true
panic = "abort"
"#
    )
}

fn main_rs(lib: &str) -> String {
    format!(
        "//! The module's entry points. Keep this file this small: the logic lives in\n\
         //! lib.rs, where `cargo test` can reach it without wasm.\n\
         tollgate_plugin_sdk::export_plugin!({lib}::ApiKeyAuth);\n"
    )
}

fn tollgate_toml(name: &str) -> String {
    format!(
        r#"# The plugin in front of a service on 127.0.0.1:9000:
#   cargo build --release --target wasm32-wasip1
#   tollgate run --config tollgate.toml
#   curl -i http://127.0.0.1:8080/api/                                   # 401
#   curl -i -H 'X-Api-Key: 9f2c1c0d5b7e4a4f' http://127.0.0.1:8080/api/  # the service
# After a rebuild, `kill -HUP` the tollgate process: it loads the new module.

[entryPoints.http]
address = "127.0.0.1:8080"

[plugins.{name}]
path = "target/wasm32-wasip1/release/{name}.wasm"   # relative to this file
timeout = "50ms"
memory = "16MiB"
  [plugins.{name}.config]
  header = "X-Api-Key"
  clientHeader = "X-Client"
  [plugins.{name}.config.keys]
  printer-farm = "9f2c1c0d5b7e4a4f"

[frontends.api]
backend = "api"
middlewares = ["{name}"]
  [frontends.api.routes.r1]
  rule = "PathPrefix:/api"

[backends.api.servers.s1]
url = "http://127.0.0.1:9000"
"#
    )
}

fn readme(name: &str) -> String {
    format!(
        r#"# {name}

A tollgate plugin (http-wasm), made by `tollgate plugin new {name}`. It starts
as an API-key check: change `src/lib.rs` into what you need.

```sh
rustup target add wasm32-wasip1          # once
cargo test                               # the plugin's tests, natively
cargo build --release --target wasm32-wasip1
tollgate check --config tollgate.toml    # loads the module with its config
tollgate run --config tollgate.toml      # in front of 127.0.0.1:9000
```

The SDK is in `vendor/tollgate-plugin-sdk` (its API: `cargo doc --open -p
tollgate-plugin-sdk`). The guide, with what tollgate guarantees a plugin:
https://github.com/tollgate-proxy/tollgate/blob/main/examples/WRITING-AN-AUTH-PLUGIN.md
"#
    )
}

fn sdk_cargo_toml(version: &str) -> String {
    format!(
        r#"# tollgate's plugin SDK, vendored by `tollgate plugin new`.
[package]
name = "tollgate-plugin-sdk"
version = "{version}"
edition = "2021"
license = "Apache-2.0"
description = "Guest SDK for tollgate WebAssembly (http-wasm) plugins"
publish = false

[lib]
name = "tollgate_plugin_sdk"

[dependencies]
serde = {{ version = "1", features = ["derive"] }}
serde_json = "1"
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_cargo_and_toml_friendly() {
        for ok in ["my-auth", "a", "jwt2"] {
            assert_eq!(check_name(ok), Ok(()), "{ok}");
        }
        for bad in ["", "My-Auth", "2fa", "my_auth", "my-", "a b", "../x"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn every_sdk_source_is_vendored() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugin-sdk/src");
        let mut on_disk: Vec<String> = std::fs::read_dir(src)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        on_disk.sort();
        let mut listed: Vec<&str> = SDK_SOURCES.iter().map(|(f, _)| *f).collect();
        listed.sort();
        assert_eq!(on_disk, listed, "add the new SDK file to SDK_SOURCES");
    }

    #[test]
    fn writes_a_crate_and_refuses_to_overwrite() {
        let parent = std::env::temp_dir().join(format!("tollgate-scaffold-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&parent);
        let dir = new_plugin("my-auth", &parent).unwrap();
        let cargo = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
        assert!(cargo.contains("name = \"my_auth\"") && cargo.contains("[workspace]"));
        let main = std::fs::read_to_string(dir.join("src/main.rs")).unwrap();
        assert!(main.contains("export_plugin!(my_auth::ApiKeyAuth)"));
        assert!(dir
            .join("vendor/tollgate-plugin-sdk/src/testing.rs")
            .is_file());
        let err = new_plugin("my-auth", &parent).unwrap_err();
        assert!(err.ends_with("already exists"), "{err}");
        std::fs::remove_dir_all(&parent).unwrap();
    }
}
