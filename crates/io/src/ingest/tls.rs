//! TLS client settings: rustls with the ring provider and Mozilla's roots (webpki-roots).
//!
//! Owns: building the one `ClientConfig` every TLS connection uses. Must not touch: sockets.
//! The provider is passed explicitly, so nothing depends on a process-wide default being
//! installed first (main installs one anyway for libraries that look for it).

use std::sync::{Arc, OnceLock};

/// The shared client config (certificates verified against webpki roots).
pub fn client_config() -> Arc<rustls::ClientConfig> {
    static CFG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    CFG.get_or_init(|| {
        let roots =
            rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let cfg = match rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
        {
            Ok(b) => b.with_root_certificates(roots).with_no_client_auth(),
            // The ring provider supports the safe defaults; this arm only guards the API.
            Err(_) => rustls::ClientConfig::builder()
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth(),
        };
        Arc::new(cfg)
    })
    .clone()
}

/// Installs ring as the process-wide rustls provider (idempotent).
pub fn install_default_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
