//! Reading a whole body into memory, for guests that buffer (and only for
//! them): bounded by the plugin's body limit, keeping trailers and the
//! body's `maxConn` permit.

use bytes::Bytes;
use http::HeaderMap;
use http_body_util::{BodyExt, LengthLimitError, Limited};

use crate::body::Guard;
use crate::body::ProxyBody;

pub(crate) enum CollectError {
    TooLarge,
    Failed(String),
}

pub(crate) struct Collected {
    pub data: Bytes,
    pub trailers: Option<HeaderMap>,
    pub permit: Option<Guard>,
}

pub(crate) async fn collect(mut body: ProxyBody, limit: usize) -> Result<Collected, CollectError> {
    let permit = body.take_guard();
    match Limited::new(body, limit).collect().await {
        Ok(collected) => {
            let trailers = collected.trailers().cloned();
            Ok(Collected {
                data: collected.to_bytes(),
                trailers,
                permit,
            })
        }
        Err(e) if e.is::<LengthLimitError>() => Err(CollectError::TooLarge),
        Err(e) => Err(CollectError::Failed(e.to_string())),
    }
}
