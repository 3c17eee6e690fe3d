//! Typed reads from the positioned YAML tree, collecting every problem with its position.
//!
//! Each read either returns the value or records a [`PolicyError`] at the offending node and
//! returns `None`; callers keep going, so one load reports every problem in a file.

use std::time::Duration;

use crate::deployment::{Need, Site};
use crate::error::PolicyError;
use crate::units;
use crate::yaml::{Node, Pos, Value};

/// Reads nodes of one file and collects its errors.
pub(crate) struct Walker<'f> {
    file: &'f str,
    errors: Vec<PolicyError>,
    warnings: Vec<PolicyError>,
    sites: Vec<Site>,
}

/// The entries of a checked mapping: keys known, unique, and scalar.
pub(crate) struct Fields<'n> {
    /// Where the mapping starts.
    pub(crate) pos: Pos,
    entries: Vec<(&'n str, &'n Node, &'n Node)>,
}

impl<'n> Fields<'n> {
    /// The value of `key`; a null value (`key:` or `key: ~`) counts as absent.
    pub(crate) fn get(&self, key: &str) -> Option<&'n Node> {
        self.entries
            .iter()
            .find(|(k, _, v)| *k == key && !v.is_null())
            .map(|(_, _, v)| *v)
    }

    /// The value node of `key` even when it is null, when the key is written.
    pub(crate) fn get_raw(&self, key: &str) -> Option<&'n Node> {
        self.entries
            .iter()
            .find(|(k, _, _)| *k == key)
            .map(|(_, _, v)| *v)
    }

    /// The key node of `key`, when present (null or not).
    pub(crate) fn key(&self, key: &str) -> Option<&'n Node> {
        self.entries
            .iter()
            .find(|(k, _, _)| *k == key)
            .map(|(_, k, _)| *k)
    }
}

impl<'f> Walker<'f> {
    /// A walker for `file` (its name relative to the policy directory).
    pub(crate) fn new(file: &'f str) -> Walker<'f> {
        Walker {
            file,
            errors: Vec::new(),
            warnings: Vec::new(),
            sites: Vec::new(),
        }
    }

    /// The file being read.
    pub(crate) fn file(&self) -> &'f str {
        self.file
    }

    /// How many errors have been recorded so far.
    pub(crate) fn error_count(&self) -> usize {
        self.errors.len()
    }

    /// The errors and the warnings recorded.
    pub(crate) fn into_parts(self) -> (Vec<PolicyError>, Vec<PolicyError>) {
        (self.errors, self.warnings)
    }

    /// Records that the value at `pos` (the key path `field`) needs `need` from the
    /// deployment.
    pub(crate) fn site(&mut self, pos: Pos, field: String, need: Need) {
        self.sites.push(Site {
            file: self.file.to_owned(),
            pos,
            field,
            need,
        });
    }

    /// Takes the sites recorded so far.
    pub(crate) fn take_sites(&mut self) -> Vec<Site> {
        std::mem::take(&mut self.sites)
    }

    /// Records a warning at `pos`: the file loads, but a reviewer should look.
    pub(crate) fn warn(&mut self, pos: Pos, message: impl Into<String>) {
        self.warnings.push(PolicyError {
            file: self.file.to_owned(),
            line: pos.line,
            column: pos.column,
            message: message.into(),
        });
    }

    /// Records an error at `pos`.
    pub(crate) fn error(&mut self, pos: Pos, message: impl Into<String>) {
        self.errors.push(PolicyError {
            file: self.file.to_owned(),
            line: pos.line,
            column: pos.column,
            message: message.into(),
        });
    }

    fn wrong_type(&mut self, node: &Node, field: &str, expected: &str) {
        self.error(
            node.pos,
            format!("`{field}` must be {expected}, found {}", node.describe()),
        );
    }

    /// Checks that `node` is a mapping with unique scalar keys drawn from `known`. Unknown keys
    /// are errors with a "did you mean" suggestion. `what` names the mapping in messages.
    pub(crate) fn mapping<'n>(
        &mut self,
        node: &'n Node,
        what: &str,
        known: &[&str],
    ) -> Option<Fields<'n>> {
        let Value::Map(pairs) = &node.value else {
            self.wrong_type(node, what, "a mapping");
            return None;
        };
        let mut entries: Vec<(&'n str, &'n Node, &'n Node)> = Vec::with_capacity(pairs.len());
        for (key, value) in pairs {
            let Value::Scalar { text, .. } = &key.value else {
                self.error(key.pos, format!("keys of `{what}` must be plain names"));
                continue;
            };
            if let Some((_, first, _)) = entries.iter().find(|(k, _, _)| k == text) {
                let line = first.pos.line;
                self.error(
                    key.pos,
                    format!("key `{text}` is repeated in `{what}` (first at line {line})"),
                );
            } else if !known.contains(&text.as_str()) {
                let hint = match suggest(text, known) {
                    Some(near) => format!("did you mean `{near}`?"),
                    None => format!("expected one of {}", quoted_list(known)),
                };
                self.error(key.pos, format!("unknown key `{text}` in `{what}`; {hint}"));
            } else {
                entries.push((text.as_str(), key, value));
            }
        }
        Some(Fields {
            pos: node.pos,
            entries,
        })
    }

    /// Records "`what` is missing `key`" at the mapping's position.
    pub(crate) fn missing(&mut self, fields: &Fields<'_>, what: &str, key: &str, example: &str) {
        self.error(
            fields.pos,
            format!("`{what}` is missing `{key}` (for example `{example}`)"),
        );
    }

    /// A non-null scalar's text.
    pub(crate) fn string<'n>(&mut self, node: &'n Node, field: &str) -> Option<&'n str> {
        match &node.value {
            Value::Scalar { text, .. } if !node.is_null() => Some(text),
            _ => {
                self.wrong_type(node, field, "a string");
                None
            }
        }
    }

    /// A sequence's items.
    pub(crate) fn list<'n>(&mut self, node: &'n Node, field: &str, of: &str) -> Option<&'n [Node]> {
        if let Value::Seq(items) = &node.value {
            return Some(items);
        }
        self.wrong_type(node, field, &format!("a list of {of}"));
        None
    }

    /// An unquoted decimal integer, possibly negative.
    pub(crate) fn integer(&mut self, node: &Node, field: &str) -> Option<i128> {
        if let Value::Scalar { text, plain: true } = &node.value {
            let digits = text.strip_prefix('-').unwrap_or(text);
            if !digits.is_empty()
                && digits.len() <= 30
                && digits.bytes().all(|b| b.is_ascii_digit())
            {
                return text.parse().ok();
            }
        }
        self.wrong_type(node, field, "a whole number");
        None
    }

    /// An integer from 1 to `u32::MAX`.
    pub(crate) fn positive_u32(&mut self, node: &Node, field: &str) -> Option<u32> {
        let value = self.integer(node, field)?;
        if value <= 0 {
            self.error(
                node.pos,
                format!(
                    "`{field}` must be greater than zero, found {value} (there is no unlimited)"
                ),
            );
            return None;
        }
        let Ok(value) = u32::try_from(value) else {
            self.error(
                node.pos,
                format!("`{field}` must be at most {}, found {value}", u32::MAX),
            );
            return None;
        };
        Some(value)
    }

    /// A duration above zero (`30s`, `5m`, `1h30m`).
    pub(crate) fn duration(&mut self, node: &Node, field: &str) -> Option<Duration> {
        let text = self.string(node, field)?;
        match units::parse_duration(text) {
            Ok(d) if d.is_zero() => {
                self.error(node.pos, format!("`{field}` must be longer than zero"))
            }
            Ok(d) => return Some(d),
            Err(message) => self.error(node.pos, format!("`{field}`: {message}")),
        }
        None
    }

    /// A byte size above zero (`256MiB`, `1000`).
    pub(crate) fn size(&mut self, node: &Node, field: &str) -> Option<u64> {
        let text = self.string(node, field)?;
        match units::parse_size(text) {
            Ok(0) => self.error(
                node.pos,
                format!("`{field}` must be greater than zero (there is no unlimited)"),
            ),
            Ok(size) => return Some(size),
            Err(message) => self.error(node.pos, format!("`{field}`: {message}")),
        }
        None
    }

    /// One of `choices`, by name.
    pub(crate) fn keyword<T: Copy>(
        &mut self,
        node: &Node,
        field: &str,
        choices: &[(&str, T)],
    ) -> Option<T> {
        let text = self.string(node, field)?;
        if let Some((_, value)) = choices.iter().find(|(name, _)| *name == text) {
            return Some(*value);
        }
        let names: Vec<&str> = choices.iter().map(|(name, _)| *name).collect();
        let hint = match suggest(text, &names) {
            Some(near) => format!("did you mean `{near}`?"),
            None => format!("expected one of {}", quoted_list(&names)),
        };
        self.error(node.pos, format!("`{field}` cannot be `{text}`; {hint}"));
        None
    }
}

/// "`a`, `b` or `c`".
pub(crate) fn quoted_list(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match quoted.split_last() {
        Some((last, init)) if !init.is_empty() => format!("{} or {last}", init.join(", ")),
        Some((last, _)) => last.clone(),
        None => String::new(),
    }
}

/// The candidate closest to `input` by edit distance, when it is close enough to be a typo.
pub(crate) fn suggest<'c>(input: &str, candidates: &[&'c str]) -> Option<&'c str> {
    const MAX_INPUT: usize = 64;
    if input.chars().count() > MAX_INPUT {
        return None;
    }
    let lowered = input.to_ascii_lowercase();
    candidates
        .iter()
        .map(|c| {
            let distance = if c.to_ascii_lowercase() == lowered {
                0
            } else {
                edit_distance(input, c)
            };
            (distance, *c)
        })
        .filter(|(distance, c)| *distance <= 2.min(c.chars().count() / 2))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, c)| c)
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = i;
        let mut next = Vec::with_capacity(row.len());
        next.push(i.saturating_add(1));
        for (j, cb) in b.iter().enumerate() {
            let above = row.get(j.saturating_add(1)).copied().unwrap_or(usize::MAX);
            let left = next.last().copied().unwrap_or(usize::MAX);
            let substitute = diagonal.saturating_add(usize::from(ca != *cb));
            let best = substitute
                .min(above.saturating_add(1))
                .min(left.saturating_add(1));
            diagonal = above;
            next.push(best);
        }
        row = next;
    }
    row.last().copied().unwrap_or(0)
}

#[cfg(test)]
mod tests;
