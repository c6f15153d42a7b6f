//! `frametap certs init|show`: create the local CA and tell the user how to trust (and later remove) it.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context as _;

use super::ca::{default_certs_dir, CertAuthority};

/// The `--certs DIR` option shared by every command that uses the local CA.
#[derive(clap::Args, Debug, Clone, Default, PartialEq, Eq)]
pub struct CertsDirArg {
    /// Folder holding the local CA (ca.pem, ca.key.pem) [default: $FRAMETAP_HOME/certs, else ~/.frametap/certs;
    /// on Windows %USERPROFILE%\.frametap\certs]
    #[arg(long = "certs", value_name = "DIR")]
    pub certs: Option<PathBuf>,
}

impl CertsDirArg {
    /// The folder to use: the one given, else the per-user default.
    pub fn resolve(&self) -> anyhow::Result<PathBuf> {
        match &self.certs {
            Some(dir) => Ok(dir.clone()),
            None => default_certs_dir(),
        }
    }

    /// Loads the CA from the resolved folder (a missing or damaged CA is an error naming the fix).
    pub fn load_ca(&self) -> anyhow::Result<CertAuthority> {
        CertAuthority::load(&self.resolve()?)
    }
}

/// `--tls` and `--certs`: a wss:// listener with the local CA's localhost leaf, for `proxy` and `replay serve`
/// alike (each also has a `--forward`, which `--tls` excludes).
#[derive(clap::Args, Debug, Clone, Default, PartialEq, Eq)]
pub struct ListenTlsArgs {
    /// Listen for wss:// instead of ws://, with a certificate for localhost, 127.0.0.1, ::1 and the --listen
    /// address signed by the local CA (create it with `frametap certs init`; browsers must trust it: see certs/README.md).
    /// A plain ws:// client gets a 400 saying to use wss://.
    #[arg(long, conflicts_with = "forward")]
    pub tls: bool,
    #[command(flatten)]
    pub certs: CertsDirArg,
}

impl ListenTlsArgs {
    /// The server config of a `--tls` listener on `listen`, or `None` without `--tls`. The CA is loaded here, before
    /// anything listens, so a missing or damaged CA stops the command with the fix.
    pub fn server_config(
        &self,
        listen: std::net::IpAddr,
    ) -> anyhow::Result<Option<std::sync::Arc<rustls::ServerConfig>>> {
        self.tls.then(|| super::listener_server_config(&self.certs.load_ca()?, listen)).transpose()
    }
}

/// Manage the local certificate authority used by `--tls` and `--forward` (`proxy`, `replay serve`).
#[derive(clap::Subcommand, Debug, Clone, PartialEq, Eq)]
pub enum CertsCommand {
    /// Create the local CA and print how to trust it (and how to remove it again).
    Init {
        #[command(flatten)]
        certs: CertsDirArg,
        /// Replace an existing CA (everything that trusted the old one must trust the new one).
        #[arg(long)]
        force: bool,
    },
    /// Print the local CA's certificate and key paths, subject, SHA-256 fingerprint, SPKI hash (for Chromium's
    /// --ignore-certificate-errors-spki-list) and validity.
    Show {
        #[command(flatten)]
        certs: CertsDirArg,
    },
}

/// Runs a `certs` subcommand, printing to stdout.
pub fn run_certs(cmd: CertsCommand) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    run_certs_to(cmd, &mut stdout.lock())
}

/// Runs a `certs` subcommand, writing what it prints to `out`.
pub fn run_certs_to(cmd: CertsCommand, out: &mut dyn Write) -> anyhow::Result<()> {
    let text = match cmd {
        CertsCommand::Init { certs, force } => {
            let ca = CertAuthority::init(&certs.resolve()?, force)?;
            init_report(&ca)
        }
        CertsCommand::Show { certs } => show_report(&certs.load_ca()?),
    };
    out.write_all(text.as_bytes()).context("could not write to stdout")
}

/// What `certs show` prints.
pub fn show_report(ca: &CertAuthority) -> String {
    format!(
        "Local CA:            {}\n\
         Private key:         {}\n\
         Subject:             {}\n\
         SHA-256 fingerprint: {}\n\
         SPKI SHA-256:        {} (base64; Chromium: --ignore-certificate-errors-spki-list={})\n\
         Not before:          {}\n\
         Not after:           {}\n",
        ca.cert_path().display(),
        ca.dir().join(super::ca::CA_KEY_FILE).display(),
        ca.subject(),
        ca.fingerprint_sha256(),
        ca.spki_sha256_base64(),
        ca.spki_sha256_base64(),
        format_time(ca.not_before()),
        format_time(ca.not_after()),
    )
}

/// What `certs init` prints: where the CA is, its fingerprint, how to trust it and how to remove it.
pub fn init_report(ca: &CertAuthority) -> String {
    let pem = ca.cert_path().display().to_string();
    let name = ca.common_name();
    format!(
        "Created a local CA \"{name}\"\n\
         \x20 certificate (import this): {pem}\n\
         \x20 private key (0600, never share it): {key}\n\
         \x20 SHA-256 fingerprint: {fp}\n\
         \x20 valid until: {until}\n\
         \n\
         Trust it where you test (step by step, with checks: certs/README.md in the frametap sources):\n\
         \x20 Firefox:        Settings > Privacy & Security > Certificates > View Certificates >\n\
         \x20                 Authorities > Import {pem}, tick \"Trust this CA to identify websites\"\n\
         \x20 Chrome (Linux): certutil -d sql:$HOME/.pki/nssdb -A -t C,, -n \"{name}\" -i \"{pem}\"\n\
         \x20                 if that says SEC_ERROR_BAD_DATABASE (no database yet), make one, then run it again:\n\
         \x20                 mkdir -p $HOME/.pki/nssdb && certutil -d sql:$HOME/.pki/nssdb -N --empty-password\n\
         \x20 macOS:          security add-trusted-cert -r trustRoot -k ~/Library/Keychains/login.keychain-db \"{pem}\"\n\
         \x20 Windows:        certutil -user -addstore Root \"{pem}\"\n\
         \x20 Debian/Ubuntu:  sudo cp \"{pem}\" /usr/local/share/ca-certificates/frametap.crt && sudo update-ca-certificates\n\
         \n\
         Anyone with the private key can impersonate any site to this machine once the CA is trusted.\n\
         Remove it when you are done:\n\
         \x20 Firefox:        Certificates > Authorities > \"{name}\" > Delete or Distrust\n\
         \x20 Chrome (Linux): certutil -d sql:$HOME/.pki/nssdb -D -n \"{name}\"\n\
         \x20 macOS:          security delete-certificate -c \"{name}\" ~/Library/Keychains/login.keychain-db\n\
         \x20 Windows:        certutil -user -delstore Root \"{name}\"\n\
         \x20 Debian/Ubuntu:  sudo rm /usr/local/share/ca-certificates/frametap.crt && sudo update-ca-certificates --fresh\n\
         \x20 then delete {dir}\n",
        key = ca.dir().join(super::ca::CA_KEY_FILE).display(),
        fp = ca.fingerprint_sha256(),
        until = format_time(ca.not_after()),
        dir = ca.dir().display(),
    )
}

fn format_time(t: time::OffsetDateTime) -> String {
    chrono::DateTime::from_timestamp(t.unix_timestamp(), 0)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| t.to_string())
}
