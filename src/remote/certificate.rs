//! The gateway's TLS certificate for `tls = "auto"`: self-signed, made once
//! (rcgen) for the machine's names and addresses, the key 0600 beside it.
//! A phone cannot check it against a CA, so the user compares its SHA-256
//! fingerprint, which `remote pair` and `remote status` show.

use crate::paths::Paths;
use sha2::{Digest, Sha256};
use std::net::IpAddr;

/// The names a client may use for this machine: `localhost`, the host name
/// (and its `.local` mDNS form), the loopback addresses, and the listening
/// address — every interface's address when listening on all of them.
pub fn machine_names(listen: IpAddr) -> Vec<String> {
    let mut names = vec!["localhost".to_string()];
    if let Some(host) = sysinfo::System::host_name().ok().filter(|h| is_dns_name(h)) {
        let host = host.to_ascii_lowercase();
        if !host.ends_with(".local") && !host.contains('.') {
            names.push(format!("{host}.local"));
        }
        names.push(host);
    }
    let mut addresses: Vec<IpAddr> = vec![
        IpAddr::from([127, 0, 0, 1]),
        IpAddr::from(std::net::Ipv6Addr::LOCALHOST),
    ];
    if listen.is_unspecified() {
        if let Ok(networks) = sysinfo::Networks::new_with_refreshed_list() {
            for data in networks.values() {
                addresses.extend(data.ip_networks().iter().map(|n| n.addr));
            }
        }
    } else {
        addresses.push(listen);
    }
    for address in addresses {
        let text = address.to_string();
        if !names.contains(&text) && !is_link_local(address) {
            names.push(text);
        }
    }
    names
}

fn is_link_local(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) == 0xfe80,
    }
}

fn is_dns_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

/// The certificate and key (PEM), made and stored on first use.
pub fn load_or_create(paths: &Paths, names: &[String]) -> Result<(String, String), String> {
    let (cert_file, key_file) = (paths.remote_cert_file(), paths.remote_key_file());
    let read = |p: &std::path::Path| crate::small_file::read_small_text(p, 64 * 1024);
    if let (Ok(cert), Ok(key)) = (read(&cert_file), read(&key_file)) {
        return Ok((cert, key));
    }
    let (cert, key) = create(names)?;
    crate::paths::ensure_private_dir(&paths.config_dir)
        .map_err(|e| format!("cannot create {}: {e}", paths.config_dir.display()))?;
    use crate::safe_write::{Readers, write_atomically};
    write_atomically(&key_file, key.as_bytes(), Readers::Owner)
        .map_err(|e| format!("cannot write {}: {e}", key_file.display()))?;
    write_atomically(&cert_file, cert.as_bytes(), Readers::Default)
        .map_err(|e| format!("cannot write {}: {e}", cert_file.display()))?;
    tracing::info!("made the gateway's certificate for {}", names.join(", "));
    Ok((cert, key))
}

#[cfg(not(target_os = "macos"))]
fn create(names: &[String]) -> Result<(String, String), String> {
    let mut params = rcgen::CertificateParams::new(names.to_vec())
        .map_err(|e| format!("cannot make a certificate for these names: {e}"))?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "OpenCode Nexus gateway");
    let key = rcgen::KeyPair::generate().map_err(|e| format!("cannot make a key: {e}"))?;
    let cert = params
        .self_signed(&key)
        .map_err(|e| format!("cannot sign the certificate: {e}"))?;
    Ok((cert.pem(), key.serialize_pem()))
}

#[cfg(target_os = "macos")]
fn create(_names: &[String]) -> Result<(String, String), String> {
    Err("tls = \"auto\" is not available on macOS yet; set tls = \"off\" with a loopback listen address behind your own tunnel".into())
}

/// The SHA-256 fingerprint of the first certificate in `pem`, as
/// colon-separated upper-case hex (how browsers show it).
pub fn fingerprint(pem: &str) -> Option<String> {
    use base64::Engine;
    let body: String = pem
        .split("-----BEGIN CERTIFICATE-----")
        .nth(1)?
        .split("-----END CERTIFICATE-----")
        .next()?
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .ok()?;
    let digest = Sha256::digest(&der);
    Some(
        digest
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<Vec<_>>()
            .join(":"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cover_loopback_and_the_listening_address() {
        let names = machine_names("192.168.1.20".parse().unwrap());
        for expected in ["localhost", "127.0.0.1", "::1", "192.168.1.20"] {
            assert!(names.iter().any(|n| n == expected), "{names:?}");
        }
        let all = machine_names("0.0.0.0".parse().unwrap());
        assert!(!all.iter().any(|n| n == "0.0.0.0"), "{all:?}");
    }

    #[cfg(not(target_os = "macos"))]
    #[test]
    fn makes_the_certificate_once_with_a_private_key() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::with_home(dir.path().to_str().unwrap());
        let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
        let (cert, key) = load_or_create(&paths, &names).unwrap();
        assert!(cert.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(key.contains("PRIVATE KEY"));
        let again = load_or_create(&paths, &names).unwrap();
        assert_eq!(again.0, cert, "made once");
        let print = fingerprint(&cert).unwrap();
        assert_eq!(print.len(), 32 * 3 - 1);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(paths.remote_key_file())
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(fingerprint("no certificate"), None);
    }
}
