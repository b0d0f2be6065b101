//! TLS under a session (rustls, itself sans-IO): the pump moves ciphertext between the socket
//! and a [`TlsLayer`], and the session reads and writes plaintext as it always does, so every
//! scheme and both runtimes get TLS the same way.
//!
//! One [`ClientConfig`] serves every connection of a run: rustls keeps the session tickets a
//! broker hands out in it, so the run's later connections resume instead of doing a full
//! handshake.

use crate::pump::Transport;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme};
use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::sync::Arc;

/// What a run's TLS connections trust and present.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// PEM file of the certificates to trust (default: the system's roots).
    pub ca_file: Option<PathBuf>,
    /// PEM files of a client certificate chain and its private key, presented when asked.
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    /// Skip verifying the broker's certificate (an explicit opt-out).
    pub insecure: bool,
    /// The name to verify and send as SNI (default: the URL's host).
    pub server_name: Option<String>,
}

/// A run's TLS client: the shared configuration and the broker's name.
#[derive(Debug, Clone)]
pub struct TlsClient {
    pub config: Arc<ClientConfig>,
    pub server_name: ServerName<'static>,
}

impl TlsClient {
    /// Builds the configuration for a broker at `host`; errors name the file or the value at
    /// fault.
    pub fn new(o: &TlsOptions, host: &str) -> Result<Self, String> {
        // ring keeps the build to a C compiler (aws-lc-rs, rustls's default, wants more); it
        // offers no post-quantum key exchange, which brokers do not ask for.
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS: {e}"))?;
        let builder = if o.insecure {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(NoVerification(provider)))
        } else {
            builder.with_root_certificates(roots(o.ca_file.as_ref())?)
        };
        let mut config = match (&o.cert_file, &o.key_file) {
            (Some(cert), Some(key)) => {
                let chain = certificates(cert)?;
                let key = PrivateKeyDer::from_pem_file(key).map_err(|e| {
                    format!("cannot read a private key from {}: {e}", key.display())
                })?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| format!("client certificate {}: {e}", cert.display()))?
            }
            (None, None) => builder.with_no_client_auth(),
            _ => return Err("a client certificate needs both --tls-cert and --tls-key".into()),
        };
        config.resumption = rustls::client::Resumption::in_memory_sessions(1024);
        let name = o.server_name.as_deref().unwrap_or(host);
        let server_name = ServerName::try_from(name.to_owned())
            .map_err(|_| format!("'{name}' is not a valid TLS server name"))?;
        Ok(TlsClient {
            config: Arc::new(config),
            server_name,
        })
    }
}

fn certificates(path: &PathBuf) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Vec<_> = CertificateDer::pem_file_iter(path)
        .and_then(|i| i.collect::<Result<_, _>>())
        .map_err(|e| format!("cannot read certificates from {}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("no certificate in {}", path.display()));
    }
    Ok(certs)
}

/// The certificates to trust: `ca_file`'s, or the system's.
fn roots(ca_file: Option<&PathBuf>) -> Result<rustls::RootCertStore, String> {
    let mut store = rustls::RootCertStore::empty();
    let certs = match ca_file {
        Some(path) => certificates(path)?,
        None => rustls_native_certs::load_native_certs().certs,
    };
    let (added, _) = store.add_parsable_certificates(certs);
    if added == 0 {
        return Err(match ca_file {
            Some(p) => format!("no usable CA certificate in {}", p.display()),
            None => "no system CA certificates found (give one with --tls-ca)".into(),
        });
    }
    Ok(store)
}

/// `--tls-insecure`: any certificate is accepted; signatures are still checked.
#[derive(Debug)]
struct NoVerification(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
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
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
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

/// One connection's TLS state: the rustls connection (made on first use), ciphertext waiting
/// to be written, and a buffer for ciphertext read.
#[derive(Debug)]
pub struct TlsLayer {
    client: TlsClient,
    conn: Option<ClientConnection>,
    out: Vec<u8>,
    out_pos: usize,
    /// Ciphertext read from the socket, `inbuf[in_pos..in_len]` not yet given to rustls.
    inbuf: Vec<u8>,
    in_pos: usize,
    in_len: usize,
    closing: bool,
}

/// The connection in `slot`, made on first use.
fn conn_of<'a>(
    slot: &'a mut Option<ClientConnection>,
    client: &TlsClient,
) -> io::Result<&'a mut ClientConnection> {
    match slot {
        Some(c) => Ok(c),
        None => {
            let c = ClientConnection::new(client.config.clone(), client.server_name.clone())
                .map_err(tls_error)?;
            Ok(slot.insert(c))
        }
    }
}

fn tls_error(e: rustls::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("TLS: {e}"))
}

impl TlsLayer {
    pub fn new(client: TlsClient) -> Self {
        TlsLayer {
            client,
            conn: None,
            out: Vec::new(),
            out_pos: 0,
            // Grown like the pump's receive buffer: small while the connection is idle.
            inbuf: vec![0; crate::pump::RX_START],
            in_pos: 0,
            in_len: 0,
            closing: false,
        }
    }

    /// Whether the handshake resumed an earlier session of the run (`None` before it is known).
    pub fn resumed(&self) -> Option<bool> {
        let kind = self.conn.as_ref()?.handshake_kind()?;
        Some(kind == rustls::HandshakeKind::Resumed)
    }

    /// True while ciphertext waits to be written.
    pub fn pending(&self) -> bool {
        self.out_pos < self.out.len() || self.conn.as_ref().is_some_and(|c| c.wants_write())
    }

    /// Writes what ciphertext is due (handshake, records, alerts) until the socket would block.
    pub fn flush<T: Transport>(&mut self, t: &mut T) -> io::Result<()> {
        loop {
            if self.out_pos == self.out.len() {
                self.out.clear();
                self.out_pos = 0;
                let conn = conn_of(&mut self.conn, &self.client)?;
                if !conn.wants_write() {
                    return Ok(());
                }
                conn.write_tls(&mut self.out)?;
            }
            match t.send(&self.out[self.out_pos..])? {
                Some(n) => self.out_pos += n,
                None => return Ok(()),
            }
        }
    }

    /// Plaintext into `buf`: what rustls holds, then what the ciphertext already read gives,
    /// then what the socket has. Ciphertext is fed a record or so at a time and its plaintext
    /// taken out before more goes in (rustls bounds what it holds decrypted). `Ok(Some(0))` is
    /// the end of the stream, with or without the peer's `close_notify`.
    pub fn recv<T: Transport>(
        &mut self,
        t: &mut T,
        quiet: bool,
        buf: &mut [u8],
    ) -> io::Result<Option<usize>> {
        let mut filled = 0;
        loop {
            let conn = conn_of(&mut self.conn, &self.client)?;
            match conn.reader().read(&mut buf[filled..]) {
                Ok(0) if filled < buf.len() => return Ok(Some(filled)),
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(Some(filled)),
                Err(e) => return Err(e),
            }
            if filled == buf.len() {
                return Ok(Some(filled));
            }
            if self.in_pos < self.in_len {
                let mut rest = &self.inbuf[self.in_pos..self.in_len];
                self.in_pos += conn.read_tls(&mut rest)?;
                conn.process_new_packets().map_err(tls_error)?;
                if conn.wants_write() {
                    // Handshake answers and alerts go out now.
                    self.flush(t)?;
                }
                continue;
            }
            if filled > 0 {
                return Ok(Some(filled));
            }
            let got = if quiet {
                t.recv_quiet(&mut self.inbuf)?
            } else {
                t.recv(&mut self.inbuf)?
            };
            match got {
                None => return Ok(None),
                Some(0) => return Ok(Some(0)),
                Some(n) => {
                    let filled = n == self.inbuf.len();
                    crate::pump::grow_if_filled(&mut self.inbuf, filled);
                    (self.in_pos, self.in_len) = (0, n);
                }
            }
        }
    }

    /// Takes plaintext from `buf` (as much as rustls buffers) and writes its records; `None`
    /// while earlier ciphertext still waits for the socket.
    pub fn send<T: Transport>(&mut self, t: &mut T, buf: &[u8]) -> io::Result<Option<usize>> {
        self.flush(t)?;
        if self.pending() {
            return Ok(None);
        }
        let n = conn_of(&mut self.conn, &self.client)?.writer().write(buf)?;
        self.flush(t)?;
        Ok((n > 0).then_some(n))
    }

    /// True once `close` was called.
    pub fn closed(&self) -> bool {
        self.closing
    }

    /// Says goodbye (`close_notify`) once; the caller flushes it.
    pub fn close(&mut self) {
        if !self.closing {
            self.closing = true;
            if let Some(c) = self.conn.as_mut() {
                c.send_close_notify();
            }
        }
    }
}
