use super::*;
use std::collections::HashSet;

#[test]
fn codes_are_unique_snake_case_and_statuses_fixed() {
    let codes: HashSet<&str> = ErrorCode::ALL.iter().map(|c| c.code()).collect();
    assert_eq!(codes.len(), ErrorCode::ALL.len());
    for code in ErrorCode::ALL {
        assert!(
            code.code()
                .chars()
                .all(|c| c.is_ascii_lowercase() || c == '_')
        );
    }
    let statuses: Vec<(&str, u16)> = ErrorCode::ALL
        .iter()
        .map(|c| (c.code(), c.status().as_u16()))
        .collect();
    assert_eq!(
        statuses,
        [
            ("unauthorized", 401),
            ("forbidden", 403),
            ("not_found", 404),
            ("conflict", 409),
            ("invalid_request", 422),
            ("method_not_allowed", 405),
            ("unavailable", 503),
            ("internal_error", 500),
        ]
    );
}

#[test]
fn refusal_sets_status_header_and_truncates_the_message() {
    let long = "é".repeat(300);
    let response = ApiError::malformed(long).into_response();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(response.headers()["x-deny-reason"], "invalid_request");
    let refusal = response.extensions().get::<Refusal>().unwrap();
    assert!(refusal.message.len() <= MAX_MESSAGE);
    assert!(refusal.message.chars().all(|c| c == 'é'));
}

#[test]
fn unauthorized_carries_www_authenticate() {
    let response = ApiError::unauthorized("missing").into_response();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.headers()[header::WWW_AUTHENTICATE], "Bearer");
}

#[test]
fn store_errors_map_to_codes() {
    assert_eq!(
        ApiError::store(StoreError::NotFound("session")).code,
        ErrorCode::NotFound
    );
    assert_eq!(
        ApiError::store(StoreError::Conflict("x".into())).code,
        ErrorCode::Conflict
    );
    let unavailable = ApiError::store(StoreError::Database("disk".into()));
    assert_eq!(unavailable.code, ErrorCode::Unavailable);
    assert!(!unavailable.message.contains("disk"));
}

#[test]
fn serde_detail_drops_axums_prefix() {
    assert_eq!(
        serde_detail("Failed to deserialize the JSON body into the target type: unknown field `x`"),
        "unknown field `x`"
    );
}
