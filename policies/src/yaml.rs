//! A positioned YAML node tree: every node keeps the line and column where it starts.
//!
//! The policy loader needs positions for *semantic* errors (a bad host on line 12), which a
//! serde deserializer does not expose. So the text is read as `saphyr-parser` events (each
//! with a span) and folded into this small tree; `compile` then walks the tree into the typed
//! model. Anchors, aliases and tags are refused: a policy file that a reviewer reads should
//! mean what it says, and aliases are the classic "billion laughs" amplifier.

use saphyr_parser::{Event, Marker, Parser, ScalarStyle, Span};

/// Deepest nesting accepted. Policy files are four levels deep; the bound keeps a hostile
/// `[[[[…` from costing unbounded memory or a deep recursive drop.
const MAX_DEPTH: usize = 32;

/// Most parser events read from one file (every loop is bounded).
const MAX_EVENTS: usize = 1_000_000;

/// A 1-based line and column in a policy file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Pos {
    /// 1-based line.
    pub(crate) line: usize,
    /// 1-based column, in characters.
    pub(crate) column: usize,
}

impl Pos {
    fn from_marker(m: &Marker) -> Pos {
        Pos {
            line: m.line(),
            column: m.col().saturating_add(1),
        }
    }

    fn from_span(span: &Span) -> Pos {
        Pos::from_marker(&span.start)
    }
}

/// One YAML node and where it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Node {
    /// What the node holds.
    pub(crate) value: Value,
    /// Where the node starts.
    pub(crate) pos: Pos,
}

/// The shape of a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Value {
    /// A scalar; `plain` is false for quoted and block scalars (always strings in YAML 1.2).
    Scalar { text: String, plain: bool },
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in source order (duplicate keys are kept for the checker to report).
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// Whether this is a YAML null (`~`, `null`, or nothing at all).
    pub(crate) fn is_null(&self) -> bool {
        matches!(&self.value, Value::Scalar { text, plain: true }
            if matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }

    /// What the node is, for "expected X, found Y" messages: a scalar shows (the start of)
    /// its text, a collection its kind.
    pub(crate) fn describe(&self) -> String {
        const MAX_SHOWN: usize = 40;
        match &self.value {
            _ if self.is_null() => "nothing".to_owned(),
            Value::Scalar { text, plain } => {
                let mut shown: String = text.chars().take(MAX_SHOWN).collect();
                if shown.len() < text.len() {
                    shown.push('…');
                }
                if *plain {
                    format!("`{shown}`")
                } else {
                    format!("the quoted string `{shown}`")
                }
            }
            Value::Seq(_) => "a list".to_owned(),
            Value::Map(_) => "a mapping".to_owned(),
        }
    }
}

/// A YAML syntax error: where and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    /// Where the parser stopped.
    pub(crate) pos: Pos,
    /// What it found.
    pub(crate) message: String,
}

/// A collection being built.
enum Frame {
    Seq(Pos, Vec<Node>),
    Map(Pos, Vec<(Node, Node)>, Option<Node>),
}

/// Parses every document of `text`; null (empty) documents are skipped.
///
/// # Errors
/// The first syntax error, or the first anchor, alias or tag, with its position.
pub(crate) fn parse_documents(text: &str) -> Result<Vec<Node>, SyntaxError> {
    let mut docs = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut parser = Parser::new_from_str(text);
    for _ in 0..MAX_EVENTS {
        let Some(next) = parser.next_event() else {
            return Ok(docs);
        };
        let (event, span) = next.map_err(|e| SyntaxError {
            pos: Pos::from_marker(e.marker()),
            message: format!("YAML syntax error: {}", e.info()),
        })?;
        let pos = Pos::from_span(&span);
        let refuse = |what: &str| SyntaxError {
            pos,
            message: format!("YAML {what} are not supported in policy files"),
        };
        let done = match event {
            Event::StreamStart | Event::DocumentStart(_) | Event::DocumentEnd | Event::Nothing => {
                None
            }
            Event::StreamEnd => return Ok(docs),
            Event::Alias(_) => return Err(refuse("aliases")),
            Event::Scalar(_, _, anchor, _)
            | Event::SequenceStart(anchor, _)
            | Event::MappingStart(anchor, _)
                if anchor != 0 =>
            {
                return Err(refuse("anchors"));
            }
            Event::Scalar(_, _, _, Some(_))
            | Event::SequenceStart(_, Some(_))
            | Event::MappingStart(_, Some(_)) => return Err(refuse("tags")),
            Event::Scalar(text, style, _, None) => Some(Node {
                value: Value::Scalar {
                    text: text.into_owned(),
                    plain: matches!(style, ScalarStyle::Plain),
                },
                pos,
            }),
            Event::SequenceStart(..) | Event::MappingStart(..) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(SyntaxError {
                        pos,
                        message: format!("nesting deeper than {MAX_DEPTH} levels"),
                    });
                }
                stack.push(if matches!(event, Event::SequenceStart(..)) {
                    Frame::Seq(pos, Vec::new())
                } else {
                    Frame::Map(pos, Vec::new(), None)
                });
                None
            }
            Event::SequenceEnd | Event::MappingEnd => match stack.pop() {
                Some(Frame::Seq(pos, items)) => Some(Node {
                    value: Value::Seq(items),
                    pos,
                }),
                Some(Frame::Map(pos, entries, _)) => Some(Node {
                    value: Value::Map(entries),
                    pos,
                }),
                None => None,
            },
        };
        if let Some(node) = done {
            match stack.last_mut() {
                None if node.is_null() => {}
                None => docs.push(node),
                Some(Frame::Seq(_, items)) => items.push(node),
                Some(Frame::Map(_, entries, pending)) => match pending.take() {
                    None => *pending = Some(node),
                    Some(key) => entries.push((key, node)),
                },
            }
        }
    }
    Err(SyntaxError {
        pos: Pos::default(),
        message: "policy file is too large".to_owned(),
    })
}

#[cfg(test)]
mod tests;
