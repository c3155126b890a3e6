//! TLS to a remote broker (`mqtts://host:port`): rustls with the `ring`
//! crypto provider.
//!
//! Everything is read and checked when the configuration is: the trusted
//! roots, and for mutual TLS the client certificate and its key, which must
//! belong together. A broken file is refused then, with the key and the
//! file named, rather than at the first connection attempt hours later.
//!
//! The trusted roots are the private CA in `ca_file` when one is given (a
//! store's own broker usually has a certificate from the chain's own CA),
//! otherwise the platform's (Debian's `ca-certificates`), which the OS keeps
//! up to date; a bundled root list would go stale inside the binary.

use std::path::Path;
use std::sync::Arc;

pub use rustls::ClientConfig;
use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// The files a TLS connection is set up from, by their `[mqtt]` keys.
#[derive(Debug, Clone, Copy, Default)]
pub struct TlsFiles<'a> {
    /// PEM certificates to trust instead of the platform's roots.
    pub ca_file: Option<&'a Path>,
    /// PEM certificate chain the gateway presents (mutual TLS).
    pub client_cert_file: Option<&'a Path>,
    /// PEM private key of that certificate.
    pub client_key_file: Option<&'a Path>,
}

/// A TLS setting that cannot be used: the `[mqtt]` key and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {reason}")]
pub struct TlsError {
    /// `ca_file`, `client_cert_file` or `client_key_file`.
    pub key: &'static str,
    /// What is wrong, with the file named.
    pub reason: String,
}

fn refuse(key: &'static str, path: &Path, reason: impl std::fmt::Display) -> TlsError {
    TlsError {
        key,
        reason: format!("{}: {reason}", path.display()),
    }
}

/// Builds the client side of TLS from `files`.
pub fn client_config(files: &TlsFiles<'_>) -> Result<Arc<ClientConfig>, TlsError> {
    let roots = match files.ca_file {
        Some(path) => private_roots(path)?,
        None => platform_roots()?,
    };
    let builder =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError {
                key: "broker",
                reason: e.to_string(),
            })?
            .with_root_certificates(roots);
    let config = match (files.client_cert_file, files.client_key_file) {
        (None, None) => builder.with_no_client_auth(),
        (Some(_), None) => {
            return Err(TlsError {
                key: "client_key_file",
                reason: "is needed with client_cert_file".into(),
            });
        }
        (None, Some(_)) => {
            return Err(TlsError {
                key: "client_cert_file",
                reason: "is needed with client_key_file".into(),
            });
        }
        (Some(cert_path), Some(key_path)) => {
            let chain = certificates("client_cert_file", cert_path)?;
            let key = private_key(key_path)?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| match e {
                    rustls::Error::InconsistentKeys(_) => refuse(
                        "client_key_file",
                        key_path,
                        format_args!(
                            "is not the key of the certificate in {}",
                            cert_path.display()
                        ),
                    ),
                    other => refuse("client_cert_file", cert_path, other),
                })?
        }
    };
    Ok(Arc::new(config))
}

fn read(key: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|e| refuse(key, path, format_args!("cannot read: {e}")))
}

/// Every certificate in a PEM file; at least one.
fn certificates(key: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read(key, path)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| refuse(key, path, format_args!("not PEM: {e}")))?;
    if certs.is_empty() {
        return Err(refuse(key, path, "holds no PEM certificate"));
    }
    Ok(certs)
}

fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let pem = read("client_key_file", path)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => {
            refuse("client_key_file", path, "holds no PEM private key")
        }
        other => refuse("client_key_file", path, format_args!("not PEM: {other}")),
    })
}

fn private_roots(path: &Path) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for (i, cert) in certificates("ca_file", path)?.into_iter().enumerate() {
        roots.add(cert).map_err(|e| {
            refuse(
                "ca_file",
                path,
                format_args!("certificate {} is not usable as a CA: {e}", i + 1),
            )
        })?;
    }
    Ok(roots)
}

fn platform_roots() -> Result<RootCertStore, TlsError> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(found.certs);
    if roots.is_empty() {
        let why = found
            .errors
            .first()
            .map_or_else(|| "none found".to_owned(), ToString::to_string);
        return Err(TlsError {
            key: "ca_file",
            reason: format!(
                "not set, and the platform has no trusted roots ({why}): install \
                 ca-certificates or name the broker's CA"
            ),
        });
    }
    Ok(roots)
}

/// Says why a connection failed, in the terms of the configuration when
/// TLS is at fault: an untrusted broker certificate points at `ca_file`, a
/// refused client certificate at `client_cert_file`. With TLS 1.3 the broker
/// refuses a client certificate only after the handshake, so that alert
/// arrives wrapped in whatever read the MQTT connection was doing.
#[must_use]
pub fn describe(error: &rumqttc::ConnectionError) -> String {
    match rustls_cause(error) {
        Some(rustls::Error::InvalidCertificate(why)) => {
            format!("TLS: the broker's certificate is not trusted ({why:?}): check mqtt.ca_file")
        }
        Some(rustls::Error::AlertReceived(alert)) => format!(
            "TLS: the broker refused the connection ({alert:?}): check \
             mqtt.client_cert_file and mqtt.client_key_file"
        ),
        Some(other) => format!("TLS: {other}"),
        None => error.to_string(),
    }
}

/// The rustls error somewhere in `error`'s chain of causes. I/O errors
/// carry theirs inside rather than as a source, so those are opened too.
fn rustls_cause<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut next = Some(error);
    while let Some(e) = next {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        let inner = e
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
            .and_then(|inner| inner.downcast_ref::<rustls::Error>());
        if inner.is_some() {
            return inner;
        }
        next = e.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{CertificateParams, CertifiedIssuer, IsCa, KeyPair};

    /// A CA, a client certificate it signed, and a key of no certificate,
    /// as PEM files in a temporary folder.
    struct Files {
        dir: tempfile::TempDir,
    }

    impl Files {
        fn new() -> Self {
            let dir = tempfile::tempdir().unwrap();
            let mut ca = CertificateParams::new(Vec::new()).unwrap();
            ca.is_ca = IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
            let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
            let client_key = KeyPair::generate().unwrap();
            let client = CertificateParams::new(vec!["gateway".into()])
                .unwrap()
                .signed_by(&client_key, &ca)
                .unwrap();
            let write =
                |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
            write("ca.pem", &ca.pem());
            write("client.pem", &client.pem());
            write("client.key", &client_key.serialize_pem());
            write("other.key", &KeyPair::generate().unwrap().serialize_pem());
            write("garbage.pem", "-----BEGIN CERTIFICATE-----\nnot base64!\n");
            write("empty.pem", "just some text\n");
            Self { dir }
        }

        fn path(&self, name: &str) -> std::path::PathBuf {
            self.dir.path().join(name)
        }
    }

    #[test]
    fn a_private_ca_and_a_matching_client_pair_build() {
        let f = Files::new();
        let (ca, cert, key) = (f.path("ca.pem"), f.path("client.pem"), f.path("client.key"));
        let config = client_config(&TlsFiles {
            ca_file: Some(&ca),
            client_cert_file: Some(&cert),
            client_key_file: Some(&key),
        })
        .unwrap();
        assert!(config.client_auth_cert_resolver.has_certs());
        let anonymous = client_config(&TlsFiles {
            ca_file: Some(&ca),
            ..TlsFiles::default()
        })
        .unwrap();
        assert!(!anonymous.client_auth_cert_resolver.has_certs());
    }

    #[test]
    fn bad_files_are_refused_naming_key_and_file() {
        let f = Files::new();
        let refused = |ca: &str, cert: Option<&str>, key: Option<&str>| {
            let (ca, cert, key) = (f.path(ca), cert.map(|c| f.path(c)), key.map(|k| f.path(k)));
            client_config(&TlsFiles {
                ca_file: Some(&ca),
                client_cert_file: cert.as_deref(),
                client_key_file: key.as_deref(),
            })
            .unwrap_err()
        };
        let e = refused("missing.pem", None, None);
        assert_eq!(e.key, "ca_file");
        assert!(e.reason.contains("missing.pem: cannot read"), "{e}");
        let e = refused("garbage.pem", None, None);
        assert_eq!(e.key, "ca_file");
        assert!(e.reason.contains("garbage.pem: not PEM"), "{e}");
        let e = refused("empty.pem", None, None);
        assert!(
            e.reason.contains("empty.pem: holds no PEM certificate"),
            "{e}"
        );
        // A private key where the CA belongs.
        let e = refused("client.key", None, None);
        assert_eq!(e.key, "ca_file");
        let e = refused("ca.pem", Some("client.pem"), Some("other.key"));
        assert_eq!(e.key, "client_key_file");
        assert!(
            e.reason
                .contains("other.key: is not the key of the certificate in")
                && e.reason.contains("client.pem"),
            "{e}"
        );
        let e = refused("ca.pem", Some("client.pem"), Some("client.pem"));
        assert_eq!(e.key, "client_key_file");
        assert!(e.reason.contains("holds no PEM private key"), "{e}");
        let e = refused("ca.pem", Some("client.key"), Some("client.key"));
        assert_eq!(e.key, "client_cert_file");
        let e = refused("ca.pem", Some("client.pem"), None);
        assert_eq!(e.key, "client_key_file");
        let e = refused("ca.pem", None, Some("client.key"));
        assert_eq!(e.key, "client_cert_file");
    }

    #[test]
    fn without_a_ca_file_the_platform_roots_are_trusted() {
        // Debian's ca-certificates; a machine without them gets a clear error.
        match client_config(&TlsFiles::default()) {
            Ok(config) => assert!(!config.client_auth_cert_resolver.has_certs()),
            Err(e) => {
                assert_eq!(e.key, "ca_file");
                assert!(e.reason.contains("ca-certificates"), "{e}");
            }
        }
    }
}
