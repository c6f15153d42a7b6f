//! The local certificate authority: created once per user (`frametap certs init`), loaded by every TLS mode.
//!
//! The CA is two PEM files in the certs folder: `ca.pem` (the certificate users trust) and `ca.key.pem`
//! (its private key, written 0600 from the moment it exists, in a 0700 folder). Loading checks both
//! files and that they belong together, so a damaged or mismatched CA is reported with the file and the fix.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use base64::Engine as _;
use rcgen::{BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use sha2::{Digest as _, Sha256};

/// File name of the CA certificate inside the certs folder.
pub const CA_CERT_FILE: &str = "ca.pem";
/// File name of the CA private key inside the certs folder.
pub const CA_KEY_FILE: &str = "ca.key.pem";

/// How long a newly created CA is valid.
const CA_VALIDITY_DAYS: i64 = 3650;

/// Why the local CA could not be created or loaded; each message names the file and the fix.
#[derive(Debug, thiserror::Error)]
pub enum CaError {
    #[error("no local CA at {path}: {fix}")]
    Missing { path: PathBuf, fix: String },
    /// `init`: the command that recreates it there ([`init_command`]).
    #[error("the local CA file {path} is damaged ({reason}): recreate the CA with `{init}` and trust the new one")]
    Damaged { path: PathBuf, reason: String, init: String },
    #[error("a local CA already exists in {dir}: keep it, or replace it with `{init}` (browsers that trusted the old one must trust the new one)")]
    AlreadyExists { dir: PathBuf, init: String },
    #[error("the local CA in {path} expired on {not_after}: recreate it with `{init}` and trust the new one")]
    Expired { path: PathBuf, not_after: String, init: String },
}

/// The certs folder used when no `--certs DIR` is given: `$FRAMETAP_HOME/certs`, else `~/.frametap/certs`.
pub fn default_certs_dir() -> anyhow::Result<PathBuf> {
    Ok(crate::paths::frametap_home().context("pass --certs DIR to choose the CA folder")?.join("certs"))
}

/// A loaded local CA: its certificate (as users trust it) and the key that signs leaf certificates.
pub struct CertAuthority {
    dir: PathBuf,
    cert_der: CertificateDer<'static>,
    /// rcgen's view of the CA, rebuilt from `ca.pem`, used as the issuer of leaf certificates.
    issuer: rcgen::Certificate,
    key: KeyPair,
    subject: String,
    common_name: String,
    not_before: time::OffsetDateTime,
    not_after: time::OffsetDateTime,
}

impl std::fmt::Debug for CertAuthority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertAuthority")
            .field("dir", &self.dir)
            .field("fingerprint_sha256", &self.fingerprint_sha256())
            .finish_non_exhaustive()
    }
}

impl CertAuthority {
    /// Creates a new CA in `dir` (created 0700 if missing). Refuses to replace an existing CA unless `force`.
    pub fn init(dir: &Path, force: bool) -> anyhow::Result<Self> {
        let cert_path = dir.join(CA_CERT_FILE);
        let key_path = dir.join(CA_KEY_FILE);
        if !force && (cert_path.exists() || key_path.exists()) {
            return Err(CaError::AlreadyExists { dir: dir.to_path_buf(), init: init_command(dir, true) }.into());
        }
        crate::paths::create_private_dir(dir)?;

        let key = KeyPair::generate().context("could not generate the CA key")?;
        let cert = ca_params()?.self_signed(&key).context("could not sign the CA certificate")?;

        // Key first: a CA certificate without its key would be useless.
        write_file(&key_path, key.serialize_pem().as_bytes(), 0o600)?;
        write_file(&cert_path, cert.pem().as_bytes(), 0o644)?;
        tracing::debug!(dir = %dir.display(), "created a new local CA");
        Self::load(dir)
    }

    /// Loads the CA from `dir`, checking that both files parse, belong together and are still valid.
    pub fn load(dir: &Path) -> anyhow::Result<Self> {
        let cert_path = dir.join(CA_CERT_FILE);
        let key_path = dir.join(CA_KEY_FILE);
        let cert_pem = read_ca_file(&cert_path)?;
        let key_pem = read_ca_file(&key_path)?;
        warn_if_key_readable_by_others(&key_path);

        let damaged = |path: &Path, reason: String| CaError::Damaged {
            path: path.to_path_buf(),
            reason,
            init: init_command(dir, true),
        };
        let cert_der = rustls_pemfile::certs(&mut cert_pem.as_bytes())
            .next()
            .ok_or_else(|| damaged(&cert_path, "no PEM CERTIFICATE block".into()))?
            .map_err(|e| damaged(&cert_path, format!("bad PEM: {e}")))?;
        let (_, parsed) = x509_parser::parse_x509_certificate(&cert_der)
            .map_err(|e| damaged(&cert_path, format!("not a valid X.509 certificate: {e}")))?;
        if !parsed.is_ca() {
            return Err(damaged(&cert_path, "the certificate is not a CA certificate".into()).into());
        }
        let key =
            KeyPair::from_pem(&key_pem).map_err(|e| damaged(&key_path, format!("not a valid private key: {e}")))?;
        if key.public_key_der() != parsed.public_key().raw {
            return Err(damaged(
                &key_path,
                format!("this key does not belong to the certificate in {}", cert_path.display()),
            )
            .into());
        }
        let not_before = parsed.validity().not_before.to_datetime();
        let not_after = parsed.validity().not_after.to_datetime();
        let subject = parsed.subject().to_string();
        let common_name = parsed
            .subject()
            .iter_common_name()
            .find_map(|cn| cn.as_str().ok())
            .unwrap_or("frametap local CA")
            .to_string();
        if not_after <= time::OffsetDateTime::now_utc() {
            let init = init_command(dir, true);
            return Err(CaError::Expired { path: cert_path, not_after: not_after.to_string(), init }.into());
        }

        let params = CertificateParams::from_ca_cert_der(&cert_der)
            .map_err(|e| damaged(&cert_path, format!("unusable CA certificate: {e}")))?;
        let issuer =
            params.self_signed(&key).map_err(|e| damaged(&key_path, format!("cannot sign with this key: {e}")))?;
        Ok(CertAuthority {
            dir: dir.to_path_buf(),
            cert_der: cert_der.into_owned(),
            issuer,
            key,
            subject,
            common_name,
            not_before,
            not_after,
        })
    }

    /// The SHA-256 fingerprint of the CA certificate, as browsers show it (`AB:CD:…`).
    pub fn fingerprint_sha256(&self) -> String {
        let digest = Sha256::digest(&self.cert_der);
        let hex: Vec<String> = digest.iter().map(|b| format!("{b:02X}")).collect();
        hex.join(":")
    }

    /// Base64 SHA-256 of the CA's public key (SPKI), the form Chromium's
    /// `--ignore-certificate-errors-spki-list` takes.
    pub fn spki_sha256_base64(&self) -> String {
        let digest = Sha256::digest(self.key.public_key_der());
        base64::engine::general_purpose::STANDARD.encode(digest)
    }

    /// The folder the CA was loaded from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Path of the CA certificate (`ca.pem`), the file users import into their trust stores.
    pub fn cert_path(&self) -> PathBuf {
        self.dir.join(CA_CERT_FILE)
    }

    /// The CA certificate in DER form.
    pub fn cert_der(&self) -> &CertificateDer<'static> {
        &self.cert_der
    }

    /// A root store that trusts only this CA (for clients and tests talking to frametap's TLS listeners).
    pub fn root_store(&self) -> anyhow::Result<rustls::RootCertStore> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.cert_der.clone()).context("the local CA certificate cannot serve as a trust anchor")?;
        Ok(roots)
    }

    /// The CA's subject, e.g. `CN=frametap local CA 1a2b3c4d, O=…`.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// The CA's common name, the label trust stores list it under.
    pub fn common_name(&self) -> &str {
        &self.common_name
    }

    /// When the CA starts being valid.
    pub fn not_before(&self) -> time::OffsetDateTime {
        self.not_before
    }

    /// When the CA stops being valid; leaf certificates never outlive it.
    pub fn not_after(&self) -> time::OffsetDateTime {
        self.not_after
    }

    /// Signs `params` for `leaf_key` with this CA.
    pub(crate) fn sign(
        &self,
        params: CertificateParams,
        leaf_key: &KeyPair,
    ) -> anyhow::Result<CertificateDer<'static>> {
        let cert = params
            .signed_by(leaf_key, &self.issuer, &self.key)
            .context("could not sign a leaf certificate with the local CA")?;
        Ok(cert.der().clone())
    }
}

/// Converts an rcgen key into the form rustls serves.
pub(crate) fn rustls_key(key: &KeyPair) -> PrivateKeyDer<'static> {
    PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()))
}

fn ca_params() -> anyhow::Result<CertificateParams> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    let mut name = DistinguishedName::new();
    // A short random tag tells this user's CA apart from others when removing it from a trust store.
    let tag: u32 = rand::random();
    name.push(DnType::CommonName, format!("frametap local CA {tag:08x}"));
    name.push(DnType::OrganizationName, "frametap (local debugging proxy)");
    params.distinguished_name = name;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::minutes(1);
    params.not_after = now + time::Duration::days(CA_VALIDITY_DAYS);
    params.serial_number = Some(rand::random::<u64>().into());
    Ok(params)
}

fn read_ca_file(path: &Path) -> anyhow::Result<String> {
    match fs::read(path) {
        Ok(bytes) => String::from_utf8(bytes).map_err(|_| {
            let init = init_command(path.parent().unwrap_or(path), true);
            CaError::Damaged { path: path.to_path_buf(), reason: "not a text PEM file".into(), init }.into()
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(CaError::Missing { path: path.to_path_buf(), fix: missing_ca_fix(path.parent().unwrap_or(path)) }
                .into())
        }
        Err(e) => Err(e).with_context(|| format!("could not read {}", path.display())),
    }
}

/// What to run when the CA in `dir` is missing. For a folder given with `--certs` that is not the default one, the
/// command names it: a plain `frametap certs init` would create the CA in the default folder, where this command,
/// run again with the same `--certs`, would still not find it.
fn missing_ca_fix(dir: &Path) -> String {
    if default_certs_dir().is_ok_and(|default| default == dir) {
        return "create one with `frametap certs init` (or pass --certs DIR)".into();
    }
    format!("create one there with `{}`, or pass the --certs DIR that holds yours", init_command(dir, false))
}

/// The `frametap certs init` that creates (`force`: replaces) the CA in `dir`: it names a folder other than the
/// default one with `--certs`, since a bare one would create a CA in the default folder and leave `dir` as it is.
fn init_command(dir: &Path, force: bool) -> String {
    let force = if force { " --force" } else { "" };
    if default_certs_dir().is_ok_and(|default| default == dir) {
        return format!("frametap certs init{force}");
    }
    let quoted = crate::words::shell_word(&dir.display().to_string());
    format!("frametap certs init --certs {quoted}{force}")
}

/// Writes `contents` to `path` through a temporary file created with `mode`, then renames it into place,
/// so the file never exists with wider permissions and a crash never leaves half a file.
fn write_file(path: &Path, contents: &[u8], mode: u32) -> anyhow::Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let _ = fs::remove_file(&tmp);
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    crate::paths::with_mode(&mut options, mode);
    let result = (|| {
        let mut file = options.open(&tmp)?;
        file.write_all(contents)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.with_context(|| format!("could not write {}", path.display()))
}

fn warn_if_key_readable_by_others(key_path: &Path) {
    if crate::paths::readable_by_others(key_path) {
        crate::warning!(
            "the local CA key {} is readable by other users, who could then intercept your TLS: run `chmod 600 {}`",
            key_path.display(),
            crate::words::shell_word(&key_path.display().to_string())
        );
    }
}
