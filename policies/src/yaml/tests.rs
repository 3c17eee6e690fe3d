use super::{Node, Pos, Value, parse_documents};

fn at(line: usize, column: usize) -> Pos {
    Pos { line, column }
}

fn scalar(text: &str, plain: bool, line: usize, column: usize) -> Node {
    Node {
        value: Value::Scalar {
            text: text.to_owned(),
            plain,
        },
        pos: at(line, column),
    }
}

#[test]
fn nodes_carry_one_based_positions() {
    let docs = parse_documents("a: 1\nb:\n  - x\n  - {k: 'v'}\n").unwrap();
    let want = Node {
        value: Value::Map(vec![
            (scalar("a", true, 1, 1), scalar("1", true, 1, 4)),
            (
                scalar("b", true, 2, 1),
                Node {
                    value: Value::Seq(vec![
                        scalar("x", true, 3, 5),
                        Node {
                            value: Value::Map(vec![(
                                scalar("k", true, 4, 6),
                                scalar("v", false, 4, 9),
                            )]),
                            pos: at(4, 5),
                        },
                    ]),
                    pos: at(3, 3),
                },
            ),
        ]),
        pos: at(1, 1),
    };
    assert_eq!(docs, vec![want]);
}

#[test]
fn block_mapping_in_a_sequence_starts_at_its_first_key() {
    let docs = parse_documents("-   host: z\n    rung: y\n").unwrap();
    let Value::Seq(items) = &docs[0].value else {
        panic!("{docs:?}")
    };
    assert_eq!(items[0].pos, at(1, 5));
}

#[test]
fn several_documents_and_empty_ones() {
    let docs = parse_documents("---\na: 1\n---\n---\n# only a comment\n---\nb: 2\n...\n").unwrap();
    assert_eq!(docs.len(), 2);
    assert_eq!(docs[0].pos, at(2, 1));
    assert_eq!(docs[1].pos, at(7, 1));
    assert!(parse_documents("").unwrap().is_empty());
    assert!(parse_documents("# nothing\n").unwrap().is_empty());
}

#[test]
fn nulls_are_recognised() {
    let docs = parse_documents("[~, null, '', x, 'null']").unwrap();
    let Value::Seq(items) = &docs[0].value else {
        panic!()
    };
    let nulls: Vec<bool> = items.iter().map(Node::is_null).collect();
    assert_eq!(nulls, [true, true, false, false, false]);
}

#[test]
fn syntax_errors_carry_a_position() {
    let err = parse_documents("a: 1\nb: [1, 2\n").unwrap_err();
    assert_eq!(err.pos.line, 3);
    assert!(
        err.message.starts_with("YAML syntax error: "),
        "{}",
        err.message
    );
    let err = parse_documents("a: 1\n  b: 2\n").unwrap_err();
    assert_eq!(err.pos, at(2, 4));
}

#[test]
fn anchors_aliases_and_tags_are_refused() {
    let err = parse_documents("a: &x 1\nb: *x\n").unwrap_err();
    assert_eq!(
        (err.pos, err.message.as_str()),
        (at(1, 4), "YAML anchors are not supported in policy files")
    );
    let err = parse_documents("a: !!str 1\n").unwrap_err();
    assert_eq!(
        (err.pos, err.message.as_str()),
        (at(1, 4), "YAML tags are not supported in policy files")
    );
    let err = parse_documents("a: !custom\n  b: 1\n").unwrap_err();
    assert_eq!(err.message, "YAML tags are not supported in policy files");
}

#[test]
fn deep_nesting_is_refused() {
    let deep = format!("{}{}", "[".repeat(100), "]".repeat(100));
    let err = parse_documents(&deep).unwrap_err();
    assert_eq!(err.message, "nesting deeper than 32 levels");
    assert_eq!(err.pos, at(1, 33));
    assert!(parse_documents(&format!("{}{}", "[".repeat(32), "]".repeat(32))).is_ok());
}

#[test]
fn nodes_describe_themselves_for_messages() {
    let docs = parse_documents(&format!("[~, 443, '443', [], {{}}, {}]", "x".repeat(50))).unwrap();
    let Value::Seq(items) = &docs[0].value else {
        panic!()
    };
    let described: Vec<String> = items.iter().map(Node::describe).collect();
    let long = format!("`{}…`", "x".repeat(40));
    assert_eq!(
        described,
        [
            "nothing",
            "`443`",
            "the quoted string `443`",
            "a list",
            "a mapping",
            &long
        ]
    );
}
