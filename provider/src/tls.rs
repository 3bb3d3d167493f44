//! The process-wide rustls crypto provider that tonic's TLS relies on.

/// Makes ring rustls' process-wide default unless one is installed. tonic's
/// TLS uses that default, and rustls cannot pick one by itself when a build
/// enables more than one of its crypto back ends (as a workspace that also
/// builds aws-lc-rs for another crate does).
pub fn ensure_crypto_provider() {
    // An error means a default is installed already, which is fine.
    let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
}
