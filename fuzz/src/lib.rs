//! What the fuzz targets share: reading raw bytes as the HTTP/1 request that
//! hyper would hand the runner, and checking an API Gateway event the way a
//! function built on `lambda_http` reads it.

pub mod gateway;
pub mod wire;
