//! Following a paginated answer (ListObjectsV2, ListPublicKeys) safely: the server decides
//! when the listing ends, and a server that misbehaves must not make a listing look complete
//! nor make it go on forever.

use std::collections::HashSet;

/// The pages a listing has been through, to tell what comes next.
#[derive(Debug, Default)]
pub struct Pages {
    tokens: HashSet<String>,
}

/// Why a listing cannot go on; it must not be taken as complete either.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageError {
    /// The page says more follows but gives no way to ask for it: taking it as the end would
    /// decide files that were never listed.
    TruncatedWithoutToken,
    /// A token already followed: the server would send the same pages again, forever.
    RepeatedToken(String),
}

impl std::fmt::Display for PageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PageError::TruncatedWithoutToken => {
                f.write_str("the answer says more follows but gives no token to ask for it")
            }
            PageError::RepeatedToken(token) => {
                write!(
                    f,
                    "the server gave continuation token {token:?} a second time"
                )
            }
        }
    }
}

/// A leaf: the server's answer is what is wrong, and nothing beneath it failed.
impl std::error::Error for PageError {}

impl Pages {
    /// The token for the next page, or `None` when the listing is complete. `truncated` is
    /// what the page says (ListObjectsV2's `IsTruncated`; ListPublicKeys has none, so a token
    /// alone says more follows).
    pub fn next(
        &mut self,
        truncated: Option<bool>,
        token: Option<&str>,
    ) -> Result<Option<String>, PageError> {
        let token = token.filter(|t| !t.is_empty());
        match (truncated, token) {
            (Some(false), _) | (None, None) => Ok(None),
            (Some(true), None) => Err(PageError::TruncatedWithoutToken),
            (_, Some(token)) => {
                if self.tokens.insert(token.to_string()) {
                    Ok(Some(token.to_string()))
                } else {
                    Err(PageError::RepeatedToken(token.to_string()))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_error_is_a_leaf() {
        use std::error::Error as _;
        assert!(PageError::TruncatedWithoutToken.source().is_none());
        assert!(PageError::RepeatedToken("t".into()).source().is_none());
    }

    #[test]
    fn a_listing_ends_only_when_the_server_says_so() {
        let mut pages = Pages::default();
        assert_eq!(pages.next(Some(true), Some("a")), Ok(Some("a".into())));
        assert_eq!(pages.next(Some(true), Some("b")), Ok(Some("b".into())));
        assert_eq!(pages.next(Some(false), None), Ok(None));
        // A last page may carry a token the server does not mean to be followed.
        assert_eq!(Pages::default().next(Some(false), Some("c")), Ok(None));
        assert_eq!(Pages::default().next(None, None), Ok(None));
        assert_eq!(Pages::default().next(None, Some("d")), Ok(Some("d".into())));
    }

    #[test]
    fn more_without_a_token_is_an_error_not_the_end() {
        let mut pages = Pages::default();
        assert_eq!(
            pages.next(Some(true), None),
            Err(PageError::TruncatedWithoutToken)
        );
        assert_eq!(
            pages.next(Some(true), Some("")),
            Err(PageError::TruncatedWithoutToken)
        );
    }

    #[test]
    fn a_token_given_twice_is_an_error_not_a_loop() {
        let mut pages = Pages::default();
        assert_eq!(pages.next(Some(true), Some("a")), Ok(Some("a".into())));
        assert_eq!(pages.next(Some(true), Some("b")), Ok(Some("b".into())));
        assert_eq!(
            pages.next(Some(true), Some("a")),
            Err(PageError::RepeatedToken("a".into()))
        );
        let mut keys = Pages::default();
        assert_eq!(keys.next(None, Some("k")), Ok(Some("k".into())));
        assert_eq!(
            keys.next(None, Some("k")),
            Err(PageError::RepeatedToken("k".into()))
        );
    }
}
