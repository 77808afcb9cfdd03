//! URL patterns of access rules, over `scheme://host/path`: globs and regular expressions, how specific each is,
//! and whether two of them can match the same URL.

use regex::{Regex, RegexBuilder};
use serde::{Deserialize, Serialize};

/// How a rule's `match.url` is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    /// A glob: `*` is any run of characters without `/`, `**` any run at all, `{name}` one non-empty path
    /// segment captured as `name`, `\` escapes the next character; everything else is literal.
    #[default]
    Glob,
    /// A regular expression (Rust `regex` syntax), matched against the whole URL; named groups
    /// (`(?P<project>[^/]+)`) can be referred to by the authorizer.
    Regex,
}

/// One element of a glob, for the overlap test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Literal(char),
    /// Exactly one character other than `/`.
    NonSlash,
    /// Any run of characters other than `/`.
    Star,
    /// Any run of characters.
    DoubleStar,
}

/// A compiled URL pattern.
#[derive(Debug, Clone)]
pub(crate) struct UrlPattern {
    regex: Regex,
    /// The glob's tokens; `None` for a regular expression.
    tokens: Option<Vec<Token>>,
    /// Characters every matching URL starts with.
    prefix: String,
    /// How many literal characters the pattern holds: more is more specific.
    specificity: usize,
    captures: Vec<String>,
}

/// Longer patterns than this are refused, which also bounds the overlap test.
const MAX_PATTERN_LEN: usize = 1024;

impl UrlPattern {
    /// Compiles `source`; the error says what is wrong, for a rule problem.
    pub(crate) fn new(source: &str, strategy: Strategy) -> Result<Self, String> {
        if source.is_empty() {
            return Err("must not be empty".into());
        }
        if source.len() > MAX_PATTERN_LEN {
            return Err(format!("must be at most {MAX_PATTERN_LEN} bytes long"));
        }
        match strategy {
            Strategy::Glob => Self::glob(source),
            Strategy::Regex => Self::regex(source),
        }
    }

    fn glob(source: &str) -> Result<Self, String> {
        let mut tokens = Vec::new();
        let mut regex = String::from("^");
        let mut captures: Vec<String> = Vec::new();
        let mut chars = source.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\\' => {
                    let escaped = chars.next().ok_or("ends with a lone `\\`")?;
                    tokens.push(Token::Literal(escaped));
                    regex.push_str(&regex::escape(escaped.encode_utf8(&mut [0; 4])));
                }
                '*' if chars.peek() == Some(&'*') => {
                    chars.next();
                    if chars.peek() == Some(&'*') {
                        return Err("`***` is ambiguous; use `**` for any run of characters".into());
                    }
                    tokens.push(Token::DoubleStar);
                    regex.push_str(".*");
                }
                '*' => {
                    tokens.push(Token::Star);
                    regex.push_str("[^/]*");
                }
                '{' => {
                    let mut name = String::new();
                    loop {
                        match chars.next() {
                            Some('}') => break,
                            Some(c) => name.push(c),
                            None => return Err("a `{` is not closed by `}`".into()),
                        }
                    }
                    if !is_capture_name(&name) {
                        return Err(format!(
                            "`{{{name}}}` is not a segment name: use letters, digits and `_`, not starting with a digit"
                        ));
                    }
                    if captures.contains(&name) {
                        return Err(format!("the segment name `{name}` is used twice"));
                    }
                    tokens.extend([Token::NonSlash, Token::Star]);
                    regex.push_str(&format!("(?P<{name}>[^/]+)"));
                    captures.push(name);
                }
                '}' => return Err("a `}` has no opening `{`; escape it as `\\}`".into()),
                c => {
                    tokens.push(Token::Literal(c));
                    regex.push_str(&regex::escape(c.encode_utf8(&mut [0; 4])));
                }
            }
        }
        regex.push('$');
        let prefix: String = tokens
            .iter()
            .map_while(|t| match t {
                Token::Literal(c) => Some(*c),
                _ => None,
            })
            .collect();
        if !prefix.contains("://") {
            return Err("must cover the whole URL, scheme and host first, as in `https://api.example.com/**`".into());
        }
        let specificity = tokens.iter().filter(|t| matches!(t, Token::Literal(_))).count();
        let regex = RegexBuilder::new(&regex).build().map_err(|e| e.to_string())?;
        Ok(Self { regex, tokens: Some(tokens), prefix, specificity, captures })
    }

    fn regex(source: &str) -> Result<Self, String> {
        let regex = RegexBuilder::new(&format!("^(?:{source})$"))
            .size_limit(1 << 20)
            .build()
            .map_err(|e| format!("not a regular expression: {e}"))?;
        let captures = regex.capture_names().flatten().map(str::to_owned).collect();
        let (prefix, specificity) = regex_literals(source);
        Ok(Self { regex, tokens: None, prefix, specificity, captures })
    }

    /// Whether `url` (normalised) matches.
    pub(crate) fn is_match(&self, url: &str) -> bool {
        self.regex.is_match(url)
    }

    /// The text of the segment or group `name` in `url`, if it matches.
    pub(crate) fn capture<'u>(&self, url: &'u str, name: &str) -> Option<&'u str> {
        self.regex.captures(url)?.name(name).map(|m| m.as_str())
    }

    /// The named segments or groups.
    pub(crate) fn captures(&self) -> &[String] {
        &self.captures
    }

    /// How many literal characters the pattern holds. For a glob it is exact; for a regular expression, it
    /// counts the characters of the source outside classes and groups' syntax that are not made optional by a
    /// quantifier, an approximation.
    pub(crate) fn specificity(&self) -> usize {
        self.specificity
    }

    /// Whether some URL may match both patterns. Exact for two globs. Where a regular expression is involved the
    /// answer is `false` only when their literal prefixes prove them disjoint, and `true` ("may overlap")
    /// otherwise, so that an ambiguity is refused rather than missed.
    pub(crate) fn may_overlap(&self, other: &UrlPattern) -> bool {
        if !(self.prefix.starts_with(&other.prefix) || other.prefix.starts_with(&self.prefix)) {
            return false;
        }
        match (&self.tokens, &other.tokens) {
            (Some(a), Some(b)) => globs_intersect(a, b),
            _ => true,
        }
    }
}

fn is_capture_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Whether some string matches both globs: a search over pairs of positions in the two patterns (the product of
/// their automata). From a pair of positions, every character other than the two patterns' literals there and
/// `/` behaves alike, so four characters stand for all of them; the search is linear in the number of pairs.
fn globs_intersect(a: &[Token], b: &[Token]) -> bool {
    let literal = |tokens: &[Token], i: usize| match tokens.get(i) {
        Some(Token::Literal(c)) => Some(*c),
        _ => None,
    };
    let width = b.len() + 1;
    let mut seen = vec![false; (a.len() + 1) * width];
    let mut stack = vec![(0usize, 0usize)];
    while let Some((i, j)) = stack.pop() {
        let Some(slot) = seen.get_mut(i * width + j) else { continue };
        if *slot {
            continue;
        }
        *slot = true;
        if i == a.len() && j == b.len() {
            return true;
        }
        // Empty runs: a star may match nothing.
        if matches!(a.get(i), Some(Token::Star | Token::DoubleStar)) {
            stack.push((i + 1, j));
        }
        if matches!(b.get(j), Some(Token::Star | Token::DoubleStar)) {
            stack.push((i, j + 1));
        }
        let (la, lb) = (literal(a, i), literal(b, j));
        let other = ['\u{E000}', '\u{E001}', '\u{E002}'].into_iter().find(|c| Some(*c) != la && Some(*c) != lb);
        for c in [la, lb, Some('/'), other].into_iter().flatten() {
            if let (Some(next_i), Some(next_j)) = (step(a, i, c), step(b, j, c)) {
                stack.push((next_i, next_j));
            }
        }
    }
    false
}

/// Where a pattern at position `i` goes on reading `c`, if it can read it.
fn step(tokens: &[Token], i: usize, c: char) -> Option<usize> {
    match tokens.get(i)? {
        Token::Literal(l) => (*l == c).then_some(i + 1),
        Token::NonSlash => (c != '/').then_some(i + 1),
        Token::Star => (c != '/').then_some(i),
        Token::DoubleStar => Some(i),
    }
}

/// The literal prefix of a regular expression's source and its count of literal characters (see
/// [`UrlPattern::specificity`]). A top-level alternation empties the prefix, since it proves nothing then.
fn regex_literals(source: &str) -> (String, usize) {
    let chars: Vec<char> = source.chars().collect();
    let mut prefix = String::new();
    let mut prefix_open = true;
    let mut count = 0usize;
    let mut depth = 0usize;
    let mut top_level_alternation = false;
    let mut last_was_literal = false;
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        i += 1;
        let mut literal = None;
        match c {
            '\\' => {
                let Some(&escaped) = chars.get(i) else { break };
                i += 1;
                if escaped.is_ascii_punctuation() {
                    literal = Some(escaped);
                } else {
                    // A class (`\d`), an assertion (`\b`) or a code point (`\x41`, `\u{..}`, `\p{..}`).
                    if matches!(escaped, 'x' | 'u' | 'U' | 'p' | 'P') && chars.get(i) == Some(&'{') {
                        while let Some(&skipped) = chars.get(i) {
                            i += 1;
                            if skipped == '}' {
                                break;
                            }
                        }
                    }
                    prefix_open = false;
                }
            }
            '[' => {
                if chars.get(i) == Some(&'^') {
                    i += 1;
                }
                if chars.get(i) == Some(&']') {
                    i += 1;
                }
                let mut nested = 0usize;
                while let Some(&inner) = chars.get(i) {
                    i += 1;
                    match inner {
                        '\\' => i += 1,
                        '[' => nested += 1,
                        ']' if nested == 0 => break,
                        ']' => nested -= 1,
                        _ => {}
                    }
                }
                prefix_open = false;
            }
            '(' => {
                depth += 1;
                if chars.get(i) == Some(&'?') {
                    // Skip the group's syntax: `?:`, `?P<name>`, `?<name>`, or flags `?i)` / `?i:`.
                    while let Some(&inner) = chars.get(i) {
                        i += 1;
                        if inner == ':' || inner == '>' {
                            break;
                        }
                        if inner == ')' {
                            depth = depth.saturating_sub(1);
                            break;
                        }
                    }
                }
                prefix_open = false;
            }
            ')' => {
                depth = depth.saturating_sub(1);
                prefix_open = false;
            }
            '|' => {
                if depth == 0 {
                    top_level_alternation = true;
                }
                prefix_open = false;
            }
            '^' if i == 1 => {}
            '.' | '^' | '$' => prefix_open = false,
            '*' | '?' | '+' | '{' => {
                let optional = match c {
                    '*' | '?' => true,
                    '+' => false,
                    _ => {
                        let mut min = String::new();
                        while let Some(&inner) = chars.get(i) {
                            i += 1;
                            if inner == '}' {
                                break;
                            }
                            min.push(inner);
                        }
                        min.split(',').next().is_some_and(|m| m.trim() == "0")
                    }
                };
                if last_was_literal {
                    if optional {
                        count = count.saturating_sub(1);
                        if prefix_open {
                            prefix.pop();
                        }
                    }
                    prefix_open = false;
                }
            }
            c => literal = Some(c),
        }
        last_was_literal = literal.is_some();
        if let Some(l) = literal {
            count += 1;
            if prefix_open {
                prefix.push(l);
            }
        }
    }
    if top_level_alternation {
        prefix.clear();
    }
    (prefix, count)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn glob(source: &str) -> UrlPattern {
        UrlPattern::new(source, Strategy::Glob).unwrap()
    }

    fn regex(source: &str) -> UrlPattern {
        UrlPattern::new(source, Strategy::Regex).unwrap()
    }

    #[test]
    fn globs_match_segments_and_runs() {
        let p = glob("https://api.example.com/projects/{project}/*");
        assert!(p.is_match("https://api.example.com/projects/p1/members"));
        assert!(!p.is_match("https://api.example.com/projects/p1/members/m1"));
        assert!(!p.is_match("https://api.example.com/projects//members"));
        assert_eq!(p.capture("https://api.example.com/projects/p1/x", "project"), Some("p1"));
        let any = glob("https://api.example.com/**");
        assert!(any.is_match("https://api.example.com/a/b/c"));
        assert!(!any.is_match("https://api.example.com.evil.example/a"));
        let escaped = glob(r"https://x.example/a\*b");
        assert!(escaped.is_match("https://x.example/a*b") && !escaped.is_match("https://x.example/aZb"));
    }

    #[test]
    fn bad_globs_say_why() {
        for (source, expected) in [
            ("https://x.example/{project", "not closed"),
            ("https://x.example/{1x}", "not a segment name"),
            ("https://x.example/{a}/{a}", "used twice"),
            ("https://x.example/a}", "no opening"),
            ("https://x.example/***", "ambiguous"),
            ("/projects/**", "whole URL"),
            ("https://x.example/\\", "lone"),
            ("", "empty"),
        ] {
            let err = UrlPattern::new(source, Strategy::Glob).unwrap_err();
            assert!(err.contains(expected), "{source}: {err}");
        }
    }

    #[test]
    fn regexes_are_anchored() {
        let p = regex(r"https://api\.example\.com/projects/(?P<project>[^/]+)");
        assert!(p.is_match("https://api.example.com/projects/p1"));
        assert!(!p.is_match("https://api.example.com/projects/p1/x"));
        assert!(!p.is_match("xhttps://api.example.com/projects/p1"));
        assert_eq!(p.captures(), ["project".to_owned()]);
        assert!(UrlPattern::new("https://(", Strategy::Regex).unwrap_err().contains("not a regular expression"));
    }

    #[test]
    fn regex_prefixes_stop_where_the_literal_text_does() {
        assert_eq!(regex_literals(r"^https://api\.example\.com/x$"), ("https://api.example.com/x".into(), 25));
        assert_eq!(regex_literals("https://ab?c").0, "https://a");
        assert_eq!(regex_literals("https://ab+c").0, "https://ab");
        assert_eq!(regex_literals("https://a(b|c)").0, "https://a");
        assert_eq!(regex_literals("https://a|https://b").0, "");
        assert_eq!(regex_literals(r"https://a\d").0, "https://a");
        assert_eq!(regex_literals("https://a[bc]d").0, "https://a");
        assert_eq!(regex_literals("https://ab{0,2}").0, "https://a");
        assert_eq!(regex_literals("https://ab{2}").0, "https://ab");
        assert_eq!(regex_literals("(?i)https://a").0, "");
    }

    #[test]
    fn glob_overlap_is_exact() {
        let overlap = |a: &str, b: &str| glob(a).may_overlap(&glob(b));
        assert!(overlap("https://x.example/**", "https://x.example/projects/{id}"));
        assert!(overlap("https://x.example/*/admin", "https://x.example/projects/*"));
        assert!(!overlap("https://x.example/{id}", "https://x.example/*/members"));
        assert!(!overlap("https://x.example/a/*", "https://x.example/b/*"));
        assert!(!overlap("https://x.example/*", "https://x.example/a/b"));
        assert!(overlap("https://x.example/*.json", "https://x.example/data.*"));
        assert!(!overlap("https://x.example/*.json", "https://x.example/*.yaml"));
        assert!(!overlap("https://a.example/**", "https://b.example/**"));
        assert!(!overlap("https://x.example/{id}", "https://x.example/"));
    }

    #[test]
    fn regex_overlap_is_refused_unless_prefixes_differ() {
        let r = regex(r"https://x\.example/projects/.*");
        assert!(r.may_overlap(&glob("https://x.example/**")));
        assert!(!r.may_overlap(&glob("https://y.example/**")));
        assert!(!r.may_overlap(&regex(r"https://x\.example/groups/.*")));
    }

    #[test]
    fn more_literal_text_is_more_specific() {
        assert!(glob("https://x.example/projects/*").specificity() > glob("https://x.example/*").specificity());
        assert_eq!(glob("https://x.example/{id}/**").specificity(), "https://x.example//".len());
    }
}
