//! Leaf certificates signed by the local CA: one per host name, cached, served as ready rustls configs.
//!
//! Each leaf names its hosts in the SAN (DNS name or IP address), allows serverAuth only, starts a minute
//! in the past (clock skew) and lasts at most 397 days (the browsers' limit), never beyond the CA.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use rcgen::{CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, KeyPair, KeyUsagePurpose, SanType};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;

use super::ca::{rustls_key, CertAuthority};
use super::server::server_config_from;

/// How long a leaf certificate is valid, counted from its backdated `not_before` (browsers accept ≤ 398).
pub const LEAF_VALIDITY_DAYS: i64 = 397;
/// How far in the past a leaf's `not_before` lies, so a client whose clock is slightly behind accepts it.
const LEAF_BACKDATE_MINUTES: i64 = 1;
/// The cache is cleared when it reaches this many hosts (a browser session touches far fewer).
const MAX_CACHED_HOSTS: usize = 1024;

/// A leaf certificate with its private key.
pub struct IssuedLeaf {
    pub cert: CertificateDer<'static>,
    pub key: PrivateKeyDer<'static>,
}

/// Issues a leaf certificate for `names` (host names or IP addresses; the first also becomes the CN).
pub fn issue_leaf(ca: &CertAuthority, names: &[&str]) -> anyhow::Result<IssuedLeaf> {
    let first = names.first().context("a leaf certificate needs at least one name")?;
    let mut params = CertificateParams::default();
    params.subject_alt_names = names.iter().map(|name| san_for(name)).collect::<anyhow::Result<_>>()?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, *first);
    dn.push(DnType::OrganizationName, "frametap (local debugging proxy)");
    params.distinguished_name = dn;
    // An ECDSA key only signs, so digitalSignature is the one key usage it needs.
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::minutes(LEAF_BACKDATE_MINUTES);
    params.not_after = (params.not_before + time::Duration::days(LEAF_VALIDITY_DAYS)).min(ca.not_after());
    params.serial_number = Some(rand::random::<u64>().into());

    let key = KeyPair::generate().context("could not generate a leaf key")?;
    let cert = ca.sign(params, &key)?;
    Ok(IssuedLeaf { cert, key: rustls_key(&key) })
}

/// The SAN entry for one host name or IP address (IPv6 may come bracketed, as in URLs).
fn san_for(name: &str) -> anyhow::Result<SanType> {
    let bare = name.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(SanType::IpAddress(ip));
    }
    let dns = rcgen::Ia5String::try_from(name.to_string())
        .map_err(|e| anyhow::anyhow!("{name:?} is not a valid host name for a certificate: {e}"))?;
    Ok(SanType::DnsName(dns))
}

/// Lowercases a host and drops a trailing dot and IPv6 brackets, so equal hosts share one cache entry.
fn normalize_host(host: &str) -> anyhow::Result<String> {
    let host = host.trim().trim_end_matches('.');
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let valid = !host.is_empty()
        && host.len() <= 253
        && host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | ':'));
    if !valid {
        anyhow::bail!("{host:?} is not a host name or IP address a certificate can be issued for");
    }
    Ok(host.to_ascii_lowercase())
}

/// The local CA plus a cache of ready server configs, one per host name seen in SNI.
pub struct LeafIssuer {
    ca: Arc<CertAuthority>,
    cache: Mutex<HashMap<String, Arc<ServerConfig>>>,
}

impl LeafIssuer {
    pub fn new(ca: CertAuthority) -> Self {
        Self::from_shared(Arc::new(ca))
    }

    /// Like [`LeafIssuer::new`] for a CA that is also used elsewhere.
    pub fn from_shared(ca: Arc<CertAuthority>) -> Self {
        LeafIssuer { ca, cache: Mutex::new(HashMap::new()) }
    }

    /// The CA this issuer signs with.
    pub fn ca(&self) -> &CertAuthority {
        &self.ca
    }

    /// A server config presenting a leaf for `host` (issued on first use, then cached).
    pub fn server_config_for(&self, host: &str) -> anyhow::Result<Arc<ServerConfig>> {
        let host = normalize_host(host)?;
        if let Some(config) = self.lock_cache().get(&host) {
            return Ok(config.clone());
        }
        // Issued outside the lock: two first requests for one host may both sign, and one wins.
        let leaf = issue_leaf(&self.ca, &[&host])?;
        let config = server_config_from(vec![leaf.cert, self.ca.cert_der().clone()], leaf.key)?;
        let mut cache = self.lock_cache();
        if cache.len() >= MAX_CACHED_HOSTS {
            cache.clear();
        }
        tracing::debug!(%host, "issued a leaf certificate");
        Ok(cache.entry(host).or_insert(config).clone())
    }

    /// How many hosts currently have a cached config.
    pub fn cached_hosts(&self) -> usize {
        self.lock_cache().len()
    }

    fn lock_cache(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<ServerConfig>>> {
        // A panic while holding the lock cannot leave the map inconsistent, so a poisoned lock is usable.
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_equal_hosts_to_one_key() {
        assert_eq!(normalize_host("Example.COM.").unwrap(), "example.com");
        assert_eq!(normalize_host("[::1]").unwrap(), "::1");
    }

    #[test]
    fn rejects_names_no_certificate_can_carry() {
        assert!(normalize_host("").is_err());
        assert!(normalize_host("a b").is_err());
        assert!(normalize_host("*.example.com").is_err());
    }

    #[test]
    fn ip_names_become_ip_sans() {
        assert!(matches!(san_for("127.0.0.1").unwrap(), SanType::IpAddress(_)));
        assert!(matches!(san_for("[::1]").unwrap(), SanType::IpAddress(_)));
        assert!(matches!(san_for("localhost").unwrap(), SanType::DnsName(_)));
    }
}
