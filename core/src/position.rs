//! Where in a text a byte offset falls, for `file:line:column` errors (config files report a
//! syntax error at the offset their parser gives).

/// The 1-based line and column (in characters) of byte `offset` in `text`; an offset past the
/// end or inside a character counts from the nearest earlier valid position.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut end = offset.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let before = text.get(..end).unwrap_or_default();
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::line_column;

    #[test]
    fn lines_and_columns_are_one_based_and_count_characters() {
        let text = "a = 1\nbé = 2\nc";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 6), (2, 1));
        // After `bé ` (4 bytes, 3 characters).
        assert_eq!(line_column(text, 10), (2, 4));
        // Inside `é`: the start of the character.
        assert_eq!(line_column(text, 8), (2, 2));
        assert_eq!(line_column(text, 999), (3, 2));
    }
}
