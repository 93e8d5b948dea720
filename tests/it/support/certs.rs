//! Certificates made for each test run: a CA, a server certificate for
//! localhost and 127.0.0.1, a client certificate, and an unrelated CA.

use std::path::PathBuf;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};

pub struct Pki {
    pub dir: PathBuf,
    pub ca: String,
    pub server_cert_pem: String,
    pub server_key_pem: String,
    pub server_cert: String,
    pub server_key: String,
    pub ca_pem: String,
    pub client_cert: String,
    pub client_key: String,
    pub other_ca: String,
}

fn write(dir: &std::path::Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write pem");
    path.to_string_lossy().into_owned()
}

fn make_ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    CertifiedIssuer::self_signed(params, KeyPair::generate().expect("key")).expect("ca")
}

pub fn generate() -> Pki {
    let dir = std::env::temp_dir().join(format!(
        "rpcurl-pki-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("time")
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).expect("dir");
    let ca = make_ca("rpcurl test CA");
    let other = make_ca("some other CA");

    let server_key = KeyPair::generate().expect("key");
    let mut params = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
        .expect("params");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "rpcurl test server");
    let server = params.signed_by(&server_key, &ca).expect("server cert");

    let client_key = KeyPair::generate().expect("key");
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "rpcurl test client");
    let client = params.signed_by(&client_key, &ca).expect("client cert");

    Pki {
        ca: write(&dir, "ca.pem", &ca.pem()),
        ca_pem: ca.pem(),
        server_cert: write(&dir, "server.pem", &server.pem()),
        server_key: write(&dir, "server.key", &server_key.serialize_pem()),
        server_cert_pem: server.pem(),
        server_key_pem: server_key.serialize_pem(),
        client_cert: write(&dir, "client.pem", &client.pem()),
        client_key: write(&dir, "client.key", &client_key.serialize_pem()),
        other_ca: write(&dir, "other-ca.pem", &other.pem()),
        dir,
    }
}

/// A self-signed certificate for localhost and 127.0.0.1 with CA:TRUE, as
/// `openssl req -x509` makes it: (PEM file, certificate PEM, key PEM).
/// `expired` dates it in the past.
pub fn self_signed(dir: &std::path::Path, expired: bool) -> (String, String, String) {
    let key = KeyPair::generate().expect("key");
    let mut params = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
        .expect("params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "localhost");
    if expired {
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(2021, 1, 1);
    }
    let cert = params.self_signed(&key).expect("self-signed");
    let name = if expired {
        "expired.pem"
    } else {
        "self-signed.pem"
    };
    (
        write(dir, name, &cert.pem()),
        cert.pem(),
        key.serialize_pem(),
    )
}
