use super::*;
use crate::client_check::verify;
use crate::defaults::BACKDATE;
use rustls::CertificateError;
use rustls_pki_types::ServerName;
use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::time::UNIX_EPOCH;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

const DAY: Duration = Duration::from_secs(24 * 60 * 60);

fn created(dir: &Path) -> Authority {
    Authority::load_or_create(dir, &CaOptions::default()).unwrap()
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn error_text(result: Result<Authority, CaError>) -> String {
    result.unwrap_err().to_string()
}

/// A self-signed certificate and its key made with rcgen directly; `ca` sets CA:TRUE.
fn foreign_pair(ca: bool) -> (String, String) {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = CertificateParams::new(vec!["operator.example".to_owned()]).unwrap();
    if ca {
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign];
    }
    let cert = params.self_signed(&key).unwrap();
    (cert.pem(), key.serialize_pem())
}

fn not_expected(result: Result<(), rustls::Error>) -> rustls::Error {
    result.unwrap_err()
}

#[test]
fn create_then_load_gives_the_same_ca() {
    let dir = tempfile::tempdir().unwrap();
    let first = created(dir.path());
    let loaded = Authority::load(dir.path()).unwrap();
    assert_eq!(loaded.cert_pem(), first.cert_pem());
    assert_eq!(loaded.bundle_pem(), first.bundle_pem());
    assert_eq!(loaded.not_after(), first.not_after());
    let again = created(dir.path());
    assert_eq!(again.cert_pem(), first.cert_pem());
    assert_eq!(
        fs::read_to_string(dir.path().join(CERT_FILE)).unwrap(),
        first.cert_pem()
    );
    assert_eq!(
        fs::read_to_string(dir.path().join(BUNDLE_FILE)).unwrap(),
        first.cert_pem()
    );
    assert!(!dir.path().join(RETIRED_FILE).exists());
    // A leaf minted after reloading chains to the certificate created first.
    let leaf = loaded.mint("api.example.com", DAY).unwrap();
    assert_eq!(
        verify(first.cert_pem(), &leaf.certified, "api.example.com"),
        Ok(())
    );
}

#[test]
fn key_file_is_0600_directory_0700_and_public_files_0644() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("data").join("ca");
    created(&dir);
    assert_eq!(mode(&dir.join(KEY_FILE)), 0o600);
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join(CERT_FILE)), 0o644);
    assert_eq!(mode(&dir.join(BUNDLE_FILE)), 0o644);
    let key = fs::read_to_string(dir.join(KEY_FILE)).unwrap();
    assert!(key.starts_with("-----BEGIN PRIVATE KEY-----\n"));
    // No temporary file is left behind.
    let names: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");
}

#[test]
fn ca_certificate_is_a_p256_ca_limited_to_leaves() {
    let dir = tempfile::tempdir().unwrap();
    let opts = CaOptions {
        validity: 10 * DAY,
        common_name: "test CA".to_owned(),
        ..CaOptions::default()
    };
    let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let ca = Authority::load_or_create_at(dir.path(), &opts, now).unwrap();
    let der = pem::certificates(ca.cert_pem(), "test").unwrap();
    let (_, cert) = X509Certificate::from_der(der[0].as_ref()).unwrap();
    let bc = cert.basic_constraints().unwrap().unwrap().value;
    assert!(bc.ca);
    assert_eq!(bc.path_len_constraint, Some(0));
    assert!(cert.key_usage().unwrap().unwrap().value.key_cert_sign());
    assert_eq!(
        cert.subject()
            .iter_common_name()
            .next()
            .unwrap()
            .as_str()
            .unwrap(),
        "test CA"
    );
    assert_eq!(
        cert.validity().not_before.timestamp(),
        1_800_000_000 - BACKDATE.as_secs() as i64
    );
    assert_eq!(cert.validity().not_after.timestamp(), 1_800_864_000);
    assert_eq!(ca.not_after(), now + 10 * DAY);
    // The subject names the key, so successive CAs never share a subject.
    let unit = cert
        .subject()
        .iter_organizational_unit()
        .next()
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(unit.len(), "key ".len() + 16);
    assert!(unit.starts_with("key "));
    let rotated = Authority::rotate_at(dir.path(), &opts, now).unwrap();
    let der = pem::certificates(rotated.cert_pem(), "test").unwrap();
    let (_, second) = X509Certificate::from_der(der[0].as_ref()).unwrap();
    assert_ne!(second.subject(), cert.subject());
}

#[test]
fn leaf_verifies_for_its_exact_name_only() {
    let dir = tempfile::tempdir().unwrap();
    let ca = created(dir.path());
    let leaf = ca.mint("API.Example.com", DAY).unwrap();
    let bundle = ca.bundle_pem();
    assert_eq!(verify(&bundle, &leaf.certified, "api.example.com"), Ok(()));
    for other in ["other.example.com", "example.com", "x.api.example.com"] {
        assert_eq!(
            not_expected(verify(&bundle, &leaf.certified, other)),
            rustls::Error::InvalidCertificate(CertificateError::NotValidForNameContext {
                expected: ServerName::try_from(other.to_owned()).unwrap(),
                presented: vec!["DnsName(\"api.example.com\")".to_owned()],
            }),
            "{other}"
        );
    }
    // Another deployment's CA does not vouch for it.
    let elsewhere = tempfile::tempdir().unwrap();
    // (Same common name; the subject differs in the key unit, so it is not even a candidate.)
    let other_ca = created(elsewhere.path());
    assert_eq!(
        not_expected(verify(
            &other_ca.bundle_pem(),
            &leaf.certified,
            "api.example.com"
        )),
        rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)
    );
}

#[test]
fn leaf_is_a_p256_server_certificate_with_one_san_and_a_backdated_window() {
    let dir = tempfile::tempdir().unwrap();
    let ca = created(dir.path());
    let now = SystemTime::now();
    let leaf = ca
        .mint_at(&LeafName::parse("api.example.com").unwrap(), DAY, now)
        .unwrap();
    assert_eq!(leaf.certified.cert.len(), 2);
    assert_eq!(leaf.certified.cert[1].as_ref(), ca.chain[0].as_ref());
    assert_eq!(leaf.cert_pem, pem::chain(&leaf.certified.cert));
    assert!(leaf.key_pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
    assert_eq!(leaf.certified.keys_match(), Ok(()));
    let (_, cert) = X509Certificate::from_der(leaf.certified.cert[0].as_ref()).unwrap();
    let sans = &cert
        .subject_alternative_name()
        .unwrap()
        .unwrap()
        .value
        .general_names;
    assert_eq!(sans, &vec![GeneralName::DNSName("api.example.com")]);
    assert!(!cert.basic_constraints().unwrap().unwrap().value.ca);
    let eku = cert.extended_key_usage().unwrap().unwrap().value;
    assert!(eku.server_auth && !eku.client_auth && eku.other.is_empty());
    let secs = crate::validity::secs(now) as i64;
    assert_eq!(
        cert.validity().not_before.timestamp(),
        secs - BACKDATE.as_secs() as i64
    );
    assert_eq!(
        cert.validity().not_after.timestamp(),
        secs + DAY.as_secs() as i64
    );
    assert_eq!(leaf.not_after, round_down(now) + DAY);
    assert_eq!(
        cert.public_key()
            .algorithm
            .parameters
            .as_ref()
            .unwrap()
            .as_oid()
            .unwrap()
            .to_id_string(),
        "1.2.840.10045.3.1.7"
    );
}

#[test]
fn leaf_never_outlives_the_ca() {
    let dir = tempfile::tempdir().unwrap();
    let opts = CaOptions {
        validity: Duration::from_secs(3600),
        ..CaOptions::default()
    };
    let ca = Authority::load_or_create(dir.path(), &opts).unwrap();
    let leaf = ca.mint("api.example.com", DAY).unwrap();
    assert_eq!(leaf.not_after, ca.not_after());
    let after = ca.not_after() + Duration::from_secs(1);
    let name = LeafName::parse("api.example.com").unwrap();
    assert!(matches!(
        ca.mint_at(&name, DAY, after),
        Err(CaError::Expired)
    ));
    assert!(matches!(
        ca.mint_at(&name, Duration::ZERO, SystemTime::now()),
        Err(CaError::Expired)
    ));
}

#[test]
fn ip_leaf_carries_an_ip_san() {
    let dir = tempfile::tempdir().unwrap();
    let ca = created(dir.path());
    let bundle = ca.bundle_pem();
    let v4 = ca.mint("127.0.0.1", DAY).unwrap();
    assert_eq!(verify(&bundle, &v4.certified, "127.0.0.1"), Ok(()));
    assert!(verify(&bundle, &v4.certified, "127.0.0.2").is_err());
    assert!(verify(&bundle, &v4.certified, "localhost").is_err());
    let (_, cert) = X509Certificate::from_der(v4.certified.cert[0].as_ref()).unwrap();
    let sans = &cert
        .subject_alternative_name()
        .unwrap()
        .unwrap()
        .value
        .general_names;
    assert_eq!(sans, &vec![GeneralName::IPAddress(&[127, 0, 0, 1])]);
    for host in ["[::1]", "::1"] {
        let v6 = ca.mint(host, DAY).unwrap();
        assert_eq!(verify(&bundle, &v6.certified, "::1"), Ok(()), "{host}");
    }
}

#[test]
fn refuses_wildcards_and_names_that_are_not_exact() {
    let dir = tempfile::tempdir().unwrap();
    let ca = created(dir.path());
    let cases = [
        ("*.example.com", "wildcards are never minted"),
        ("api.*.com", "wildcards are never minted"),
        ("*", "wildcards are never minted"),
        ("", "empty name"),
        ("example.com.", "trailing dot"),
        ("bücher.example", "not ASCII (use the punycode form)"),
        ("exa mple.com", "not a valid DNS name or IP address"),
        ("a..b", "not a valid DNS name or IP address"),
        ("-a.example", "not a valid DNS name or IP address"),
        ("example.com:443", "not a valid DNS name or IP address"),
        ("a/b", "not a valid DNS name or IP address"),
        ("1.2.3.999", "not a valid DNS name or IP address"),
        ("010.0.0.1", "not a valid DNS name or IP address"),
        ("[127.0.0.1]", "not an IPv6 address inside brackets"),
        ("[api.example.com]", "not an IPv6 address inside brackets"),
    ];
    for (host, reason) in cases {
        match ca.mint(host, DAY) {
            Err(CaError::InvalidName { host: h, reason: r }) => {
                assert_eq!((h.as_str(), r), (host, reason));
            }
            other => panic!("{host:?}: {other:?}"),
        }
    }
    let long = "a".repeat(300);
    assert!(matches!(
        ca.mint(&long, DAY),
        Err(CaError::InvalidName { host, .. }) if host.len() == 80
    ));
}

#[test]
fn rotation_keeps_the_old_certificate_for_the_overlap_then_drops_it() {
    let dir = tempfile::tempdir().unwrap();
    let old = created(dir.path());
    let old_leaf = old.mint("api.example.com", DAY).unwrap();
    let now = SystemTime::now();
    let opts = CaOptions::default();

    let new = Authority::rotate_at(dir.path(), &opts, now).unwrap();
    assert_ne!(new.cert_pem(), old.cert_pem());
    let bundle = new.bundle_pem();
    assert_eq!(bundle, format!("{}{}", new.cert_pem(), old.cert_pem()));
    assert_eq!(
        fs::read_to_string(dir.path().join(BUNDLE_FILE)).unwrap(),
        bundle
    );
    assert_eq!(
        fs::read_to_string(dir.path().join(CERT_FILE)).unwrap(),
        new.cert_pem()
    );
    assert_eq!(mode(&dir.path().join(KEY_FILE)), 0o600);
    // Old leaves still verify against the bundle; new leaves come from the new CA.
    assert_eq!(
        verify(&bundle, &old_leaf.certified, "api.example.com"),
        Ok(())
    );
    let new_leaf = new.mint("api.example.com", DAY).unwrap();
    assert_eq!(
        verify(&bundle, &new_leaf.certified, "api.example.com"),
        Ok(())
    );
    assert_eq!(
        verify(new.cert_pem(), &new_leaf.certified, "api.example.com"),
        Ok(())
    );
    assert!(verify(old.cert_pem(), &new_leaf.certified, "api.example.com").is_err());
    assert_eq!(Authority::load(dir.path()).unwrap().bundle_pem(), bundle);

    // Within the overlap the old certificate is still there.
    let inside = Authority::load_at(dir.path(), now + 29 * DAY).unwrap();
    assert_eq!(inside.bundle_at(now + 29 * DAY), bundle);
    // After it, loading drops it from memory and from the files.
    let after = Authority::load_at(dir.path(), now + 31 * DAY).unwrap();
    assert_eq!(after.bundle_at(now + 31 * DAY), new.cert_pem());
    assert_eq!(
        fs::read_to_string(dir.path().join(BUNDLE_FILE)).unwrap(),
        new.cert_pem()
    );
    assert_eq!(
        fs::read_to_string(dir.path().join(RETIRED_FILE)).unwrap(),
        ""
    );
    assert!(
        verify(
            &after.bundle_at(now + 31 * DAY),
            &old_leaf.certified,
            "api.example.com"
        )
        .is_err()
    );
}

#[test]
fn overlap_never_outlasts_the_old_certificate_and_chains_of_rotations_accumulate() {
    let dir = tempfile::tempdir().unwrap();
    let now = SystemTime::now();
    let short = CaOptions {
        validity: 10 * DAY,
        ..CaOptions::default()
    };
    let first = Authority::load_or_create_at(dir.path(), &short, now).unwrap();
    let second = Authority::rotate_at(dir.path(), &short, now + 2 * DAY).unwrap();
    // Overlap 30 days, but the first certificate expires after 10.
    assert_eq!(second.retired.len(), 1);
    assert_eq!(second.retired[0].trusted_until, first.not_after());
    let third = Authority::rotate_at(dir.path(), &short, now + 3 * DAY).unwrap();
    assert_eq!(third.retired[1].trusted_until, second.not_after());
    assert_eq!(
        third.bundle_at(now + 3 * DAY),
        format!(
            "{}{}{}",
            third.cert_pem(),
            first.cert_pem(),
            second.cert_pem()
        )
    );
    let later = Authority::load_at(dir.path(), now + 10 * DAY).unwrap();
    assert_eq!(
        later.bundle_at(now + 10 * DAY),
        format!("{}{}", third.cert_pem(), second.cert_pem())
    );
    // Zero overlap: the previous certificate leaves the bundle at once.
    let zero = CaOptions {
        overlap: Duration::ZERO,
        ..CaOptions::default()
    };
    let fourth = Authority::rotate_at(dir.path(), &zero, now + 10 * DAY).unwrap();
    assert_eq!(
        fourth.bundle_at(now + 10 * DAY),
        format!("{}{}", fourth.cert_pem(), second.cert_pem())
    );
}

#[test]
fn rotate_and_load_without_a_ca_name_the_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join(KEY_FILE).display().to_string();
    assert_eq!(
        error_text(Authority::rotate(dir.path(), &CaOptions::default())),
        format!("{key} does not exist: no CA here (run `trust-edge ca init`)")
    );
    assert!(matches!(
        Authority::load(dir.path()),
        Err(CaError::Missing { path }) if path == key
    ));
    assert!(!dir.path().join(CERT_FILE).exists());
}

#[test]
fn corrupt_files_give_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    created(dir.path());
    let path = |name: &str| dir.path().join(name).display().to_string();
    let good_cert = fs::read_to_string(path(CERT_FILE)).unwrap();
    let good_key = fs::read_to_string(path(KEY_FILE)).unwrap();

    fs::write(path(CERT_FILE), "garbage").unwrap();
    assert_eq!(
        error_text(Authority::load(dir.path())),
        format!(
            "{} is not usable: no PEM certificate (BEGIN CERTIFICATE) found",
            path(CERT_FILE)
        )
    );
    fs::write(
        path(CERT_FILE),
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let text = error_text(Authority::load(dir.path()));
    assert!(
        text.starts_with(&format!("{} is not usable: not an X.509", path(CERT_FILE))),
        "{text}"
    );
    fs::write(path(CERT_FILE), &good_cert).unwrap();

    fs::write(path(KEY_FILE), "garbage").unwrap();
    let text = error_text(Authority::load(dir.path()));
    assert!(
        text.starts_with(&format!("{} is not usable: not a PKCS#8", path(KEY_FILE))),
        "{text}"
    );
    // Another CA's key.
    let other = tempfile::tempdir().unwrap();
    created(other.path());
    fs::copy(other.path().join(KEY_FILE), path(KEY_FILE)).unwrap();
    assert_eq!(
        error_text(Authority::load(dir.path())),
        format!(
            "the key in {} does not match the certificate in {}",
            path(KEY_FILE),
            path(CERT_FILE)
        )
    );
    fs::write(path(KEY_FILE), &good_key).unwrap();

    fs::write(path(RETIRED_FILE), "trusted-until: soon\n").unwrap();
    assert_eq!(
        error_text(Authority::load(dir.path())),
        format!(
            "{} is not usable: line 1: trusted-until is not a number of seconds",
            path(RETIRED_FILE)
        )
    );
    fs::write(path(RETIRED_FILE), &good_cert).unwrap();
    assert_eq!(
        error_text(Authority::load(dir.path())),
        format!(
            "{} is not usable: line {}: certificate without a trusted-until line",
            path(RETIRED_FILE),
            good_cert.lines().count()
        )
    );
    fs::remove_file(path(RETIRED_FILE)).unwrap();
    fs::remove_file(path(CERT_FILE)).unwrap();
    assert_eq!(
        error_text(Authority::load(dir.path())),
        format!(
            "{} does not exist: no CA here (run `trust-edge ca init`)",
            path(CERT_FILE)
        )
    );
}

#[test]
fn from_pem_accepts_an_operator_ca_and_mints_under_it() {
    let (cert, key) = foreign_pair(true);
    let ca = Authority::from_pem(&cert, &key).unwrap();
    assert_eq!(
        ca.bundle_pem(),
        pem::chain(&pem::certificates(&cert, "t").unwrap())
    );
    let leaf = ca.mint("api.example.com", DAY).unwrap();
    assert_eq!(verify(&cert, &leaf.certified, "api.example.com"), Ok(()));
}

#[test]
fn from_pem_refuses_a_non_ca_certificate_and_a_mismatched_key() {
    let (leaf_cert, leaf_key) = foreign_pair(false);
    assert_eq!(
        error_text(Authority::from_pem(&leaf_cert, &leaf_key)),
        "supplied certificate is not a CA certificate: no basic constraints extension"
    );
    let (ca_cert, _) = foreign_pair(true);
    let (_, other_key) = foreign_pair(true);
    assert_eq!(
        error_text(Authority::from_pem(&ca_cert, &other_key)),
        "the key in supplied key does not match the certificate in supplied certificate"
    );
    assert!(matches!(
        Authority::from_pem(&ca_cert, "not a key"),
        Err(CaError::Invalid { origin, .. }) if origin == "supplied key"
    ));
    assert!(matches!(
        Authority::from_pem("", &other_key),
        Err(CaError::Invalid { origin, .. }) if origin == "supplied certificate"
    ));
    // A certificate with CA:FALSE spelled out is refused too.
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = CertificateParams::new(vec!["x.example".to_owned()]).unwrap();
    params.is_ca = IsCa::ExplicitNoCa;
    let cert = params.self_signed(&key).unwrap();
    assert_eq!(
        error_text(Authority::from_pem(&cert.pem(), &key.serialize_pem())),
        "supplied certificate is not a CA certificate: basic constraints say CA:FALSE"
    );
}

#[test]
fn debug_output_never_shows_key_material() {
    let dir = tempfile::tempdir().unwrap();
    let ca = created(dir.path());
    let key = fs::read_to_string(dir.path().join(KEY_FILE)).unwrap();
    let leaf = ca.mint("api.example.com", DAY).unwrap();
    let shown = format!("{ca:?} {leaf:?} {ca:#?} {leaf:#?}");
    assert!(!shown.contains("PRIVATE"), "{shown}");
    let key_body: String = key.lines().nth(1).unwrap().chars().take(20).collect();
    assert!(!shown.contains(&key_body));
    assert!(!shown.contains(&leaf.key_pem.lines().nth(1).unwrap()[..20]));
}

#[test]
fn expires_within_compares_with_the_ca_end() {
    let dir = tempfile::tempdir().unwrap();
    let opts = CaOptions {
        validity: 10 * DAY,
        ..CaOptions::default()
    };
    let ca = Authority::load_or_create(dir.path(), &opts).unwrap();
    assert!(ca.expires_within(30 * DAY));
    assert!(ca.expires_within(11 * DAY));
    assert!(!ca.expires_within(9 * DAY));
    assert!(!ca.expires_within(Duration::ZERO));
    assert!(ca.expires_within(Duration::MAX));
}
