//! The fast path against the general codec: whatever the fast path takes, the general decoder
//! reads the same way (same message, same log text, same bytes consumed); and it takes every
//! whole message in the form p2p-tui sends.

use super::*;
use crate::core::protocol::codec::{Expect, Reply, Request, decode_reply, decode_request};
use crate::core::protocol::{CHUNK_SIZE, Framing};
use bytes::{Bytes, BytesMut};
use proptest::prelude::*;

const FILES: [&str; 3] = ["big.bin", "a", "f1.txt"];

/// Bytes that look like the hot messages, often right, often subtly wrong.
fn near_miss(right: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    let len = right.len();
    (
        0..6u8,
        0..len.max(1),
        any::<u8>(),
        proptest::collection::vec(any::<u8>(), 0..40),
    )
        .prop_map(move |(how, at, byte, tail)| {
            let mut bytes = right.clone();
            match how {
                0 => {}
                1 => bytes.truncate(at),
                2 if !bytes.is_empty() => bytes[at.min(len - 1)] = byte,
                3 => bytes.insert(at.min(len), byte),
                4 if !bytes.is_empty() => {
                    bytes.remove(at.min(len - 1));
                }
                _ => bytes.extend_from_slice(&tail),
            }
            bytes
        })
}

fn chunk_reply_bytes() -> impl Strategy<Value = (Vec<u8>, String, u64)> {
    (
        0..3usize,
        0..3usize,
        1..5_000u64,
        any::<u64>(),
        any::<bool>(),
    )
        .prop_flat_map(|(f, g, size, pick, leading_zero)| {
            let chunks = size.div_ceil(CHUNK_SIZE);
            let index = pick % chunks;
            let len = chunk_len(size, index).unwrap_or(0);
            let mut wire = format!("200 File {} chunk ", FILES[f]).into_bytes();
            if leading_zero {
                wire.push(b'0');
            }
            wire.extend_from_slice(index.to_string().as_bytes());
            wire.push(b' ');
            wire.extend((0..len).map(|i| (i as u8).wrapping_mul(31) ^ b'\n'));
            wire.push(b'\n');
            wire.extend_from_slice(b"200 File");
            (near_miss(wire), Just(FILES[g].to_string()), Just(size))
        })
}

fn upload_chunk_bytes() -> impl Strategy<Value = (Vec<u8>, String, u64)> {
    (0..3usize, 0..3usize, 1..5_000u64, any::<u64>()).prop_flat_map(|(f, g, size, pick)| {
        let index = pick % size.div_ceil(CHUNK_SIZE);
        let len = chunk_len(size, index).unwrap_or(0);
        let mut wire = format!("#UPLOAD {} chunk {index} ", FILES[f]).into_bytes();
        wire.extend((0..len).map(|i| (i as u8).wrapping_mul(7) ^ b'\n'));
        wire.extend_from_slice(b"\n#UPLOAD");
        (near_miss(wire), Just(FILES[g].to_string()), Just(size))
    })
}

fn chunk_request_bytes() -> impl Strategy<Value = (Vec<u8>, String)> {
    (0..3usize, 0..3usize, any::<u64>(), any::<bool>()).prop_flat_map(|(f, g, index, crlf)| {
        let end = if crlf { "\r\n" } else { "\n" };
        let wire = format!("#DOWNLOAD {} chunk {index}{end}#DOWN", FILES[f]).into_bytes();
        (near_miss(wire), Just(FILES[g].to_string()))
    })
}

fn compact_request_bytes() -> impl Strategy<Value = Vec<u8>> {
    (any::<u64>(), any::<bool>()).prop_flat_map(|(index, crlf)| {
        let end = if crlf { "\r\n" } else { "\n" };
        near_miss(format!("+{index}{end}+").into_bytes())
    })
}

fn chunk_ack_bytes() -> impl Strategy<Value = (Vec<u8>, String)> {
    (0..3usize, 0..3usize, any::<u64>(), 0..3u8).prop_flat_map(|(f, g, index, end)| {
        let end = ["\n", "\r\n", ""][end as usize];
        let wire =
            format!("200 File {} chunk {index} received{end}200 File", FILES[f]).into_bytes();
        (near_miss(wire), Just(FILES[g].to_string()))
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn an_upload_chunk_taken_fast_reads_the_same_in_the_general_decoder((wire, file, size) in upload_chunk_bytes()) {
        let Some((index, payload, used)) = upload_chunk(&wire, &file, size) else {
            return Ok(());
        };
        let mut buf = BytesMut::from(&wire[..]);
        let decoded = decode_request(&mut buf, Some(size), false).expect("valid").expect("whole");
        prop_assert_eq!(wire.len() - buf.len(), used);
        prop_assert_eq!(decoded.framing, Framing::Line);
        let Request::UploadChunk { file: got, index: i, payload: p } = decoded.message else {
            return Err(TestCaseError::fail("not an upload chunk"));
        };
        prop_assert_eq!((got, i), (file, index));
        prop_assert_eq!(&p[..], &wire[payload]);
    }

    #[test]
    fn a_chunk_ack_taken_fast_reads_the_same_in_the_general_decoder((wire, file) in chunk_ack_bytes()) {
        let Some((index, digits, used)) = chunk_ack(&wire, &file) else {
            return Ok(());
        };
        let mut buf = BytesMut::from(&wire[..]);
        let decoded = decode_reply(&mut buf, Expect::UploadChunkAck, false).expect("valid").expect("whole");
        prop_assert_eq!(wire.len() - buf.len(), used);
        prop_assert_eq!(decoded.framing, Framing::Line);
        let shown = format!("200 File {file} chunk {} received", String::from_utf8_lossy(&wire[digits]));
        prop_assert_eq!(decoded.text().into_owned(), shown);
        prop_assert_eq!(decoded.message, Reply::ChunkReceived { file, index });
    }

    #[test]
    fn an_upload_chunk_is_written_as_the_general_encoder_writes_it(f in 0..3usize, size in 1..100_000u64, pick in any::<u64>()) {
        let file = FILES[f];
        let index = pick % size.div_ceil(CHUNK_SIZE);
        let payload: Vec<u8> = (0..chunk_len(size, index).unwrap_or(0)).map(|i| i as u8).collect();
        let kept = payload.clone();
        let mut fast = BytesMut::new();
        write_upload_chunk(&mut fast, file, index, &payload);
        let general = Request::UploadChunk { file: file.to_string(), index, payload: Bytes::from(payload) };
        let mut encoded = BytesMut::new();
        general.encode(&mut encoded, Framing::Line);
        prop_assert_eq!(&fast[..], &encoded[..]);
        let mut buf = encoded.clone();
        let decoded = decode_request(&mut buf, Some(size), false).expect("valid").expect("whole");
        prop_assert_eq!(decoded.message, general);
        // The server takes it fast too.
        let (i, range, used) = upload_chunk(&encoded, file, size).expect("whole chunk");
        prop_assert_eq!((i, used), (index, encoded.len()));
        prop_assert_eq!(&encoded[range], &kept[..]);
        // And the acknowledgement it sends for it is taken fast.
        let ack = Reply::ChunkReceived { file: file.to_string(), index };
        let mut wire = BytesMut::new();
        ack.encode(&mut wire, Framing::Line);
        let mut written = BytesMut::new();
        write_chunk_ack(&mut written, file, index);
        prop_assert_eq!(&written[..], &wire[..]);
        prop_assert_eq!(chunk_ack(&wire, file).map(|(i, _, used)| (i, used)), Some((index, wire.len())));
    }

    #[test]
    fn a_chunk_reply_taken_fast_reads_the_same_in_the_general_decoder((wire, file, size) in chunk_reply_bytes()) {
        let Some((reply, used)) = chunk_reply(&wire, &file, size) else {
            return Ok(());
        };
        let mut buf = BytesMut::from(&wire[..]);
        let expect = Expect::DownloadChunk { size, index: reply.index };
        let decoded = decode_reply(&mut buf, expect, false).expect("valid").expect("whole");
        prop_assert_eq!(wire.len() - buf.len(), used);
        prop_assert_eq!(decoded.framing, Framing::Line);
        let text = decoded.text().into_owned();
        prop_assert_eq!(text.as_bytes(), &wire[reply.text.clone()]);
        let shown = format!("200 File {file} chunk {}", String::from_utf8_lossy(&wire[reply.digits.clone()]));
        prop_assert_eq!(&text, &shown);
        let Reply::Chunk { index, payload, .. } = decoded.message else {
            return Err(TestCaseError::fail("not a chunk"));
        };
        prop_assert_eq!(index, reply.index);
        prop_assert_eq!(&payload[..], &wire[reply.payload.clone()]);
    }

    #[test]
    fn a_chunk_request_taken_fast_reads_the_same_in_the_general_decoder((wire, file) in chunk_request_bytes()) {
        let Some((index, used)) = chunk_request(&wire, &file) else {
            return Ok(());
        };
        let mut buf = BytesMut::from(&wire[..]);
        let decoded = decode_request(&mut buf, None, false).expect("valid").expect("whole");
        prop_assert_eq!(wire.len() - buf.len(), used);
        prop_assert_eq!(decoded.framing, Framing::Line);
        prop_assert_eq!(decoded.message, Request::DownloadChunk { file, index });
    }

    #[test]
    fn a_compact_request_taken_fast_reads_the_same_in_the_general_decoder(wire in compact_request_bytes()) {
        let Some((index, used)) = compact_request(&wire) else {
            return Ok(());
        };
        let mut buf = BytesMut::from(&wire[..]);
        let decoded = decode_request(&mut buf, None, false).expect("valid").expect("whole");
        prop_assert_eq!(wire.len() - buf.len(), used);
        prop_assert_eq!(decoded.framing, Framing::Line);
        prop_assert_eq!(decoded.message, Request::CompactChunk { index });
    }

    #[test]
    fn compact_messages_are_taken_whole_and_only_whole(size in 1..100_000u64, pick in any::<u64>(), cut in any::<usize>(), tail in proptest::collection::vec(any::<u8>(), 0..200)) {
        let index = pick % size.div_ceil(CHUNK_SIZE);
        let payload: Vec<u8> = (0..chunk_len(size, index).unwrap_or(0)).map(|i| i as u8 ^ b'+').collect();

        let mut request = Vec::new();
        write_compact_request(&mut request, index);
        let mut encoded = BytesMut::new();
        Request::CompactChunk { index }.encode(&mut encoded, Framing::Line);
        prop_assert_eq!(&request[..], &encoded[..]);
        prop_assert_eq!(compact_request(&request), Some((index, request.len())));
        prop_assert_eq!(compact_request(&request[..cut % request.len()]), None);

        let mut reply = Vec::new();
        write_compact_reply(&mut reply, &payload);
        let whole = reply.len();
        prop_assert_eq!(compact_reply(&reply[..cut % whole], size, index), None);
        // Whatever follows (the next reply, or bytes of it) is not taken.
        reply.extend_from_slice(&tail);
        let (at, used) = compact_reply(&reply, size, index).expect("whole reply");
        prop_assert_eq!((used, &reply[at]), (whole, &payload[..]));
        reply[0] = b'2';
        prop_assert_eq!(compact_reply(&reply, size, index), None);
    }

    #[test]
    fn every_whole_message_p2p_tui_writes_is_taken_fast(f in 0..3usize, size in 1..100_000u64, pick in any::<u64>(), cut in any::<usize>()) {
        let file = FILES[f];
        let index = pick % size.div_ceil(CHUNK_SIZE);
        let payload: Vec<u8> = (0..chunk_len(size, index).unwrap_or(0)).map(|i| i as u8).collect();

        let mut request = Vec::new();
        write_chunk_request(&mut request, file, index);
        let general = Request::DownloadChunk { file: file.to_string(), index };
        let mut encoded = BytesMut::new();
        general.encode(&mut encoded, Framing::Line);
        prop_assert_eq!(&request[..], &encoded[..]);
        prop_assert_eq!(chunk_request(&request, file), Some((index, request.len())));
        let cut_at = cut % request.len();
        prop_assert_eq!(chunk_request(&request[..cut_at], file), None);

        let mut reply = BytesMut::new();
        write_chunk_reply(&mut reply, file, index, &payload);
        let general = Reply::Chunk { file: file.to_string(), index, payload: Bytes::from(payload.clone()) };
        let mut encoded = BytesMut::new();
        general.encode(&mut encoded, Framing::Line);
        prop_assert_eq!(&reply[..], &encoded[..]);
        let (found, used) = chunk_reply(&reply, file, size).expect("whole reply");
        prop_assert_eq!(used, reply.len());
        prop_assert_eq!(found.index, index);
        prop_assert_eq!(&reply[found.payload], &payload[..]);
        let cut_at = cut % reply.len();
        prop_assert_eq!(chunk_reply(&reply[..cut_at], file, size), None);
    }

    #[test]
    fn numbers_are_written_as_display_writes_them(n in any::<u64>()) {
        let mut out = Vec::new();
        write_number(&mut out, n);
        prop_assert_eq!(out, n.to_string().into_bytes());
    }
}

#[test]
fn the_extremes_of_a_number() {
    for n in [0, 9, 10, u64::MAX] {
        let mut out = Vec::new();
        write_number(&mut out, n);
        assert_eq!(out, n.to_string().into_bytes());
    }
    // One more than u64::MAX, and 21 digits: the general decoder's refusal, not ours.
    assert_eq!(
        chunk_request(b"#DOWNLOAD a chunk 18446744073709551616\n", "a"),
        None
    );
    assert_eq!(
        chunk_request(b"#DOWNLOAD a chunk 000000000000000000001\n", "a"),
        None
    );
    assert_eq!(
        chunk_request(b"#DOWNLOAD a chunk 00000000000000000001\n", "a"),
        Some((1, 39))
    );
}
