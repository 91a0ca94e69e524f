//! `cargo xtask seal --cert CERT --namespace NS --name NAME [--out FILE]`:
//! seals the `KEY=VALUE` lines read from standard input into the SealedSecret
//! `kubeseal --format yaml --cert CERT` writes (default, strict scope), the
//! file a `SecretBackend::Sealed` environment commits. Only ciphertext
//! leaves the process: values are never printed, not even in errors.
//!
//! The format is bitnami-labs/sealed-secrets' `HybridEncrypt`
//! (`pkg/crypto/crypto.go`) with the strict-scope label of `EncryptionLabel`
//! (`pkg/apis/sealedsecrets/v1alpha1`): for each value, a fresh random
//! 32-byte session key encrypts the value with AES-256-GCM and a zero nonce
//! (the key is used once), RSA-OAEP (SHA-256, MGF1 SHA-256) with the label
//! `<namespace>/<name>` encrypts the session key, and the value becomes
//! base64 (standard, padded) of `u16 big-endian length of the RSA
//! ciphertext || RSA ciphertext || AES-GCM ciphertext and tag`. The label
//! binds the ciphertext to the Secret's namespace and name: the controller
//! refuses to open it anywhere else.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use gitops_core::crd::CustomResourceSpec;
use gitops_core::crd::sealed_secrets::{SealedSecretSpec, parse_kubeseal_output};
use gitops_core::name::Name;
use gitops_core::source;
use rand::TryCryptoRng;
use rsa::PublicKey;
use rsa::pkcs8::der::referenced::OwnedToRef;
use sha2::Sha256;
use x509_cert::Certificate;
use x509_cert::der::DecodePem;

use crate::{CmdResult, Project};

/// The arguments of `seal`.
#[derive(clap::Args)]
pub struct SealArgs {
    /// The Sealed Secrets controller's certificate (PEM), from
    /// `kubeseal --fetch-cert` against the target cluster.
    #[arg(long, value_name = "CERT")]
    cert: PathBuf,
    /// The namespace the Secret is for; the ciphertext opens only there.
    #[arg(long, value_name = "NS")]
    namespace: String,
    /// The Secret's name; the ciphertext opens only for this name.
    #[arg(long, value_name = "NAME")]
    name: String,
    /// Write the SealedSecret to this file (atomically) instead of standard output.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Seal with a certificate past its notAfter date (refused otherwise,
    /// as kubeseal does), when the controller still holds its key.
    #[arg(long)]
    allow_expired_cert: bool,
}

const SESSION_KEY_BYTES: usize = 32;

fn certificate(pem: &[u8]) -> Result<Certificate, String> {
    Certificate::from_pem(pem)
        .map_err(|e| format!("is not a PEM certificate ({e}); fetch it with `kubeseal --fetch-cert`"))
}

/// The smallest RSA modulus sealed to, in bits: below it the key can be
/// factored (NIST SP 800-131A disallows RSA-1024); the controller makes 4096.
const MIN_RSA_BITS: usize = 2048;

fn key_of(cert: &Certificate) -> Result<PublicKey, String> {
    let spki = cert.tbs_certificate().subject_public_key_info();
    let key = PublicKey::try_from(spki.owned_to_ref()).map_err(|e| {
        format!("does not hold an RSA public key ({e}); the Sealed Secrets controller's does")
    })?;
    let bits = rsa::traits::PublicKeyParts::size(&key) * 8;
    if bits < MIN_RSA_BITS {
        return Err(format!(
            "holds a {bits}-bit RSA key, too weak to protect a secret (at least {MIN_RSA_BITS} bits); fetch the controller's certificate (4096 bits) with `kubeseal --fetch-cert`"
        ));
    }
    Ok(key)
}

/// The key of the certificate in `pem`, if it is valid at `now` (since the
/// Unix epoch) and strong enough. An expired one (as kubeseal, refused
/// unless `allow_expired`: the controller keeps its old keys, so it may
/// still open what is sealed to one) comes with a warning to print.
pub fn checked_public_key(
    pem: &[u8],
    now: std::time::Duration,
    allow_expired: bool,
) -> Result<(PublicKey, Option<String>), String> {
    let cert = certificate(pem)?;
    let validity = cert.tbs_certificate().validity();
    let (from, until) = (validity.not_before, validity.not_after);
    if now < from.to_unix_duration() {
        return Err(format!(
            "is not valid before {} (check this machine's clock); fetch the controller's current certificate with `kubeseal --fetch-cert`",
            from.to_date_time()
        ));
    }
    let key = key_of(&cert)?;
    if now > until.to_unix_duration() {
        let expired = until.to_date_time();
        if !allow_expired {
            return Err(format!(
                "expired on {expired}; fetch the controller's current certificate with `kubeseal --fetch-cert`, or pass --allow-expired-cert if the controller still holds this key"
            ));
        }
        return Ok((
            key,
            Some(format!(
                "the certificate expired on {expired}; sealing with it anyway (--allow-expired-cert): the controller opens this only while it keeps that key"
            )),
        ));
    }
    Ok((key, None))
}

/// Sealed Secrets' `HybridEncrypt`: see the module documentation.
pub fn hybrid_encrypt<R: TryCryptoRng + ?Sized>(
    rng: &mut R,
    key: &PublicKey,
    plaintext: &[u8],
    label: &[u8],
) -> Result<Vec<u8>, String> {
    let mut session_key = [0u8; SESSION_KEY_BYTES];
    rng.try_fill_bytes(&mut session_key).map_err(|_| "the system random number generator failed")?;
    let padding = rsa::Oaep::<Sha256>::new_with_label(label);
    let sealed_key = key.encrypt(rng, padding, &session_key).map_err(|e| format!("RSA-OAEP: {e}"))?;
    let length = u16::try_from(sealed_key.len()).map_err(|_| "the RSA key is too large")?;
    let cipher = Aes256Gcm::new_from_slice(&session_key).map_err(|e| format!("AES-256-GCM: {e}"))?;
    // The session key seals exactly one value, so the zero nonce is never reused.
    let sealed_value =
        cipher.encrypt(&Nonce::default(), plaintext).map_err(|e| format!("AES-256-GCM: {e}"))?;
    let mut out = Vec::with_capacity(2 + sealed_key.len() + sealed_value.len());
    out.extend_from_slice(&length.to_be_bytes());
    out.extend_from_slice(&sealed_key);
    out.extend_from_slice(&sealed_value);
    Ok(out)
}

/// `KEY=VALUE` lines (blank lines and `#` comments skipped; the value is
/// everything after the first `=`). Errors name the line, never the value.
pub fn parse_input(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut data = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let at = format!("standard input, line {}", i + 1);
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(format!("{at}: is not `KEY=VALUE`"));
        };
        let key_ok = !key.is_empty()
            && key.len() <= 253
            && key.bytes().all(|c| c.is_ascii_alphanumeric() || b"-._".contains(&c));
        if !key_ok {
            return Err(format!("{at}: `{key}` is not a Secret key; use letters, digits, `-`, `_` and `.`"));
        }
        if data.insert(key.to_owned(), value.to_owned()).is_some() {
            return Err(format!("{at}: `{key}` is given twice"));
        }
    }
    if data.is_empty() {
        return Err("standard input has no `KEY=VALUE` line; nothing to seal".into());
    }
    Ok(data)
}

/// The SealedSecret for `namespace`/`name` holding `data`, as
/// `kubeseal --format yaml` writes it.
pub fn seal<R: TryCryptoRng + ?Sized>(
    rng: &mut R,
    key: &PublicKey,
    namespace: &Name,
    name: &Name,
    data: &BTreeMap<String, String>,
) -> Result<String, String> {
    let label = format!("{namespace}/{name}");
    let mut encrypted = serde_json::Map::new();
    for (k, v) in data {
        let sealed = hybrid_encrypt(rng, key, v.as_bytes(), label.as_bytes())?;
        encrypted.insert(k.clone(), BASE64.encode(sealed).into());
    }
    let metadata = serde_json::json!({ "creationTimestamp": null, "name": name.as_str(), "namespace": namespace.as_str() });
    let sealed_secret = serde_json::json!({
        "apiVersion": SealedSecretSpec::API_VERSION,
        "kind": SealedSecretSpec::KIND,
        "metadata": metadata,
        "spec": { "encryptedData": encrypted, "template": { "metadata": metadata } },
    });
    let body = gitops_core::yaml::to_string(&sealed_secret).map_err(|e| e.message)?;
    Ok(format!("---\n{body}"))
}

pub fn run(
    _project: &Project,
    SealArgs { cert, namespace, name, out, allow_expired_cert }: SealArgs,
) -> CmdResult {
    let namespace = Name::new(namespace).map_err(|e| vec![format!("--namespace: {e}")])?;
    let name = Name::new(name).map_err(|e| vec![format!("--name: {e}")])?;
    // A certificate is a few kilobytes; standard input a few secrets.
    let pem = std::fs::File::open(&cert)
        .and_then(|f| source::read_bounded(f, 1 << 16))
        .map_err(|e| vec![format!("{}: {e}", cert.display())])?;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let (key, warning) = checked_public_key(&pem, now, allow_expired_cert)
        .map_err(|e| vec![format!("{}: {e}", cert.display())])?;
    if let Some(warning) = warning {
        eprintln!("warning: {}: {warning}", cert.display());
    }
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Err(vec![
            "pipe the `KEY=VALUE` lines in (e.g. from a file outside the repository, or a password generator); typed at a terminal they would show on screen".into(),
        ]);
    }
    let text = source::read_bounded(stdin.lock(), 1 << 20)
        .and_then(|bytes| String::from_utf8(bytes).map_err(|_| std::io::Error::other("not UTF-8 text")))
        .map_err(|e| vec![format!("standard input: {e}")])?;
    let data = parse_input(&text).map_err(|e| vec![e])?;
    let sealed = seal(&mut rand::rngs::SysRng, &key, &namespace, &name, &data).map_err(|e| vec![e])?;
    // What the renderer will read back: the same checks, before anything is written.
    let keys: Vec<&str> = data.keys().map(String::as_str).collect();
    parse_kubeseal_output("the sealed output", &sealed, name.as_str(), namespace.as_str(), &keys)
        .map_err(|e| vec![e.to_string()])?;
    match out {
        None => print!("{sealed}"),
        Some(file) => {
            gitops_tree::disk::write_file_atomically(&file, sealed.as_bytes())
                .map_err(|e| vec![format!("{}: {e}", file.display())])?;
            eprintln!("{}: sealed {} for {namespace}/{name}", file.display(), keys.join(", "));
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use rand::rngs::SysRng;
    use rsa::PrivateKey;

    /// Sealed Secrets' `HybridDecrypt`, as the controller opens a value.
    fn hybrid_decrypt(key: &PrivateKey, sealed: &[u8], label: &[u8]) -> Result<Vec<u8>, String> {
        let length = usize::from(u16::from_be_bytes([sealed[0], sealed[1]]));
        let (sealed_key, sealed_value) = sealed[2..].split_at(length);
        let session_key =
            key.decrypt(rsa::Oaep::<Sha256>::new_with_label(label), sealed_key).map_err(|e| e.to_string())?;
        let cipher = Aes256Gcm::new_from_slice(&session_key).unwrap();
        cipher.decrypt(&Nonce::default(), sealed_value).map_err(|e| e.to_string())
    }

    #[test]
    fn sealed_values_open_with_the_private_key_only_for_their_namespace_and_name() {
        // A key made for this test and dropped with it.
        let private = PrivateKey::new(&mut SysRng, 2048).unwrap();
        let data = BTreeMap::from([
            ("username".to_owned(), "rcm".to_owned()),
            ("password".to_owned(), "not-a-real-password".to_owned()),
        ]);
        let (ns, name) = (Name::new("app-dev").unwrap(), Name::new("db").unwrap());
        let text = seal(&mut SysRng, &private.to_public_key(), &ns, &name, &data).unwrap();
        assert!(!text.contains("not-a-real-password"));
        let sealed = parse_kubeseal_output("f", &text, "db", "app-dev", &["username", "password"]).unwrap();
        for (k, v) in &data {
            let bytes = BASE64.decode(&sealed[k]).unwrap();
            assert_eq!(usize::from(u16::from_be_bytes([bytes[0], bytes[1]])), 256, "a 2048-bit RSA block");
            assert_eq!(hybrid_decrypt(&private, &bytes, b"app-dev/db").unwrap(), v.as_bytes());
            assert!(hybrid_decrypt(&private, &bytes, b"app-prod/db").is_err(), "strict scope");
            assert!(hybrid_decrypt(&private, &bytes, b"").is_err(), "not cluster-wide");
        }
        let again = seal(&mut SysRng, &private.to_public_key(), &ns, &name, &data).unwrap();
        assert_ne!(again, text, "a fresh session key every time");
        let other = PrivateKey::new(&mut SysRng, 2048).unwrap();
        let bytes = BASE64.decode(&sealed["password"]).unwrap();
        assert!(hybrid_decrypt(&other, &bytes, b"app-dev/db").is_err(), "only the cluster's key opens it");
    }

    #[test]
    fn the_output_has_the_shape_kubeseal_writes() {
        let private = PrivateKey::new(&mut SysRng, 2048).unwrap();
        let data = BTreeMap::from([("k".to_owned(), "v".to_owned())]);
        let (ns, name) = (Name::new("ns").unwrap(), Name::new("s").unwrap());
        let text = seal(&mut SysRng, &private.to_public_key(), &ns, &name, &data).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[..7],
            [
                "---",
                "apiVersion: bitnami.com/v1alpha1",
                "kind: SealedSecret",
                "metadata:",
                "  creationTimestamp: null",
                "  name: s",
                "  namespace: ns",
            ]
        );
        assert_eq!(lines[7..9], ["spec:", "  encryptedData:"]);
        // 0x0100, the length of a 2048-bit RSA block, in base64 (4096 bits: `Ag`).
        assert!(lines[9].starts_with("    k: AQ"), "{}", lines[9]);
        assert_eq!(
            lines[10..],
            [
                "  template:",
                "    metadata:",
                "      creationTimestamp: null",
                "      name: s",
                "      namespace: ns",
            ]
        );
    }

    #[test]
    fn reads_certificates_and_refuses_anything_else() {
        let example = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../examples/brainsait-rcm/sealed-secrets-example.pem");
        let key = key_of(&certificate(&std::fs::read(example).unwrap()).unwrap()).unwrap();
        assert_eq!(rsa::traits::PublicKeyParts::size(&key), 512, "a 4096-bit key, as the controller makes");
        let err = certificate(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n").unwrap_err();
        assert!(err.starts_with("is not a PEM certificate"), "{err}");
    }

    #[test]
    fn input_is_key_value_lines_and_errors_never_show_a_value() {
        let data = parse_input("# comment\n\nusername=rcm\nMONGODB_URI=mongodb://u:p@h/d?a=b\n").unwrap();
        assert_eq!(data["MONGODB_URI"], "mongodb://u:p@h/d?a=b", "everything after the first `=`");
        for (text, message) in [
            ("password hunter2\n", "line 1: is not `KEY=VALUE`"),
            ("a=1\nbad key=hunter2\n", "line 2: `bad key` is not a Secret key"),
            ("a=hunter2\na=hunter2\n", "line 2: `a` is given twice"),
            ("\n# nothing\n", "nothing to seal"),
        ] {
            let err = parse_input(text).unwrap_err();
            assert!(err.contains(message), "{err}");
            assert!(!err.contains("hunter2"), "{err}");
        }
    }
}
