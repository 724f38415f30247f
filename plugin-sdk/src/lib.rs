//! Guest SDK for tollgate plugins (http-wasm ABI). Filled in by the WebAssembly middleware work.
