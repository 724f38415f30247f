//! The module's entry points. Keep this file this small: the logic lives in
//! lib.rs, where `cargo test` can reach it without wasm.
tollgate_plugin_sdk::export_plugin!(api_key_auth::ApiKeyAuth);
