use super::*;
use crate::core::protocol::cursor::EXAMINED;
use proptest::prelude::*;

fn req(bytes: &[u8], upload_size: Option<u64>) -> Vec<Request> {
    let mut buf = BytesMut::from(bytes);
    let mut out = vec![];
    while let Some(d) = decode_request(&mut buf, upload_size, true).expect("valid") {
        out.push(d.message);
    }
    assert!(buf.is_empty(), "left over: {buf:?}");
    out
}

fn one_reply(bytes: &[u8], expect: Expect) -> Decoded<Reply> {
    let mut buf = BytesMut::from(bytes);
    let d = decode_reply(&mut buf, expect, true)
        .expect("valid")
        .expect("complete");
    assert!(buf.is_empty(), "left over: {buf:?}");
    d
}

fn encoded_request(r: &Request, framing: Framing) -> Vec<u8> {
    let mut out = BytesMut::new();
    r.encode(&mut out, framing);
    out.to_vec()
}

fn encoded_reply(r: &Reply, framing: Framing) -> Vec<u8> {
    let mut out = BytesMut::new();
    r.encode(&mut out, framing);
    out.to_vec()
}

#[test]
fn every_request_encodes_to_the_seed_bytes() {
    let cases: Vec<(Request, &[u8])> = vec![
        (Request::FileList, b"#FILELIST"),
        (Request::Extensions, b"#EXTENSIONS"),
        (Request::EndMarker("UPLOAD_COMPLETE"), b"UPLOAD_COMPLETE"),
        (
            Request::EndMarker("Transmission complete"),
            b"Transmission complete",
        ),
        (
            Request::UploadStart {
                file: "f2.txt".into(),
                size: 131,
            },
            b"#UPLOAD f2.txt bytes 131",
        ),
        (
            Request::UploadChunk {
                file: "f2.txt".into(),
                index: 1,
                payload: Bytes::from_static(b"a b\n#"),
            },
            b"#UPLOAD f2.txt chunk 1 a b\n#",
        ),
        (
            Request::DownloadStart {
                file: "f1.txt".into(),
            },
            b"#DOWNLOAD f1.txt",
        ),
        (
            Request::DownloadChunk {
                file: "f1.txt".into(),
                index: 9,
            },
            b"#DOWNLOAD f1.txt chunk 9",
        ),
    ];
    for (request, bytes) in cases {
        assert_eq!(encoded_request(&request, Framing::Bare), bytes);
        let mut line = bytes.to_vec();
        line.push(b'\n');
        assert_eq!(encoded_request(&request, Framing::Line), line);
    }
}

/// End markers are not seed requests (they do not start with `#`): a course client sends one
/// alone and waits, so they are read at rest or with a line end, never run into another request.
#[test]
fn end_markers_decode_alone_or_line_ended() {
    for marker in END_MARKERS {
        for tail in ["", "\n", "\r\n"] {
            let mut buf = BytesMut::from(format!("{marker}{tail}").as_bytes());
            let got = decode_request(&mut buf, None, true)
                .expect("valid")
                .expect("whole");
            assert_eq!(got.message, Request::EndMarker(marker));
            assert!(buf.is_empty());
        }
        // Not yet whole while more may come.
        let mut buf = BytesMut::from(&marker.as_bytes()[..marker.len() - 1]);
        assert!(
            decode_request(&mut buf, None, false)
                .expect("valid")
                .is_none()
        );
    }
    let mut buf = BytesMut::from(&b"UPLOAD_COMPLETED"[..]);
    assert!(decode_request(&mut buf, None, true).is_err());
}

#[test]
fn every_reply_encodes_to_the_seed_bytes_and_logs_without_payload() {
    let chunk = Reply::Chunk {
        file: "f1.txt".into(),
        index: 0,
        payload: Bytes::from_static(b"xyz"),
    };
    assert_eq!(
        encoded_reply(&chunk, Framing::Bare),
        b"200 File f1.txt chunk 0 xyz"
    );
    assert_eq!(chunk.to_string(), "200 File f1.txt chunk 0");
    let cases: Vec<(Reply, &str)> = vec![
        (
            Reply::FilesServed(vec!["f1.txt".into(), "f5.txt".into()]),
            "200 Files served: f1.txt f5.txt",
        ),
        (Reply::FilesServed(vec![]), "200 Files served: "),
        (
            Reply::CurrentlyReceiving { file: "f".into() },
            "250 Currently receiving file f",
        ),
        (
            Reply::AlreadyServing { file: "f".into() },
            "250 Already serving file f",
        ),
        (
            Reply::ReadyToReceive {
                file: "f2.txt".into(),
            },
            "330 Ready to receive file f2.txt",
        ),
        (
            Reply::ChunkReceived {
                file: "f2.txt".into(),
                index: 0,
            },
            "200 File f2.txt chunk 0 received",
        ),
        (
            Reply::FileReceived {
                file: "f2.txt".into(),
            },
            "200 File f2.txt received",
        ),
        (
            Reply::ReadyToSend {
                file: "f1.txt".into(),
                size: 950,
            },
            "330 Ready to send file f1.txt bytes 950",
        ),
        (
            Reply::NotServing {
                file: "f1.txt".into(),
            },
            "250 Not serving file f1.txt",
        ),
        (
            Reply::Refused("Unknown request".into()),
            "250 Unknown request",
        ),
        (
            Reply::Extensions(vec!["pipeline".into()]),
            "200 Extensions: pipeline",
        ),
    ];
    for (reply, text) in cases {
        assert_eq!(encoded_reply(&reply, Framing::Bare), text.as_bytes());
        assert_eq!(reply.to_string(), text);
    }
}

#[test]
fn requests_decode_with_or_without_line_ends() {
    assert_eq!(req(b"#FILELIST", None), vec![Request::FileList]);
    assert_eq!(req(b"#FILELIST\r\n", None), vec![Request::FileList]);
    assert_eq!(
        req(b"#DOWNLOAD f1.txt chunk 3#DOWNLOAD f1.txt chunk 4\n", None),
        vec![
            Request::DownloadChunk {
                file: "f1.txt".into(),
                index: 3
            },
            Request::DownloadChunk {
                file: "f1.txt".into(),
                index: 4
            },
        ]
    );
    assert_eq!(
        req(b"#UPLOAD f bytes 150", None),
        vec![Request::UploadStart {
            file: "f".into(),
            size: 150
        }]
    );
    // Payload length follows from the declared size: 100 then 50 bytes, any bytes at all.
    let mut stream = b"#UPLOAD f chunk 0 ".to_vec();
    stream.extend([b'#'; 100]);
    stream.extend(b"#UPLOAD f chunk 1 ");
    stream.extend([b'\n'; 50]);
    let got = req(&stream, Some(150));
    assert_eq!(got.len(), 2);
    assert!(
        matches!(&got[1], Request::UploadChunk { index: 1, payload, .. } if payload[..] == [b'\n'; 50])
    );
}

#[test]
fn framing_is_reported_so_a_server_can_echo_it() {
    let mut buf = BytesMut::from(&b"#DOWNLOAD f\n#DOWNLOAD f chunk 0"[..]);
    let first = decode_request(&mut buf, None, false).unwrap().unwrap();
    assert_eq!(first.framing, Framing::Line);
    assert_eq!(first.text(), "#DOWNLOAD f");
    // Not at rest: a number at the end of the buffer may still grow.
    assert_eq!(decode_request(&mut buf, None, false), Ok(None));
    let second = decode_request(&mut buf, None, true).unwrap().unwrap();
    assert_eq!(second.framing, Framing::Bare);
}

#[test]
fn bad_requests_are_invalid_with_a_reason() {
    let invalid = |bytes: &[u8], size| {
        let mut buf = BytesMut::from(bytes);
        match decode_request(&mut buf, size, true) {
            Err(ProtocolError::Invalid(reason)) => reason,
            other => panic!("{bytes:?}: {other:?}"),
        }
    };
    assert_eq!(invalid(b"HELLO", None), "Unknown request");
    assert_eq!(invalid(b"#DELETE f", None), "Unknown request");
    assert_eq!(
        invalid(b"#UPLOAD f chunk 0 abc", None),
        "No upload of file f in progress"
    );
    assert_eq!(
        invalid(b"#UPLOAD f chunk 7 abc", Some(150)),
        "Invalid chunk 7 of file f"
    );
    assert_eq!(
        invalid(b"#UPLOAD f bytes 99999999999999999999999", None),
        "number of more than 20 digits is too large"
    );
    assert_eq!(invalid(b"#DOWNLOAD f chunk x", None), "expected a number");
}

#[test]
fn replies_decode_in_context() {
    let d = one_reply(
        b"330 Ready to send file f1.txt bytes 950",
        Expect::DownloadStart,
    );
    assert_eq!(
        d.message,
        Reply::ReadyToSend {
            file: "f1.txt".into(),
            size: 950
        }
    );
    // A classroom server's dropped word is understood, and logged as it was sent.
    let d = one_reply(b"330 Ready to send f1.txt bytes 950", Expect::DownloadStart);
    assert_eq!(
        d.message,
        Reply::ReadyToSend {
            file: "f1.txt".into(),
            size: 950
        }
    );
    assert_eq!(d.text(), "330 Ready to send f1.txt bytes 950");
    let d = one_reply(
        b"330 Ready to send file file bytes 9",
        Expect::DownloadStart,
    );
    assert_eq!(
        d.message,
        Reply::ReadyToSend {
            file: "file".into(),
            size: 9
        }
    );
    let d = one_reply(b"250 Not serving file f1.txt", Expect::DownloadStart);
    assert_eq!(
        d.message,
        Reply::NotServing {
            file: "f1.txt".into()
        }
    );
    let d = one_reply(b"250 File f too large\n", Expect::UploadStart);
    assert_eq!(d.message, Reply::Refused("File f too large".into()));
    assert_eq!(d.text(), "250 File f too large");
    // A payload that looks like "received" is still a payload when a chunk is awaited.
    let d = one_reply(
        b"200 File f chunk 1 received",
        Expect::DownloadChunk {
            size: 108,
            index: 1,
        },
    );
    assert_eq!(
        d.message,
        Reply::Chunk {
            file: "f".into(),
            index: 1,
            payload: Bytes::from_static(b"received")
        }
    );
    assert_eq!(d.text(), "200 File f chunk 1");
    let d = one_reply(b"200 Files served: a b\n", Expect::FileList);
    assert_eq!(d.message, Reply::FilesServed(vec!["a".into(), "b".into()]));
    let d = one_reply(b"200 Extensions: pipeline\n", Expect::Extensions);
    assert_eq!(d.message, Reply::Extensions(vec!["pipeline".into()]));
    assert_eq!(d.text(), "200 Extensions: pipeline");
}

#[test]
fn coalesced_last_chunk_ack_and_file_received_split_cleanly() {
    let mut buf = BytesMut::from(&b"200 File f chunk 1 received200 File f received"[..]);
    let a = decode_reply(&mut buf, Expect::UploadChunkAck, true)
        .unwrap()
        .unwrap();
    assert_eq!(
        a.message,
        Reply::ChunkReceived {
            file: "f".into(),
            index: 1
        }
    );
    let b = decode_reply(&mut buf, Expect::UploadDone, true)
        .unwrap()
        .unwrap();
    assert_eq!(b.message, Reply::FileReceived { file: "f".into() });
}

#[test]
fn a_chunk_reply_naming_another_index_is_a_protocol_error() {
    let mut buf = BytesMut::from(&b"200 File f chunk 2 abc"[..]);
    let got = decode_reply(
        &mut buf,
        Expect::DownloadChunk {
            size: 1000,
            index: 1,
        },
        true,
    );
    assert!(matches!(got, Err(ProtocolError::Invalid(r)) if r.contains("chunk 2")));
}

// ---------------------------------------------------------------------------------------------
// Properties

fn name() -> impl Strategy<Value = String> {
    "[A-Za-z0-9._#-]{1,20}".prop_filter("not . or ..", |n| n != "." && n != "..")
}

/// A request stream as one connection would carry it: an upload declaration precedes its chunks.
fn request_stream() -> impl Strategy<Value = (Vec<Request>, u64)> {
    (
        name(),
        1u64..2000,
        proptest::collection::vec(0u8..4, 0..12),
        any::<u64>(),
    )
        .prop_map(|(file, size, kinds, seed)| {
            let chunks = crate::core::protocol::chunk_count(size);
            let mut out = vec![Request::UploadStart {
                file: file.clone(),
                size,
            }];
            for (n, kind) in kinds.into_iter().enumerate() {
                let index = (seed.wrapping_add(n as u64 * 7919)) % chunks;
                out.push(match kind {
                    0 => Request::FileList,
                    1 => Request::DownloadStart { file: file.clone() },
                    2 => Request::DownloadChunk {
                        file: file.clone(),
                        index,
                    },
                    _ => {
                        let len = crate::core::protocol::chunk_len(size, index).unwrap_or(0);
                        let payload: Vec<u8> = (0..len).map(|b| (b as u64 ^ seed) as u8).collect();
                        Request::UploadChunk {
                            file: file.clone(),
                            index,
                            payload: payload.into(),
                        }
                    }
                });
            }
            (out, size)
        })
}

fn decode_all_requests(chunks: &[&[u8]], size: u64) -> Vec<Request> {
    let mut buf = BytesMut::new();
    let mut out = vec![];
    for piece in chunks {
        buf.extend_from_slice(piece);
        while let Some(d) = decode_request(&mut buf, Some(size), false).expect("valid") {
            out.push(d.message);
        }
    }
    while let Some(d) = decode_request(&mut buf, Some(size), true).expect("valid") {
        out.push(d.message);
    }
    assert!(buf.is_empty());
    out
}

fn split_at_points<'a>(bytes: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    points.sort_unstable();
    let mut pieces = vec![];
    let mut last = 0;
    for p in points {
        pieces.push(&bytes[last..p]);
        last = p;
    }
    pieces.push(&bytes[last..]);
    pieces
}

proptest! {
    #[test]
    fn line_framed_requests_survive_any_split((requests, size) in request_stream(), cuts in proptest::collection::vec(any::<usize>(), 0..8)) {
        let mut wire = BytesMut::new();
        for r in &requests { r.encode(&mut wire, Framing::Line); }
        let pieces = split_at_points(&wire, &cuts);
        prop_assert_eq!(decode_all_requests(&pieces, size), requests);
    }

    #[test]
    fn bare_requests_concatenated_and_split_anywhere_parse_the_same((requests, size) in request_stream(), cuts in proptest::collection::vec(any::<usize>(), 0..8)) {
        // Without line ends only `#DOWNLOAD f` is open-ended (a name may contain '#'); in the
        // protocol it is always followed by a wait for `330`, so it is left out here.
        let requests: Vec<Request> = requests.into_iter().map(|r| match r {
            Request::DownloadStart { file } => Request::DownloadChunk { file, index: 0 },
            other => other,
        }).collect();
        let mut wire = BytesMut::new();
        for r in &requests { r.encode(&mut wire, Framing::Bare); }
        let pieces = split_at_points(&wire, &cuts);
        prop_assert_eq!(decode_all_requests(&pieces, size), requests);
    }

    #[test]
    fn bare_requests_sent_one_per_write_round_trip((requests, size) in request_stream()) {
        // The seed's framing: each message arrives whole and the sender waits (at rest).
        for r in requests {
            let mut wire = BytesMut::new();
            r.encode(&mut wire, Framing::Bare);
            let d = decode_request(&mut wire, Some(size), true).unwrap().unwrap();
            prop_assert_eq!(&d.message, &r);
            prop_assert_eq!(d.text(), r.to_string());
            prop_assert!(wire.is_empty());
        }
    }

    #[test]
    fn concatenated_bare_chunk_requests_parse_apart(indices in proptest::collection::vec(0u64..100_000, 1..20)) {
        let mut wire = BytesMut::new();
        let requests: Vec<Request> = indices.iter().map(|&index| Request::DownloadChunk { file: "f".into(), index }).collect();
        for r in &requests { r.encode(&mut wire, Framing::Bare); }
        let mut out = vec![];
        while let Some(d) = decode_request(&mut wire, None, true).unwrap() { out.push(d.message); }
        prop_assert_eq!(out, requests);
    }

    #[test]
    fn download_replies_survive_any_split(size in 1u64..3000, cuts in proptest::collection::vec(any::<usize>(), 0..8), framing_line in any::<bool>()) {
        let framing = if framing_line { Framing::Line } else { Framing::Bare };
        let count = crate::core::protocol::chunk_count(size);
        let mut wire = BytesMut::new();
        let mut expected = vec![Reply::ReadyToSend { file: "f".into(), size }];
        for index in 0..count {
            let len = crate::core::protocol::chunk_len(size, index).unwrap();
            let payload: Vec<u8> = (0..len).map(|b| (b as u64 * 31 + index) as u8).collect();
            expected.push(Reply::Chunk { file: "f".into(), index, payload: payload.into() });
        }
        for r in &expected { r.encode(&mut wire, Framing::Line); }
        let pieces = split_at_points(&wire, &cuts);
        let mut buf = BytesMut::new();
        let mut got = vec![];
        let expect_for = |n: usize| if n == 0 { Expect::DownloadStart } else { Expect::DownloadChunk { size, index: n as u64 - 1 } };
        // Line framing is unambiguous at every split; bare framing relies on the sender waiting,
        // so it is only fed whole messages (checked by the round-trip property above).
        if framing == Framing::Line {
            for piece in pieces {
                buf.extend_from_slice(piece);
                while let Some(d) = decode_reply(&mut buf, expect_for(got.len()), false).unwrap() { got.push(d.message); }
            }
        } else {
            // Lockstep: each reply arrives alone, as a classroom server sends it.
            for r in &expected {
                r.encode(&mut buf, framing);
                let d = decode_reply(&mut buf, expect_for(got.len()), true).unwrap().unwrap();
                got.push(d.message);
                prop_assert!(buf.is_empty());
            }
        }
        prop_assert_eq!(got, expected);
    }

    #[test]
    fn upload_replies_survive_any_split(count in 1u64..40, cuts in proptest::collection::vec(any::<usize>(), 0..8)) {
        let mut wire = BytesMut::new();
        let mut expected = vec![Reply::ReadyToReceive { file: "f".into() }];
        expected.extend((0..count).map(|index| Reply::ChunkReceived { file: "f".into(), index }));
        expected.push(Reply::FileReceived { file: "f".into() });
        for r in &expected { r.encode(&mut wire, Framing::Line); }
        let mut buf = BytesMut::new();
        let mut got = vec![];
        let expect_for = |n: usize| match n { 0 => Expect::UploadStart, n if n as u64 <= count => Expect::UploadChunkAck, _ => Expect::UploadDone };
        for piece in split_at_points(&wire, &cuts) {
            buf.extend_from_slice(piece);
            while let Some(d) = decode_reply(&mut buf, expect_for(got.len()), false).unwrap() { got.push(d.message); }
        }
        prop_assert_eq!(got, expected);
    }

    #[test]
    fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400), size in proptest::option::of(0u64..10_000), at_rest in any::<bool>(), index in 0u64..200) {
        let mut buf = BytesMut::from(&bytes[..]);
        for _ in 0..50 {
            match decode_request(&mut buf, size, at_rest) { Ok(Some(_)) => {}, _ => break }
        }
        for expect in [Expect::FileList, Expect::Extensions, Expect::UploadStart, Expect::UploadChunkAck, Expect::UploadDone, Expect::DownloadStart, Expect::DownloadChunk { size: size.unwrap_or(0), index }] {
            let mut buf = BytesMut::from(&bytes[..]);
            let _ = decode_reply(&mut buf, expect, at_rest);
        }
    }

    #[test]
    fn any_byte_stream_cut_anywhere_holds_at_most_the_bound_with_bounded_work(bytes in hostile_stream(), cuts in proptest::collection::vec(any::<usize>(), 0..40), size in proptest::option::of(0u64..10_000), at_rest in any::<bool>()) {
        let pieces = split_at_points(&bytes, &cuts);
        let mut buf = BytesMut::new();
        let (mut calls, mut messages) = (0usize, 0usize);
        EXAMINED.with(|e| e.set(0));
        'feed: for piece in &pieces {
            buf.extend_from_slice(piece);
            loop {
                calls += 1;
                match decode_request(&mut buf, size, at_rest) {
                    Ok(Some(_)) => messages += 1,
                    Ok(None) => {
                        // What waits for the rest of a request never exceeds the bound.
                        prop_assert!(buf.len() <= MAX_REQUEST, "{} bytes held", buf.len());
                        break;
                    }
                    // The server answers 250 and closes: nothing more is read.
                    Err(_) => break 'feed,
                }
            }
        }
        prop_assert!(calls <= pieces.len() + messages);
        // Each attempt looks at a bounded number of bytes (line ends between messages are
        // looked at once and dropped), so the work is linear in the input.
        let work = EXAMINED.with(|e| e.get());
        prop_assert!(work <= bytes.len() + calls * PER_ATTEMPT, "{work} bytes examined for {} bytes in {calls} attempts", bytes.len());
    }
}

/// Bytes one decoding attempt may look at, line ends aside: a request's bound, with room to spare.
const PER_ATTEMPT: usize = MAX_REQUEST + 64;

/// Streams a hostile client might send: protocol words, long runs of one byte (digits, name
/// bytes, line ends) and noise.
fn hostile_stream() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b"#DOWNLOAD ".to_vec()),
        Just(b"#UPLOAD ".to_vec()),
        Just(b"#FILELIST".to_vec()),
        Just(b" chunk ".to_vec()),
        Just(b" bytes ".to_vec()),
        Just(b"\n".to_vec()),
        (b'0'..=b'9', 1usize..200).prop_map(|(d, n)| vec![d; n]),
        (any::<u8>(), 1usize..3000).prop_map(|(b, n)| vec![b; n]),
        proptest::collection::vec(any::<u8>(), 0..50),
    ];
    proptest::collection::vec(piece, 0..30).prop_map(|pieces| pieces.concat())
}

#[test]
fn a_zero_byte_uploads_two_replies_in_one_read_are_told_apart() {
    let mut buf = BytesMut::from(&b"330 Ready to receive file e.txt200 File e.txt received"[..]);
    let first = decode_reply(&mut buf, Expect::UploadStart, true)
        .unwrap()
        .unwrap();
    assert_eq!(
        first.message,
        Reply::ReadyToReceive {
            file: "e.txt".into()
        }
    );
    let second = decode_reply(&mut buf, Expect::UploadDone, true)
        .unwrap()
        .unwrap();
    assert_eq!(
        second.message,
        Reply::FileReceived {
            file: "e.txt".into()
        }
    );
    // A name that ends in 200, alone, keeps it.
    let d = one_reply(b"330 Ready to receive file a200", Expect::UploadStart);
    assert_eq!(
        d.message,
        Reply::ReadyToReceive {
            file: "a200".into()
        }
    );
}

#[test]
fn a_compact_request_is_whole_only_at_its_line_end_even_from_a_bare_peer() {
    // The first compact request follows the seed's bare `#DOWNLOAD f`, from a peer not yet
    // known to end its lines: `+12` may be the start of `+123\n`.
    let mut buf = BytesMut::from(&b"+12"[..]);
    assert_eq!(decode_request(&mut buf, None, true), Ok(None));
    buf.extend_from_slice(b"3\n+4\n");
    let first = decode_request(&mut buf, None, true).unwrap().unwrap();
    assert_eq!(
        (first.message, first.framing),
        (Request::CompactChunk { index: 123 }, Framing::Line)
    );
    let second = decode_request(&mut buf, None, true).unwrap().unwrap();
    assert_eq!(second.message, Request::CompactChunk { index: 4 });
    assert!(buf.is_empty());
}
