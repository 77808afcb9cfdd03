//! JSON pointers (RFC 6901), as this crate writes them into errors and violations.

/// `parent` extended by the reference token `token`, escaped (`~` as `~0`, `/` as `~1`).
pub(crate) fn child(parent: &str, token: &str) -> String {
    format!("{parent}/{}", token.replace('~', "~0").replace('/', "~1"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_escaped_per_rfc_6901() {
        assert_eq!(child("/traits", "a/b~c"), "/traits/a~1b~0c");
        assert_eq!(child("", "email"), "/email");
    }
}
