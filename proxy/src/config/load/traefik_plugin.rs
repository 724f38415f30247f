//! `[plugins.NAME] traefikPlugin = "DIR"`: a Traefik wasm plugin as it is,
//! in a folder laid out like Traefik's local plugins
//! (`plugins-local/src/<module>/`), whose `.traefik.yml` says
//! `runtime: wasm` and names the module (`wasmPath`, `plugin.wasm` when
//! left out, as in Traefik). The plugin's options (`[plugins.NAME.config]`)
//! reach it as JSON, as Traefik gives a middleware's options.

use std::path::{Path, PathBuf};

use saphyr::{LoadableYamlNode, Yaml};

use crate::config::tree::Node;

/// The `.wasm` file of the plugin folder `node` names, or None (reported).
pub(super) fn wasm_of(node: &Node<'_>, base: &Path) -> Option<PathBuf> {
    let dir = base.join(node.str()?);
    wasm_in(&dir).map_err(|why| node.error(why)).ok()
}

/// The `.wasm` file of the plugin folder `dir`, or why there is none.
pub(super) fn wasm_in(dir: &Path) -> Result<PathBuf, String> {
    let manifest = dir.join(".traefik.yml");
    match read_manifest(&manifest) {
        Ok(wasm_path) => Ok(dir.join(wasm_path)),
        Err(why) => Err(format!("{}: {why}", manifest.display())),
    }
}

/// The manifest's `wasmPath`, once it is known to describe a wasm middleware.
fn read_manifest(path: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read it: {e}"))?;
    let docs = Yaml::load_from_str(&text).map_err(|e| format!("not YAML: {e}"))?;
    let doc = docs.first().ok_or("empty")?;
    if !doc.is_mapping() {
        return Err("expected a mapping (displayName, type, runtime, wasmPath, ...)".into());
    }
    let text_of = |key: &str| doc.as_mapping_get(key).and_then(|v| v.as_str());
    match text_of("runtime") {
        Some("wasm") => {}
        other => {
            return Err(format!(
                "runtime is {}: tollgate runs `runtime: wasm` plugins only (Go plugins \
                 interpreted by Yaegi are not supported)",
                other.map_or("not set (Yaegi)".to_owned(), |r| format!("{r:?}"))
            ))
        }
    }
    match text_of("type") {
        None | Some("middleware") => {}
        Some(other) => {
            return Err(format!(
                "type is {other:?}: only middleware plugins run in tollgate"
            ))
        }
    }
    Ok(text_of("wasmPath")
        .filter(|p| !p.is_empty())
        .unwrap_or("plugin.wasm")
        .to_owned())
}

#[cfg(test)]
mod tests {
    use super::read_manifest;

    fn manifest(text: &str) -> Result<String, String> {
        let dir = std::env::temp_dir().join(format!(
            "tollgate-traefik-manifest-{}-{}",
            std::process::id(),
            text.len()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(".traefik.yml");
        std::fs::write(&path, text).unwrap();
        let read = read_manifest(&path);
        std::fs::remove_dir_all(&dir).unwrap();
        read
    }

    #[test]
    fn wasm_middlewares_are_read_and_others_refused() {
        let ok = "displayName: Stamp\ntype: middleware\nruntime: wasm\nwasmPath: stamp.wasm\n\
                  import: github.com/acme/stamp\nsummary: stamps requests\ntestData:\n  value: x\n";
        assert_eq!(manifest(ok), Ok("stamp.wasm".to_owned()));
        assert_eq!(
            manifest("type: middleware\nruntime: wasm\n"),
            Ok("plugin.wasm".to_owned()),
            "Traefik's default wasmPath"
        );
        let yaegi =
            manifest("displayName: Go\ntype: middleware\nimport: github.com/a/b\n").unwrap_err();
        assert!(yaegi.starts_with("runtime is not set (Yaegi)"), "{yaegi}");
        let provider = manifest("type: provider\nruntime: wasm\n").unwrap_err();
        assert!(provider.contains("only middleware"), "{provider}");
        assert!(manifest("- a\n- b\n")
            .unwrap_err()
            .starts_with("expected a mapping"));
        assert!(manifest("runtime: [wasm\n")
            .unwrap_err()
            .starts_with("not YAML"));
    }
}
