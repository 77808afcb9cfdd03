//! Keyset pagination: a page of results and an opaque token for the next one.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::Error;

/// The largest page a list call returns.
pub const MAX_PAGE_SIZE: u32 = 1000;

/// The page size used when none is given.
pub const DEFAULT_PAGE_SIZE: u32 = 250;

/// Where a page starts and how long it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    /// How many items, 1 to [`MAX_PAGE_SIZE`].
    pub page_size: u32,
    /// The token of the previous page's `next_page_token`; `None` for the first page.
    pub page_token: Option<PageToken>,
}

impl Default for PageRequest {
    fn default() -> Self {
        Self { page_size: DEFAULT_PAGE_SIZE, page_token: None }
    }
}

impl PageRequest {
    /// The first page of `page_size` items.
    pub fn first(page_size: u32) -> Self {
        Self { page_size, page_token: None }
    }

    /// Checks the page size.
    pub fn check(&self) -> Result<(), Error> {
        if self.page_size == 0 || self.page_size > MAX_PAGE_SIZE {
            return Err(Error::Invalid {
                field: "page_size",
                reason: format!("must be between 1 and {MAX_PAGE_SIZE}, not {}", self.page_size),
            });
        }
        Ok(())
    }
}

/// A page of results.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// The items, in the store's stable order.
    pub items: Vec<T>,
    /// The token for the next page; `None` on the last page.
    pub next_page_token: Option<PageToken>,
}

impl<T> Page<T> {
    /// The page made of `items` (sorted by `id`), fetched as up to `size + 1` rows so that an extra row tells
    /// whether another page follows.
    pub(crate) fn from_overfetch(mut items: Vec<T>, size: usize, id: impl Fn(&T) -> uuid::Uuid) -> Self {
        let next_page_token = if items.len() > size {
            items.truncate(size);
            items.last().map(|last| PageToken::after(id(last)))
        } else {
            None
        };
        Page { items, next_page_token }
    }
}

/// An opaque position in a listing. Clients get it from one page and hand it back for the next; its content is
/// not a contract (today it encodes the last id seen, so pages stay stable while items are added).
#[derive(Clone, PartialEq, Eq)]
pub struct PageToken(String);

impl PageToken {
    /// The token after the item with id `id`.
    pub(crate) fn after(id: uuid::Uuid) -> Self {
        Self(URL_SAFE_NO_PAD.encode(id.as_bytes()))
    }

    /// The id this token continues after.
    pub(crate) fn last_id(&self) -> Result<uuid::Uuid, Error> {
        let invalid = || Error::Invalid { field: "page_token", reason: "not a token this store issued".into() };
        let bytes = URL_SAFE_NO_PAD.decode(&self.0).map_err(|_| invalid())?;
        let bytes: [u8; 16] = bytes.try_into().map_err(|_| invalid())?;
        Ok(uuid::Uuid::from_bytes(bytes))
    }

    /// Wraps a token received from a client.
    pub fn parse(token: impl Into<String>) -> Self {
        Self(token.into())
    }

    /// The token as a string, to hand to a client.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PageToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PageToken({})", self.0)
    }
}

impl fmt::Display for PageToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_refuse_garbage() {
        let id = *identity_core::IdentityId::new().as_uuid();
        assert_eq!(PageToken::after(id).last_id().unwrap(), id);
        assert!(PageToken::parse("!!").last_id().is_err());
        assert!(PageToken::parse("AAAA").last_id().is_err());
    }

    #[test]
    fn page_sizes_are_bounded() {
        assert!(PageRequest::first(1).check().is_ok());
        assert!(PageRequest::first(MAX_PAGE_SIZE).check().is_ok());
        assert!(PageRequest::first(0).check().is_err());
        assert!(PageRequest::first(MAX_PAGE_SIZE + 1).check().is_err());
    }
}
