//! The wasm module: everything is in the library, so that its logic is unit
//! tested natively.
tollgate_plugin_sdk::export_plugin!(basic_auth::BasicAuth);
