//! TLS client configuration: which roots to trust, client certificates,
//! `--insecure`, and key logging.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use crate::error::{Error, Result};

#[derive(Clone, Debug, Default)]
pub struct TlsOptions {
    /// PEM file of CA certificates; replaces the system roots.
    pub cacert: Option<String>,
    /// Client certificate and key (PEM) for mutual TLS.
    pub cert: Option<String>,
    pub key: Option<String>,
    pub insecure: bool,
    /// ALPN protocols to offer, most preferred first.
    pub alpn: Vec<Vec<u8>>,
}

/// Builds the client configuration. Always with the ring provider: with
/// aws-lc-rs also compiled in, rustls cannot pick a default and panics.
pub fn client_config(options: &TlsOptions) -> Result<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::local(format!("TLS setup failed: {e}")))?;
    let builder = if options.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerification(provider)))
    } else {
        builder.with_root_certificates(roots(options.cacert.as_deref())?)
    };
    let mut config = match (&options.cert, &options.key) {
        (Some(cert), Some(key)) => {
            let chain = read_certs(cert)?;
            let key = read_key(key)?;
            builder.with_client_auth_cert(chain, key).map_err(|e| {
                Error::local(format!(
                    "the client certificate and key do not go together: {e}"
                ))
            })?
        }
        (None, None) => builder.with_no_client_auth(),
        _ => return Err(Error::usage("--cert and --key must be given together")),
    };
    config.alpn_protocols = options.alpn.clone();
    // Wireshark and friends read session keys from SSLKEYLOGFILE.
    config.key_log = Arc::new(rustls::KeyLogFile::new());
    Ok(config)
}

/// The CA certificates of `cacert` (PEM), or the system's roots.
pub(crate) fn roots(cacert: Option<&str>) -> Result<rustls::RootCertStore> {
    let mut roots = rustls::RootCertStore::empty();
    match cacert {
        Some(path) => {
            let certs = read_certs(path)?;
            let (added, _) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(Error::local(format!(
                    "{path} holds no usable CA certificate"
                )));
            }
        }
        None => {
            let native = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(native.certs);
        }
    }
    Ok(roots)
}

/// The certificates of a PEM file; at least one.
pub(crate) fn read_certs(path: &str) -> Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|iter| iter.collect::<std::result::Result<Vec<_>, _>>())
        .map_err(|e| {
            Error::local(format!(
                "cannot read certificates from {path}: {}",
                pem_error(&e)
            ))
        })?;
    if certs.is_empty() {
        return Err(Error::local(format!("{path} holds no PEM certificate")));
    }
    Ok(certs)
}

/// The private key of a PEM file.
pub(crate) fn read_key(path: &str) -> Result<PrivateKeyDer<'static>> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| {
        Error::local(format!(
            "cannot read a private key from {path}: {}",
            pem_error(&e)
        ))
    })
}

fn pem_error(err: &rustls::pki_types::pem::Error) -> String {
    match err {
        rustls::pki_types::pem::Error::Io(io) => io.to_string(),
        rustls::pki_types::pem::Error::NoItemsFound => "no PEM item found".into(),
        other => format!("{other:?}"),
    }
}

/// `-k`: accept any certificate, but still check that the server holds the
/// key it presents (so the handshake itself is sound).
#[derive(Debug)]
struct NoVerification(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// What -v shows about the server's certificate.
pub fn describe_certificate(der: &[u8]) -> Vec<String> {
    match x509_parser::parse_x509_certificate(der) {
        Ok((_, cert)) => {
            let mut lines = vec![
                format!("subject: {}", cert.subject()),
                format!("issuer: {}", cert.issuer()),
            ];
            if let Ok(Some(san)) = cert.subject_alternative_name() {
                let names: Vec<String> = san
                    .value
                    .general_names
                    .iter()
                    .map(|n| n.to_string())
                    .collect();
                lines.push(format!("SANs: {}", names.join(", ")));
            }
            let validity = cert.validity();
            lines.push(format!(
                "valid: {} to {}",
                validity.not_before, validity.not_after
            ));
            lines
        }
        Err(e) => vec![format!("certificate does not parse: {e}")],
    }
}
