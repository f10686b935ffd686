//! A deliberately naive peer, written the way course implementations are: blocking sockets, one
//! `recv(1024)` is one message, one `send` per reply, no terminators, strictly request/reply.
//! It records every read that did not hold exactly one message (a classroom peer would break).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

pub struct NaiveServer {
    pub violations: Arc<Mutex<Vec<String>>>,
}

impl NaiveServer {
    /// Serves `dir` (its served_files/) on `port` in background threads.
    pub fn start(port: u16, dir: PathBuf) -> NaiveServer {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("naive bind");
        let violations = Arc::new(Mutex::new(Vec::new()));
        let v = Arc::clone(&violations);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { break };
                let (dir, v) = (dir.clone(), Arc::clone(&v));
                std::thread::spawn(move || serve(stream, dir.join("served_files"), v));
            }
        });
        NaiveServer { violations }
    }
}

fn words(msg: &[u8], n: usize) -> Vec<String> {
    String::from_utf8_lossy(msg)
        .splitn(n, ' ')
        .map(str::to_string)
        .collect()
}

fn serve(mut stream: TcpStream, dir: PathBuf, violations: Arc<Mutex<Vec<String>>>) {
    let mut upload: Option<(String, usize, Vec<u8>)> = None;
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
            // p2p-tui's one-time extension probe, on a connection of its own: like many
            // classroom servers, this one does not know the request and hangs up.
            [probe] if probe.trim_end() == "#EXTENSIONS" => return,
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
                upload = Some((f.to_string(), size, Vec::new()));
                format!("330 Ready to receive file {f}").into_bytes()
            }
            ["#UPLOAD", f, "chunk", i, ..] => {
                let Some((name, size, data)) = upload.as_mut() else {
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
                stream
                    .write_all(format!("200 File {f} chunk {i} received").as_bytes())
                    .unwrap();
                if data.len() == *size {
                    std::fs::write(dir.join(&*name), &data).unwrap();
                    stream
                        .write_all(format!("200 File {f} received").as_bytes())
                        .unwrap();
                }
                continue;
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
            _ => {
                violate(format!(
                    "unexpected read {:?}",
                    String::from_utf8_lossy(msg)
                ));
                return;
            }
        };
        if stream.write_all(&reply).is_err() {
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
