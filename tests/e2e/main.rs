//! End-to-end tests: the real `tollgate` binary, real backends on
//! 127.0.0.1, real clients. See harness/ for the helpers.

mod harness;

mod access_log;
mod acme;
mod acme_dns01;
mod acme_traefik;
mod balancing;
mod check;
mod cluster;
mod connection_life;
mod errors;
mod examples;
mod fleet;
mod h2_abuse;
mod h2c;
mod headers;
mod health;
mod http1_lane;
mod lifecycle;
mod limits;
mod observability;
mod packaging;
mod plugin_tck;
mod plugins;
mod pooling;
mod proxy_protocol;
mod reload;
mod routing;
mod seed;
mod slow_clients;
mod streaming;
mod strictness;
mod timeouts;
mod tls;
mod traefik3;
mod tunnels;
mod upstream_http1;
mod websocket;
