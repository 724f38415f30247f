//! The wasm module: the logic is in the library, unit tested natively.
tollgate_plugin_sdk::export_plugin!(headers::Headers);
