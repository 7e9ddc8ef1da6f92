//! Compact byte forms for the in-memory id maps: a key and its payload in one allocation.
//!
//! Each map element of the memory store and the id caches is one [`Keyed`]: a length-prefixed
//! key followed by a payload, behind one boxed slice (16 bytes in the map, one heap block). It
//! hashes, compares and borrows as its key alone, so the maps are looked up with the key's bytes
//! and the payload rides along. With ~50,000 users created per benchmark run, a `String` pair
//! per map slot (48 bytes in the slot, two or three heap blocks) was most of the memory per user.
//!
//! Lengths are LEB128 varints: one byte for anything under 128 bytes.

use std::borrow::Borrow;
use std::hash::{Hash, Hasher};

/// Appends `n` as a LEB128 varint.
pub(super) fn put_len(out: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        // Truncation keeps the low seven bits, which is the point.
        out.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// Appends `bytes` with its length in front.
pub(super) fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_len(out, bytes.len());
    out.extend_from_slice(bytes);
}

/// Reads what [`put_len`] and [`put_bytes`] wrote. Every read answers `None` on malformed input
/// (which only a bug here could produce) instead of panicking.
pub(super) struct Reader<'a>(pub(super) &'a [u8]);

impl<'a> Reader<'a> {
    pub(super) fn len(&mut self) -> Option<usize> {
        let mut n = 0usize;
        for shift in (0..usize::BITS).step_by(7) {
            let (&b, rest) = self.0.split_first()?;
            self.0 = rest;
            n |= usize::from(b & 0x7f).checked_shl(shift)?;
            if b & 0x80 == 0 {
                return Some(n);
            }
        }
        None
    }

    pub(super) fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }

    pub(super) fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = self.len()?;
        let (head, rest) = (self.0.get(..n)?, self.0.get(n..)?);
        self.0 = rest;
        Some(head)
    }

    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A key and a payload in one allocation; hashes, compares and borrows as its key.
pub(super) struct Keyed(Box<[u8]>);

impl Keyed {
    pub(super) fn new(key: &[u8], payload: &[u8]) -> Keyed {
        // Exact, so turning it into a boxed slice does not reallocate.
        let prefix = (usize::BITS - key.len().leading_zeros()).div_ceil(7).max(1) as usize;
        let mut buf = Vec::with_capacity(prefix + key.len() + payload.len());
        put_bytes(&mut buf, key);
        buf.extend_from_slice(payload);
        Keyed(buf.into_boxed_slice())
    }

    // Runs on every hash and comparison: keys under 128 bytes skip the varint loop.
    fn split(&self) -> (&[u8], &[u8]) {
        if let Some((&n, rest)) = self.0.split_first()
            && n < 0x80
            && let (Some(key), Some(payload)) = (rest.get(..n.into()), rest.get(n.into()..))
        {
            return (key, payload);
        }
        let mut r = Reader(&self.0);
        match r.bytes() {
            Some(key) => (key, r.0),
            None => (&[], &[]),
        }
    }

    pub(super) fn key(&self) -> &[u8] {
        self.split().0
    }

    pub(super) fn payload(&self) -> &[u8] {
        self.split().1
    }
}

/// Text stored by this module is always copied from `&str`, so it is valid UTF-8; a failure would
/// be a bug, shown as replacement characters rather than a panic.
pub(super) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

impl Borrow<[u8]> for Keyed {
    fn borrow(&self) -> &[u8] {
        self.key()
    }
}

// Hash and equality must agree with the borrowed `[u8]` key's, so lookups by key work.
impl Hash for Keyed {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.key().hash(state);
    }
}

impl PartialEq for Keyed {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Keyed {}

// Byte order of UTF-8 keys is `str` order, so a sorted set of these is sorted by key text.
impl Ord for Keyed {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key().cmp(other.key())
    }
}

impl PartialOrd for Keyed {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl std::fmt::Debug for Keyed {
    // Keys are ids and user names: show sizes only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Keyed({} bytes)", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeSet, HashSet};

    #[test]
    fn varints_round_trip_at_every_width() {
        for n in [0, 1, 127, 128, 300, 16_383, 16_384, 1 << 40, usize::MAX] {
            let mut buf = Vec::new();
            put_len(&mut buf, n);
            let mut r = Reader(&buf);
            assert_eq!(r.len(), Some(n), "{n}");
            assert!(r.is_empty());
        }
        let mut one = Vec::new();
        put_len(&mut one, 127);
        assert_eq!(one.len(), 1);
    }

    #[test]
    fn malformed_input_reads_as_none() {
        assert_eq!(Reader(&[]).len(), None);
        assert_eq!(Reader(&[0x80]).len(), None, "unfinished varint");
        assert_eq!(Reader(&[0xff; 20]).len(), None, "too long");
        assert_eq!(Reader(&[5, b'a']).bytes(), None, "shorter than its length");
        assert_eq!(Reader(&[]).byte(), None);
        let mut r = Reader(&[2, b'a', b'b', 7]);
        assert_eq!(r.bytes(), Some(&b"ab"[..]));
        assert_eq!(r.byte(), Some(7));
        assert!(r.is_empty());
    }

    #[test]
    fn keyed_behaves_as_its_key() {
        let a = Keyed::new(b"k1", b"payload-a");
        assert_eq!((a.key(), a.payload()), (&b"k1"[..], &b"payload-a"[..]));
        let mut set = HashSet::new();
        set.insert(a);
        // Same key, other payload: the same element.
        assert!(!set.insert(Keyed::new(b"k1", b"payload-b")));
        assert_eq!(
            set.get(&b"k1"[..]).map(Keyed::payload),
            Some(&b"payload-a"[..])
        );
        assert!(!set.contains(&b"k"[..]), "keys are not prefixes");
        // A key that looks like a length prefix plus payload is still only a key.
        let tricky = Keyed::new(b"", b"\x02k1");
        assert!(!set.contains(tricky.key()));
        for n in [126, 127, 128, 129, 16_384] {
            let key = vec![b'k'; n];
            let k = Keyed::new(&key, b"p");
            assert_eq!((k.key(), k.payload()), (&key[..], &b"p"[..]), "{n}");
        }
        let long = "x".repeat(1000);
        let k = Keyed::new(long.as_bytes(), b"");
        assert_eq!((k.key(), k.payload()), (long.as_bytes(), &b""[..]));
    }

    #[test]
    fn keyed_sorts_like_str() {
        let words = ["b", "a", "ab", "é", "Z", "", "a\u{0}"];
        let set: BTreeSet<Keyed> = words
            .iter()
            .map(|w| Keyed::new(w.as_bytes(), b"x"))
            .collect();
        let got: Vec<String> = set.iter().map(|k| text(k.key())).collect();
        let mut want: Vec<&str> = words.to_vec();
        want.sort();
        assert_eq!(got, want);
        assert!(set.contains(&b"ab"[..]));
        assert!(format!("{:?}", Keyed::new(b"secret", b"")).contains("bytes"));
    }
}
