//! [metrics]: where the Prometheus endpoint listens (off unless `listen` is set).

use std::net::SocketAddr;

use serde::Deserialize;
use toml::Spanned;

use super::{at, ConfigError, Locate};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetricsConfig {
    /// `GET /metrics` is served here; None: no endpoint.
    pub listen: Option<SocketAddr>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMetrics {
    listen: Option<Spanned<String>>,
}

impl RawMetrics {
    pub(super) fn validate(self, located: &Locate) -> Result<MetricsConfig, ConfigError> {
        let listen = match self.listen {
            None => None,
            Some(l) => Some(l.get_ref().trim().parse::<SocketAddr>().map_err(|e| {
                located(
                    at(&l),
                    format!(
                        "listen: `{}` is not an address to listen on ({e}); write e.g. \"127.0.0.1:9464\"",
                        l.get_ref()
                    ),
                )
            })?),
        };
        Ok(MetricsConfig { listen })
    }
}
