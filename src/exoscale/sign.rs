//! EXO2-HMAC-SHA256 request signatures for the Exoscale API v2.
//!
//! The signed message is five parts joined by `\n`: `"<METHOD> <path>"`, the
//! body bytes, the query values concatenated in the order of their sorted
//! names, an empty line for signed headers, and the expiry (Unix seconds).
//! The signature is standard base64 of HMAC-SHA256 keyed with the API secret.
//! Query handling follows the official Python signer (`parse_qs`): blank
//! values are dropped, and a repeated name is listed but contributes no value.
//! The twin verifies with the same code, so client and twin cannot drift; the
//! official vectors and the Python oracle pin this code from the outside.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::collections::BTreeMap;
use std::fmt;

type HmacSha256 = Hmac<Sha256>;

pub const SCHEME: &str = "EXO2-HMAC-SHA256";
/// Both official clients sign with "now + 10 minutes".
pub const VALIDITY_SECS: i64 = 600;

/// The message to sign, and the query names it covers (sorted).
pub fn message(method: &str, path: &str, query: &str, body: &[u8], expires: i64) -> (Vec<u8>, Vec<String>) {
    let params = parse_query(query);
    let names: Vec<String> = params.keys().cloned().collect();
    let values: String = params.values().filter(|v| v.len() == 1).map(|v| v[0].as_str()).collect();
    let mut msg = Vec::with_capacity(method.len() + path.len() + body.len() + values.len() + 24);
    msg.extend_from_slice(method.as_bytes());
    msg.push(b' ');
    msg.extend_from_slice(path.as_bytes());
    msg.push(b'\n');
    msg.extend_from_slice(body);
    msg.push(b'\n');
    msg.extend_from_slice(values.as_bytes());
    msg.push(b'\n');
    // Signed headers: "none at the moment" in every official client.
    msg.push(b'\n');
    msg.extend_from_slice(expires.to_string().as_bytes());
    (msg, names)
}

fn mac(secret: &str, msg: &[u8]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC accepts any key length");
    mac.update(msg);
    mac
}

/// The full `Authorization` header value for one request.
pub fn authorization(key: &str, secret: &str, method: &str, path: &str, query: &str, body: &[u8], expires: i64) -> String {
    let (msg, names) = message(method, path, query, body, expires);
    let signature = STANDARD.encode(mac(secret, &msg).finalize().into_bytes());
    let mut header = format!("{SCHEME} credential={key}");
    if !names.is_empty() {
        header.push_str(",signed-query-args=");
        header.push_str(&names.join(";"));
    }
    header.push_str(&format!(",expires={expires},signature={signature}"));
    header
}

/// Why a signature was refused (for the twin's 403 and its log line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureError {
    Missing,
    Malformed(&'static str),
    UnknownKey,
    Expired,
    QueryArgsMismatch,
    Mismatch,
}

impl fmt::Display for SignatureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignatureError::Missing => f.write_str("no Authorization header"),
            SignatureError::Malformed(what) => write!(f, "malformed Authorization header: {what}"),
            SignatureError::UnknownKey => f.write_str("unknown API key"),
            SignatureError::Expired => f.write_str("signature expired"),
            SignatureError::QueryArgsMismatch => f.write_str("signed-query-args do not match the query string"),
            SignatureError::Mismatch => f.write_str("signature does not match"),
        }
    }
}

/// The fields of an `Authorization: EXO2-HMAC-SHA256 ...` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedHeader {
    pub credential: String,
    pub signed_query_args: Vec<String>,
    pub expires: i64,
    pub signature: String,
}

pub fn parse_header(header: &str) -> Result<ParsedHeader, SignatureError> {
    let rest = header.strip_prefix(SCHEME).and_then(|r| r.strip_prefix(' ')).ok_or(SignatureError::Malformed("scheme"))?;
    let (mut credential, mut args, mut expires, mut signature) = (None, Vec::new(), None, None);
    for part in rest.split(',') {
        let (name, value) = part.split_once('=').ok_or(SignatureError::Malformed("field without '='"))?;
        match name {
            "credential" => credential = Some(value.to_string()),
            "signed-query-args" => args = value.split(';').filter(|s| !s.is_empty()).map(str::to_string).collect(),
            "expires" => expires = Some(value.parse::<i64>().map_err(|_| SignatureError::Malformed("expires"))?),
            // base64 may end in '=' padding, which split_once left in `value`.
            "signature" => signature = Some(value.to_string()),
            _ => return Err(SignatureError::Malformed("unknown field")),
        }
    }
    Ok(ParsedHeader {
        credential: credential.ok_or(SignatureError::Malformed("credential"))?,
        signed_query_args: args,
        expires: expires.ok_or(SignatureError::Malformed("expires"))?,
        signature: signature.ok_or(SignatureError::Malformed("signature"))?,
    })
}

/// Check a request's `Authorization` header (server side, used by the twin).
/// The HMAC comparison is constant-time.
#[allow(clippy::too_many_arguments)]
pub fn verify(
    header: Option<&str>,
    key: &str,
    secret: &str,
    method: &str,
    path: &str,
    query: &str,
    body: &[u8],
    now: i64,
) -> Result<(), SignatureError> {
    let parsed = parse_header(header.ok_or(SignatureError::Missing)?)?;
    if parsed.credential != key {
        return Err(SignatureError::UnknownKey);
    }
    if parsed.expires < now {
        return Err(SignatureError::Expired);
    }
    let (msg, names) = message(method, path, query, body, parsed.expires);
    if names != parsed.signed_query_args {
        return Err(SignatureError::QueryArgsMismatch);
    }
    let claimed = STANDARD.decode(parsed.signature.as_bytes()).map_err(|_| SignatureError::Malformed("signature is not base64"))?;
    mac(secret, &msg).verify_slice(&claimed).map_err(|_| SignatureError::Mismatch)
}

/// Split an absolute or origin-form URL into (path, query), as the signers
/// see it: no scheme, no host, path kept as sent (escaped), no fragment.
pub fn split_url(url: &str) -> (&str, &str) {
    let after_scheme = url.find("://").map(|i| &url[i + 3..]).unwrap_or(url);
    let from_path = if url.contains("://") { after_scheme.find('/').map(|i| &after_scheme[i..]).unwrap_or("") } else { after_scheme };
    let without_fragment = from_path.split('#').next().unwrap_or("");
    match without_fragment.split_once('?') {
        Some((path, query)) => (path, query),
        None => (without_fragment, ""),
    }
}

/// `parse_qs` semantics: `&`-separated, `+` is a space, percent-decoded,
/// blank values dropped; names keep every value in order.
fn parse_query(query: &str) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        if value.is_empty() {
            continue;
        }
        out.entry(percent_decode(name)).or_default().push(percent_decode(value));
    }
    out
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "EXOxxxxxxxxxxxxxxxxxxxxxxxx";
    const SECRET: &str = "XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX";

    #[test]
    fn message_layout_matches_reference() {
        let (msg, _) = message("GET", "/v2/zone", "k1=v1&k2=v2", b"", 3376684800);
        assert_eq!(msg, b"GET /v2/zone\n\nv1v2\n\n3376684800");
    }

    #[test]
    fn verify_accepts_own_signature_and_rejects_tampering() {
        let h = authorization(KEY, SECRET, "PUT", "/v2/instance-pool/x:scale", "", b"{\"size\":3}", 2000);
        assert_eq!(verify(Some(&h), KEY, SECRET, "PUT", "/v2/instance-pool/x:scale", "", b"{\"size\":3}", 1999), Ok(()));
        assert_eq!(
            verify(Some(&h), KEY, SECRET, "PUT", "/v2/instance-pool/x:scale", "", b"{\"size\":4}", 1999),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(Some(&h), KEY, "other", "PUT", "/v2/instance-pool/x:scale", "", b"{\"size\":3}", 1999),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(Some(&h), KEY, SECRET, "PUT", "/v2/instance-pool/x:scale", "", b"{\"size\":3}", 2001),
            Err(SignatureError::Expired)
        );
        assert_eq!(
            verify(Some(&h), "EXOother", SECRET, "PUT", "/v2/instance-pool/x:scale", "", b"{\"size\":3}", 1999),
            Err(SignatureError::UnknownKey)
        );
        assert_eq!(verify(None, KEY, SECRET, "GET", "/", "", b"", 0), Err(SignatureError::Missing));
        assert!(matches!(verify(Some("Bearer x"), KEY, SECRET, "GET", "/", "", b"", 0), Err(SignatureError::Malformed(_))));
    }

    #[test]
    fn query_args_must_match() {
        let h = authorization(KEY, SECRET, "GET", "/v2/instance", "manager-type=instance-pool", b"", 2000);
        assert_eq!(verify(Some(&h), KEY, SECRET, "GET", "/v2/instance", "", b"", 1), Err(SignatureError::QueryArgsMismatch));
    }

    #[test]
    fn split_url_forms() {
        assert_eq!(split_url("https://api.exoscale.com/v2/zone?k1=v1&k2=v2"), ("/v2/zone", "k1=v1&k2=v2"));
        assert_eq!(split_url("/v2/instance-pool/a:scale"), ("/v2/instance-pool/a:scale", ""));
        assert_eq!(split_url("http://127.0.0.1:9/v2/x?a=1#frag"), ("/v2/x", "a=1"));
    }

    #[test]
    fn python_query_semantics() {
        let q = parse_query("b=%41+c&a=1&a=2&e=&d");
        assert_eq!(q.get("b").unwrap(), &vec!["A c".to_string()]);
        assert_eq!(q.get("a").unwrap().len(), 2);
        assert!(!q.contains_key("e") && !q.contains_key("d"));
        let (msg, names) = message("GET", "/p", "b=%41+c&a=1&a=2&e=", b"", 1);
        assert_eq!(names, vec!["a", "b"]);
        assert_eq!(msg, b"GET /p\n\nA c\n\n1");
    }
}
