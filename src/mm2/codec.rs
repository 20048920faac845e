//! MirrorMaker 2's internal records, byte for byte (shared/spec/mm2-wire-formats.md):
//! Kafka's `protocol.types.Schema` encoding, big-endian, INT16-length strings, no tags.
//! Decoding never panics: bad bytes are an error value.

use std::fmt;

/// Why bytes are not a valid record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodecError {
    Truncated {
        field: &'static str,
        needed: usize,
        left: usize,
    },
    NegativeLength {
        field: &'static str,
        length: i16,
    },
    InvalidUtf8 {
        field: &'static str,
    },
    UnknownVersion(i16),
    /// Encoding only: a string longer than an INT16 length can say.
    TooLong {
        field: &'static str,
        length: usize,
    },
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CodecError::Truncated { field, needed, left } => {
                write!(f, "truncated {field}: needs {needed} bytes, {left} left")
            }
            CodecError::NegativeLength { field, length } => write!(f, "{field} has negative length {length}"),
            CodecError::InvalidUtf8 { field } => write!(f, "{field} is not valid UTF-8"),
            CodecError::UnknownVersion(v) => write!(f, "unknown version {v} (this cutover reads version 0)"),
            CodecError::TooLong { field, length } => write!(f, "{field} is {length} bytes, over 32767"),
        }
    }
}

impl std::error::Error for CodecError {}

/// A decoded record, and how many bytes followed it that this version does not know. A
/// future MM2 may append fields: the caller logs those as a warning instead of failing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded<T> {
    pub record: T,
    pub trailing_bytes: usize,
}

/// "The record at `upstream` on the source was written at `downstream` on the target."
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OffsetSync {
    /// The upstream topic name (never renamed).
    pub topic: String,
    pub partition: i32,
    pub upstream: i64,
    pub downstream: i64,
}

/// MM2's translation of a group's committed source offset.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Checkpoint {
    pub group: String,
    /// The target-side topic name.
    pub topic: String,
    pub partition: i32,
    pub upstream: i64,
    pub downstream: i64,
    pub metadata: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Heartbeat {
    pub source_alias: String,
    pub target_alias: String,
    /// Milliseconds since the epoch.
    pub timestamp: i64,
}

const VERSION: i16 = 0;

struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], CodecError> {
        if self.bytes.len() < n {
            return Err(CodecError::Truncated {
                field,
                needed: n,
                left: self.bytes.len(),
            });
        }
        let (head, tail) = self.bytes.split_at(n);
        self.bytes = tail;
        Ok(head)
    }

    fn i16(&mut self, field: &'static str) -> Result<i16, CodecError> {
        let b = self.take(2, field)?;
        Ok(i16::from_be_bytes([b[0], b[1]]))
    }

    fn i32(&mut self, field: &'static str) -> Result<i32, CodecError> {
        let b = self.take(4, field)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn i64(&mut self, field: &'static str) -> Result<i64, CodecError> {
        let b = self.take(8, field)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(i64::from_be_bytes(a))
    }

    fn string(&mut self, field: &'static str) -> Result<String, CodecError> {
        let length = self.i16(field)?;
        if length < 0 {
            return Err(CodecError::NegativeLength { field, length });
        }
        let b = self.take(length as usize, field)?;
        String::from_utf8(b.to_vec()).map_err(|_| CodecError::InvalidUtf8 { field })
    }

    fn version(&mut self) -> Result<(), CodecError> {
        match self.i16("version")? {
            VERSION => Ok(()),
            v => Err(CodecError::UnknownVersion(v)),
        }
    }
}

#[derive(Default)]
struct Writer {
    bytes: Vec<u8>,
}

impl Writer {
    fn i16(mut self, v: i16) -> Self {
        self.bytes.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn i32(mut self, v: i32) -> Self {
        self.bytes.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn i64(mut self, v: i64) -> Self {
        self.bytes.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn string(mut self, field: &'static str, s: &str) -> Result<Self, CodecError> {
        let length = i16::try_from(s.len()).map_err(|_| CodecError::TooLong { field, length: s.len() })?;
        self = self.i16(length);
        self.bytes.extend_from_slice(s.as_bytes());
        Ok(self)
    }
}

/// Key and value both decode; trailing bytes of either are counted, not fatal.
fn decode_pair<T>(
    key: &[u8],
    value: &[u8],
    f: impl FnOnce(&mut Reader, &mut Reader) -> Result<T, CodecError>,
) -> Result<Decoded<T>, CodecError> {
    let mut k = Reader { bytes: key };
    let mut v = Reader { bytes: value };
    let record = f(&mut k, &mut v)?;
    Ok(Decoded {
        record,
        trailing_bytes: k.bytes.len() + v.bytes.len(),
    })
}

impl OffsetSync {
    pub fn encode(&self) -> Result<(Vec<u8>, Vec<u8>), CodecError> {
        let key = Writer::default()
            .string("topic", &self.topic)?
            .i32(self.partition)
            .bytes;
        let value = Writer::default().i64(self.upstream).i64(self.downstream).bytes;
        Ok((key, value))
    }

    pub fn decode(key: &[u8], value: &[u8]) -> Result<Decoded<OffsetSync>, CodecError> {
        decode_pair(key, value, |k, v| {
            Ok(OffsetSync {
                topic: k.string("topic")?,
                partition: k.i32("partition")?,
                upstream: v.i64("upstreamOffset")?,
                downstream: v.i64("downstreamOffset")?,
            })
        })
    }
}

impl Checkpoint {
    pub fn encode(&self) -> Result<(Vec<u8>, Vec<u8>), CodecError> {
        let key = Writer::default()
            .string("group", &self.group)?
            .string("topic", &self.topic)?
            .i32(self.partition)
            .bytes;
        let value = Writer::default()
            .i16(VERSION)
            .i64(self.upstream)
            .i64(self.downstream)
            .string("metadata", &self.metadata)?
            .bytes;
        Ok((key, value))
    }

    pub fn decode(key: &[u8], value: &[u8]) -> Result<Decoded<Checkpoint>, CodecError> {
        decode_pair(key, value, |k, v| {
            let group = k.string("group")?;
            let topic = k.string("topic")?;
            let partition = k.i32("partition")?;
            v.version()?;
            Ok(Checkpoint {
                group,
                topic,
                partition,
                upstream: v.i64("upstreamOffset")?,
                downstream: v.i64("downstreamOffset")?,
                metadata: v.string("metadata")?,
            })
        })
    }
}

impl Heartbeat {
    pub fn encode(&self) -> Result<(Vec<u8>, Vec<u8>), CodecError> {
        let key = Writer::default()
            .string("sourceClusterAlias", &self.source_alias)?
            .string("targetClusterAlias", &self.target_alias)?
            .bytes;
        let value = Writer::default().i16(VERSION).i64(self.timestamp).bytes;
        Ok((key, value))
    }

    pub fn decode(key: &[u8], value: &[u8]) -> Result<Decoded<Heartbeat>, CodecError> {
        decode_pair(key, value, |k, v| {
            let source_alias = k.string("sourceClusterAlias")?;
            let target_alias = k.string("targetClusterAlias")?;
            v.version()?;
            Ok(Heartbeat {
                source_alias,
                target_alias,
                timestamp: v.i64("timestamp")?,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn hex(s: &str) -> Vec<u8> {
        s.split_whitespace()
            .map(|b| u8::from_str_radix(b, 16).unwrap())
            .collect()
    }

    #[test]
    fn offset_sync_golden_vector() {
        let sync = OffsetSync {
            topic: "orders".into(),
            partition: 3,
            upstream: 1000,
            downstream: 40,
        };
        let (key, value) = (
            hex("00 06 6f 72 64 65 72 73 00 00 00 03"),
            hex("00 00 00 00 00 00 03 e8 00 00 00 00 00 00 00 28"),
        );
        assert_eq!(sync.encode().unwrap(), (key.clone(), value.clone()));
        assert_eq!(
            OffsetSync::decode(&key, &value).unwrap(),
            Decoded {
                record: sync,
                trailing_bytes: 0
            }
        );
    }

    #[test]
    fn checkpoint_golden_vector() {
        let cp = Checkpoint {
            group: "billing".into(),
            topic: "orders".into(),
            partition: 3,
            upstream: 1000,
            downstream: 40,
            metadata: String::new(),
        };
        let key = hex("00 07 62 69 6c 6c 69 6e 67 00 06 6f 72 64 65 72 73 00 00 00 03");
        let value = hex("00 00 00 00 00 00 00 00 03 e8 00 00 00 00 00 00 00 28 00 00");
        assert_eq!(cp.encode().unwrap(), (key.clone(), value.clone()));
        assert_eq!(Checkpoint::decode(&key, &value).unwrap().record, cp);
    }

    #[test]
    fn heartbeat_golden_vector() {
        let hb = Heartbeat {
            source_alias: "src".into(),
            target_alias: "dst".into(),
            timestamp: 1_700_000_000_000,
        };
        let (key, value) = (
            hex("00 03 73 72 63 00 03 64 73 74"),
            hex("00 00 00 00 01 8b cf e5 68 00"),
        );
        assert_eq!(hb.encode().unwrap(), (key.clone(), value.clone()));
        assert_eq!(Heartbeat::decode(&key, &value).unwrap().record, hb);
    }

    #[test]
    fn bad_bytes_are_errors() {
        let key = hex("00 06 6f 72 64 65 72 73 00 00 00 03");
        let value = hex("00 00 00 00 00 00 03 e8 00 00 00 00 00 00 00 28");
        assert!(matches!(
            OffsetSync::decode(&key[..5], &value),
            Err(CodecError::Truncated { .. })
        ));
        assert!(matches!(
            OffsetSync::decode(&hex("ff ff 00"), &value),
            Err(CodecError::NegativeLength { .. })
        ));
        assert!(matches!(
            OffsetSync::decode(&hex("00 01 ff 00 00 00 01"), &value),
            Err(CodecError::InvalidUtf8 { .. })
        ));
        let hb_key = hex("00 03 73 72 63 00 03 64 73 74");
        assert_eq!(
            Heartbeat::decode(&hb_key, &hex("00 01 00 00 01 8b cf e5 68 00")),
            Err(CodecError::UnknownVersion(1))
        );
        // A future version's extra fields: decoded, and counted for a warning.
        let mut longer = value.clone();
        longer.extend_from_slice(&[1, 2, 3]);
        assert_eq!(OffsetSync::decode(&key, &longer).unwrap().trailing_bytes, 3);
        let long = "x".repeat(40_000);
        let too_long = OffsetSync {
            topic: long,
            partition: 0,
            upstream: 0,
            downstream: 0,
        };
        assert!(matches!(too_long.encode(), Err(CodecError::TooLong { .. })));
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(key in proptest::collection::vec(any::<u8>(), 0..64),
                                       value in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = OffsetSync::decode(&key, &value);
            let _ = Checkpoint::decode(&key, &value);
            let _ = Heartbeat::decode(&key, &value);
        }

        #[test]
        fn encode_then_decode_is_identity(topic in "\\PC{0,40}", group in "\\PC{0,40}", meta in "\\PC{0,20}",
                                          partition in any::<i32>(), up in any::<i64>(), down in any::<i64>()) {
            let sync = OffsetSync { topic: topic.clone(), partition, upstream: up, downstream: down };
            let (k, v) = sync.encode().unwrap();
            prop_assert_eq!(OffsetSync::decode(&k, &v).unwrap(), Decoded { record: sync, trailing_bytes: 0 });
            let cp = Checkpoint { group: group.clone(), topic, partition, upstream: up, downstream: down, metadata: meta };
            let (k, v) = cp.encode().unwrap();
            prop_assert_eq!(Checkpoint::decode(&k, &v).unwrap(), Decoded { record: cp, trailing_bytes: 0 });
            let hb = Heartbeat { source_alias: group, target_alias: "t".into(), timestamp: up };
            let (k, v) = hb.encode().unwrap();
            prop_assert_eq!(Heartbeat::decode(&k, &v).unwrap(), Decoded { record: hb, trailing_bytes: 0 });
        }
    }
}
