//! [`StandardProxyAuth`]: the `sstp-proxy-auth` schemes (NTLMv2 > Digest SHA-256 > Digest MD5 >
//! Basic) behind the [`ProxyAuthenticator`] seam, with OpenSSL's RNG and the system clock.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sstp_proxy_auth::{Credentials, Entropy};

use crate::config::ProxyCredentials;
use crate::connect::{ProxyAuthStep, ProxyAuthenticator};

/// Proxy authentication with every scheme of `sstp-proxy-auth`. Created lazily on the first
/// 407 (or preemptively when `preemptive_basic` is set).
#[derive(Debug, Default)]
pub struct StandardProxyAuth {
    inner: Option<sstp_proxy_auth::ProxyAuthenticator>,
    /// Refuse Basic (the password would cross to the proxy in clear).
    pub refuse_basic: bool,
    /// Send Basic with the first CONNECT, before any challenge.
    pub preemptive_basic: bool,
}

impl StandardProxyAuth {
    /// The authenticator for `cfg`'s proxy: Basic refused when its `refuse_basic` is set.
    pub fn for_config(cfg: &crate::TunnelConfig) -> Self {
        StandardProxyAuth {
            refuse_basic: cfg.proxy.as_ref().is_some_and(|p| p.refuse_basic),
            ..StandardProxyAuth::default()
        }
    }

    fn authenticator(
        &mut self,
        credentials: &ProxyCredentials,
        target: &str,
    ) -> &mut sstp_proxy_auth::ProxyAuthenticator {
        let (refuse, pre) = (self.refuse_basic, self.preemptive_basic);
        self.inner.get_or_insert_with(|| {
            sstp_proxy_auth::ProxyAuthenticator::new(
                Credentials::new(credentials.user.clone(), credentials.password.clone()),
                target,
            )
            .allow_basic(!refuse)
            .preemptive_basic(pre)
        })
    }
}

fn entropy() -> Entropy {
    let mut random = [0u8; 32];
    if openssl::rand::rand_bytes(&mut random).is_err() {
        // Without a CSPRNG, fall back to the clock; Digest cnonce/NTLM client challenge only
        // need uniqueness against the proxy, not secrecy.
        let n = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        random[..16].copy_from_slice(&n.to_le_bytes());
    }
    let unix_time = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    Entropy { random, unix_time }
}

impl ProxyAuthenticator for StandardProxyAuth {
    fn initial(&mut self, credentials: &ProxyCredentials, target: &str) -> Option<String> {
        self.authenticator(credentials, target).initial_header()
    }

    fn respond(
        &mut self,
        challenges: &[String],
        credentials: &ProxyCredentials,
        target: &str,
    ) -> Result<ProxyAuthStep, String> {
        let step = self
            .authenticator(credentials, target)
            .respond(challenges, 407, &entropy())
            .map_err(|e| e.to_string())?;
        Ok(ProxyAuthStep {
            header_value: step.header_value.clone(),
            needs_same_connection: step.needs_same_connection,
        })
    }

    fn on_success(&mut self) {
        if let Some(a) = &mut self.inner {
            a.on_success();
        }
    }
}
