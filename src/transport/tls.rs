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
        let roots = Arc::new(roots(options.cacert.as_deref())?);
        let listed = match &options.cacert {
            Some(path) => read_certs(path)?,
            None => Vec::new(),
        };
        let webpki =
            rustls::client::WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
                .build()
                .map_err(|e| Error::local(format!("TLS setup failed: {e}")))?;
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Verifier {
                webpki,
                listed,
                provider,
            }))
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

/// The usual verification, and one thing more, as in curl and grpcurl: a
/// certificate that is itself in the --cacert file (the self-signed
/// certificate of `openssl req -x509`, which webpki refuses as "a CA used as
/// an end entity") is trusted, once its name and dates are checked. Refusals
/// become sentences that say what is wrong with the certificate.
#[derive(Debug)]
struct Verifier {
    webpki: Arc<rustls::client::WebPkiServerVerifier>,
    /// The certificates of --cacert, as given.
    listed: Vec<CertificateDer<'static>>,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        let refused = match self.webpki.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Ok(verified) => return Ok(verified),
            Err(e) => e,
        };
        if self
            .listed
            .iter()
            .any(|c| c.as_ref() == end_entity.as_ref())
        {
            return verify_listed(end_entity, server_name, now);
        }
        Err(match refused {
            rustls::Error::InvalidCertificate(problem) => {
                sentence(describe_refusal(&problem, end_entity, server_name))
            }
            other => other,
        })
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
            &self.provider.signature_verification_algorithms,
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
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A certificate listed in --cacert is its own authority: what remains to
/// check is that it names the server and is valid today.
fn verify_listed(
    end_entity: &CertificateDer<'_>,
    server_name: &ServerName<'_>,
    now: UnixTime,
) -> std::result::Result<ServerCertVerified, rustls::Error> {
    let parsed = rustls::server::ParsedCertificate::try_from(end_entity)?;
    if let Err(rustls::Error::InvalidCertificate(problem)) =
        rustls::client::verify_server_name(&parsed, server_name)
    {
        return Err(sentence(describe_refusal(
            &problem,
            end_entity,
            server_name,
        )));
    }
    let (_, cert) = x509_parser::parse_x509_certificate(end_entity.as_ref())
        .map_err(|e| sentence(format!("the server's certificate does not parse ({e})")))?;
    let now = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
    let validity = cert.validity();
    if now < validity.not_before.timestamp() {
        return Err(sentence(format!(
            "the server's certificate is not trusted: it is not valid until {}",
            validity.not_before
        )));
    }
    if now > validity.not_after.timestamp() {
        return Err(sentence(format!(
            "the server's certificate is not trusted: it expired on {}",
            validity.not_after
        )));
    }
    Ok(ServerCertVerified::assertion())
}

/// A certificate problem told as a sentence, carried through rustls.
#[derive(Debug)]
pub struct Refusal(pub String);

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refusal {}

fn sentence(text: String) -> rustls::Error {
    rustls::Error::InvalidCertificate(rustls::CertificateError::Other(rustls::OtherError(
        Arc::new(Refusal(text)),
    )))
}

/// What is wrong with the server's certificate, and what to do about it.
fn describe_refusal(
    problem: &rustls::CertificateError,
    end_entity: &CertificateDer<'_>,
    server_name: &ServerName<'_>,
) -> String {
    use rustls::CertificateError as E;
    let name = server_name.to_str();
    let parsed = x509_parser::parse_x509_certificate(end_entity.as_ref()).ok();
    let self_signed = parsed
        .as_ref()
        .is_some_and(|(_, c)| c.subject().as_raw() == c.issuer().as_raw());
    // webpki's CaUsedAsEndEntity reaches us as an opaque `Other`.
    let ca_as_server =
        matches!(problem, E::Other(_)) && parsed.as_ref().is_some_and(|(_, c)| c.is_ca());
    let subject = parsed
        .as_ref()
        .map(|(_, c)| c.subject().to_string())
        .unwrap_or_default();
    let issuer = parsed
        .as_ref()
        .map(|(_, c)| c.issuer().to_string())
        .unwrap_or_default();
    match problem {
        E::NotValidForName | E::NotValidForNameContext { .. } => {
            let presented = match problem {
                E::NotValidForNameContext { presented, .. } if !presented.is_empty() => {
                    format!(" (it names {})", presented.join(", "))
                }
                _ => String::new(),
            };
            format!(
                "the server's certificate is not trusted: it is not valid for the name {name}{presented}; connect by a name it lists, or give the name to verify with --servername"
            )
        }
        E::Expired | E::ExpiredContext { .. } => {
            let when = parsed
                .as_ref()
                .map(|(_, c)| format!(" on {}", c.validity().not_after))
                .unwrap_or_default();
            format!(
                "the server's certificate is not trusted: it expired{when}; the server needs a new one (-k skips verification)"
            )
        }
        E::NotValidYet | E::NotValidYetContext { .. } => {
            let when = parsed
                .as_ref()
                .map(|(_, c)| format!(" until {}", c.validity().not_before))
                .unwrap_or_default();
            format!(
                "the server's certificate is not trusted: it is not valid{when}; check the clocks (-k skips verification)"
            )
        }
        E::UnknownIssuer | E::Other(_) if self_signed && (ca_as_server || matches!(problem, E::UnknownIssuer)) => format!(
            "the server's certificate is not trusted: it is self-signed ({subject}); give that certificate with --cacert, or skip verification with -k"
        ),
        E::UnknownIssuer => format!(
            "the server's certificate is not trusted: its issuer ({issuer}) is not among the trusted CAs; trust that CA with --cacert, or skip verification with -k"
        ),
        E::Other(_) if ca_as_server => format!(
            "the server's certificate is not trusted: it is a CA certificate ({subject}) used as the server's own; give it with --cacert, or skip verification with -k"
        ),
        E::BadSignature => {
            "the server's certificate is not trusted: its signature does not verify (a CA in --cacert with the same name but another key?)".into()
        }
        other => format!("the server's certificate is not trusted: {other}"),
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
