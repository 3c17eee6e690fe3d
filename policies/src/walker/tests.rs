use super::{edit_distance, quoted_list, suggest};

#[test]
fn edit_distance_counts_single_character_edits() {
    let table: &[(&str, &str, usize)] = &[
        ("", "", 0),
        ("port", "ports", 1),
        ("ports", "port", 1),
        ("rnug", "rung", 2),
        ("kitten", "sitting", 3),
        ("", "abc", 3),
        ("abc", "", 3),
        ("höst", "host", 1),
    ];
    for (a, b, want) in table {
        assert_eq!(edit_distance(a, b), *want, "{a} → {b}");
    }
}

#[test]
fn suggestions_catch_typos_only() {
    let keys = ["host", "ports", "rung", "addresses", "upgrades"];
    assert_eq!(suggest("port", &keys), Some("ports"));
    assert_eq!(suggest("adresses", &keys), Some("addresses"));
    assert_eq!(suggest("upgrade", &keys), Some("upgrades"));
    assert_eq!(suggest("HOST", &keys), Some("host"));
    assert_eq!(suggest("methods", &keys), None);
    assert_eq!(suggest("x", &keys), None);
    assert_eq!(suggest(&"p".repeat(100), &keys), None);
}

#[test]
fn quoted_lists_read_as_prose() {
    assert_eq!(quoted_list(&["a", "b", "c"]), "`a`, `b` or `c`");
    assert_eq!(quoted_list(&["a"]), "`a`");
    assert_eq!(quoted_list(&[]), "");
}
