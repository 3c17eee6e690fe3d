use super::*;

#[test]
fn one_secret_versions_the_response_with_its_own_version() {
    let key = vec![("a".to_owned(), Some("v3".to_owned()))];
    assert_eq!(version_info(&key), "v3");
}

#[test]
fn several_secrets_version_the_response_with_a_stable_hash() {
    let key = vec![
        ("a".to_owned(), Some("v3".to_owned())),
        ("b".to_owned(), None),
    ];
    let v = version_info(&key);
    assert!(v.starts_with("set:") && v.len() == 20, "{v}");
    assert_eq!(version_info(&key), v);
    let other = vec![
        ("a".to_owned(), Some("v4".to_owned())),
        ("b".to_owned(), None),
    ];
    assert_ne!(version_info(&other), v);
}

#[test]
fn client_error_details_are_cut_to_a_loggable_length() {
    let status = envoy_types::pb::google::rpc::Status {
        code: 3,
        message: "x".repeat(2000),
        details: Vec::new(),
    };
    assert_eq!(detail(Some(&status)).len(), MAX_DETAIL);
    assert_eq!(detail(None), "");
}
