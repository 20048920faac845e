//! Decoding a member's assignment (Kafka's ConsumerProtocolAssignment), a pure function.

use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(pub String);

struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], DecodeError> {
        if self.bytes.len() < n {
            return Err(DecodeError(format!("truncated {what}")));
        }
        let (head, tail) = self.bytes.split_at(n);
        self.bytes = tail;
        Ok(head)
    }
    fn i16(&mut self, what: &str) -> Result<i16, DecodeError> {
        Ok(i16::from_be_bytes(self.take(2, what)?.try_into().expect("2 bytes")))
    }
    fn i32(&mut self, what: &str) -> Result<i32, DecodeError> {
        Ok(i32::from_be_bytes(self.take(4, what)?.try_into().expect("4 bytes")))
    }
    fn string(&mut self, what: &str) -> Result<String, DecodeError> {
        let len = self.i16(what)?;
        if len < 0 {
            return Err(DecodeError(format!("negative length of {what}")));
        }
        let bytes = self.take(len as usize, what)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| DecodeError(format!("{what} is not UTF-8")))
    }
}

/// Topic -> partitions. Empty input (a member with no assignment yet) gives an empty map.
pub fn decode_assignment(bytes: &[u8]) -> Result<BTreeMap<String, Vec<i32>>, DecodeError> {
    let mut out = BTreeMap::new();
    if bytes.is_empty() {
        return Ok(out);
    }
    let mut r = Reader { bytes };
    let _version = r.i16("version")?;
    let topics = r.i32("topic count")?;
    for _ in 0..topics.max(0) {
        let topic = r.string("topic name")?;
        let n = r.i32("partition count")?;
        let mut parts = Vec::with_capacity(n.clamp(0, 1024) as usize);
        for _ in 0..n.max(0) {
            parts.push(r.i32("partition")?);
        }
        out.insert(topic, parts);
    }
    // user data and later-version fields follow; they do not change the assignment.
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_and_rejects_truncation() {
        let mut b = vec![0, 1, 0, 0, 0, 1, 0, 6];
        b.extend_from_slice(b"orders");
        b.extend_from_slice(&[0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 3, 0xff, 0xff, 0xff, 0xff]);
        let m = decode_assignment(&b).unwrap();
        assert_eq!(m["orders"], vec![0, 3]);
        assert!(decode_assignment(&b[..10]).is_err());
        assert!(decode_assignment(&[]).unwrap().is_empty());
    }
}
