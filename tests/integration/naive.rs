//! A deliberately naive peer, written the way course implementations are: blocking sockets, one
//! `recv(1024)` is one message, one `send` per reply, no terminators, strictly request/reply.
//! It records every read that did not hold exactly one message (a classroom peer would break).

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// How a naive server departs from the seed's usual reading (all seen in course work).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Mode {
    /// One connection carries every request of a client.
    Keep,
    /// Answers one request per connection, then closes it (uploads are kept by file name, not
    /// by connection, so a client may send each chunk on a new connection).
    CloseAfterReply,
    /// Sends no `200 File f received` after the last chunk: keeps the file, and confirms it,
    /// only when this private end marker arrives.
    EndMarker(&'static str),
    /// Keeps the file after the last chunk but never confirms it.
    NeverConfirms,
}

pub struct NaiveServer {
    pub violations: Arc<Mutex<Vec<String>>>,
    /// Connections accepted so far.
    pub connections: Arc<AtomicUsize>,
}

/// Uploads in progress, by file name: size and bytes so far.
type Uploads = Arc<Mutex<HashMap<String, (usize, Vec<u8>)>>>;

impl NaiveServer {
    /// Serves `dir` (its served_files/) on `port` in background threads.
    pub fn start(port: u16, dir: PathBuf) -> NaiveServer {
        NaiveServer::start_with(port, dir, Mode::Keep)
    }

    pub fn start_with(port: u16, dir: PathBuf, mode: Mode) -> NaiveServer {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("naive bind");
        let violations = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(AtomicUsize::new(0));
        let uploads = Uploads::default();
        let (v, c) = (Arc::clone(&violations), Arc::clone(&connections));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { break };
                c.fetch_add(1, Ordering::SeqCst);
                let (dir, v, uploads) = (dir.clone(), Arc::clone(&v), Arc::clone(&uploads));
                std::thread::spawn(move || {
                    serve(stream, dir.join("served_files"), mode, &uploads, &v)
                });
            }
        });
        NaiveServer {
            violations,
            connections,
        }
    }
}

fn words(msg: &[u8], n: usize) -> Vec<String> {
    String::from_utf8_lossy(msg)
        .splitn(n, ' ')
        .map(str::to_string)
        .collect()
}

fn serve(
    mut stream: TcpStream,
    dir: PathBuf,
    mode: Mode,
    uploads: &Uploads,
    violations: &Mutex<Vec<String>>,
) {
    let mut buf = [0u8; 1024];
    let violate = |what: String| violations.lock().unwrap().push(what);
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let msg = &buf[..n];
        let head = words(msg, 5);
        let reply: Vec<u8> = match head.iter().map(String::as_str).collect::<Vec<_>>()[..] {
            // p2p-tui's one-time extension probe, on a connection of its own (a download's
            // with `#DIGEST f` in the same write, which a server reading one message per read
            // sees as one): like many classroom servers, this one does not know the request
            // and hangs up.
            _ if msg.starts_with(b"#EXTENSIONS\n") => return,
            ["#FILELIST"] => {
                let mut names: Vec<String> = std::fs::read_dir(&dir)
                    .unwrap()
                    .map(|e| e.unwrap().file_name().into_string().unwrap())
                    .collect();
                names.sort();
                format!("200 Files served: {}", names.join(" ")).into_bytes()
            }
            ["#UPLOAD", f, "bytes", size] => {
                let Ok(size) = size.parse::<usize>() else {
                    violate(format!("bad upload header {head:?}"));
                    return;
                };
                let ready = format!("330 Ready to receive file {f}").into_bytes();
                if size == 0 && matches!(mode, Mode::Keep | Mode::CloseAfterReply) {
                    // No chunk will come: the file is whole at once.
                    std::fs::write(dir.join(f), b"").unwrap();
                    if stream.write_all(&ready).is_err() {
                        return;
                    }
                    format!("200 File {f} received").into_bytes()
                } else {
                    uploads
                        .lock()
                        .unwrap()
                        .insert(f.to_string(), (size, Vec::new()));
                    ready
                }
            }
            ["#UPLOAD", f, "chunk", i, ..] => {
                let mut uploads = uploads.lock().unwrap();
                let Some((size, data)) = uploads.get_mut(f) else {
                    violate("chunk without upload".into());
                    return;
                };
                let header = format!("#UPLOAD {f} chunk {i} ").len();
                let expected = (*size - data.len()).min(100);
                if n != header + expected {
                    violate(format!(
                        "upload read of {n} bytes, expected {}",
                        header + expected
                    ));
                    return;
                }
                data.extend_from_slice(&msg[header..]);
                let mut reply = format!("200 File {f} chunk {i} received").into_bytes();
                if data.len() == *size && matches!(mode, Mode::Keep | Mode::CloseAfterReply) {
                    std::fs::write(dir.join(f), &*data).unwrap();
                    uploads.remove(f);
                    // The seed's second message: its own send.
                    if stream.write_all(&reply).is_err() {
                        return;
                    }
                    reply = format!("200 File {f} received").into_bytes();
                } else if data.len() == *size && mode == Mode::NeverConfirms {
                    std::fs::write(dir.join(f), &*data).unwrap();
                    uploads.remove(f);
                }
                reply
            }
            ["#DOWNLOAD", f] => match std::fs::metadata(dir.join(f)) {
                Ok(meta) => format!("330 Ready to send file {f} bytes {}", meta.len()).into_bytes(),
                Err(_) => format!("250 Not serving file {f}").into_bytes(),
            },
            ["#DOWNLOAD", f, "chunk", i] => {
                let Ok(i) = i.parse::<usize>() else {
                    violate(format!(
                        "two messages in one read? {:?}",
                        String::from_utf8_lossy(msg)
                    ));
                    return;
                };
                let data = std::fs::read(dir.join(f)).unwrap();
                let mut reply = format!("200 File {f} chunk {i} ").into_bytes();
                reply.extend_from_slice(&data[i * 100..((i + 1) * 100).min(data.len())]);
                reply
            }
            _ if matches!(mode, Mode::EndMarker(m) if msg == m.as_bytes()) => {
                // The marker names no file: it ends the one upload whose every byte is here.
                let mut uploads = uploads.lock().unwrap();
                let done = uploads
                    .iter()
                    .find(|(_, (size, data))| data.len() == *size)
                    .map(|(name, _)| name.clone());
                match done.and_then(|name| uploads.remove_entry(&name)) {
                    Some((name, (_, data))) => {
                        std::fs::write(dir.join(&name), data).unwrap();
                        format!("200 File {name} received").into_bytes()
                    }
                    None => b"250 Nothing to complete".to_vec(),
                }
            }
            _ if matches!(mode, Mode::EndMarker(_) | Mode::NeverConfirms) => {
                // Other markers: an error, and the connection stays open.
                b"250 Unknown request".to_vec()
            }
            _ => {
                violate(format!(
                    "unexpected read {:?}",
                    String::from_utf8_lossy(msg)
                ));
                return;
            }
        };
        if stream.write_all(&reply).is_err() || mode == Mode::CloseAfterReply {
            return;
        }
    }
}

/// A naive client session against one server: sends one message per write and takes one read
/// as one reply. Returns the replies (payloads included) in order.
pub struct NaiveClient {
    stream: TcpStream,
}

impl NaiveClient {
    pub fn connect(port: u16) -> NaiveClient {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("naive connect");
        stream.set_read_timeout(Some(crate::util::TIMEOUT)).unwrap();
        NaiveClient { stream }
    }

    pub fn exchange(&mut self, request: &[u8]) -> Vec<u8> {
        self.stream.write_all(request).unwrap();
        self.recv()
    }

    pub fn recv(&mut self) -> Vec<u8> {
        let mut buf = [0u8; 1024];
        let n = self.stream.read(&mut buf).expect("naive recv");
        buf[..n].to_vec()
    }

    /// The payload length of chunk `index` of `file` (one request, one read).
    pub fn download_chunk_len(&mut self, file: &str, index: usize) -> usize {
        let reply = self.exchange(format!("#DOWNLOAD {file} chunk {index}").as_bytes());
        let header = format!("200 File {file} chunk {index} ");
        assert!(reply.starts_with(header.as_bytes()));
        reply.len() - header.len()
    }

    /// Downloads `file` the classroom way (lockstep), from one server.
    pub fn download(&mut self, file: &str) -> Vec<u8> {
        let reply =
            String::from_utf8(self.exchange(format!("#DOWNLOAD {file}").as_bytes())).unwrap();
        let size: usize = reply
            .rsplit(' ')
            .next()
            .unwrap()
            .parse()
            .expect("330 reply with size");
        let mut data = Vec::new();
        for i in 0..size.div_ceil(100) {
            let reply = self.exchange(format!("#DOWNLOAD {file} chunk {i}").as_bytes());
            let header = format!("200 File {file} chunk {i} ");
            assert!(
                reply.starts_with(header.as_bytes()),
                "{:?}",
                String::from_utf8_lossy(&reply)
            );
            let payload = &reply[header.len()..];
            assert_eq!(
                payload.len(),
                (size - i * 100).min(100),
                "one read must be exactly one reply"
            );
            data.extend_from_slice(payload);
        }
        data
    }

    /// Uploads `data` as `file` the classroom way; returns the replies as text.
    pub fn upload(&mut self, file: &str, data: &[u8]) -> Vec<String> {
        let mut replies = vec![
            String::from_utf8(
                self.exchange(format!("#UPLOAD {file} bytes {}", data.len()).as_bytes()),
            )
            .unwrap(),
        ];
        for (i, chunk) in data.chunks(100).enumerate() {
            let mut msg = format!("#UPLOAD {file} chunk {i} ").into_bytes();
            msg.extend_from_slice(chunk);
            replies.push(String::from_utf8(self.exchange(&msg)).unwrap());
        }
        // The final "200 File f received" is a second send by the server: it may already have
        // arrived with the last chunk's reply (the seed protocol's own race); read it if not.
        if !replies
            .last()
            .is_some_and(|r| r.ends_with(&format!("200 File {file} received")))
        {
            replies.push(String::from_utf8(self.recv()).unwrap());
        }
        replies
    }
}
