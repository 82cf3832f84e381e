//! Random identifiers: UUIDs for resources, API key/secret, and a small
//! seeded generator for fault rates. Seeds come from /dev/urandom.

use std::io::Read;

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    let filled = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut buf));
    if filled.is_err() {
        // Fall back to time-derived bytes: ids need uniqueness, not secrecy.
        let mut rng = Rng::new(crate::clock::unix_now().to_bits() ^ std::process::id() as u64);
        buf.iter_mut().for_each(|b| *b = rng.next() as u8);
    }
    buf
}

/// A random (version 4) UUID, lower-case hex.
pub fn uuid() -> String {
    let mut b: [u8; 16] = random_bytes();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex(&b);
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

/// An API key shaped like Exoscale's (`EXO` + 24 hex characters).
pub fn api_key() -> String {
    let b: [u8; 12] = random_bytes();
    format!("EXO{}", hex(&b))
}

/// A 43-character secret (Exoscale secrets have that length).
pub fn api_secret() -> String {
    let b: [u8; 22] = random_bytes();
    hex(&b)[..43].to_string()
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// xorshift64*: enough for "fail this call with probability p".
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }

    pub fn from_entropy() -> Rng {
        Rng::new(u64::from_le_bytes(random_bytes()))
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// True with probability `p` (0..=1).
    pub fn chance(&mut self, p: f64) -> bool {
        ((self.next() >> 11) as f64 / (1u64 << 53) as f64) < p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_has_the_v4_shape_and_differs() {
        let (a, b) = (uuid(), uuid());
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
        assert!("89ab".contains(&a[19..20]));
    }

    #[test]
    fn credentials_have_exoscale_shapes() {
        assert!(api_key().starts_with("EXO") && api_key().len() == 27);
        assert_eq!(api_secret().len(), 43);
    }

    #[test]
    fn chance_follows_the_rate() {
        let mut r = Rng::new(42);
        let hits = (0..10_000).filter(|_| r.chance(0.25)).count();
        assert!((2_200..2_800).contains(&hits), "{hits}");
        assert!(!(0..1000).any(|_| r.chance(0.0)));
        assert!((0..1000).all(|_| r.chance(1.0)));
    }
}
